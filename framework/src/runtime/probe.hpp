// Probes: what the control thread can turn on to watch a running graph, and
// the state both sides share (as a family's tables/ folder is shared).
//
//   runtime figures  per element and worker: calls, packets, cycles (VPP's
//                    `show runtime`); the worker charges the TSC cycles
//                    between two hand-overs to the element that ran them
//   trace            the journey of the next N packets (matching a filter)
//                    through the graph: every hop, then the drop reason or
//                    the element that consumed it
//   capture          copies of the packets leaving an element's output (or a
//                    port's), made with rte_pcapng_copy into a ring that the
//                    control thread drains into a pcapng file
//
// Nothing on the fast path tests for probes. An element is watched when its
// outputs are rewired: apply_probes points each output of a watched element at
// a ProbeShim, a framework element standing between it and its real target,
// whose push() counts cycles, records traced packets and copies captured ones
// (probe_path.cpp, the worker side) and then pushes to the real target. When
// nothing watches, the outputs point at their targets again and a batch moves
// between elements exactly as in a build without probes. The control thread
// never touches what a worker writes while it runs: it changes what is watched
// through the worker's mailbox, between two batches (apply_probes), and reads
// counters (single-writer relaxed atomics) and trace records (published with
// a release store) lock-free.
#pragma once

#include <rte_pcapng.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "weft/counter.hpp"
#include "weft/element.hpp"
#include "weft/metadata.hpp"

struct rte_ring;
struct rte_mempool;

