#include "datapath/port_tx.hpp"

#include "datapath/transmit.hpp"

namespace weft::basic {

const ElementClass& PortTx::klass() {
  static const ElementClass k =
      ElementClass::make<PortTx>("PortTx")
          .describe("Transmits packets on a DPDK port.",
                    "Sends each batch with rte_eth_tx_burst on the worker's own TX queue. If the queue is full it "
                    "retries `retries` times, then drops what is left (reason tx_full).")
          .input("in")
          .required("port", ParamType::Port, "graph port to transmit on")
          .param("retries", ParamType::UInt, "8", "extra transmit attempts when the TX queue is full")
          .drop(kTxFull, "tx_full", "the TX queue stayed full after all retries")
          .read("port", "DPDK port id and TX queue used by this worker", [](const PortTx& e) {
            return e.port_ + " (port " + std::to_string(e.port_id_) + ", queue " + std::to_string(e.queue_id_) + ")";
          });
  return k;
}

void PortTx::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  port_ = p.get<std::string>("port");
  retries_ = p.get<uint32_t>("retries");
  ctx.use_tx(port_, p.mark("port"));
}

void PortTx::initialize(InitContext& ctx) {
  port_id_ = ctx.port_id(port_);
  queue_id_ = ctx.tx_queue(port_);
}

void PortTx::push(uint16_t, Batch& b) {
  uint16_t sent = transmit(port_id_, queue_id_, b.pkts, b.count, retries_);
  for (uint16_t i = sent; i < b.count; i++) drop(b.pkts[i], kTxFull);
}

}  // namespace weft::basic
