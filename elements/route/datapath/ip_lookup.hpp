// IpLookup — route IPv4 and IPv6 packets with the routes of a Fib service.
// Its class declaration (ip_lookup.cpp) is its manual: `routerctl elements
// --doc IpLookup`.
//
// Per packet: longest-prefix match on the destination (batched through
// rte_lpm_lookup_bulk / rte_lpm6_lookup_bulk_func), ECMP member by a flow
// hash, TTL/hop limit decremented (IPv4 checksum updated incrementally, RFC
// 1624), Ethernet destination = the next hop's MAC, source = the interface's.
// Lock-free: it reads the tables the Fib service publishes (FibHandle) under
// RCU; it never sees the FPM decoder or the RIB.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "tables/fib_lookup.hpp"
#include "tables/ingress.hpp"
#include "tables/interfaces.hpp"
#include "weft/element.hpp"
#include "weft/fields.hpp"
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
  static inline Drop kNoRoute, kBlackhole, kUnreachable, kProhibit, kTtl, kNoOutput, kNoNeighbor, kNotIp, kTruncated,
      kBadIp, kTooBig, kNeedsFragmentation, kHoldFull, kLinkLocal;
  void forward(rte_mbuf* m, const Entry* e, bool v6, const NeighborTable* nb, uint64_t now);
  // The last steps of forwarding: next-hop metadata, TTL, Ethernet addresses, output.
  [[gnu::always_inline]] inline void deliver(rte_mbuf* m, const Member* mb, uint16_t out, bool v6, const uint8_t* dst, const uint8_t* dmac);
  // TTL / hop limit - 1, or, for a packet the router originated, the local-origin mark cleared.
  [[gnu::always_inline]] inline void decrement_unless_own(rte_mbuf* m, uint8_t* l3, bool v6);
  // Packets waiting for a dynamic neighbour lookup: one bulk lookup, then delivered or held.
  void resolve_waiting(uint64_t now);
  // Sends `m` to the `icmp` output with what its error is, or drops it with `reason`.
  void icmp_or_drop(rte_mbuf* m, const Drop& reason, uint8_t type, uint8_t code, uint32_t info = 0);

  uint32_t table_id_ = 254;
  std::vector<std::string> outputs_;
  std::shared_ptr<const FibHandle> handle_;
  const Fib* fib_ = nullptr;
  const FibTable* table_ = nullptr;
  std::array<uint16_t, kMaxIfaces> out_of_iface_{};  // iface id -> output (kNoIface: none)
  bool set_nexthop_ = false;
  NexthopSlot nexthop_;
  // With `interfaces`: neighbours resolved dynamically, egress MTU checked.
  bool use_ifs_ = false;
  std::shared_ptr<const InterfacesHandle> ifs_;
  std::shared_ptr<const InterfaceTable> if_table_;
  const NeighborCache* cache_ = nullptr;
  std::array<uint16_t, kMaxIfaces> out_iface_{};  // output -> Interfaces id
  std::array<uint16_t, kMaxIfaces> out_mtu_{};    // output -> its interface's MTU (0: unchecked)
  PendingSlot pending_;
  struct Waiting {
    rte_mbuf* m;
    const Member* mb;
    uint16_t out;
    bool v6;
    const uint8_t* dst;
  };
  Waiting waiting_[kBatchCapacity];
  NeighborKey keys_[kBatchCapacity];
  unsigned n_waiting_ = 0;
  // This instance's (its worker's) front to the shared neighbour cache.
  static constexpr unsigned kFrontLines = 4096;  // 4096 IPv4 + 2048 IPv6 neighbours in 128 KiB, cleared when the cache invalidates
  NeighborFront front_;
  // With `icmp: true`: packets that deserve an ICMP error leave on output icmp_out_.
  bool icmp_ = false;
  uint16_t icmp_out_ = 0;
  IcmpErrorSlot icmp_meta_;
  IngressSlot ingress_;
  // Packets the router originated: routed without touching their TTL.
  fields::LocalOrigin local_;
};

}  // namespace weft::route
