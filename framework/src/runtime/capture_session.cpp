#include "runtime/capture_session.hpp"

#include <fcntl.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_pcapng.h>
#include <rte_ring.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "runtime/packet_filter.hpp"
#include "runtime/runtime.hpp"
#include "weft/version.hpp"
#include "weft/clock.hpp"

namespace weft {

namespace {

constexpr auto kAnswer = std::chrono::milliseconds(2000);
constexpr uint32_t kWorkerSlots = 4096;   // a tag is point * kWorkerSlots + worker
constexpr unsigned kRingSize = 1024;      // copies waiting for the control thread
constexpr unsigned kPoolSize = 2047;      // copies' buffers (ring + workers' caches)
constexpr uint16_t kCommentRoom = 256;    // tailroom kept in each copy for its comment
constexpr uint16_t kCommentMax = 200;

// The Enhanced Packet Block rte_pcapng_copy builds (pcapng: block type,
// length, interface, timestamp high and low, captured and original length,
// data, options, length again).
constexpr size_t kEpbTimestampHi = 12, kEpbTimestampLo = 16, kEpbLength = 4;
constexpr uint16_t kOptComment = 1;

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "none" : s;
}

// rte_pcapng_copy keeps a process-wide time base that it moves forward, without
// a lock, whenever a copy is a second past it; two workers can tear it. Each
// copy is handed this TSC instead (the base is set up on the control thread by
// the first copy, below), so the base never moves; the control thread writes
// every block's real time from the TSC the worker recorded.
uint64_t pcapng_tsc_base(rte_mempool* pool, uint16_t port) {
  static uint64_t base = 0;
  if (base) return base;
  rte_mbuf* m = rte_pktmbuf_alloc(pool);  // a fresh pool: never empty
  if (!m) return rte_rdtsc();
  if (char* d = rte_pktmbuf_append(m, 60)) std::memset(d, 0, 60);
  rte_mbuf* c = rte_pcapng_copy(port, 0, m, pool, 60, rte_rdtsc(), RTE_PCAPNG_DIRECTION_UNKNOWN);
  rte_pktmbuf_free(c);
  rte_pktmbuf_free(m);
  base = rte_rdtsc();
  return base;
}

// Adds an opt_comment to the block in `m` (it goes where the block's
// trailing length was, which moves to the end).
void add_comment(rte_mbuf* m, const std::string& text) {
  if (m->nb_segs != 1) return;
  const auto len = static_cast<uint16_t>(std::min<size_t>(text.size(), kCommentMax));
  const uint16_t optlen = static_cast<uint16_t>(4 + ((len + 3) & ~3u));
  const uint32_t old_len = rte_pktmbuf_pkt_len(m);
  if (old_len < 32 || rte_pktmbuf_tailroom(m) < optlen || !rte_pktmbuf_append(m, optlen)) return;
  uint8_t* block = rte_pktmbuf_mtod(m, uint8_t*);
  uint8_t* opt = block + old_len - 4;
  std::memcpy(opt, &kOptComment, 2);
  std::memcpy(opt + 2, &len, 2);
  std::memcpy(opt + 4, text.data(), len);
  std::memset(opt + 4 + len, 0, optlen - 4 - len);
  const uint32_t new_len = old_len + optlen;
  std::memcpy(block + new_len - 4, &new_len, 4);
  std::memcpy(block + kEpbLength, &new_len, 4);
}

}  // namespace

