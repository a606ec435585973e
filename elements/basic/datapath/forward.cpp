#include "datapath/forward.hpp"

#include <rte_ethdev.h>

#include "datapath/transmit.hpp"

namespace weft::basic {

const ElementClass& Forward::klass() {
  static const ElementClass k =
      ElementClass::make<Forward>("Forward")
          .describe("Steers every packet from one port to another (SPP's forward component).",
                    "Polls the worker's RX queue of `from` and transmits each burst on its TX queue of `to`.")
          .required("from", ParamType::Port, "graph port to receive from")
          .required("to", ParamType::Port, "graph port to transmit on")
          .param("burst", ParamType::UInt, "32", "packets asked from the driver per poll (1-256)")
          .param("retries", ParamType::UInt, "8", "extra transmit attempts when the TX queue is full")
          .drop(kTxFull, "tx_full", "the TX queue stayed full after all retries")
          .drop(kUnexpected, "unexpected_input", "packets pushed into a source (never happens in a valid graph)")
          .read("count", "packets forwarded by this worker",
                [](const Forward& e) { return std::to_string(e.forwarded_.get()); });
  return k;
}

void Forward::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  from_ = p.get<std::string>("from");
  to_ = p.get<std::string>("to");
  burst_ = p.get<uint16_t>("burst");
  retries_ = p.get<uint32_t>("retries");
  if (burst_ == 0 || burst_ > kBatchCapacity)
    throw ConfigError(p.mark("burst"), "burst must be between 1 and " + std::to_string(kBatchCapacity));
  ctx.claim_rx(from_, -1, p.mark("from"));
  ctx.use_tx(to_, p.mark("to"));
}

void Forward::initialize(InitContext& ctx) {
  rx_port_ = ctx.port_id(from_);
  rx_queue_ = ctx.rx_queue(from_);
  tx_port_ = ctx.port_id(to_);
  tx_queue_ = ctx.tx_queue(to_);
}

bool Forward::run() {
  uint16_t n = rte_eth_rx_burst(rx_port_, rx_queue_, batch_.pkts, burst_);
  if (n == 0) return false;
  uint16_t sent = transmit(tx_port_, tx_queue_, batch_.pkts, n, retries_);
  forwarded_.add(sent);
  for (uint16_t i = sent; i < n; i++) drop(batch_.pkts[i], kTxFull);
  return true;
}

StateCarry Forward::take_state(Element& old_el) {
  auto& old = static_cast<Forward&>(old_el);
  if (old.from_ != from_ || old.to_ != to_)
    return StateCarry::reset("'from' or 'to' changed: a different path, its count starts at 0");
  forwarded_.set(old.forwarded_.get());
  return StateCarry::kept("count carried over");
}

}  // namespace weft::basic
