// Fib — routes from FRR: an FPM server for zebra and the FIB IpLookup reads.
//
// Ports:       none (a control element: it exists to own the FIB service)
// Parameters:  listen       (default "127.0.0.1:2620") FPM address; IPv6 as "[::1]:2620"
//              grace        (default 10) seconds after zebra (re)connects after
//                           which routes it did not re-send are withdrawn ...
//              quiet        (default 1) ... or earlier: a protocol's replay
//                           (connected, static, bgp...) ends this many seconds
//                           after its last route, and the whole replay when
//                           every protocol that had routes has ended
//              max_routes   (default 1048576) IPv4 routes per routing table
//              max_routes6  (default 65536) IPv6 routes per routing table
//              tbl8         (default 65536) IPv4 tbl8 groups per table (one per
//                           /24 holding routes longer than /24; 1 KiB each)
//              tbl8_6       (default 32768) IPv6 tbl8 groups per table and copy
//              max_nexthops (default 16384) distinct next-hop entries
//              max_tables   (default 16) routing tables (VRFs)
//              interfaces   (default []) [{ifindex: N | ifname: NAME, output: NAME,
//                           mac: MAC}]: zebra's outgoing interface -> IpLookup
//                           output name and the source MAC to write
//              neighbors    (default []) [{ip: ADDR, mac: MAC}]: next-hop MACs
//                           (static; no ARP/ND or netlink learning yet)
// Service:     "<id>:fib", kind "fib": `routerctl routes [PREFIX]`,
//              `routerctl service <id>:fib status|routes`
//
// The FIB service (core/fib_service.hpp) lives as long as any element uses
// it: a reload that keeps this element keeps the routes and zebra's TCP
// connection; parameter changes apply live when the new graph is built.
#pragma once

#include <memory>

#include "fib_service.hpp"
#include "weft/element.hpp"

namespace weft::route {

class FibElement final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t, Batch& b) override { drop(b, 0); }  // no inputs: never called
  StateCarry take_state(Element& old) override;
  void cleanup() override { service_.reset(); }

  // The FIB service this element configures (benchmarks, tests).
  const std::shared_ptr<FibService>& service() const { return service_; }
  // The key under which Fib `id` keeps its service (IpLookup uses it too).
  static std::string service_key(const std::string& fib_id) { return fib_id + ":fib"; }

 private:
  FibConfig cfg_;
  std::shared_ptr<FibService> service_;
};

}  // namespace weft::route