CaptureSession::CaptureSession(Runtime& rt, unsigned id, const CaptureOptions& o) : rt_(rt), id_(id), opts_(o) {
  if (o.count == 0 || o.count > ProbeControl::kMaxCapture)
    throw std::invalid_argument("count must be between 1 and " + std::to_string(ProbeControl::kMaxCapture));
  if (o.snaplen < 64 || o.snaplen > 16384) throw std::invalid_argument("snaplen must be between 64 and 16384");
  if (o.file.empty() || o.file[0] != '/') throw std::invalid_argument("the file must be an absolute path");
  resolve(o);
  if (!o.filter.empty()) filter_ = std::make_unique<PacketFilter>(o.filter);
  n_workers_ = rt.workers().size();
  const std::string tag = std::to_string(::getpid()) + "_" + std::to_string(id);
  shared_.ring = rte_ring_create(("weft_cap_" + tag).c_str(), kRingSize, static_cast<int>(rte_socket_id()),
                                 RING_F_SC_DEQ);
  if (!shared_.ring) throw std::runtime_error(std::string("capture: cannot create its ring: ") + rte_strerror(rte_errno));
  shared_.pool = rte_pktmbuf_pool_create(("weft_cap_" + tag).c_str(), kPoolSize, 32, 0,
                                         static_cast<uint16_t>(rte_pcapng_mbuf_size(o.snaplen) + kCommentRoom),
                                         static_cast<int>(rte_socket_id()));
  if (!shared_.pool) {
    std::string why = rte_strerror(rte_errno);
    release();
    throw std::runtime_error("capture: cannot create its buffers: " + why);
  }
  shared_.filter = filter_.get();
  shared_.snaplen = o.snaplen;
  shared_.limit = o.count;
  shared_.tsc_base = pcapng_tsc_base(shared_.pool, points_[0].port_id);
  for (size_t p = 0; p < points_.size(); p++) {
    const Point& pt = points_[p];
    taps_.push_back(std::make_unique<CaptureTap[]>(n_workers_));
    // Port points name the element output they watch; element points are that already.
    const NodePlan& n = rt.plan().nodes[pt.node];
    const std::string where =
        pt.port_rx || pt.port_tx ? pt.name + " (" + n.spec->id + "[" + n.outputs[pt.output] + "])" : pt.name;
    for (size_t w = 0; w < n_workers_; w++) {
      CaptureTap& t = taps_[p][w];
      t.shared = &shared_;
      t.port_id = pt.port_id;
      t.queue = pt.fixed_queue >= 0 ? static_cast<uint32_t>(pt.fixed_queue)
                                    : static_cast<uint32_t>(w % std::max<uint16_t>(pt.queues, 1));
      t.direction = pt.direction;
      t.tag = static_cast<uint32_t>(p * kWorkerSlots + w);
      comments_.push_back("weft: " + where + ", worker " + std::to_string(w) + " (lcore " +
                          std::to_string(rt.workers()[w]->lcore) + ")");
    }
  }
  int fd = ::open(o.file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::string why = std::strerror(errno);
    release();
    throw std::invalid_argument("cannot write " + o.file + ": " + why);
  }
  utsname u{};
  ::uname(&u);
  const std::string os = std::string(u.sysname) + " " + u.release;
  const std::string app = std::string("routerd (Weft ") + kVersion + ")";
  std::string names;
  for (const auto& p : points_) names += (names.empty() ? "" : ", ") + p.name;
  const std::string comment = "Weft capture " + std::to_string(id) + ": " + names +
                              (o.filter.empty() ? "" : "; filter: " + o.filter);
  pcapng_ = rte_pcapng_fdopen(fd, os.c_str(), nullptr, app.c_str(), comment.c_str());
  if (!pcapng_) {
    ::close(fd);
    release();
    throw std::runtime_error("capture: cannot write the pcapng header to " + o.file);
  }
  tsc_hz_ = double(Clock::hz());
}

CaptureSession::~CaptureSession() {
  if (running_) {
    try {
      stop("routerd stopped");
    } catch (const std::exception&) {
    }
  }
  if (pcapng_) rte_pcapng_close(pcapng_);
  release();
}

void CaptureSession::release() {
  if (stuck_) return;  // a worker may still copy into them
  rte_ring_free(shared_.ring);
  shared_.ring = nullptr;
  rte_mempool_free(shared_.pool);
  shared_.pool = nullptr;
}

