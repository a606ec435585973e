#include "runtime/services.hpp"

#include <rte_ethdev.h>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/param_node.hpp"
#include "runtime/fault_log.hpp"
#include "weft/dpdk.hpp"
#include "weft/log.hpp"

namespace weft {

// Sets the framework-owned fields of a service (friend of Service).
class ServiceWiring {
 public:
  static void bind(Service& s, const std::string& name, const ServiceClass& k) {
    s.name_ = name;
    s.class_ = &k;
  }
};

namespace {

// Resolves a service parameter of an element or service to the handle of
// the service it names.
std::shared_ptr<void> resolve(const ServiceSet& set, const Params& params, std::string_view owner,
                              std::string_view param, std::string_view type) {
  std::string name;
  try {
    name = params.get<std::string>(param);
  } catch (const ConfigError& e) {
    throw InitError(std::string(owner) + ": " + e.what());
  }
  try {
    return set.handle(name, type);
  } catch (const InitError& e) {
    throw InitError(std::string(owner) + ", parameter '" + std::string(param) + "': " + e.what());
  }
}

class ServiceInitCtx : public ServiceInitContext {
 public:
  ServiceInitCtx(const ServiceEnv& env, const ServiceSet& set, const ServicePlan& p, const GraphSpec& g)
      : env_(env), set_(set), params_(make_service_params(*p.spec, *p.klass)), owner_("service '" + p.spec->id + "'"),
        graph_(g) {}
  unsigned worker_count() const override { return env_.workers; }
  int socket() const override { return env_.socket; }
  rte_rcu_qsbr* rcu() const override { return env_.rcu; }
  std::shared_ptr<void> service_handle(std::string_view param, std::string_view type) override {
    return resolve(set_, params_, owner_, param, type);
  }
  std::optional<uint16_t> port_id(const std::string& name) const override {
    for (const auto& p : graph_.ports) {
      if (p.name != name) continue;
      uint16_t id;
      if (rte_eth_dev_get_port_by_name(p.device.c_str(), &id) == 0) return id;
      return std::nullopt;
    }
    return std::nullopt;
  }

 private:
  const ServiceEnv& env_;
  const ServiceSet& set_;
  Params params_;
  std::string owner_;
  const GraphSpec& graph_;
};

// The service parameters of a planned service: parameter -> service name.
std::map<std::string, std::string> uses_of(const ServicePlan& p) {
  std::map<std::string, std::string> out;
  for (const auto& ps : p.klass->params)
    if (ps.type == ParamType::Service)
      if (YAML::Node n = p.spec->params[ps.name]; n && n.IsScalar()) out[ps.name] = n.Scalar();
  return out;
}

std::shared_ptr<Service> create(const ServicePlan& p, const GraphSpec& g) {
  std::shared_ptr<Service> s(p.klass->create());
  ServiceWiring::bind(*s, p.spec->id, *p.klass);
  configure_service(*s, p, g);
  return s;
}

std::string who(const Service& s) { return "service '" + s.name() + "' (" + s.service_class().name + ")"; }

void stop_quietly(Service& s) {
  try {
    s.stop();
  } catch (...) {
    control_faults().note(who(s) + " threw in stop: " + current_exception_text());
  }
}

}  // namespace

std::shared_ptr<Service> ServiceSet::find(std::string_view name) const {
  for (const auto& e : entries_)
    if (e.service->name() == name) return e.service;
  return nullptr;
}

std::shared_ptr<void> ServiceSet::handle(std::string_view name, std::string_view type) const {
  auto s = find(name);
  if (!s) throw InitError("no service '" + std::string(name) + "' is running");
  const ServiceHandleSpec* h = s->service_class().find_handle(type);
  if (!h)
    throw InitError("service '" + std::string(name) + "' (class " + s->service_class().name + ") does not provide " +
                    std::string(type));
  std::shared_ptr<void> p = h->get(*s);
  if (!p) throw InitError("service '" + std::string(name) + "' has no " + std::string(type) + " yet");
  return p;
}

const char* to_string(ServiceHealth::State s) {
  switch (s) {
    case ServiceHealth::State::Ok: return "ok";
    case ServiceHealth::State::Degraded: return "degraded";
    case ServiceHealth::State::Failed: return "failed";
  }
  return "?";
}

void ServiceSet::start_pending(boost::asio::io_context* io) {
  if (!io) return;
  for (auto& e : entries_)
    if (!e.started) {
      e.started = true;
      e.start_error.clear();
      try {
        e.service->start(*io);
      } catch (...) {
        e.start_error = current_exception_text();
        control_faults().note(who(*e.service) + " threw in start: " + e.start_error +
                              "; it does not run (a reload that keeps it tries again)");
      }
    }
}

namespace {
void count_exception(ServiceSet::Entry& e, const char* call) {
  e.exceptions++;
  e.last_exception = std::string(call) + ": " + current_exception_text();
  control_faults().note(who(*e.service) + " threw in " + e.last_exception);
}
}  // namespace

nlohmann::json ServiceSet::status_of(Entry& e) {
  try {
    return e.service->status();
  } catch (...) {
    count_exception(e, "status");
    return {{"state", "error"}, {"error", "status() threw: " + current_exception_text()}};
  }
}

ServiceHealth ServiceSet::health_of(Entry& e) {
  ServiceHealth h;
  try {
    h = e.service->health();
  } catch (...) {
    count_exception(e, "health");
    h = {};
    h.state = ServiceHealth::State::Failed;
    h.detail = "health() threw";
    h.last_error = e.last_exception;
  }
  if (!e.start_error.empty()) {
    h.state = ServiceHealth::State::Failed;
    h.detail = "not running: start() threw";
    h.last_error = "start: " + e.start_error;
  }
  h.errors += e.exceptions;
  if (h.last_error.empty() && !e.last_exception.empty()) h.last_error = e.last_exception;
  return h;
}

nlohmann::json ServiceSet::run_command(Entry& e, const ServiceCommandSpec& c, const nlohmann::json& args) {
  try {
    return c.run(*e.service, args);
  } catch (const std::invalid_argument&) {
    throw;  // a bad argument: the caller's mistake, not the service's
  } catch (...) {
    count_exception(e, ("command " + c.name).c_str());
    throw std::runtime_error(who(*e.service) + ": command '" + c.name + "' failed: " + current_exception_text());
  }
}

void ServiceSet::stop_all() {
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) stop_quietly(*it->service);
  entries_.clear();
}

