// NeighborSink — the service that answers the kernel's neighbour misses on
// some links with Portolan's VL3 answers, through an Svp service. Its class
// declaration (neighbor_sink.cpp) is its manual: `routerctl elements --doc
// NeighborSink`.
//
// The running state (the netlink listener and what it installed:
// control/neighbor_control.hpp) moves from service to service across reloads
// (take_state); new links and options apply live.
#pragma once

#include <memory>
#include <string>

#include "control/neighbor_control.hpp"
#include "weft/service.hpp"

namespace weft::svp {

class NeighborSink final : public Service {
 public:
  static const ServiceClass& klass();
  void configure(ServiceConfigContext& ctx) override;
  void initialize(ServiceInitContext& ctx) override;
  StateCarry take_state(Service& old) override;
  void start(boost::asio::io_context& io) override;
  void stop() override;
  nlohmann::json status() const override;
  ServiceHealth health() const override;

  const NeighborConfig& config() const { return cfg_; }

 private:
  std::string svp_;  // the Svp service it asks
  NeighborConfig cfg_;
  std::shared_ptr<NeighborControl> core_;
};

}  // namespace weft::svp
