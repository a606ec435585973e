// weft::Element — the base class of every element, built-in or third-party.
//
// An element class is described once by an ElementClass (name, docs, ports,
// parameter schema, drop reasons, handlers) and instantiated once per worker
// lcore. Each instance runs on exactly one lcore, so it needs no locks.
//
// Lifecycle of an instance:
//   configure(ConfigContext&)  parse parameters (no DPDK calls: also run by
//                              `routerctl validate`); throw ConfigError with
//                              the position of the offending value
//   initialize(InitContext&)   allocate per-lcore state (DPDK is up)
//   take_state(old)            on reload, adopt the state of the old instance
//                              with the same id and class
//   push()/run()               the fast path
//   cleanup()                  release what initialize took
//
// Packets move in batches. An element either hands a whole batch to one
// output (output()), or sorts packets into per-output staging batches
// (emit()) which the framework pushes downstream when push() returns. Every
// packet an element does not forward is given to drop() with a named reason.
//
// An exception that leaves push() or run() on a worker is caught where the
// batch entered the element: the batch is counted under the framework's drop
// reason `exception` and that instance is taken out of service on its worker
// (every later batch for it is dropped as `quarantined`) until a reload
// replaces it. See docs/engine.md, "When an element throws".
//
// Observability costs nothing while it is off: nothing here tests for it. The
// framework watches an element (runtime figures, a packet trace or a capture,
// docs/telemetry.md) by pointing its outputs at probes between two batches,
// and points them back when nothing watches.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "weft/batch.hpp"
#include "weft/counter.hpp"
#include "weft/dpdk.hpp"
#include "weft/error.hpp"
#include "weft/metrics.hpp"
#include "weft/params.hpp"

struct rte_rcu_qsbr;

namespace weft {

class Element;
// What watches an element while runtime figures, a trace or a capture is on
// (framework-private: runtime/probe.hpp).
struct ElementProbe;

// ---------------------------------------------------------------------------
// Class description
// ---------------------------------------------------------------------------

// A drop reason of an element class. Declare one per reason as a static
// member of the class and bind it to its name and doc in the class builder;
// then `drop(m, kNoRoute)`:
//
//   class IpLookup : public Element {
//     static inline Drop kNoRoute;
//     ...
//   };
//   ElementClass::make<IpLookup>("IpLookup").drop(kNoRoute, "no_route", "no route to the destination")
class Drop {
 public:
  Drop() = default;
  Drop(const Drop&) = delete;
  Drop& operator=(const Drop&) = delete;
  uint16_t index() const { return index_; }
  bool bound() const { return index_ != kUnbound; }

 private:
  template <class>
  friend class ClassBuilder;
  static constexpr uint16_t kUnbound = 0xffff;
  uint16_t index_ = kUnbound;
  const std::type_info* owner_ = nullptr;  // the class that bound it
};

struct DropReasonSpec {
  std::string name;
  std::string doc;
};

// Drop reasons the framework keeps for every element, counted after the
// class's own: the batch an instance threw on, and the batches that reached
// it afterwards, while it was out of service. A class cannot declare them.
inline constexpr const char* kFrameworkDrops[] = {"exception", "quarantined"};
inline constexpr size_t kFrameworkDropCount = 2;

// A named value of an element reachable through `routerctl handler`, with
// its doc and its code. Handlers run on the element's own lcore between two
// batches, so they may touch the element's state without locks.
struct HandlerSpec {
  std::string name;
  std::string doc;
  std::function<std::string(const Element&)> read;            // empty: not readable
  std::function<void(Element&, const std::string&)> write;    // empty: not writable; throw std::invalid_argument
  bool readable() const { return static_cast<bool>(read); }
  bool writable() const { return static_cast<bool>(write); }
};

// How the state of an old instance is carried into its replacement on reload.
struct StateCarry {
  bool carried = false;
  std::string why;
  uint64_t lost = 0;       // packets the migration had to drop (e.g. a smaller queue)
  bool stateless = false;  // the class keeps no state of its own
  static StateCarry kept(std::string why_, uint64_t lost_ = 0) { return {true, std::move(why_), lost_, false}; }
  static StateCarry reset(std::string why_) { return {false, std::move(why_), 0, false}; }
  static StateCarry none() { return {false, "no state of its own (counters carried)", 0, true}; }
};

template <class T>
class ClassBuilder;

// Everything the framework knows of an element class, declared once by the
// class (ElementClass::make<T>(name)...): docs, ports, parameters, drop
// reasons, handlers and metrics. Validation, `routerctl elements --doc`, the
// generated docs/elements.md and the control socket all read this.
struct ElementClass {
  std::string name;
  std::string summary;  // one line
  std::string doc;      // paragraphs: what it does, how to use it
  std::vector<std::string> inputs;   // empty: a source (polled by run())
  bool variadic_inputs = false;      // any number of inputs named in0, in1, ...
  bool polled = false;               // run() is called every loop even with inputs (queues)
  std::vector<std::string> outputs;  // fixed outputs
  bool dynamic_outputs = false;      // outputs decided by configure()
  std::string outputs_doc;           // how dynamic outputs are named
  std::vector<ParamSpec> params;
  std::vector<DropReasonSpec> drops;
  std::vector<HandlerSpec> handlers;
  std::vector<ClassMetricSpec<Element>> metrics;  // labelled element= and class= by the framework
  std::function<std::unique_ptr<Element>()> create;

