// fuzz_neighbor: the netlink messages a NeighborSink reads from the kernel.
//
//   datagram -> NeighborControl::on_datagram (RTM_GETNEIGH misses, RTM_NEWLINK
//   and RTM_DELLINK of its links, NLMSG_ERROR replies) -> VL3 lookups through
//   a real SvpControl (cache, SvpClient) talking to the in-process Portolan
//   lab server on loopback -> the answers
//
// The netlink socket itself is not opened: the input is what it would
// read, split into datagrams (a 2-byte length before each), and nothing is
// ever sent to the host's kernel (installing would need the socket; the
// attempt is counted as an install error). Checked: no crash, no
// sanitizer finding; a malformed message is counted and skipped.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstring>
#include <memory>

#include "control/neighbor_control.hpp"
#include "control/svp_control.hpp"
#include "control/svp_lab_server.hpp"
#include "fuzz_env.hpp"

using namespace weft;
using namespace weft::svp;

namespace {
boost::asio::io_context* g_io;
std::shared_ptr<LabServer> g_lab;
std::shared_ptr<SvpControl> g_svp;
std::shared_ptr<NeighborControl> g_neigh;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::start_dpdk();
  g_io = new boost::asio::io_context;
  g_lab = std::make_shared<LabServer>(*g_io,
                                      parse_lab_mappings("vl2:\n"
                                                         "  - {mac: \"02:08:20:00:00:01\", vni: 100, ip: 192.0.2.11}\n"
                                                         "vl3:\n"
                                                         "  - {ip: 10.0.0.1, vni: 100, mac: \"02:08:20:00:00:01\"}\n"
                                                         "  - {ip: \"fd00::2\", vni: 100, mac: \"02:08:20:00:00:01\"}\n"
                                                         "cns: [192.0.2.1]\n",
                                                         "lab.yaml"),
                                      LabOptions{"127.0.0.1:0", false});
  g_lab->start();
  g_svp = std::make_shared<SvpControl>();
  SvpConfig sc;
  sc.client.servers = {"127.0.0.1:" + std::to_string(g_lab->port())};
  sc.client.timeout_s = 0.2;
  sc.negative_ttl_s = 0.01;
  sc.ttl_s = 0.05;
  sc.max_entries = 64;
  g_svp->configure(sc);
  g_svp->start(*g_io);
  g_neigh = std::make_shared<NeighborControl>(g_svp);
  // `lo` (ifindex 1) is a configured link; the other is not there (yet).
  g_neigh->configure(NeighborConfig{{{"lo", 100, ""}, {"wfz-absent0", 100, "wfz-absent1"}}, false});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 65536) return -1;
  fuzz::Reader in(data, size);
  while (in.left() > 0) {
    const size_t len = in.u16();
    std::string_view d = in.bytes(len);
    // Netlink messages are 4-byte aligned in a kernel buffer: so here.
    std::vector<uint32_t> buf((d.size() + 3) / 4 + 1);
    std::memcpy(buf.data(), d.data(), d.size());
    g_neigh->on_datagram(reinterpret_cast<const uint8_t*>(buf.data()), d.size());
    g_io->poll();
  }
  g_io->run_for(std::chrono::milliseconds(1));
  g_neigh->status();
  g_neigh->entries();
  return 0;
}
