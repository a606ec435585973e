#include "datapath/port_tx.hpp"

#include "datapath/transmit.hpp"

namespace weft::basic {

const ElementClass& PortTx::klass() {
  static const ElementClass k =
      ElementClass::make<PortTx>("PortTx")
          .describe("Transmits packets on a DPDK port.",
                    "Sends each batch with rte_eth_tx_burst on the worker's own TX queue. If the queue is full it "
                    "retries `retries` times, then drops what is left (reason tx_full).\n\n"
                    "With `deferred: true` the worker does not transmit: it hands the batch to a ring (multi-producer, "
                    "single-consumer rte_ring of `ring` packets; what finds it full is dropped, reason ring_full) and "
                    "a thread of routerd's that is not a worker drains the ring into the port's TX queue 0, waiting "
                    "for the port when it is full (what stays unsent is counted in handler `deferred`, tx_full). "
                    "For ports whose transmission is a system call, such as a net_tap host path: the write and the "
                    "kernel's receive path leave the worker. Every PortTx of the port shares the ring; a reload keeps "
                    "it with what it holds. On a deferred port every PortTx must be deferred, and no other element may "
                    "transmit on it (the thread uses queue 0, worker 0's own): validation refuses a graph that mixes "
                    "them.")
          .input("in")
          .required("port", ParamType::Port, "graph port to transmit on")
          .param("retries", ParamType::UInt, "8", "extra transmit attempts when the TX queue is full")
          .param("deferred", ParamType::Bool, "false",
                 "hand packets to a ring drained by a thread that is not a worker, instead of transmitting")
          .param("ring", ParamType::UInt, "1024", "with deferred: how many packets the ring holds")
          .drop(kTxFull, "tx_full", "the TX queue stayed full after all retries")
          .drop(kRingFull, "ring_full", "deferred: the ring to the transmitting thread was full")
          .read("port", "DPDK port id and TX queue used by this worker", [](const PortTx& e) {
            return e.port_ + " (port " + std::to_string(e.port_id_) + ", queue " + std::to_string(e.queue_id_) +
                   (e.deferred_ ? ", deferred" : "") + ")";
          })
          .read("deferred",
                "deferred: the ring shared by the port's PortTx elements and its thread: in_ring, taken, sent, "
                "tx_full (dropped, the port's queue stayed full), capacity, wakeups, thread_cpu_ms",
                [](const PortTx& e) -> std::string {
                  if (!e.handoff_) return "off";
                  const DeferredTx& d = *e.handoff_;
                  return "in_ring " + std::to_string(d.in_ring()) + " taken " + std::to_string(d.taken()) +
                         " sent " + std::to_string(d.sent()) + " tx_full " + std::to_string(d.tx_full()) +
                         " capacity " + std::to_string(d.capacity()) + " wakeups " + std::to_string(d.wakeups()) +
                         " thread_cpu_ms " + std::to_string(d.thread_cpu_ns() / 1000000);
                });
  return k;
}

void PortTx::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  port_ = p.get<std::string>("port");
  retries_ = p.get<uint32_t>("retries");
  deferred_ = p.get<bool>("deferred");
  ring_size_ = p.get<uint32_t>("ring");
  if (deferred_ && (ring_size_ < 1 || ring_size_ > (1u << 20)))
    throw ConfigError(p.mark("ring"), "ring: " + std::to_string(ring_size_) + " is not between 1 and 1048576");
  // Deferred, the thread transmits on queue 0, worker 0's: the framework
  // refuses a graph that also transmits on the port from the workers.
  if (deferred_) ctx.use_tx_thread(port_, 0, p.mark("port"));
  else ctx.use_tx(port_, p.mark("port"));
}

void PortTx::initialize(InitContext& ctx) {
  port_id_ = ctx.port_id(port_);
  queue_id_ = ctx.tx_queue(port_);
  if (!deferred_) return;
  queue_id_ = 0;
  const uint16_t id = port_id_;
  const unsigned size = ring_size_;
  handoff_ = ctx.shared<DeferredTx>("PortTx.deferred:" + std::to_string(id), "ring=" + std::to_string(size), [id, size] {
    return std::make_shared<DeferredTx>(id, 0, size, "weft-dtx" + std::to_string(id));
  });
}

void PortTx::push(uint16_t, Batch& b) {
  if (handoff_) {
    uint16_t taken = handoff_->hand_over(b.pkts, b.count);
    for (uint16_t i = taken; i < b.count; i++) drop(b.pkts[i], kRingFull);
    return;
  }
  uint16_t sent = transmit(port_id_, queue_id_, b.pkts, b.count, retries_);
  for (uint16_t i = sent; i < b.count; i++) drop(b.pkts[i], kTxFull);
}

}  // namespace weft::basic
