// IcmpError — builds the ICMP or ICMPv6 error a packet calls for (time
// exceeded, destination unreachable, fragmentation needed / packet too big)
// and sends it back to the packet's source. Its class declaration
// (icmp_error.cpp) is its manual: `routerctl elements --doc IcmpError`.
//
// The error is a new packet from the worker's pool (the one allocation per
// error); the original is consumed. What to send comes from the packet's
// IcmpErrorMeta (set by IpLookup on its `icmp` output) or from the element's
// fixed `type`/`code`, as Click's ICMPError. The rules of RFC 1812 4.3.2.7
// and RFC 4443 2.4(e) decide which packets never get one, a token bucket on
// weft::Clock how many go (RFC 1812 4.3.2.8, RFC 4443 2.4(f)).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "datapath/token_bucket.hpp"
#include "tables/icmp_errors.hpp"
#include "tables/ingress.hpp"
#include "tables/interfaces.hpp"
#include "weft/element.hpp"
#include "weft/fields.hpp"

namespace weft::route {

class IcmpError final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t input, Batch& b) override;
  StateCarry take_state(Element& old) override;
  void cleanup() override;

 private:
  static inline Drop kNotIp, kTruncated, kNoMetadata, kNotEligible, kNoSource, kRateLimited, kAllocFailed, kAnswered;
  enum Kind : uint8_t { kTimeExceeded, kUnreachable, kTooBig, kOtherKind, kKinds };
  struct Fixed {  // the error of packets without metadata (`type`/`code`)
    bool set = false;
    uint8_t type4 = 0, code4 = 0, type6 = 0, code6 = 0;
    uint32_t mtu = 0;
  };
  void handle(rte_mbuf* m);
  static Kind kind_of(bool v6, uint8_t type, uint8_t code);
  std::string counts_text(Kind k) const;

  Fixed fixed_;
  double rate_ = 1000;
  uint64_t burst_ = 50;
  TokenBucket bucket_;
  uint64_t now_ = 0;  // the clock, read once per batch
  rte_mempool* pool_ = nullptr;
  IcmpErrorSlot meta_;
  IngressSlot ingress_;
  fields::LocalOrigin local_origin_;  // errors are ours: an IpLookup routing them keeps TTL 64
  std::shared_ptr<const InterfacesHandle> handle_;
  std::shared_ptr<const InterfaceTable> table_;
  std::vector<uint32_t> broadcast4_;  // our IPv4 subnets' broadcast addresses (network order)
  uint16_t ip_id_ = 0;
  std::array<std::array<uint64_t, kKinds>, 2> sent_{};  // [v6][kind]
};

}  // namespace weft::route
