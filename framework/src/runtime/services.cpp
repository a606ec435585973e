#include "runtime/services.hpp"

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/param_node.hpp"
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
  ServiceInitCtx(const ServiceEnv& env, const ServiceSet& set, const ServicePlan& p)
      : env_(env), set_(set), params_(make_service_params(*p.spec, *p.klass)), owner_("service '" + p.spec->id + "'") {}
  unsigned worker_count() const override { return env_.workers; }
  int socket() const override { return env_.socket; }
  rte_rcu_qsbr* rcu() const override { return env_.rcu; }
  std::shared_ptr<void> service_handle(std::string_view param, std::string_view type) override {
    return resolve(set_, params_, owner_, param, type);
  }

 private:
  const ServiceEnv& env_;
  const ServiceSet& set_;
  Params params_;
  std::string owner_;
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

void stop_quietly(Service& s) {
  try {
    s.stop();
  } catch (const std::exception& e) {
    WEFT_LOG(Warning, "service '%s': stop failed: %s", s.name().c_str(), e.what());
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

void ServiceSet::start_pending(boost::asio::io_context* io) {
  if (!io) return;
  for (auto& e : entries_)
    if (!e.started) {
      e.service->start(*io);
      e.started = true;
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
      ServiceInitCtx ctx(env, set, p);
      s->initialize(ctx);
      set.entries_.push_back({std::move(s), false, uses_of(p)});
    } catch (const std::exception& e) {
      set.stop_all();
      throw std::runtime_error("service '" + p.spec->id + "' failed to initialize: " + e.what());
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
          // A carried service is running already: its state is.
          next_.entries_.push_back({std::move(s), running_.entries_[size_t(old)].started, uses});
        } else {
          ServiceInitCtx ctx(env_, next_, p);
          s->initialize(ctx);
          added.push_back(p.spec->id);
          next_.entries_.push_back({std::move(s), false, uses});
        }
      } catch (const std::exception& e) {
        throw std::runtime_error("service '" + p.spec->id + "': " + e.what());
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
    } catch (const std::exception& e) {
      WEFT_LOG(Error, "service '%s': giving its state back failed: %s", to.name().c_str(), e.what());
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
