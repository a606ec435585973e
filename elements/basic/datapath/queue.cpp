#include "datapath/queue.hpp"

#include <rte_errno.h>

#include <atomic>

namespace weft::basic {

const ElementClass& Queue::klass() {
  static const ElementClass k =
      ElementClass::make<Queue>("Queue")
          .describe("Holds packets and releases them in bursts on the worker's next loop.",
                    "Packets are stored in a per-worker ring and pushed downstream `burst` at a time. On reload "
                    "the queued packets move to the new Queue with the same id (the excess is dropped if the new "
                    "capacity is smaller).")
          .input("in")
          .output("out")
          .poll()
          .param("capacity", ParamType::UInt, "1024", "packets held at most (rounded up to a power of two)")
          .param("burst", ParamType::UInt, "32", "packets released per loop (1-256)")
          .drop(kFull, "queue_full", "arrived while the queue was full")
          .read("length", "packets held now", [](const Queue& e) { return std::to_string(e.held_packets()); })
          .read("highwater", "most packets ever held", [](const Queue& e) { return std::to_string(e.highwater_); });
  return k;
}

void Queue::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  capacity_ = p.get<uint32_t>("capacity");
  burst_ = p.get<uint16_t>("burst");
  if (capacity_ < 1 || capacity_ > (1u << 24)) throw ConfigError(p.mark("capacity"), "capacity must be 1 to 16777216");
  if (burst_ == 0 || burst_ > kBatchCapacity)
    throw ConfigError(p.mark("burst"), "burst must be between 1 and " + std::to_string(kBatchCapacity));
}

void Queue::initialize(InitContext& ctx) {
  static std::atomic<unsigned> serial{0};
  std::string name = "wq" + std::to_string(serial.fetch_add(1));
  ring_ = rte_ring_create(name.c_str(), capacity_, ctx.socket(),
                          RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
  if (!ring_) throw InitError(std::string("cannot create the queue's ring: ") + rte_strerror(rte_errno));
}

void Queue::cleanup() {
  if (!ring_) return;
  rte_mbuf* m;
  while (rte_ring_sc_dequeue(ring_, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
  rte_ring_free(ring_);
  ring_ = nullptr;
}

void Queue::push(uint16_t, Batch& b) {
  unsigned n = rte_ring_sp_enqueue_burst(ring_, reinterpret_cast<void* const*>(b.pkts), b.count, nullptr);
  for (unsigned i = n; i < b.count; i++) drop(b.pkts[i], kFull);
  unsigned len = rte_ring_count(ring_);
  if (len > highwater_) highwater_ = len;
}

bool Queue::run() {
  unsigned n = rte_ring_sc_dequeue_burst(ring_, reinterpret_cast<void**>(out_.pkts), burst_, nullptr);
  if (n == 0) return false;
  out_.count = static_cast<uint16_t>(n);
  output(0, out_);
  return true;
}

StateCarry Queue::take_state(Element& old_el) {
  auto& old = static_cast<Queue&>(old_el);
  highwater_ = old.highwater_;
  if (old.capacity_ == capacity_) {
    std::swap(ring_, old.ring_);  // O(1): the packets stay where they are
    return StateCarry::kept("queued packets carried over");
  }
  // A different capacity: move what fits, drop (and count) the rest.
  uint64_t moved = 0, lost = 0;
  rte_mbuf* m;
  while (rte_ring_sc_dequeue(old.ring_, reinterpret_cast<void**>(&m)) == 0) {
    if (rte_ring_sp_enqueue(ring_, m) == 0) {
      moved++;
    } else {
      drop(m, kFull);
      lost++;
    }
  }
  return StateCarry::kept("capacity changed: " + std::to_string(moved) + " queued packet(s) moved, " +
                              std::to_string(lost) + " dropped",
                          lost);
}

}  // namespace weft::basic
