// Interfaces — the router's L3 interfaces and its neighbours (ARP, IPv6
// Neighbour Discovery). Its class declaration (interfaces_service.cpp) is its
// manual: `routerctl elements --doc Interfaces`.
//
// The running state (control/interfaces_core.hpp) moves from service to
// service across reloads (take_state): neighbours and the packets waiting for
// them survive any reload that keeps a service of this name and class; the
// interface list applies in place (interfaces kept keep their neighbours).
#pragma once

#include <memory>

#include "control/interfaces_core.hpp"
#include "weft/service.hpp"

namespace weft::route {

class InterfacesService final : public Service {
 public:
  static const ServiceClass& klass();
  void configure(ServiceConfigContext& ctx) override;
  void initialize(ServiceInitContext& ctx) override;
  StateCarry take_state(Service& old) override;
  void start(boost::asio::io_context& io) override;
  void stop() override;
  nlohmann::json status() const override;
  ServiceHealth health() const override;

  const InterfacesConfig& config() const { return cfg_; }
  const std::shared_ptr<InterfacesCore>& core() const { return core_; }

 private:
  InterfacesConfig cfg_;
  std::shared_ptr<InterfacesCore> core_;
};

// Parses an Interfaces service's parameters; `device_of` gives a graph
// port's device (nullopt: no such port).
InterfacesConfig parse_interfaces_config(const Params& p,
                                         const std::function<std::optional<std::string>(const std::string&)>& device_of);

}  // namespace weft::route
