// libweft_testing: the public face (weft/testing.hpp) of GraphHarness, the
// in-process graph runner Weft's own tests and benchmarks use.
#include "weft/testing.hpp"

#include <pcap/pcap.h>
#include <rte_errno.h>
#include <unistd.h>

#include <boost/dll/runtime_symbol_info.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "core/plugin_loader.hpp"
#include "runtime/runtime.hpp"
#include "testing/graph_harness.hpp"
#include "weft/metadata.hpp"

namespace weft::testing {

void start_dpdk(const std::vector<std::string>& extra_args) {
  if (Runtime::eal_running()) return;
  auto given = [&](std::initializer_list<const char*> prefixes) {
    for (const auto& a : extra_args)
      for (const char* p : prefixes)
        if (a.rfind(p, 0) == 0) return true;
    return false;
  };
  std::vector<std::string> args = {"weft-testing", "--no-huge", "--no-shconf", "--no-pci",
                                   "--file-prefix=wefttest" + std::to_string(::getpid())};
  if (!given({"-m", "--socket-mem"})) args.insert(args.end(), {"-m", "256"});
  if (!given({"--log-level"})) args.push_back("--log-level=warning");
  if (!given({"--lcores", "-l", "-c"})) args.push_back("--lcores=0@" + std::to_string(allowed_cpus().front()));
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  Runtime::init_eal(args);
}

rte_mempool* pool() {
  // A function-local static: threads that ask at once get the one pool
  // (a throw leaves it uncreated, and the next call tries again).
  static rte_mempool* const p = [] {
    start_dpdk();
    rte_mempool* m = create_packet_pool("weft_testing_pool", 8191, 256, static_cast<int>(rte_socket_id()));
    if (!m) throw std::runtime_error(std::string("cannot create the test packet pool: ") + rte_strerror(rte_errno));
    return m;
  }();
  return p;
}

rte_mbuf* make_packet(const Frame& frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool());
  if (!m) throw std::runtime_error("the test packet pool is empty (are packets taken from Capture freed?)");
  if (frame.size() > rte_pktmbuf_tailroom(m)) {
    rte_pktmbuf_free(m);
    throw std::invalid_argument("frame of " + std::to_string(frame.size()) + " bytes does not fit one buffer");
  }
  char* d = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
  if (!frame.empty()) std::memcpy(d, frame.data(), frame.size());
  return m;
}

Frame frame_of(const rte_mbuf* m) {
  Frame out(m->pkt_len);
  if (out.empty()) return out;
  const void* p = rte_pktmbuf_read(m, 0, m->pkt_len, out.data());
  if (p != out.data()) std::memcpy(out.data(), p, m->pkt_len);
  return out;
}

std::vector<Frame> read_pcap(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* pc = pcap_open_offline(path.c_str(), err);
  if (!pc) throw std::runtime_error("cannot read pcap " + path + ": " + err);
  std::vector<Frame> out;
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  int rc;
  while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
    if (h->caplen != h->len) {
      pcap_close(pc);
      throw std::runtime_error(path + ": record " + std::to_string(out.size()) + " was truncated at capture (" +
                               std::to_string(h->caplen) + " of " + std::to_string(h->len) + " bytes)");
    }
    out.emplace_back(data, data + h->caplen);
  }
  std::string why = rc == PCAP_ERROR ? pcap_geterr(pc) : "";
  pcap_close(pc);
  if (rc == PCAP_ERROR) throw std::runtime_error("cannot read pcap " + path + ": " + why);
  return out;
}

void write_pcap(const std::string& path, const std::vector<Frame>& frames) {
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
  if (!dead) throw std::runtime_error("pcap_open_dead failed");
  pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
  if (!d) {
    std::string why = pcap_geterr(dead);
    pcap_close(dead);
    throw std::runtime_error("cannot write pcap " + path + ": " + why);
  }
  for (size_t i = 0; i < frames.size(); i++) {
    pcap_pkthdr h{};
    h.ts.tv_sec = static_cast<time_t>(i);  // deterministic files: frame i at second i
    h.caplen = h.len = static_cast<bpf_u_int32>(frames[i].size());
    pcap_dump(reinterpret_cast<u_char*>(d), &h, frames[i].data());
  }
  bool ok = pcap_dump_flush(d) == 0;
  pcap_dump_close(d);
  pcap_close(dead);
  if (!ok) throw std::runtime_error("cannot write pcap " + path);
}

namespace {
std::string hex(const Frame& f) {
  std::string s;
  char b[3];
  for (uint8_t x : f) {
    std::snprintf(b, sizeof b, "%02x", x);
    s += b;
  }
  return s;
}
}  // namespace