ServiceSet build_services(const GraphPlan& plan, const ServiceEnv& env) {
  ServiceSet set;
  for (const ServicePlan& p : plan.services) {
    try {
      auto s = create(p, *plan.spec);
      ServiceInitCtx ctx(env, set, p, *plan.spec);
      s->initialize(ctx);
      set.entries_.push_back({std::move(s), false, uses_of(p), {}, 0, {}});
    } catch (...) {
      const std::string why = current_exception_text();
      set.stop_all();
      throw std::runtime_error("service '" + p.spec->id + "' failed to initialize: " + why);
    }
  }
  return set;
}

void ServiceTransaction::build() {
  const GraphSpec& g = *next_plan_.spec;
  std::vector<bool> running_kept(running_.entries_.size(), false);
  try {
    for (const ServicePlan& p : next_plan_.services) {
      // Carried: the same name, class and services used; otherwise built anew.
      int old = -1;
      const auto uses = uses_of(p);
      for (size_t i = 0; i < running_.entries_.size(); i++) {
        const Service& r = *running_.entries_[i].service;
        if (r.name() == p.spec->id && &r.service_class() == p.klass && running_.entries_[i].uses == uses)
          old = static_cast<int>(i);
      }
      std::shared_ptr<Service> s;
      try {
        s = create(p, g);
        if (old >= 0) {
          Service& from = *running_.entries_[size_t(old)].service;
          StateCarry c = s->take_state(from);
          carried_.emplace_back(next_.entries_.size(), size_t(old));
          running_kept[size_t(old)] = true;
          kept.push_back({p.spec->id, p.klass->name, c});
          // A carried service is running already: its state is (unless its
          // start() threw: then it is started again).
          const ServiceSet::Entry& r = running_.entries_[size_t(old)];
          next_.entries_.push_back({std::move(s), r.started && r.start_error.empty(), uses, {}, 0, {}});
        } else {
          ServiceInitCtx ctx(env_, next_, p, g);
          s->initialize(ctx);
          added.push_back(p.spec->id);
          next_.entries_.push_back({std::move(s), false, uses, {}, 0, {}});
        }
      } catch (...) {
        throw std::runtime_error("service '" + p.spec->id + "': " + current_exception_text());
      }
    }
  } catch (...) {
    roll_back();
    throw;
  }
  for (size_t i = 0; i < running_.entries_.size(); i++)
    if (!running_kept[i]) removed.push_back(running_.entries_[i].service->name());
  built_ = true;
}

void ServiceTransaction::roll_back() {
  // Hand every carried state back, newest first, then drop what was built.
  std::vector<bool> carried_next(next_.entries_.size(), false);
  for (auto& [n, o] : carried_) carried_next[n] = true;
  for (auto it = carried_.rbegin(); it != carried_.rend(); ++it) {
    Service& to = *running_.entries_[it->second].service;
    Service& from = *next_.entries_[it->first].service;
    try {
      to.take_state(from);
    } catch (...) {
      control_faults().note(who(to) + ": giving its state back failed: " + current_exception_text());
    }
  }
  carried_.clear();
  for (size_t i = next_.entries_.size(); i-- > 0;)
    if (!carried_next[i]) stop_quietly(*next_.entries_[i].service);
  next_.entries_.clear();
  added.clear();
  removed.clear();
  kept.clear();
  built_ = false;
}

void ServiceTransaction::commit(boost::asio::io_context* io) {
  std::vector<bool> carried_old(running_.entries_.size(), false);
  for (auto& [n, o] : carried_) carried_old[o] = true;
  for (size_t i = running_.entries_.size(); i-- > 0;)
    if (!carried_old[i]) stop_quietly(*running_.entries_[i].service);
  running_.entries_ = std::move(next_.entries_);
  next_.entries_.clear();
  carried_.clear();
  running_.start_pending(io);
}

std::shared_ptr<void> ElementInitContext::service_handle(std::string_view param, std::string_view handle_type) {
  if (!node_ || !services_) throw InitError("no services in this context");
  return resolve(*services_, make_params(*node_->spec, *node_->klass), "element '" + node_->spec->id + "'", param,
                 handle_type);
}

}  // namespace weft