  template <class T>
  static ClassBuilder<T> make(std::string class_name);
  const HandlerSpec* find_handler(std::string_view n) const {
    for (const auto& h : handlers)
      if (h.name == n) return &h;
    return nullptr;
  }
};

// The builder ElementClass::make<T>() returns; converts to ElementClass.
template <class T>
class ClassBuilder {
 public:
  explicit ClassBuilder(std::string class_name) {
    c_.name = std::move(class_name);
    c_.create = [] { return std::unique_ptr<Element>(new T()); };
  }
  operator ElementClass() const { return c_; }  // NOLINT: the builder's product

  ClassBuilder& describe(std::string one_line, std::string long_doc = {}) {
    c_.summary = std::move(one_line);
    c_.doc = std::move(long_doc);
    return *this;
  }
  ClassBuilder& input(std::string n) {
    c_.inputs.push_back(std::move(n));
    return *this;
  }
  ClassBuilder& any_inputs() {
    c_.variadic_inputs = true;
    return *this;
  }
  // The worker calls run() on every loop, as for sources (a queue releasing
  // what it holds, a timer).
  ClassBuilder& poll() {
    c_.polled = true;
    return *this;
  }
  ClassBuilder& output(std::string n) {
    c_.outputs.push_back(std::move(n));
    return *this;
  }
  ClassBuilder& outputs_from_config(std::string how) {
    c_.dynamic_outputs = true;
    c_.outputs_doc = std::move(how);
    return *this;
  }
  ClassBuilder& param(std::string n, ParamType t, std::string default_yaml, std::string d) {
    c_.params.push_back({std::move(n), t, false, std::move(default_yaml), std::move(d), {}});
    return *this;
  }
  ClassBuilder& required(std::string n, ParamType t, std::string d) {
    c_.params.push_back({std::move(n), t, true, {}, std::move(d), {}});
    return *this;
  }
  // A required parameter naming a service of the graph that provides handle
  // type H (H::kServiceHandle); initialize() gets the handle with
  // ctx.service<H>(name). Validation checks the service exists and provides it.
  template <class H>
  ClassBuilder& uses(std::string n, std::string d) {
    c_.params.push_back({std::move(n), ParamType::Service, true, {}, std::move(d), std::string(H::kServiceHandle)});
    return *this;
  }
  // The same, optional: the element works without it (Params::given(n) says
  // whether the graph gave one).
  template <class H>
  ClassBuilder& uses_optional(std::string n, std::string d) {
    c_.params.push_back({std::move(n), ParamType::Service, false, {}, std::move(d), std::string(H::kServiceHandle)});
    return *this;
  }
  // A handle belongs to one class and one reason (binding it again the same
  // way, as a class built twice does, is harmless).
  ClassBuilder& drop(Drop& handle, std::string n, std::string d) {
    const auto index = static_cast<uint16_t>(c_.drops.size());
    for (const char* reserved : kFrameworkDrops)
      if (n == reserved)
        throw std::logic_error("class " + c_.name + ": drop reason '" + n + "' is the framework's (every element has it)");
    if (handle.bound() && (handle.index_ != index || handle.owner_ != &typeid(T)))
      throw std::logic_error("class " + c_.name + ": drop reason '" + n + "' declared with a handle bound elsewhere");
    handle.index_ = index;
    handle.owner_ = &typeid(T);
    c_.drops.push_back({std::move(n), std::move(d)});
    return *this;
  }
  // A read-only handler: `fn(const T&)` returns the value as text.
  template <class R>
  ClassBuilder& read(std::string n, std::string d, R fn) {
    c_.handlers.push_back({std::move(n), std::move(d),
                           [fn](const Element& e) -> std::string { return fn(static_cast<const T&>(e)); }, {}});
    return *this;
  }
  // A write-only handler: `fn(T&, value)`; throws std::invalid_argument on bad input.
  template <class W>
  ClassBuilder& write(std::string n, std::string d, W fn) {
    c_.handlers.push_back(
        {std::move(n), std::move(d), {}, [fn](Element& e, const std::string& v) { fn(static_cast<T&>(e), v); }});
    return *this;
  }
  template <class R, class W>
  ClassBuilder& read_write(std::string n, std::string d, R r, W w) {
    c_.handlers.push_back({std::move(n), std::move(d),
                           [r](const Element& e) -> std::string { return r(static_cast<const T&>(e)); },
                           [w](Element& e, const std::string& v) { w(static_cast<T&>(e), v); }});
    return *this;
  }
  // A metric (weft/metrics.hpp): `fn(const T&, MetricSink&)` writes its
  // samples, one per combination of `labels`; it runs on the control thread
  // on the first worker's instance, so it reads only state shared by the
  // element's instances and safe to read concurrently (counters, atomics).
  template <class F>
  ClassBuilder& metric(std::string n, MetricType t, std::string d, std::vector<std::string> labels, F fn) {
    MetricSpec m{std::move(n), t, std::move(d), std::move(labels)};
    check_metric_spec(m, "class " + c_.name, {"element", "class", "worker"});
    c_.metrics.push_back({std::move(m), [fn](const Element& e, MetricSink& out) { fn(static_cast<const T&>(e), out); }});
    return *this;
  }
  // A metric without labels of its own: `fn(const T&)` returns its value.
  template <class F>
  ClassBuilder& metric(std::string n, MetricType t, std::string d, F fn) {
    return metric(std::move(n), t, std::move(d), {},
                  [fn](const T& e, MetricSink& out) { out.sample(static_cast<double>(fn(e))); });
  }

