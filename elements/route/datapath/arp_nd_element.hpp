// ArpNd — ARP and IPv6 Neighbour Discovery for one interface, on the
// workers. Its class declaration (arp_nd_element.cpp) is its manual:
// `routerctl elements --doc ArpNd`.
#pragma once

#include <memory>
#include <string>

#include "tables/ingress.hpp"
#include "tables/interfaces.hpp"
#include "weft/element.hpp"
#include "weft/fields.hpp"

struct rte_ring;

namespace weft::route {

class ArpNd final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t input, Batch& b) override;
  bool run() override;
  void cleanup() override;

 private:
  static inline Drop kBadArp, kBadNd, kTruncated, kNotOurs, kNoHost, kRateLimited, kPuntFull, kAllocFailed;
  bool allow();
  void to_host(rte_mbuf* m);
  void punt(rte_mbuf* m);
  void reply(rte_mbuf* r);

  std::string iface_name_;
  bool host_ = false;
  double rate_ = 0, burst_ = 0;
  uint16_t out_ = 0, other_ = 1, host_out_ = 2;
  std::shared_ptr<const InterfacesHandle> handle_;
  std::shared_ptr<const InterfaceTable> table_;
  const Interface* iface_ = nullptr;
  rte_ring* ring_ = nullptr;
  rte_mempool* pool_ = nullptr;
  PendingSlot pending_;
  IngressSlot ingress_;
  fields::LocalOrigin local_origin_;  // its replies and advertisements are ours
  double tokens_ = 0;
  uint64_t last_ns_ = 0;
};

}  // namespace weft::route
