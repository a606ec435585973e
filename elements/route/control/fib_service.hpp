// Fib — the service that keeps the routes FRR's zebra sends over FPM in the
// LPM tables IpLookup elements read (tables/fib_tables.hpp). Its class
// declaration (fib_service.cpp) is its manual: `routerctl elements --doc Fib`.
//
// The running state (FPM server, RIB, FIB: control/fib_control.hpp) moves
// from service to service across reloads (take_state), so zebra's TCP
// connection and the routes survive any reload that keeps a service of this
// name and class; parameter changes apply live.
#pragma once

#include <memory>

#include "control/fib_control.hpp"
#include "tables/interfaces.hpp"
#include "weft/service.hpp"

namespace weft::route {

class FibService final : public Service {
 public:
  static const ServiceClass& klass();
  void configure(ServiceConfigContext& ctx) override;
  void initialize(ServiceInitContext& ctx) override;
  StateCarry take_state(Service& old) override;
  void start(boost::asio::io_context& io) override;
  void stop() override;
  nlohmann::json status() const override;
  ServiceHealth health() const override;

  const FibConfig& config() const { return cfg_; }
  // The running state (null until initialize() or take_state()).
  const std::shared_ptr<FibControl>& control() const { return core_; }

 private:
  // cfg_ plus the interfaces of `interfaces_from` (by their host-path kernel names).
  FibConfig effective() const;

  FibConfig cfg_;
  bool from_interfaces_ = false;
  std::shared_ptr<const InterfacesHandle> ifs_;
  std::shared_ptr<FibControl> core_;
};

// Parses a Fib service's parameters (also used by tests and benchmarks).
FibConfig parse_fib_config(const Params& p);

}  // namespace weft::route