void CaptureSession::resolve(const CaptureOptions& o) {
  const GraphPlan& plan = rt_.plan();
  std::vector<std::string> names;
  if (o.points.empty()) throw std::invalid_argument("name what to capture: ELEMENT[OUTPUT], or a port with --port PORT:rx|tx");
  uint16_t first_port = RTE_MAX_ETHPORTS;
  uint16_t pid = 0;
  RTE_ETH_FOREACH_DEV(pid) {
    first_port = pid;
    break;
  }
  auto add = [&](size_t node, size_t output, uint16_t port, rte_pcapng_direction dir, std::string name, bool rx, bool tx,
                 uint16_t queues, int fixed) {
    for (const auto& p : points_)
      if (p.node == node && p.output == output) return;
    const ElementProbe& probe = rt_.graph(0).probes[node];
    if (probe.taps[output])
      throw std::invalid_argument(plan.nodes[node].spec->id + "[" + plan.nodes[node].outputs[output] +
                                  "] is already being captured (routerctl capture --list)");
    points_.push_back({node, output, port, dir, std::move(name), rx, tx, queues, fixed});
  };
  for (const auto& cp : o.points) {
    if (!cp.port.empty()) {
      const PortRuntime* port = rt_.find_port(cp.port);
      if (!port) {
        for (const auto& p : rt_.ports()) names.push_back(p.name);
        throw std::invalid_argument("no port '" + cp.port + "' (ports: " + join(names) + ")");
      }
      if (cp.dir == "rx") {
        bool any = false;
        for (size_t n = 0; n < plan.nodes.size(); n++)
          for (const auto& c : plan.nodes[n].rx_claims)
            if (c.port == cp.port)
              for (size_t out = 0; out < plan.nodes[n].outputs.size(); out++) {
                add(n, out, port->id, RTE_PCAPNG_DIRECTION_IN, cp.port + " rx", true, false, port->rx_queues, c.queue);
                any = true;
              }
        if (!any) throw std::invalid_argument("no element receives from port '" + cp.port + "' and hands packets on");
      } else if (cp.dir == "tx") {
        bool any = false;
        for (size_t t = 0; t < plan.nodes.size(); t++) {
          const auto& tx = plan.nodes[t].tx_ports;
          if (std::find(tx.begin(), tx.end(), cp.port) == tx.end()) continue;
          for (size_t n = 0; n < plan.nodes.size(); n++)
            for (size_t out = 0; out < plan.nodes[n].links.size(); out++)
              if (plan.nodes[n].links[out].element == static_cast<int>(t)) {
                add(n, out, port->id, RTE_PCAPNG_DIRECTION_OUT, cp.port + " tx", false, true, port->tx_queues, -1);
                any = true;
              }
        }
        if (!any) throw std::invalid_argument("no element of the graph hands packets to a transmitter on port '" + cp.port + "'");
      } else {
        throw std::invalid_argument("port '" + cp.port + "': the direction must be rx or tx, not '" + cp.dir + "'");
      }
      continue;
    }
    const int node = plan.index_of(cp.element);
    if (node < 0) {
      for (const auto& n : plan.nodes) names.push_back(n.spec->id);
      throw std::invalid_argument("no element '" + cp.element + "' (elements: " + join(names) + ")");
    }
    const NodePlan& n = plan.nodes[static_cast<size_t>(node)];
    if (first_port == RTE_MAX_ETHPORTS)
      throw std::invalid_argument("a capture needs a DPDK port to record packets on (DPDK 22.11's pcapng names one "
                                  "interface per port); this router has none");
    if (cp.output.empty()) {
      if (n.outputs.empty()) {
        std::string hint;
        for (const auto& p : n.tx_ports) hint += (hint.empty() ? "; to capture what it sends: routerctl capture --port " : ", --port ") + p + ":tx";
        throw std::invalid_argument("element '" + cp.element + "' (" + n.klass->name + ") has no outputs" + hint);
      }
      for (size_t out = 0; out < n.outputs.size(); out++)
        add(static_cast<size_t>(node), out, first_port, RTE_PCAPNG_DIRECTION_UNKNOWN, cp.element + "[" + n.outputs[out] + "]",
            false, false, 1, -1);
      continue;
    }
    auto it = std::find(n.outputs.begin(), n.outputs.end(), cp.output);
    if (it == n.outputs.end())
      throw std::invalid_argument("element '" + cp.element + "' (" + n.klass->name + ") has no output '" + cp.output +
                                  "' (outputs: " + join(n.outputs) + ")");
    add(static_cast<size_t>(node), static_cast<size_t>(it - n.outputs.begin()), first_port, RTE_PCAPNG_DIRECTION_UNKNOWN,
        cp.element + "[" + cp.output + "]", false, false, 1, -1);
  }
}

void CaptureSession::install(bool on) {
  const auto& workers = rt_.workers();
  auto set = [&](unsigned w, bool tap) {
    return rt_.run_on_worker(
        w,
        [&, w, tap] {
          WorkerGraph& g = rt_.graph(w);
          for (size_t p = 0; p < points_.size(); p++)
            g.probes[points_[p].node].taps[points_[p].output] = tap ? &taps_[p][w] : nullptr;
          apply_probes(g);
        },
        kAnswer);
  };
  for (unsigned w = 0; w < workers.size(); w++) {
    if (set(w, on)) continue;
    if (on)
      for (unsigned u = 0; u < w; u++) set(u, false);
    else
      stuck_ = true;
    throw std::runtime_error("worker " + std::to_string(w) + " did not answer within 2 s");
  }
}

void CaptureSession::start() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  wall0_ns_ = uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
  tsc0_ = rte_rdtsc();
  install(true);
  running_ = true;
  state_ = "running";
  started_ = std::chrono::steady_clock::now();
}

