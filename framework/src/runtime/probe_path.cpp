// The worker side of probes (probe.hpp): what a watched element does when it
// hands a batch on, and the worker loop's timed turn. Fast path: no lock, no
// system call, no allocation; a trace or a capture costs per packet only
// while it is on.
//
// Runtime figures charge time, not calls: the worker keeps the TSC of the last
// hand-over (WorkerProbe::last). Handing a batch to the next element charges
// the cycles since then to the element handing it on; the target's return
// charges the cycles since then to the target. Elements call each other
// depth-first, so every cycle between two hand-overs belongs to exactly one
// element: its own work, never its children's. Two TSC reads per hop.
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_pcapng.h>
#include <rte_ring.h>

#include <algorithm>
#include <cstring>

#include "runtime/element_faults.hpp"
#include "runtime/element_wiring.hpp"
#include "runtime/graph_instance.hpp"
#include "runtime/packet_filter.hpp"
#include "runtime/probe.hpp"

namespace weft {

namespace {

// Copies the packets of `b` that pass the capture's filter, up to its limit,
// and queues the copies for the control thread. The copy's own fields carry
// what the control thread needs: hash.usr the tap's tag (which point, which
// worker), tx_offload the TSC of the copy (a pcapng copy never reaches a NIC).
void capture(CaptureTap& t, const Batch& b) {
  CaptureShared& s = *t.shared;
  if (b.count == 0 || s.taken.load(std::memory_order_relaxed) >= s.limit) return;
  uint64_t match[kBatchCapacity];
  uint16_t wanted = b.count;
  if (s.filter) {
    s.filter->match(b, match);
    wanted = 0;
    for (uint16_t i = 0; i < b.count; i++) wanted += match[i] != 0;
    if (wanted == 0) return;
  }
  const uint64_t first = s.taken.fetch_add(wanted, std::memory_order_relaxed);
  if (first >= s.limit) return;
  const uint64_t room = std::min<uint64_t>(wanted, s.limit - first);
  rte_mbuf* copies[kBatchCapacity];
  unsigned n = 0, lost = 0;
  const uint64_t now = rte_rdtsc();
  // No copy the ring has no room for: when the control thread's writing falls
  // behind, a copy made only to be freed would cost the worker most. (Other
  // workers may take room meanwhile; the enqueue below still decides.)
  const unsigned space = rte_ring_free_count(s.ring);
  for (uint16_t i = 0; i < b.count && n + lost < room; i++) {
    if (s.filter && !match[i]) continue;
    if (n == space) {
      lost++;
      continue;
    }
    // The library's own clock is handed a constant (s.tsc_base): rte_pcapng_copy
    // of DPDK 22.11 moves a process-wide time base without a lock, which two
    // workers could tear. The control thread writes the real time.
    rte_mbuf* c = rte_pcapng_copy(t.port_id, t.queue, b.pkts[i], s.pool, s.snaplen, s.tsc_base, t.direction);
    if (!c) {
      lost++;
      continue;
    }
    c->hash.usr = t.tag;
    c->tx_offload = now;
    copies[n++] = c;
  }
  const unsigned queued = rte_ring_enqueue_burst(s.ring, reinterpret_cast<void**>(copies), n, nullptr);
  if (queued < n) {
    rte_pktmbuf_free_bulk(copies + queued, n - queued);
    lost += n - queued;
  }
  t.copied.add(queued);
  if (lost) t.lost.add(lost);
}

void record(TraceBuffer& tb, const TraceRecord& r) {
  const size_t n = tb.count.load(std::memory_order_relaxed);
  if (n >= tb.capacity) {
    tb.overflow.inc();
    return;
  }
  tb.records[n] = r;
  tb.count.store(n + 1, std::memory_order_release);  // the control thread reads records [0, count)
}

// The id of a packet this trace marked, or -1 (unmarked, or marked by an
// earlier trace: the generation in the upper bits differs).
int64_t traced_id(const TraceShared& s, rte_mbuf* m) {
  if (!s.traced.test(m)) return -1;
  const uint32_t v = s.id(m);
  if ((v >> TraceShared::kIdBits) != s.generation) return -1;
  const uint32_t id = v & ((1u << TraceShared::kIdBits) - 1);
  return id < s.limit ? id : -1;
}

// A source hands on packets entering the graph: mark those the trace takes.
void mark_new(TraceBuffer& tb, const ElementProbe& p, const Batch& b) {
  TraceShared& s = *tb.shared;
  if (s.next_id.load(std::memory_order_relaxed) >= s.limit) return;
  uint64_t match[kBatchCapacity];
  if (s.filter) s.filter->match(b, match);
  for (uint16_t i = 0; i < b.count; i++) {
    rte_mbuf* m = b.pkts[i];
    if ((s.filter && !match[i]) || traced_id(s, m) >= 0) continue;
    const uint32_t id = s.next_id.fetch_add(1, std::memory_order_relaxed);
    if (id >= s.limit) return;
    s.traced.set(m);
    s.id(m) = (s.generation << TraceShared::kIdBits) | id;
    TracePacket& tp = tb.packets[id];
    tp.tsc = rte_rdtsc();
    tp.pkt_len = m->pkt_len;
    tp.head_len = static_cast<uint16_t>(std::min<uint32_t>(m->pkt_len, TracePacket::kHeadBytes));
    const void* head = rte_pktmbuf_read(m, 0, tp.head_len, tp.head);
    if (head && head != tp.head) std::memcpy(tp.head, head, tp.head_len);
    tb.at[id] = p.node;
    TraceRecord r;
    r.tsc = tp.tsc;
    r.id = id;
    r.node = p.node;
    r.kind = TraceRecord::kStart;
    record(tb, r);
  }
}

// The traced packets of one batch entering an element, and what the element
// had counted before it took them (stack: one per watched hop in progress).
struct TraceHop {
  static constexpr size_t kReasons = 64;
  uint16_t n = 0;
  uint32_t ids[kBatchCapacity];
  size_t n_reasons = 0;
  uint64_t drops[kReasons];
  uint64_t held = 0;
};

}  // namespace

// Hands `b` to input `input` of `t`, charging cycles while runtime figures are on.
static inline void push_timed(ElementProbe& p, WorkerProbe& w, Element& t, uint16_t input, Batch& b) {
  ElementProbe* tp = ElementProbes::of(t);
  if (w.timing && tp) {
    const uint64_t now = rte_rdtsc();
    p.cycles.add(now - w.last);
    w.last = now;
    if (p.source) p.packets.add(b.count);
    tp->calls.inc();
    tp->packets.add(b.count);
    t.push(input, b);
    t.flush_staged();
    const uint64_t back = rte_rdtsc();
    tp->cycles.add(back - w.last);
    w.last = back;
    return;
  }
  t.push(input, b);
  t.flush_staged();
}

// A hop while a trace is on: records where each traced packet goes, marks new
// ones at sources, and after the target returns, what became of those it kept.
[[gnu::noinline]] static void push_traced(ElementProbe& p, WorkerProbe& w, Element& t, uint16_t input, uint16_t port,
                                         Batch& b) {
  TraceBuffer& tb = *w.trace;
  const TraceShared& s = *tb.shared;
  const ElementProbe* tp = ElementProbes::of(t);
  if (p.source) mark_new(tb, p, b);
  TraceHop hop;
  if (tp)
    for (uint16_t i = 0; i < b.count; i++) {
      const int64_t id = traced_id(s, b.pkts[i]);
      if (id < 0) continue;
      TraceRecord r;
      r.tsc = rte_rdtsc();
      r.id = static_cast<uint32_t>(id);
      r.node = p.node;
      r.output = port;
      r.to = tp->node;
      r.kind = TraceRecord::kHop;
      record(tb, r);
      tb.at[id] = tp->node;
      hop.ids[hop.n++] = static_cast<uint32_t>(id);
    }
  if (hop.n) {
    hop.n_reasons = std::min(t.drop_reason_count(), TraceHop::kReasons);
    for (size_t i = 0; i < hop.n_reasons; i++) hop.drops[i] = t.drops(i);
    hop.held = t.held_packets();
  }
  push_timed(p, w, t, input, b);
  if (!hop.n) return;
  // A traced packet still `at` the target neither left by an output nor
  // reached a deeper element: the target dropped, kept or consumed it. The
  // reasons it counted during this call say which drop (more than one: any).
  uint64_t reasons = 0;
  for (size_t i = 0; i < hop.n_reasons; i++)
    if (t.drops(i) != hop.drops[i]) reasons |= 1ull << std::min<size_t>(i, 63);
  if (t.drop_reason_count() > TraceHop::kReasons) reasons |= 1ull << 63;
  const bool held = t.held_packets() > hop.held;
  for (uint16_t k = 0; k < hop.n; k++) {
    const uint32_t id = hop.ids[k];
    if (tb.at[id] != tp->node) continue;
    TraceRecord r;
    r.tsc = rte_rdtsc();
    r.id = id;
    r.node = tp->node;
    if (reasons) {
      r.kind = TraceRecord::kDropped;
      r.reasons = reasons;
    } else {
      r.kind = held ? TraceRecord::kHeld : TraceRecord::kConsumed;
    }
    record(tb, r);
    if (!held || reasons) tb.at[id] = TraceBuffer::kNowhere;
  }
}

// The watched hand-over: the source element has counted the batch on its
// output (account) and pushed it here instead of to `target`.
void ProbeShim::push(uint16_t input, Batch& b) {
  ElementProbe& p = *from;
  WorkerProbe& w = *p.worker;
  Element& t = *target;
  if (p.taps[port]) capture(*p.taps[port], b);
  const uint16_t n = b.count;
  try {  // as push_into: what the target throws is charged to the target (element_faults.hpp)
    if (w.trace) [[unlikely]] {
      push_traced(p, w, t, input, port, b);
      return;
    }
    push_timed(p, w, t, input, b);
  } catch (...) {
    ElementProbes::contain(t, b, n);
  }
}

bool timed_turn(WorkerGraph& g, WorkerProbe& w) {
  bool busy = false;
  for (size_t i = 0; i < g.sources.size(); i++) {
    Element* s = g.sources[i];  // a failed one is replaced in place, by its quarantine
    ElementProbe* p = ElementProbes::of(*s);
    const uint64_t t0 = rte_rdtsc();
    w.last = t0;
    bool moved = false;
    try {
      moved = s->run();
      s->flush_staged();
    } catch (...) {
      contain_element_failure(*s, "run", 0);
    }
    const uint64_t t1 = rte_rdtsc();
    if (moved && p) {
      p->calls.inc();
      p->cycles.add(t1 - w.last);
    } else {
      w.idle_calls.inc();
      w.idle_cycles.add(t1 - t0);
    }
    w.last = t1;
    busy |= moved;
  }
  return busy;
}

void attach_probes(WorkerGraph& g, WorkerProbe& w) {
  for (size_t i = 0; i < g.elements.size(); i++) {
    ElementProbe& p = g.probes[i];
    p.worker = &w;
    if (!p.shims) p.shims = std::make_unique<ProbeShim[]>(p.n_taps);
    for (size_t o = 0; o < p.n_taps; o++) {
      p.shims[o].from = &p;
      p.shims[o].port = static_cast<uint16_t>(o);
    }
  }
}

void apply_probes(WorkerGraph& g) {
  for (size_t i = 0; i < g.elements.size(); i++) {
    Element& e = *g.elements[i];
    ElementProbe& p = g.probes[i];
    const bool watched = p.worker && (p.worker->timing || p.worker->trace || p.tapped());
    ElementProbes::set(e, watched ? &p : nullptr);
    if (!p.shims) continue;  // not attached yet
    for (size_t o = 0; o < p.n_taps; o++) {
      OutputPort& out = ElementWiring::output(e, o);
      ProbeShim& shim = p.shims[o];
      const bool on = out.target == &shim;
      if (watched && !on && out.target) {
        shim.target = out.target;
        out.target = &shim;
      } else if (!watched && on) {
        out.target = shim.target;
        shim.target = nullptr;
      }
    }
  }
}

void retarget(WorkerGraph& g, const Element* from, Element* to) {
  for (size_t i = 0; i < g.elements.size(); i++) {
    Element& e = *g.elements[i];
    for (size_t o = 0; o < e.output_count(); o++) {
      OutputPort& out = ElementWiring::output(e, o);
      if (out.target == from) out.target = to;
      if (g.probes && g.probes[i].shims && g.probes[i].shims[o].target == from) g.probes[i].shims[o].target = to;
    }
  }
}

void carry_runtime(const ElementProbe& from, ElementProbe& to) {
  to.calls.set(from.calls.get());
  to.packets.set(from.packets.get());
  to.cycles.set(from.cycles.get());
}

}  // namespace weft
