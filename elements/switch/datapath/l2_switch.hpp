// L2Switch — a learning Ethernet switch with one MAC table per VNI.
//
// Ports:       inputs [0], [1], ...: input [i] is switch port i (the i-th
//              entry of `ports`); outputs: one per switch port, named after
//              it, then `unknown` (unknown unicast destinations)
// Parameters:  ports   (required) [{name, vni, flood, learn}]: the switch
//                      ports. `vni`: the VNI (switching domain) of a port;
//                      without it the port is a trunk: a frame's VNI is its
//                      VNI metadata (VxlanDecap, SvpResolver), else `vni`.
//                      `flood` (default true): broadcast and multicast are
//                      copied to it. `learn` (default true): source MACs of
//                      its frames are learned.
//              vni     (optional) the VNI of ports that have none and of
//                      frames without VNI metadata
//              static  [{mac, port, vni}]: entries never aged nor moved
//              aging   (default 300) seconds a learned MAC lives without a
//                      frame from it
//              size    (default 65536) table entries (all VNIs)
//              unknown (default output) unknown unicast: `output` sends it
//                      to the `unknown` output (an overlay lookup, say);
//                      `flood` floods it like broadcast
// Handlers:    table (r) the MAC table; count (r); stats (r); ports (r);
//              flush (w) forget learned MACs (all, or `VNI`);
//              add (w) "MAC PORT [VNI]" a static entry; remove (w) "MAC [VNI]"
// Drops:       runt, bad_source (multicast source MAC), no_vni, hairpin
//              (destination on the ingress port), no_flood_port, copy_failed,
//              no_such_port (an input beyond `ports`)
//
// The table (core/mac_table.hpp) is one rte_hash shared by every worker:
// lock-free lookups, writes (learning) serialised by rte_hash's writer lock,
// aged entries swept by worker 0 and freed after an RCU grace period. Every
// frame leaves with the VNI metadata set, so trunk outputs know its domain.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tables/mac_table.hpp"
#include "weft/element.hpp"
#include "weft/fields.hpp"

namespace weft::sw {

class L2Switch final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t input, Batch& b) override;
  bool run() override;
  void add_handlers(HandlerSet& h) override;
  StateCarry take_state(Element& old) override;

  struct Port {
    std::string name;
    int64_t vni = -1;  // -1: trunk
    bool flood = true;
    bool learn = true;
  };

 private:
  void flood(uint16_t in_port, uint32_t vni, rte_mbuf* m);
  int port_index(const std::string& name) const;

  std::vector<Port> ports_;
  int64_t vni_ = -1;
  uint32_t aging_ = 300;
  uint32_t size_ = 65536;
  bool flood_unknown_ = false;
  std::vector<std::pair<MacKey, uint16_t>> statics_;
  std::string compat_;

  std::shared_ptr<MacTable> table_;
  fields::Vni vni_meta_;
  rte_mempool* pool_ = nullptr;
  bool sweeper_ = false;
  uint64_t next_sweep_ = 0;
  uint64_t sweep_every_ = 0;
};

}  // namespace weft::sw