 private:
  ElementClass c_;
};

template <class T>
ClassBuilder<T> ElementClass::make(std::string class_name) {
  return ClassBuilder<T>(std::move(class_name));
}

// ---------------------------------------------------------------------------
// Contexts the framework hands to an element
// ---------------------------------------------------------------------------

class ConfigContext {
 public:
  virtual ~ConfigContext() = default;
  virtual const Params& params() const = 0;
  virtual const std::string& element_id() const = 0;
  virtual unsigned worker_count() const = 0;
  // Dynamic outputs (ElementClass::outputs_from_config): their names, in the
  // order the element will index them.
  virtual void set_outputs(std::vector<std::string> names) = 0;
  // Declares that each worker's instance polls RX queue `queue` of `port` (or,
  // with queue < 0, the queue numbered after its worker index). The framework
  // refuses a graph in which two pollers claim one queue.
  virtual void claim_rx(const std::string& port, int queue, Mark where) = 0;
  // Declares that this element transmits on `port` (one TX queue per worker).
  virtual void use_tx(const std::string& port, Mark where) = 0;
  // Declares that this element does not transmit on `port` from the workers:
  // it hands its packets to a thread of its own that transmits them on TX
  // queue `queue` (since plugin ABI 4.1). The framework refuses a graph in
  // which another element transmits on that port from the workers while
  // worker `queue` exists (its queue is the same one), and the port gets at
  // least queue + 1 TX queues. Several elements may share one queue this way
  // (and then their thread).
  virtual void use_tx_thread(const std::string& port, uint16_t queue, Mark where) = 0;
};

class InitContext {
 public:
  virtual ~InitContext() = default;
  virtual unsigned worker_index() const = 0;
  virtual unsigned worker_count() const = 0;
  virtual unsigned lcore() const = 0;
  virtual int socket() const = 0;
  // The worker's packet buffer pool (for elements that create or copy packets).
  virtual rte_mempool* mempool() const = 0;
  // DPDK port id of a graph port; throws InitError if unknown.
  virtual uint16_t port_id(const std::string& port) const = 0;
  // Queues this worker uses on a port.
  virtual uint16_t rx_queue(const std::string& port) const = 0;
  virtual uint16_t tx_queue(const std::string& port) const = 0;

