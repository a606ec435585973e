// NeighborSink — answer the kernel's neighbour misses from Portolan.
//
// Ports:       none (a control element: it owns a netlink listener)
// Parameters:  svp       (required) id of the Svp element to ask
//              links     (required) [{ifname: NAME, vni: N, fdb: VXLAN_NAME}]:
//                        the links whose misses to answer, the VNI their
//                        addresses live in, and optionally a VXLAN link to
//                        add a bridge FDB entry to (MAC -> underlay)
//              permanent (default false) install PERMANENT entries instead
//                        of REACHABLE ones
// Service:     "<id>:neigh", kind "neighbors":
//              `routerctl service <id>:neigh status|entries`
//
// Needs app_solicit > 0 on the links (/proc/sys/net/ipv4/neigh/DEV/app_solicit,
// and ipv6) so the kernel asks userspace (RTM_GETNEIGH on RTNLGRP_NEIGH); the
// answer is an RTM_NEWNEIGH over the same netlink socket. routerd must run in
// the links' network namespace. See core/neighbor_service.hpp and docs/overlay.md.
#pragma once

#include <memory>

#include "control/neighbor_control.hpp"
#include "weft/element.hpp"

namespace weft::svp {

class NeighborSink final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t, Batch& b) override { drop(b, 0); }  // no inputs: never called
  StateCarry take_state(Element&) override {
    return StateCarry::kept("netlink listener kept: installed entries and pending lookups stay");
  }
  void cleanup() override { service_.reset(); }

 private:
  std::string svp_id_;
  NeighborConfig cfg_;
  std::shared_ptr<NeighborService> service_;
};

}  // namespace weft::svp
