// IcmpEcho — answers ICMP and ICMPv6 echo requests to the router's own
// addresses, in place. Its class declaration (icmp_echo.cpp) is its manual:
// `routerctl elements --doc IcmpEcho`.
//
// The request becomes the reply in its own buffer: addresses and MACs
// swapped (our interface's MAC as source), TTL / hop limit 64, the IPv4
// header checksum recomputed, the ICMP checksum updated for the type that
// changed (RFC 1624; the request's checksum was verified first, and the
// ICMPv6 pseudo-header sums the same addresses swapped). A token bucket on
// weft::Clock limits the replies.
#pragma once

#include <memory>

#include "datapath/token_bucket.hpp"
#include "tables/ingress.hpp"
#include "tables/interfaces.hpp"
#include "weft/element.hpp"
#include "weft/fields.hpp"

namespace weft::route {

class IcmpEcho final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t input, Batch& b) override;
  StateCarry take_state(Element& old) override;
  void cleanup() override;

 private:
  static inline Drop kTruncated, kBadChecksum, kBadSource, kRateLimited;
  enum : uint16_t { kOut = 0, kOther = 1 };
  enum class Verdict : uint8_t { Reply, Limited, Other, Truncated, BadChecksum, BadSource };
  Verdict reply4(rte_mbuf* m);
  Verdict reply6(rte_mbuf* m);
  const Interface* egress(rte_mbuf* m, const Interface* owner) const;

  double rate_ = 1000;
  uint64_t burst_ = 50;
  TokenBucket bucket_;
  std::shared_ptr<const InterfacesHandle> handle_;
  std::shared_ptr<const InterfaceTable> table_;
  IngressSlot ingress_;
  fields::LocalOrigin local_origin_;  // replies are ours: an IpLookup routing them keeps TTL 64
  uint64_t replied4_ = 0, replied6_ = 0;
  uint64_t now_ = 0;  // the clock, read once per batch
};

}  // namespace weft::route