  // The RCU variable every worker reports quiescent states to, once per loop
  // (thread id = worker index). Tables shared between workers and the control
  // thread free what they remove only after rte_rcu_qsbr_synchronize (or
  // rte_hash_rcu_qsbr_add / rte_lpm_rcu_qsbr_add) on it. Null in harnesses.
  virtual rte_rcu_qsbr* rcu() const = 0;

  // An object shared by every worker's instance of an element (a session
  // table, a FIB): `make` runs once and every instance asking for the same
  // `key` gets the same object. Across a reload the new graph's instances get
  // the running object (no copy, no new allocation) as long as `compat` (a
  // description of what the object's shape depends on, e.g. "size=1048576")
  // is unchanged; otherwise `make` builds a new one. Use the element's id()
  // in the key.
  template <class T>
  std::shared_ptr<T> shared(const std::string& key, const std::string& compat,
                            const std::function<std::shared_ptr<T>()>& make) {
    return std::static_pointer_cast<T>(shared_object(key, compat, [&] { return std::shared_ptr<void>(make()); }));
  }
  virtual std::shared_ptr<void> shared_object(const std::string& key, const std::string& compat,
                                              const std::function<std::shared_ptr<void>()>& make) = 0;

  // The handle of type H published by the service that parameter `param`
  // names (declared with ClassBuilder::uses<H>(param, ...)): a table the
  // service keeps up to date, read lock-free under rcu(). Validation has
  // checked the service exists and provides H; throws InitError otherwise.
  template <class H>
  std::shared_ptr<H> service(std::string_view param) {
    return std::static_pointer_cast<H>(service_handle(param, H::kServiceHandle));
  }
  virtual std::shared_ptr<void> service_handle(std::string_view param, std::string_view handle_type) = 0;
};

// ---------------------------------------------------------------------------
// Element
// ---------------------------------------------------------------------------

struct OutputPort {
  Element* target = nullptr;
  uint16_t target_input = 0;
  Counter packets;
  Counter bytes;
  Batch staging;
};

class Element {
 public:
  Element() = default;
  Element(const Element&) = delete;
  Element& operator=(const Element&) = delete;
  virtual ~Element() = default;

  virtual void configure(ConfigContext& ctx) { (void)ctx; }
  virtual void initialize(InitContext& ctx) { (void)ctx; }
  virtual void cleanup() {}

  // A batch arrives on input `input`. The element owns the packets: each must
  // be forwarded (output/emit) or dropped before push returns.
  virtual void push(uint16_t input, Batch& batch) = 0;

  // Sources (classes with no inputs) and polled classes are run by their
  // worker every loop; return true if any packet moved (idleness detection).
  virtual bool run() { return false; }

  // Reload: adopt the state of `old`, the instance with the same id and class
  // in the graph being replaced, on the same worker. Runs on that worker at a
  // batch boundary, just before it switches graphs, so neither instance is
  // processing packets. Move tables and queued packets (don't copy them);
  // compare parameters and return reset("why") if they make the old state
  // meaningless. The framework carries the output and drop counters itself.
  virtual StateCarry take_state(Element& old) {
    (void)old;
    return StateCarry::none();
  }

