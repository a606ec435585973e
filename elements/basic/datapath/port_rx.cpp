#include "datapath/port_rx.hpp"

#include <rte_ethdev.h>

namespace weft::basic {

const ElementClass& PortRx::klass() {
  static const ElementClass k =
      ElementClass::make<PortRx>("PortRx")
          .describe("Receives packets from a DPDK port.",
                    "Polls one RX queue of a port per worker and pushes each burst downstream as one batch. "
                    "Worker i polls queue i unless `queue` is given (one worker only).")
          .output("out")
          .required("port", ParamType::Port, "graph port to receive from")
          .param("queue", ParamType::Int, "-1", "RX queue to poll; -1 means the worker's own queue")
          .param("burst", ParamType::UInt, "32", "packets asked from the driver per poll (1-256)")
          .drop(kUnexpected, "unexpected_input", "packets pushed into a source (never happens in a valid graph)")
          .read("port", "DPDK port id and RX queue polled by this worker", [](const PortRx& e) {
            return e.port_ + " (port " + std::to_string(e.port_id_) + ", queue " + std::to_string(e.queue_id_) + ")";
          });
  return k;
}

void PortRx::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  port_ = p.get<std::string>("port");
  queue_ = p.get<int>("queue");
  burst_ = p.get<uint16_t>("burst");
  if (burst_ == 0 || burst_ > kBatchCapacity)
    throw ConfigError(p.mark("burst"), "burst must be between 1 and " + std::to_string(kBatchCapacity));
  if (queue_ < -1) throw ConfigError(p.mark("queue"), "queue must be -1 (auto) or a queue number");
  ctx.claim_rx(port_, queue_, p.given("queue") ? p.mark("queue") : p.mark("port"));
}

void PortRx::initialize(InitContext& ctx) {
  port_id_ = ctx.port_id(port_);
  queue_id_ = queue_ < 0 ? ctx.rx_queue(port_) : static_cast<uint16_t>(queue_);
}

bool PortRx::run() {
  uint16_t n = rte_eth_rx_burst(port_id_, queue_id_, batch_.pkts, burst_);
  if (n == 0) return false;
  batch_.count = n;
  output(0, batch_);
  return true;
}

}  // namespace weft::basic
