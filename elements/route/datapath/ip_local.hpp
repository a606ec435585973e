// IpLocal — the local/transit split: is a packet for the router, for the
// link, or to forward? Its class declaration (ip_local.cpp) is its manual:
// `routerctl elements --doc IpLocal`.
//
// Per packet, one pass over the headers and one over a small flat table
// built at initialize() from the Interfaces service's InterfaceTable: our
// IPv4 addresses and our subnets' broadcasts, our IPv6 addresses (the
// link-locals included). No lock, no allocation, no system call.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tables/interfaces.hpp"
#include "weft/element.hpp"

namespace weft::route {

class IpLocal final : public Element {
 public:
  static const ElementClass& klass();
  void initialize(InitContext& ctx) override;
  void push(uint16_t input, Batch& b) override;
  void cleanup() override;

  // What a destination is to the router.
  enum class Dest : uint8_t { Forward, Local, Control, Multicast, LinkLocal, Martian };
  // The classification, for IPv4 (network order) and IPv6 destinations.
  Dest classify4(uint32_t dst) const;
  Dest classify6(const uint8_t* dst) const;

 private:
  static inline Drop kNotIp, kTruncated, kBadIp, kMulticast, kMartian, kLinkLocal;
  enum : uint16_t { kForward = 0, kLocal = 1, kControl = 2 };
  void classify(rte_mbuf* m);
  std::string table_text() const;

  struct Addr4 {
    uint32_t addr;  // network order
    bool broadcast; // a subnet broadcast (control), else one of ours (local)
  };
  struct Addr6 {
    uint8_t addr[16];
  };
  std::shared_ptr<const InterfacesHandle> handle_;
  std::shared_ptr<const InterfaceTable> table_;
  std::vector<Addr4> addr4_;
  std::vector<Addr6> addr6_;
};

}  // namespace weft::route
