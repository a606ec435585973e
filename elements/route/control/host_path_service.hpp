// HostPath — the kernel side of the router's host path. Its class
// declaration (host_path_service.cpp) is its manual: `routerctl elements
// --doc HostPath`; docs/host-path.md tells how to wire a graph around it.
//
// For each interface of an Interfaces service that names a `host` kernel
// interface (a net_tap port's, typically), the kernel interface is made to
// carry the same MAC, MTU and addresses, and is set up, so the Linux stack
// (ping, sshd, FRR) sees an ordinary interface. The running state
// (HostPathControl: the netlink sockets, what was added, the counters)
// moves from service to service across reloads; a reload reconciles it:
// added interfaces are applied, removed ones lose the addresses the host
// path added, changed ones get only what changed, unchanged ones are not
// touched.
//
// Kernel events (HostLink's listener) keep it true while it runs: a kernel
// interface deleted underneath routerd is logged, counted and reported
// (Degraded) while forwarding goes on; when an interface of that name
// appears again its spec is applied again; an address of ours removed by
// hand is put back; a MAC or MTU changed by hand is set back.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "control/host_link.hpp"
#include "tables/interfaces.hpp"
#include "weft/service.hpp"

namespace weft::route {

// One host path: a router interface and the kernel interface that mirrors it.
struct HostPathSpec {
  std::string interface;  // the router interface (Interfaces service)
  HostLinkSpec link;      // what its kernel interface should be
  bool operator==(const HostPathSpec&) const = default;
};

// The host paths of an interface table: those with a host_ifname. Throws
// std::invalid_argument if two interfaces name the same kernel interface.
std::vector<HostPathSpec> host_paths_of(const InterfaceTable& t);

class HostPathControl final : public std::enable_shared_from_this<HostPathControl> {
 public:
  enum class State { Pending, Ok, Missing, Refused, NoCarrier };

  HostPathControl() : nl_(std::make_shared<HostLink>()) {}
  ~HostPathControl();

  // Applies a set of host paths: live once started (only what changed is
  // touched), else remembered for start().
  void configure(const std::vector<HostPathSpec>& specs);
  // Opens the netlink sockets on the control thread and applies every spec.
  void start(boost::asio::io_context& io);
  void stop();
  bool started() const { return io_ != nullptr; }

  // Read side for the Fib (zebra's routes name kernel ifindexes): the router
  // interface whose kernel interface has ifindex `ifindex` (nullopt: none).
  std::optional<std::string> interface_of(uint32_t ifindex) const;
  // The kernel ifindex of router interface `name`'s host path (0: none now).
  uint32_t ifindex_of(const std::string& name) const;

  nlohmann::json status() const;
  nlohmann::json links() const;
  ServiceHealth health() const;

  struct Counters {
    uint64_t applied = 0;        // specs applied (start, reload, reappearance)
    uint64_t changes = 0;        // kernel changes made (a MAC, an MTU, up, an address)
    uint64_t refused = 0;        // applications the kernel refused in part
    uint64_t deleted = 0;        // kernel interfaces deleted underneath routerd
    uint64_t reappeared = 0;     // kernel interfaces that came back (spec applied again)
    uint64_t restored = 0;       // drift set back: an address of ours removed, the MAC or MTU changed
    uint64_t overruns = 0;       // netlink event overruns (everything re-read)
  };
  const Counters& counters() const { return c_; }
  struct Link {
    HostPathSpec spec;
    State state = State::Pending;
    uint32_t ifindex = 0;
    HostLinkInfo seen;
    std::set<Prefix> owned;  // addresses this host path added
    std::string error;       // why Missing/Refused/NoCarrier
    uint64_t applied = 0, deleted = 0;
  };
  const std::vector<Link>& entries() const { return links_; }
  static const char* to_string(State s);

 private:
  // Applies l's spec and sets its state; returns the kernel changes made.
  size_t apply(Link& l, const char* why);
  void on_event(const HostLinkEvent& e);
  Link* by_ifname(const std::string& n);
  Link* by_ifindex(uint32_t i);

  std::shared_ptr<HostLink> nl_;
  std::vector<Link> links_;
  boost::asio::io_context* io_ = nullptr;
  std::string fatal_;      // the sockets could not be opened
  std::string last_error_;
  double since_ = 0;       // steady seconds of the last state change
  Counters c_;
};

class HostPathService final : public Service {
 public:
  static const ServiceClass& klass();
  void configure(ServiceConfigContext& ctx) override;
  void initialize(ServiceInitContext& ctx) override;
  StateCarry take_state(Service& old) override;
  void start(boost::asio::io_context& io) override;
  void stop() override;
  nlohmann::json status() const override;
  ServiceHealth health() const override;

  // The running state (null until initialize() or take_state()).
  const std::shared_ptr<HostPathControl>& control() const { return core_; }

 private:
  std::shared_ptr<InterfacesHandle> ifaces_;
  // The host paths this instance stands for, read from the Interfaces
  // service when it was built or took its state (a rolled-back reload
  // hands the state back to an instance that still knows its own).
  std::optional<std::vector<HostPathSpec>> specs_;
  std::shared_ptr<HostPathControl> core_;
};

}  // namespace weft::route