  // Packets the element holds between batches (queues); freed by cleanup()
  // if the element is removed, and reported as lost by a reload.
  virtual uint64_t held_packets() const { return 0; }

  // --- identity (set by the framework) ---
  const std::string& id() const { return id_; }
  const ElementClass& element_class() const { return *class_; }
  unsigned worker_index() const { return worker_; }

  // --- observability (read by the control thread) ---
  size_t output_count() const { return n_outputs_; }
  const OutputPort& output_port(size_t i) const { return outputs_[i]; }
  size_t drop_reason_count() const { return class_->drops.size(); }
  // A reason of the class (below drop_reason_count()), or the framework's
  // kFrameworkDrops[i] at drop_reason_count() + i.
  uint64_t drops(size_t reason) const { return drops_[reason].get(); }

  // Framework use: after push returns, hand staged packets downstream.
  void flush_staged() {
    if (!staged_) return;
    flush_all();
  }

 protected:
  // Hands a whole batch to output `port`. The batch is consumed.
  void output(uint16_t port, Batch& b) {
    OutputPort& o = outputs_[port];
    account(o, b);
    if (push_into(o, b)) o.target->flush_staged();
  }

  // Stages one packet for output `port`; staged packets go downstream when
  // push()/run() returns (or as soon as a staging batch is full).
  void emit(uint16_t port, rte_mbuf* m) {
    OutputPort& o = outputs_[port];
    o.staging.add(m);
    staged_ = true;
    if (o.staging.full()) flush_one(o);
  }

  // Frees a packet and counts it under a drop reason of the class.
  void drop(rte_mbuf* m, const Drop& reason) {
    drops_[reason.index()].inc();
    rte_pktmbuf_free(m);
  }
  // Counts a loss that involved no packet of ours (a failed copy, say).
  void count_drop(const Drop& reason, uint64_t n = 1) { drops_[reason.index()].add(n); }
  void drop(Batch& b, const Drop& reason) {
    drops_[reason.index()].add(b.count);
    rte_pktmbuf_free_bulk(b.pkts, b.count);
    b.clear();
  }

 private:
  friend class ElementWiring;
  friend class ElementProbes;

  void account(OutputPort& o, const Batch& b) const {
    o.packets.add(b.count);
    if (!count_bytes_) return;  // graph option stats.bytes: false
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < b.count; i++) bytes += b.pkts[i]->pkt_len;
    o.bytes.add(bytes);
  }
  void flush_one(OutputPort& o) {
    account(o, o.staging);
    const bool pushed = push_into(o, o.staging);
    o.staging.clear();
    if (pushed) o.target->flush_staged();
  }
  // The one place a batch enters another element. An exception from its
  // push is contained there (false): zero-cost on the path that does not throw.
  static bool push_into(OutputPort& o, Batch& b) {
    const uint16_t n = b.count;
    try {
      o.target->push(o.target_input, b);
      return true;
    } catch (...) {
      o.target->contain_failure("push", b, n);
      return false;
    }
  }
  // With the exception in flight: counts the batch's `n` packets under
  // `exception`, logs, and takes this instance out of service on its worker
  // (runtime/element_faults.cpp). The packets are not freed: the element may
  // have passed some on or freed them before it threw.
  void contain_failure(const char* call, Batch& b, uint16_t n) noexcept;
  void flush_all() {
    staged_ = false;
    for (size_t i = 0; i < n_outputs_; i++)
      if (!outputs_[i].staging.empty()) flush_one(outputs_[i]);
  }

  std::string id_;
  const ElementClass* class_ = nullptr;
  unsigned worker_ = 0;
  bool staged_ = false;
  bool count_bytes_ = true;
  size_t n_outputs_ = 0;
  std::unique_ptr<OutputPort[]> outputs_;
  std::unique_ptr<Counter[]> drops_;
  ElementProbe* probe_ = nullptr;  // set by the worker between batches, null while nothing watches;
                                   // read by the probes only (runtime/probe.hpp), never on the fast path
};

}  // namespace weft