uint64_t CaptureSession::lost() const {
  uint64_t n = 0;
  for (size_t p = 0; p < points_.size(); p++)
    for (size_t w = 0; w < n_workers_; w++) n += taps_[p][w].lost.get();
  return n;
}

void CaptureSession::write(rte_mbuf** pkts, unsigned n) {
  for (unsigned i = 0; i < n; i++) {
    rte_mbuf* m = pkts[i];
    uint8_t* block = rte_pktmbuf_mtod(m, uint8_t*);
    const uint64_t tsc = m->tx_offload;
    const uint64_t ns = wall0_ns_ + (tsc > tsc0_ ? uint64_t(double(tsc - tsc0_) * 1e9 / tsc_hz_) : 0);
    const uint32_t hi = uint32_t(ns >> 32), lo = uint32_t(ns);
    std::memcpy(block + kEpbTimestampHi, &hi, 4);
    std::memcpy(block + kEpbTimestampLo, &lo, 4);
    const size_t c = size_t(m->hash.usr / kWorkerSlots) * n_workers_ + m->hash.usr % kWorkerSlots;
    if (c < comments_.size()) add_comment(m, comments_[c]);
  }
  const ssize_t r = rte_pcapng_write_packets(pcapng_, pkts, static_cast<uint16_t>(n));
  rte_pktmbuf_free_bulk(pkts, n);
  if (r < 0) throw std::runtime_error("writing " + opts_.file + ": " + rte_strerror(rte_errno));
  written_ += n;
}

void CaptureSession::drain() {
  if (!running_) return;
  rte_mbuf* pkts[256];
  try {
    for (int burst = 0; burst < 64; burst++) {
      const unsigned n = rte_ring_sc_dequeue_burst(shared_.ring, reinterpret_cast<void**>(pkts), 256, nullptr);
      if (n == 0) break;
      const unsigned keep = static_cast<unsigned>(std::min<uint64_t>(n, opts_.count - std::min(written_, opts_.count)));
      rte_pktmbuf_free_bulk(pkts + keep, n - keep);
      if (keep) write(pkts, keep);
    }
  } catch (const std::exception& e) {
    state_ = "failed";
    stop(e.what());
    return;
  }
  if (written_ + lost() >= opts_.count) stop("the count was reached");
}

void CaptureSession::stop(const std::string& why) {
  if (!running_) return;
  running_ = false;
  ended_ = std::chrono::steady_clock::now();
  if (state_ == "running") state_ = why == "the count was reached" ? "done" : "stopped";
  why_ = why;
  try {
    install(false);
  } catch (const std::exception& e) {
    state_ = "failed";
    why_ = why + "; " + e.what() + ": the capture's buffers are kept";
    throw;
  }
  rte_mbuf* pkts[256];
  unsigned n;
  while ((n = rte_ring_sc_dequeue_burst(shared_.ring, reinterpret_cast<void**>(pkts), 256, nullptr)) > 0) {
    const unsigned keep = static_cast<unsigned>(std::min<uint64_t>(n, opts_.count - std::min(written_, opts_.count)));
    rte_pktmbuf_free_bulk(pkts + keep, n - keep);
    if (!keep) continue;
    try {
      write(pkts, keep);
    } catch (const std::exception& e) {
      state_ = "failed";
      why_ = e.what();
    }
  }
  rte_pcapng_close(pcapng_);  // closes the file
  pcapng_ = nullptr;
  release();
}

nlohmann::json CaptureSession::status() const {
  uint64_t copied = 0;
  for (size_t p = 0; p < points_.size(); p++)
    for (size_t w = 0; w < n_workers_; w++) copied += taps_[p][w].copied.get();
  nlohmann::json points = nlohmann::json::array();
  for (const auto& p : points_) points.push_back(p.name);
  auto end = running_ ? std::chrono::steady_clock::now() : ended_;
  nlohmann::json j{{"id", id_},
                   {"state", state_},
                   {"file", opts_.file},
                   {"points", points},
                   {"filter", opts_.filter},
                   {"count", opts_.count},
                   {"snaplen", opts_.snaplen},
                   {"matched", std::min(shared_.taken.load(std::memory_order_relaxed), opts_.count)},
                   {"copied", copied},
                   {"written", written_},
                   {"lost", lost()},
                   {"seconds", std::chrono::duration<double>(end - started_).count()}};
  if (!why_.empty()) j["reason"] = why_;
  return j;
}

}  // namespace weft
