// NeighborControl: the kernel's neighbour misses answered from Portolan —
// the running state of a NeighborSink service (control/neighbor_sink.hpp).
//
// A netlink socket (libmnl) on the control thread joins RTNLGRP_NEIGH and
// RTNLGRP_LINK. With /proc/sys/net/ipv{4,6}/neigh/DEV/app_solicit > 0 the
// kernel multicasts RTM_GETNEIGH when it needs a neighbour's MAC (state
// INCOMPLETE or PROBE). For a configured link, the address is looked up as
// VL3 (IP, the link's VNI) through an Svp service's OverlayResolver (its
// cache first, then Portolan), and the answer goes back as RTM_NEWNEIGH
// (lladdr = Portolan's MAC, state REACHABLE, or PERMANENT with `permanent`)
// — and, where the link names an `fdb` device (a VXLAN link), as a bridge
// FDB entry on it (AF_BRIDGE RTM_NEWNEIGH, NTF_SELF: MAC -> underlay IP and
// port). All of it over netlink; no `ip` command is ever run, and nothing of
// the SVP protocol is seen here.
//
// RTM_DELLINK of a configured link forgets its state (installed entries,
// answers still on their way); RTM_NEWLINK of its name picks the new ifindex
// up. When Portolan's change log or a SHOOTDOWN drops an address this
// service installed, it is looked up again: re-installed, or deleted
// (RTM_DELNEIGH) if Portolan no longer knows it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "control/overlay_resolver.hpp"
#include "weft/service.hpp"

struct mnl_socket;
struct nlmsghdr;

namespace weft::svp {

struct NeighborLink {
  std::string ifname;
  uint32_t vni = 0;
  std::string fdb;  // a VXLAN link to add bridge FDB entries to ("" none)
  bool operator==(const NeighborLink&) const = default;
};

struct NeighborConfig {
  std::vector<NeighborLink> links;
  bool permanent = false;
  bool operator==(const NeighborConfig&) const = default;
};

class NeighborControl final : public std::enable_shared_from_this<NeighborControl> {
 public:
  explicit NeighborControl(std::shared_ptr<OverlayResolver> svp);
  ~NeighborControl();
  // Applies a configuration, live: links that stay keep what they installed.
  void configure(const NeighborConfig& c);

  // Opens the netlink socket on the control thread's event loop and
  // subscribes to the resolver's invalidations.
  void start(boost::asio::io_context& io);
  // Closes the socket and unsubscribes (installed entries stay in the kernel).
  void stop();
  nlohmann::json status() const;
  // Failed once the netlink socket cannot be opened or read; else Ok.
  ServiceHealth health() const;
  // What was installed: {"entries": [{link, ip, mac, fdb}]}.
  nlohmann::json entries() const;
  // One datagram as the netlink socket read it (RTM_GETNEIGH, RTM_NEWLINK,
  // RTM_DELLINK, NLMSG_ERROR; anything else is ignored). Public so that the
  // fuzz target feeds it what a kernel could send.
  void on_datagram(const uint8_t* buf, size_t n);

 private:
  struct Installed {
    Mac mac{};
    fields::Underlay underlay{};
    bool fdb = false;
  };
  struct Link {
    NeighborLink cfg;
    uint32_t ifindex = 0, fdb_ifindex = 0;
    uint64_t gen = 0;  // grows when the link goes away: answers for older generations are dropped
    std::map<IpAddr, Installed> installed;
  };
  void open_socket();
  void read_more();
  void on_getneigh(const nlmsghdr* nlh);
  void on_link(const nlmsghdr* nlh, bool removed);
  void on_invalidated(const CacheKey& k);
  void lookup(const std::string& ifname, uint64_t gen, const IpAddr& dst, bool again);
  void answer(const std::string& ifname, uint64_t gen, const IpAddr& dst, const Resolution& r, bool again);
  bool send_neigh(uint16_t type, uint32_t ifindex, const IpAddr& dst, const Mac* mac);
  bool send_fdb(uint32_t ifindex, const Mac& mac, const fields::Underlay& u);
  bool send(nlmsghdr* nlh);
  Link* link_by_index(uint32_t ifindex);
  Link* link_by_name(const std::string& name);

  std::shared_ptr<OverlayResolver> svp_;
  NeighborConfig cfg_;
  std::vector<Link> links_;
  boost::asio::io_context* io_ = nullptr;
  mnl_socket* nl_ = nullptr;
  std::optional<boost::asio::posix::stream_descriptor> sd_;
  std::vector<uint8_t> rbuf_;
  uint32_t seq_ = 0;
  uint64_t sub_ = 0;
  std::string error_;
  struct Counters {
    uint64_t misses = 0, ignored = 0, resolved = 0, notfound = 0, failed = 0, installed = 0, fdb_installed = 0;
    uint64_t removed = 0, refreshed = 0, install_errors = 0, stale_answers = 0, dellinks = 0, newlinks = 0;
    uint64_t overruns = 0, malformed = 0;
  } c_;
};

}  // namespace weft::svp