std::string compare_frames(const std::vector<Frame>& got, const std::vector<Frame>& want) {
  if (got == want) return "";
  std::ostringstream os;
  os << got.size() << " frame(s), " << want.size() << " expected";
  for (size_t i = 0; i < std::max(got.size(), want.size()); i++) {
    if (i < got.size() && i < want.size() && got[i] == want[i]) continue;
    os << "; first difference at frame " << i;
    if (i < got.size() && i < want.size()) {
      size_t at = 0;
      while (at < got[i].size() && at < want[i].size() && got[i][at] == want[i][at]) at++;
      os << ", byte " << at << " (got " << got[i].size() << " bytes, want " << want[i].size() << " bytes)";
    }
    os << "\n  got:  " << (i < got.size() ? hex(got[i]) : "(none)");
    os << "\n  want: " << (i < want.size() ? hex(want[i]) : "(none)");
    break;
  }
  return os.str();
}

// --- Plugins ---------------------------------------------------------------

struct Plugins::Impl {
  PluginLoader loader;
};

Plugins::Plugins() : impl_(std::make_unique<Impl>()) {
  impl_->loader.add_class(GraphHarness::capture_class(), "harness");
}
Plugins::~Plugins() = default;

Plugins& Plugins::load(const std::string& path) {
  try {
    impl_->loader.load(path);
  } catch (const PluginError& e) {
    throw std::runtime_error(e.what());
  }
  return *this;
}

Plugins& Plugins::load_directory(const std::string& dir) {
  try {
    impl_->loader.load_directories({dir});
  } catch (const PluginError& e) {
    throw std::runtime_error(e.what());
  }
  return *this;
}

Plugins& Plugins::load_builtin() { return load_directory(builtin_dir()); }

std::string Plugins::builtin_dir() {
  // This library lives in PREFIX/<libdir> (or BUILD/lib): the plugins in <libdir>/weft/plugins.
  std::filesystem::path lib = boost::dll::this_line_location().string();
  return std::filesystem::weakly_canonical(lib.parent_path() / "weft" / "plugins").string();
}

std::vector<std::string> Plugins::classes() const { return impl_->loader.class_names(); }
const ElementClass* Plugins::find(const std::string& class_name) const { return impl_->loader.find(class_name); }

// --- Graph -------------------------------------------------------------------

struct Graph::Impl {
  std::unique_ptr<GraphHarness> harness;
};

Graph::Graph(const std::string& yaml, const Plugins& plugins) : impl_(std::make_unique<Impl>()) {
  impl_->harness = std::make_unique<GraphHarness>(yaml, plugins.impl_->loader, pool());
}
Graph::~Graph() = default;

Element& Graph::element(const std::string& id) { return impl_->harness->element(id); }

void Graph::push(const std::string& id, Batch& batch, uint16_t input) { impl_->harness->push(id, batch, input); }

void Graph::push(const std::string& id, const std::vector<Frame>& frames, uint16_t input) {
  Batch b;
  for (size_t i = 0; i < frames.size(); i++) {
    try {
      b.add(make_packet(frames[i]));
    } catch (...) {
      rte_pktmbuf_free_bulk(b.pkts, b.count);
      throw;
    }
    if (b.full() || i + 1 == frames.size()) {
      impl_->harness->push(id, b, input);
      b.clear();
    }
  }
}

void Graph::push_pcap(const std::string& id, const std::string& pcap_path, uint16_t input) {
  push(id, read_pcap(pcap_path), input);
}

bool Graph::run(const std::string& id) { return impl_->harness->run(id); }

std::vector<rte_mbuf*> Graph::take_packets(const std::string& capture_id) { return impl_->harness->take(capture_id); }

std::vector<Frame> Graph::take(const std::string& capture_id) {
  std::vector<rte_mbuf*> pkts = impl_->harness->take(capture_id);
  std::vector<Frame> out;
  out.reserve(pkts.size());
  for (rte_mbuf* m : pkts) {
    out.push_back(frame_of(m));
    rte_pktmbuf_free(m);
  }
  return out;
}

uint64_t Graph::drops(const std::string& id, const std::string& reason) { return impl_->harness->drops(id, reason); }
uint64_t Graph::output_packets(const std::string& id, const std::string& output) {
  return impl_->harness->output_packets(id, output);
}
std::string Graph::read_handler(const std::string& id, const std::string& handler) {
  return impl_->harness->read_handler(id, handler);
}
void Graph::write_handler(const std::string& id, const std::string& handler, const std::string& value) {
  impl_->harness->write_handler(id, handler, value);
}

}  // namespace weft::testing
