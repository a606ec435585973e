// The services of a running graph (weft/service.hpp): built once per router
// on the control thread, in dependency order, and replaced transactionally
// on reload — a service with the same name and class takes the running
// one's state, the others are built anew; any failure gives every state
// back and leaves the running set exactly as it was.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/validator.hpp"
#include "weft/service.hpp"

namespace weft {

// What services need from the runtime at initialize().
struct ServiceEnv {
  rte_rcu_qsbr* rcu = nullptr;
  int socket = -1;
  unsigned workers = 1;
};

class ServiceSet {
 public:
  struct Entry {
    std::shared_ptr<Service> service;
    bool started = false;
    // The services it names (parameter -> service name): a reload that
    // changes them builds it anew rather than carrying its state.
    std::map<std::string, std::string> uses;
    // What the framework caught of its calls (each also in control_faults()).
    std::string start_error;  // start() threw: it does not run (a reload keeping it tries again)
    uint64_t exceptions = 0;  // status(), health(), stop() or a command threw
    std::string last_exception;
  };
  // By name; null if none.
  std::shared_ptr<Service> find(std::string_view name) const;
  // Every service, in plan order (a service after those it uses).
  const std::vector<Entry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  // The handle of type `type` that service `name` publishes; throws InitError.
  std::shared_ptr<void> handle(std::string_view name, std::string_view type) const;
  // Starts, on `io`, every service not started yet (none without `io`).
  void start_pending(boost::asio::io_context* io);
  // The calls routerctl makes, with whatever the service throws caught,
  // counted in its entry and logged: status() (then {"state": "error",
  // "error": ...}), health() (then Failed; Failed too if start() threw), a
  // command (std::invalid_argument, a bad argument, goes to the caller as
  // it is; anything else as std::runtime_error naming the service).
  nlohmann::json status_of(Entry& e);
  ServiceHealth health_of(Entry& e);
  nlohmann::json run_command(Entry& e, const ServiceCommandSpec& c, const nlohmann::json& args);
  std::vector<Entry>& entries() { return entries_; }
  // Stops every service (router shutdown) and forgets them.
  void stop_all();

 private:
  friend class ServiceTransaction;
  friend ServiceSet build_services(const GraphPlan& plan, const ServiceEnv& env);
  std::vector<Entry> entries_;
};

// Configures (as validation did) and initializes every service of `plan`;
// throws std::runtime_error naming the service that failed (the ones built
// before it are stopped).
ServiceSet build_services(const GraphPlan& plan, const ServiceEnv& env);

// A reload's service step. build(): the services of `next`, each taking the
// state of the running service of the same name and class, or built anew.
// Then either roll_back() (every state handed back; `running` unchanged) or
// commit() (`running` becomes the new set; services not carried over are
// stopped, new ones started).
class ServiceTransaction {
 public:
  ServiceTransaction(ServiceSet& running, const GraphPlan& next, const ServiceEnv& env)
      : running_(running), next_plan_(next), env_(env) {}
  // Throws std::runtime_error naming the service; nothing changed then.
  void build();
  const ServiceSet& next() const { return next_; }
  void roll_back();
  void commit(boost::asio::io_context* io);

  struct Kept {
    std::string name, klass;
    StateCarry carry;
  };
  std::vector<std::string> added, removed;
  std::vector<Kept> kept;

 private:
  ServiceSet& running_;
  const GraphPlan& next_plan_;
  ServiceEnv env_;
  ServiceSet next_;
  // next_ index -> running_ index of the service whose state it took.
  std::vector<std::pair<size_t, size_t>> carried_;
  bool built_ = false;
};

// The InitContext side the framework shares between routerd's workers and
// the test harness: an element's service parameters resolved against the
// graph's services.
class ElementInitContext : public InitContext {
 public:
  void set_element(const NodePlan* n) { node_ = n; }
  std::shared_ptr<void> service_handle(std::string_view param, std::string_view handle_type) override;

 protected:
  explicit ElementInitContext(const ServiceSet* services) : services_(services) {}

 private:
  const NodePlan* node_ = nullptr;
  const ServiceSet* services_;
};

}  // namespace weft