namespace weft {

// Whether the worker loop tests for runtime figures (one flag per turn). A
// build configured with -DWEFT_PROBE_HOOKS=OFF compiles the test out: it
// exists to measure what the test costs when nothing watches
// (bench/runtime.sh BASE_BUILD); its routerd refuses runtime figures.
#ifdef WEFT_NO_PROBE_HOOKS
inline constexpr bool kProbeHooks = false;
#else
inline constexpr bool kProbeHooks = true;
#endif

class PacketFilter;
struct WorkerGraph;
struct WorkerProbe;

// --- Capture: shared by the control thread's session and the workers' taps ---

// What the workers of one capture share: where copies go, and the limit.
struct CaptureShared {
  rte_ring* ring = nullptr;      // multi-producer (workers), single consumer (control)
  rte_mempool* pool = nullptr;   // the copies' buffers (rte_pcapng_mbuf_size)
  const PacketFilter* filter = nullptr;  // null: every packet
  uint32_t snaplen = 0;
  uint64_t limit = 0;
  uint64_t tsc_base = 0;  // the TSC handed to rte_pcapng_copy (probe_path.cpp says why)
  std::atomic<uint64_t> taken{0};  // copies reserved by workers (may pass `limit`: those are not made)
};

// One capture point (an element's output) on one worker.
struct CaptureTap {
  CaptureShared* shared = nullptr;
  uint16_t port_id = 0;  // the pcapng interface (DPDK 22.11 writes one per ethdev port)
  uint32_t queue = 0;
  rte_pcapng_direction direction = RTE_PCAPNG_DIRECTION_UNKNOWN;
  uint32_t tag = 0;      // set in each copy's hash.usr: which point and worker (the comment)
  Counter copied;        // copies enqueued
  Counter lost;          // matched, but no buffer or no room in the ring
};

// --- Trace ---

// One step of a traced packet's journey.
struct TraceRecord {
  enum Kind : uint8_t {
    kStart = 0,     // entered the graph at `node` (a source)
    kHop = 1,       // left `node` by output `output` for node `to`
    kDropped = 2,   // dropped by `node`: `reasons` has the bit of each drop reason that counted then
    kConsumed = 3,  // `node` took it and handed it on no output (sent on a port, absorbed)
    kHeld = 4,      // `node` keeps it for later (a queue)
  };
  uint64_t tsc = 0;
  uint64_t reasons = 0;  // kDropped: bit i = drop reason i (bit 63: reason 63 or later)
  uint32_t id = 0;       // the packet: 0..limit-1
  uint16_t node = 0;
  uint16_t output = 0;
  uint16_t to = 0;
  uint8_t kind = kStart;
};

// Where a traced packet entered: its first bytes, decoded by routerctl.
struct TracePacket {
  static constexpr uint16_t kHeadBytes = 128;
  uint64_t tsc = 0;
  uint32_t pkt_len = 0;
  uint16_t head_len = 0;
  uint8_t head[kHeadBytes];
};

// What the workers of one trace share.
struct TraceShared {
  // A packet's id field holds the trace's generation above its id, so a
  // packet marked by an earlier trace (still in a queue) is not taken for one
  // of this trace's.
  static constexpr unsigned kIdBits = 20;
  static constexpr uint32_t kMaxPackets = 1u << kIdBits;
  uint32_t generation = 0;  // < 2^(32 - kIdBits)
  uint32_t limit = 0;
  const PacketFilter* filter = nullptr;
  std::atomic<uint32_t> next_id{0};  // ids taken; past `limit` the trace takes no more packets
  MetaFlag traced;                   // the packet is traced (a dynflag in ol_flags)
  MetaField<uint32_t> id;            // its id (private area; copied by copy_metadata)
};

// One worker's trace: written by that worker only.
struct TraceBuffer {
  static constexpr uint16_t kNowhere = 0xffff;
  TraceShared* shared = nullptr;
  std::unique_ptr<TraceRecord[]> records;
  size_t capacity = 0;
  std::atomic<size_t> count{0};  // records published (release); the control thread reads [0, count)
  Counter overflow;              // records that did not fit
  std::unique_ptr<TracePacket[]> packets;  // by id: where it entered (written before its kStart record)
  std::unique_ptr<uint16_t[]> at;          // by id: the node holding it now, or kNowhere
};

// --- Probes of a worker and of its elements ---

// The worker's side: what is on, and the running clock.
struct WorkerProbe {
  unsigned worker = 0;
  bool timing = false;            // runtime figures are counted
  uint64_t last = 0;              // TSC when the cycles so far were last charged
  TraceBuffer* trace = nullptr;   // a trace is on
  Counter idle_calls, idle_cycles;  // polls of sources that moved nothing, and their cycles
};

struct ElementProbe;

// What a watched element's output points at (one per output of every element,
// in its ElementProbe): pushes to `target`, the output's real target, the way
// a watched hand-over does (probe_path.cpp). Its own identity, outputs and
// counters are never used: nothing reaches it but the output it stands on.
class ProbeShim final : public Element {
 public:
  void push(uint16_t input, Batch& batch) override;
  ElementProbe* from = nullptr;  // the probe of the element whose output this is
  uint16_t port = 0;             // which output
  Element* target = nullptr;     // the output's real target while the shim is in place
};

// One element instance's probe (WorkerGraph::probes, parallel to its elements).
struct ElementProbe {
  WorkerProbe* worker = nullptr;
  uint16_t node = 0;
  bool source = false;  // no inputs: run() by the worker loop; the trace starts here
  // Runtime figures: push() calls (or run() calls that moved packets),
  // packets received (a source: sent), and cycles spent in the element itself.
  Counter calls, packets, cycles;
  std::unique_ptr<CaptureTap*[]> taps;  // one per output; null: not captured
  size_t n_taps = 0;                    // the element's output count
  std::unique_ptr<ProbeShim[]> shims;   // one per output (n_taps of them)
  bool tapped() const {
    for (size_t i = 0; i < n_taps; i++)
      if (taps[i]) return true;
    return false;
  }
};

// Access to an element's framework-private probe pointer (friend of Element).
class ElementProbes {
 public:
  static ElementProbe* of(const Element& e) { return e.probe_; }
  static void set(Element& e, ElementProbe* p) { e.probe_ = p; }
  // As a hand-over does when its target throws (element.hpp, push_into).
  static void contain(Element& target, Batch& b, uint16_t n) noexcept { target.contain_failure("push", b, n); }
};

// Gives every element of `g` its probe for worker `w` (after building a graph,
// on the control thread; nothing is watched until apply_probes).
void attach_probes(WorkerGraph& g, WorkerProbe& w);
// Sets the `probe_` of every element of `g` that something watches and puts
// its shims on its outputs; clears the others and takes their shims off. Runs on the worker between batches (or on the control
// thread while the worker does not run this graph).
void apply_probes(WorkerGraph& g);
// The worker loop's turn over the sources while runtime figures are on
// (worker.cpp): times each run(); returns true if any packet moved.
bool timed_turn(WorkerGraph& g, WorkerProbe& w);
// Points whatever output (or shim) targets `from` at `to` instead (a quarantine).
void retarget(WorkerGraph& g, const Element* from, Element* to);
// Carries the runtime figures of kept elements across a reload.
void carry_runtime(const ElementProbe& from, ElementProbe& to);

}  // namespace weft
