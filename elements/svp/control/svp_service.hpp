// Svp — the service that asks Portolan over SVP and keeps the answers in the
// overlay cache SvpResolver elements read (tables/overlay_handle.hpp) and
// NeighborSink services resolve through (control/overlay_resolver.hpp). Its
// class declaration (svp_service.cpp) is its manual: `routerctl elements
// --doc Svp`.
//
// The running state (client, cache, request ring: control/svp_control.hpp)
// moves from service to service across reloads (take_state), so Portolan's
// connection and the cache survive any reload that keeps a service of this
// name and class; parameters apply live. See docs/overlay.md.
#pragma once

#include <memory>

#include "control/svp_control.hpp"
#include "weft/service.hpp"

namespace weft::svp {

class SvpService final : public Service {
 public:
  static const ServiceClass& klass();
  void configure(ServiceConfigContext& ctx) override;
  void initialize(ServiceInitContext& ctx) override;
  StateCarry take_state(Service& old) override;
  void start(boost::asio::io_context& io) override;
  void stop() override;
  nlohmann::json status() const override;
  ServiceHealth health() const override;

  const SvpConfig& config() const { return cfg_; }
  // The running state (null until initialize() or take_state()).
  const std::shared_ptr<SvpControl>& control() const { return core_; }

 private:
  SvpConfig cfg_;
  std::shared_ptr<SvpControl> core_;
};

// Parses an Svp service's parameters (also used by tests and benchmarks).
SvpConfig parse_svp_config(const Params& p);

}  // namespace weft::svp
