// IpLookup — route IPv4 and IPv6 packets with the FIB of a Fib element.
//
// Ports:       input `in` (Ethernet frames, IPv4 or IPv6 right after the
//              Ethernet header); one output per name in `outputs`
// Parameters:  fib      (required) id of the Fib element whose routes to use
//              table    (default 254, main) routing table (zebra table id / VRF)
//              outputs  (required) the output names; the Fib element's
//                       `interfaces` map zebra's interfaces to these names
//              nexthop_metadata (default false) write the next hop into the
//                       weft_nexthop metadata (NexthopSlot below). Off by
//                       default: mbufs have 36 bytes of dynamic-field space
//                       for every element's metadata, and this takes 20.
// Drops:       no_route, blackhole, unreachable, prohibit — the route says so
//                       (no ICMP is generated)
//              ttl_exceeded — TTL / hop limit 1 or 0 (no ICMP)
//              no_output    — the route's interface maps to no output of this element
//              no_neighbor  — the next hop's MAC is unknown (`neighbors`)
//              not_ip       — neither IPv4 nor IPv6 (VLAN-tagged frames too:
//                             pop tags first)
//              truncated    — shorter than its headers claim
//              bad_ip       — bad version, header length or IPv4 checksum
//
// Per packet: longest-prefix match on the destination (batched through
// rte_lpm_lookup_bulk / rte_lpm6_lookup_bulk_func), ECMP member by a flow
// hash, TTL/hop limit decremented (IPv4 checksum updated incrementally, RFC
// 1624), Ethernet destination = the next hop's MAC, source = the interface's.
// One element handles both families. Lock-free: it reads the tables the FIB
// service publishes under RCU. The Fib and IpLookup elements may come in any
// order in the graph.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "fib_lookup.hpp"
#include "fib_service.hpp"
#include "weft/element.hpp"
#include "weft/metadata.hpp"

namespace weft::route {

class IpLookup final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t input, Batch& b) override;
  void cleanup() override;

 private:
  enum Drop : uint16_t {
    kNoRoute, kBlackhole, kUnreachable, kProhibit, kTtl, kNoOutput, kNoNeighbor, kNotIp, kTruncated, kBadIp
  };
  void forward(rte_mbuf* m, const Entry* e, bool v6, const NeighborTable* nb);

  std::string fib_id_;
  uint32_t table_id_ = 254;
  std::vector<std::string> outputs_;
  std::shared_ptr<FibService> service_;
  const Fib* fib_ = nullptr;
  const FibTable* table_ = nullptr;
  std::array<uint16_t, kMaxIfaces> out_of_iface_{};  // iface id -> output (kNoIface: none)
  bool set_nexthop_ = false;
  NexthopSlot nexthop_;
};

}  // namespace weft::route
