// weft::Service — a control-plane service: an FPM server feeding a FIB, an
// SVP client and its overlay cache, a netlink listener. One instance per
// router, declared in the graph's `services:` section, built and run on the
// control thread; never on a worker, never polled.
//
//   services:
//     fib: {class: Fib, listen: "127.0.0.1:2620"}
//   elements:
//     lookup: {class: IpLookup, fib: fib, outputs: [p0, p1]}
//
// A service class is declared once, like an element class: docs, parameter
// schema, the handles it publishes for elements (typed, read-only views of
// the tables it keeps: an LPM FIB, an overlay cache), and its commands
// (`routerctl service NAME COMMAND`) and its metrics (weft/metrics.hpp), each
// with its doc and its code:
//
//   ServiceClass::make<FibService>("Fib")
//       .describe("...")
//       .param("listen", ParamType::String, "\"127.0.0.1:2620\"", "FPM address")
//       .provides<FibTables>("the routes, as LPM tables", [](FibService& s) { return s.tables(); })
//       .command("routes", "[prefix=P] [table=N]", "list routes", [](FibService& s, const json& a) { ... })
//       .metric("weft_fib_fpm_connected", MetricType::Gauge, "1 while zebra is connected",
//               [](const FibService& s) { return s.connected(); });
//
// Lifecycle (all on the control thread):
//   configure(ctx)    parse parameters; no side effects (also run by
//                     `routerctl validate`); throw ConfigError with a position
//   initialize(ctx)   a new service: create its tables (DPDK is up)
//   take_state(old)   on reload, a service with the same name and class:
//                     adopt old's running state (tables, connections, timers)
//                     and apply this instance's configuration. If it throws,
//                     `old` must be left as it was. The framework may hand the
//                     state back the same way (old.take_state(*this)) when the
//                     reload is rolled back.
//   start(io)         a new service begins its I/O on the control thread's
//                     event loop (a service carried by take_state is running
//                     already and is not started again)
//   stop()            before the framework drops it (removed by a reload,
//                     router shutdown): close sockets, cancel timers
//   status()          `routerctl service NAME`: state and counters (JSON)
//   health()          `routerctl status`: is it doing its job, who is its
//                     peer, what went wrong last (ServiceHealth, below)
//
// Whatever a service throws is caught by the framework: configure and
// initialize refuse the graph (or the reload), take_state refuses the
// reload, start marks the service failed (a reload keeping it tries again),
// stop, status, health and commands are logged and reported; the router
// keeps running its last good graph.
//
// Elements get a service's handle with ctx.service<H>(param) in initialize()
// (the element declares the parameter with ClassBuilder::uses<H>). A handle
// is shared ownership of what the service publishes, so it stays valid as
// long as an element holds it, even across reloads. Handle types live with
// the tables (a family's tables/ folder), never with protocol code.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weft/element.hpp"
#include "weft/metrics.hpp"
#include "weft/params.hpp"

namespace boost::asio {
class io_context;
}
struct rte_rcu_qsbr;

namespace weft {

class Service;

// A handle type a service publishes: `H::kServiceHandle` names it ("route.fib").
struct ServiceHandleSpec {
  std::string type;
  std::string doc;
  std::function<std::shared_ptr<void>(Service&)> get;
};

// `routerctl service NAME COMMAND [key=value...]`: args arrive as a JSON
// object; throw std::invalid_argument for bad arguments.
struct ServiceCommandSpec {
  std::string name;
  std::string args;  // synopsis of the arguments, e.g. "[prefix=P] [table=N]"
  std::string doc;
  std::function<nlohmann::json(Service&, const nlohmann::json&)> run;
};

template <class T>
class ServiceBuilder;

struct ServiceClass {
  std::string name;
  std::string summary;
  std::string doc;
  std::vector<ParamSpec> params;
  std::vector<ServiceHandleSpec> provides;
  std::vector<ServiceCommandSpec> commands;
  std::vector<ClassMetricSpec<Service>> metrics;  // labelled service= by the framework
  std::function<std::unique_ptr<Service>()> create;

  template <class T>
  static ServiceBuilder<T> make(std::string class_name);
  const ServiceHandleSpec* find_handle(std::string_view type) const {
    for (const auto& h : provides)
      if (h.type == type) return &h;
    return nullptr;
  }
  const ServiceCommandSpec* find_command(std::string_view n) const {
    for (const auto& c : commands)
      if (c.name == n) return &c;
    return nullptr;
  }
};

class ServiceConfigContext {
 public:
  virtual ~ServiceConfigContext() = default;
  virtual const Params& params() const = 0;
  virtual const std::string& service_name() const = 0;
  virtual unsigned worker_count() const = 0;
  // The device of the graph's port `name` (its `ports:` entry: "net_tap0",
  // a PCI address), or nullopt if the graph declares no such port. A
  // service finds the port's DPDK id with rte_eth_dev_get_port_by_name.
  virtual std::optional<std::string> port_device(const std::string& name) const {
    (void)name;
    return std::nullopt;
  }
};

class ServiceInitContext {
 public:
  virtual ~ServiceInitContext() = default;
  virtual unsigned worker_count() const = 0;
  virtual int socket() const = 0;
  // The workers' RCU variable (see InitContext::rcu()); null in harnesses.
  virtual rte_rcu_qsbr* rcu() const = 0;
  // The handle of type H of the service that parameter `param` names
  // (declared with ServiceBuilder::uses<H>); services are built in the order
  // of these references, so it is initialized already.
  template <class H>
  std::shared_ptr<H> service(std::string_view param) {
    return std::static_pointer_cast<H>(service_handle(param, H::kServiceHandle));
  }
  virtual std::shared_ptr<void> service_handle(std::string_view param, std::string_view handle_type) = 0;
  // The DPDK port id of the graph's port `name` (its `ports:` entry), if its
  // device exists now (a port a reload adds may appear only after services
  // are built: ask again later, from a timer).
  virtual std::optional<uint16_t> port_id(const std::string& name) const {
    (void)name;
    return std::nullopt;
  }
};

// A service's health, for `routerctl status` (its `health` section): one
// line an operator reads first. Faults of the peer (a lost connection, a
// malformed message) are Degraded while the service keeps serving its last
// good state; Failed is a service that cannot do its job at all (it cannot
// listen, it could not start).
struct ServiceHealth {
  enum class State { Ok, Degraded, Failed };
  State state = State::Ok;
  std::string peer;        // whom it talks to: "zebra 127.0.0.1:40312", "Portolan 192.0.2.10:1296" ("" none)
  std::string detail;      // what it is doing: "connected", "waiting for zebra", "reconnecting in 2 s"
  std::string last_error;  // the last fault, kept after recovery ("" none so far)
  uint64_t errors = 0;     // faults so far: malformed messages, lost connections, failed attempts
  double since_s = -1;     // seconds in this state (-1: not known)
};
const char* to_string(ServiceHealth::State s);

class Service {
 public:
  Service() = default;
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;
  virtual ~Service() = default;

