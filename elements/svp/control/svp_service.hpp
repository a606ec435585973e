// Svp — Portolan for this router: the SVP client and the overlay cache that
// SvpResolver and NeighborSink elements use.
//
// Ports:       none (a control element: it owns the SVP service)
// Parameters:  servers       (required) ["ADDR:PORT", ...] Portolan servers, in
//                            order of preference (port 1296 if omitted)
//              timeout       (default 2) seconds before an unanswered request
//                            fails and a silent server is left
//              backoff_min, backoff_max (default 0.25, 16) seconds between
//                            rounds of connection attempts (doubling)
//              keepalive     (default 10) seconds of silence before a PING
//              window        (default 4096) requests in flight at once
//              ping          (default true) a connection is used once the
//                            server answered PING with PONG
//              ttl           (default 300) seconds an answer is fresh
//              negative_ttl  (default 10) seconds a NOTFOUND is remembered
//              refresh_retry (default 1) seconds between refresh asks for
//                            an entry past its ttl
//              max_entries   (default 65536) cache size
//              log_ip        (default none) this node's underlay IP: poll
//                            Portolan's change log for it (LOG_REQ/LOG_RM)
//              log_interval  (default 5) seconds between change-log polls
//              log_bytes     (default 4096) bytes of records per LOG_REQ
// Service:     "<id>:svp", kind "svp": `routerctl overlay`,
//              `routerctl service <id>:svp status|cache|pending|flush|lookup|bulk`
//
// The service lives as long as any element uses it: a reload that keeps this
// element keeps the cache and Portolan's connection. See docs/overlay.md.
#pragma once

#include <memory>

#include "control/svp_control.hpp"
#include "weft/element.hpp"

namespace weft::svp {

class SvpElement final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t, Batch& b) override { drop(b, 0); }  // no inputs: never called
  StateCarry take_state(Element& old) override;
  void cleanup() override { service_.reset(); }

  const std::shared_ptr<SvpService>& service() const { return service_; }
  static std::string service_key(const std::string& svp_id) { return svp_id + ":svp"; }
  // The service of Svp element `svp_id`, for the elements that use it.
  static std::shared_ptr<SvpService> service_of(InitContext& ctx, const std::string& svp_id);

 private:
  SvpConfig cfg_;
  std::shared_ptr<SvpService> service_;
};

}  // namespace weft::svp