  virtual void configure(ServiceConfigContext& ctx) { (void)ctx; }
  virtual void initialize(ServiceInitContext& ctx) { (void)ctx; }
  virtual StateCarry take_state(Service& old) {
    (void)old;
    return StateCarry::none();
  }
  virtual void start(boost::asio::io_context& io) { (void)io; }
  virtual void stop() {}
  // State and counters for `routerctl service NAME` (and the `status` command).
  virtual nlohmann::json status() const = 0;
  // Health for `routerctl status`; the default: Ok, nothing more to say.
  virtual ServiceHealth health() const { return {}; }

  // --- identity (set by the framework) ---
  const std::string& name() const { return name_; }
  const ServiceClass& service_class() const { return *class_; }

 private:
  friend class ServiceWiring;
  std::string name_;
  const ServiceClass* class_ = nullptr;
};

template <class T>
class ServiceBuilder {
 public:
  explicit ServiceBuilder(std::string class_name) {
    c_.name = std::move(class_name);
    c_.create = [] { return std::unique_ptr<Service>(new T()); };
  }
  operator ServiceClass() const { return c_; }  // NOLINT: the builder's product

  ServiceBuilder& describe(std::string one_line, std::string long_doc = {}) {
    c_.summary = std::move(one_line);
    c_.doc = std::move(long_doc);
    return *this;
  }
  ServiceBuilder& param(std::string n, ParamType t, std::string default_yaml, std::string d) {
    c_.params.push_back({std::move(n), t, false, std::move(default_yaml), std::move(d), {}});
    return *this;
  }
  ServiceBuilder& required(std::string n, ParamType t, std::string d) {
    c_.params.push_back({std::move(n), t, true, {}, std::move(d), {}});
    return *this;
  }
  // A required parameter naming another service that provides H.
  template <class H>
  ServiceBuilder& uses(std::string n, std::string d) {
    c_.params.push_back({std::move(n), ParamType::Service, true, {}, std::move(d), std::string(H::kServiceHandle)});
    return *this;
  }
  // The same, optional: the service works without it (Params::given(n) says
  // whether the graph gave one).
  template <class H>
  ServiceBuilder& uses_optional(std::string n, std::string d) {
    c_.params.push_back({std::move(n), ParamType::Service, false, {}, std::move(d), std::string(H::kServiceHandle)});
    return *this;
  }
  // Publishes handle type H: `fn(T&)` returns a std::shared_ptr<H>.
  template <class H, class F>
  ServiceBuilder& provides(std::string d, F fn) {
    c_.provides.push_back({std::string(H::kServiceHandle), std::move(d), [fn](Service& s) -> std::shared_ptr<void> {
                             std::shared_ptr<H> h = fn(static_cast<T&>(s));
                             return h;
                           }});
    return *this;
  }
  // A command: `fn(T&, const nlohmann::json& args)` returns JSON.
  template <class F>
  ServiceBuilder& command(std::string n, std::string args, std::string d, F fn) {
    c_.commands.push_back({std::move(n), std::move(args), std::move(d),
                           [fn](Service& s, const nlohmann::json& a) { return fn(static_cast<T&>(s), a); }});
    return *this;
  }
  // A metric (weft/metrics.hpp): `fn(const T&, MetricSink&)` writes its
  // samples, one per combination of `labels`, on the control thread.
  template <class F>
  ServiceBuilder& metric(std::string n, MetricType t, std::string d, std::vector<std::string> labels, F fn) {
    MetricSpec m{std::move(n), t, std::move(d), std::move(labels)};
    check_metric_spec(m, "service class " + c_.name, {"service"});
    c_.metrics.push_back({std::move(m), [fn](const Service& s, MetricSink& out) { fn(static_cast<const T&>(s), out); }});
    return *this;
  }
  // A metric without labels of its own: `fn(const T&)` returns its value.
  template <class F>
  ServiceBuilder& metric(std::string n, MetricType t, std::string d, F fn) {
    return metric(std::move(n), t, std::move(d), {},
                  [fn](const T& s, MetricSink& out) { out.sample(static_cast<double>(fn(s))); });
  }

 private:
  ServiceClass c_;
};

template <class T>
ServiceBuilder<T> ServiceClass::make(std::string class_name) {
  return ServiceBuilder<T>(std::move(class_name));
}

}  // namespace weft
