#include "control/health.hpp"

#include <cstdio>

#include "runtime/fault_log.hpp"

namespace weft {

namespace {

using Clock = std::chrono::steady_clock;

double age_s(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

// "degraded: waiting for zebra (peer ...); last error: ..."
std::string health_line(const ServiceHealth& h) {
  std::string s = to_string(h.state);
  if (!h.detail.empty()) s += ": " + h.detail;
  if (!h.peer.empty()) s += " (" + h.peer + ")";
  if (!h.last_error.empty()) s += "; last error: " + h.last_error;
  return s;
}

}  // namespace

void ReloadHistory::record(const nlohmann::json& reply) {
  if (reply.value("applied", false)) {
    applied++;
    return;
  }
  refused++;
  if (reply.value("rolled_back", false)) rolled_back++;
  last_refusal = reply.value("error", std::string("refused"));
  last_refusal_at = Clock::now();
}

nlohmann::json service_health_json(const ServiceHealth& h) {
  nlohmann::json j{{"state", to_string(h.state)}, {"peer", h.peer},     {"detail", h.detail},
                   {"last_error", h.last_error},  {"errors", h.errors}};
  if (h.since_s >= 0) j["since_s"] = h.since_s;
  return j;
}

nlohmann::json health_json(Runtime& rt, const ReloadHistory& reloads, const std::vector<PeerHealth>& peers) {
  nlohmann::json problems = nlohmann::json::array();
  rt.watch_workers();

  nlohmann::json workers = nlohmann::json::array();
  nlohmann::json elements = nlohmann::json::array();
  const GraphPlan& plan = rt.plan();
  for (unsigned w = 0; w < rt.workers().size(); w++) {
    const Worker& wk = *rt.workers()[w];
    const double stalled = rt.stalled_for(w);
    workers.push_back({{"index", w},
                       {"lcore", wk.lcore},
                       {"state", stalled > 0 ? "stalled" : "ok"},
                       {"stalled_for_s", stalled},
                       {"stalls", rt.worker_watch(w).stalls},
                       {"element_failures", wk.element_failures.get()}});
    if (stalled > 0)
      problems.push_back("worker " + std::to_string(w) + " (lcore " + std::to_string(wk.lcore) +
                         ") has not finished a loop for " + seconds_text(stalled) +
                         ": an element is stuck in push or run");
    if (!rt.started()) continue;
    const ElementFaults& f = rt.graph(w).faults;
    for (size_t i = 0; i < f.size(); i++) {
      const ElementFault& e = f[i];
      const NodePlan& n = plan.nodes[e.node];
      elements.push_back({{"id", n.spec->id},
                          {"class", n.klass->name},
                          {"worker", w},
                          {"state", "out of service"},
                          {"call", e.call},
                          {"error", e.error},
                          {"packets", e.packets},
                          {"age_s", age_s(e.at)}});
      problems.push_back("element '" + n.spec->id + "' (" + n.klass->name + ") is out of service on worker " +
                         std::to_string(w) + " since it threw in " + e.call + " " + seconds_text(age_s(e.at)) +
                         " ago: " + e.error + " (its batches are dropped as `quarantined`; a reload replaces it)");
    }
  }

  nlohmann::json services = nlohmann::json::array();
  ServiceSet& set = rt.running_services();
  for (auto& e : set.entries()) {
    const ServiceHealth h = set.health_of(e);
    nlohmann::json j = service_health_json(h);
    j["name"] = e.service->name();
    j["class"] = e.service->service_class().name;
    services.push_back(j);
    if (h.state != ServiceHealth::State::Ok)
      problems.push_back("service '" + e.service->name() + "' (" + e.service->service_class().name +
                         ") " + health_line(h));
  }

  nlohmann::json out;
  for (const auto& [name, fn] : peers) {
    ServiceHealth h;
    try {
      h = fn();
    } catch (...) {
      h.state = ServiceHealth::State::Failed;
      h.detail = "its health could not be read: " + current_exception_text();
    }
    out[name] = service_health_json(h);
    if (h.state != ServiceHealth::State::Ok) problems.push_back(name + " " + health_line(h));
  }

  nlohmann::json r{{"applied", reloads.applied}, {"refused", reloads.refused}, {"rolled_back", reloads.rolled_back}};
  if (reloads.refused) r["last_refused"] = {{"error", reloads.last_refusal}, {"age_s", age_s(reloads.last_refusal_at)}};
  nlohmann::json recent = nlohmann::json::array();
  for (const auto& f : control_faults().recent()) recent.push_back({{"what", f.what}, {"age_s", age_s(f.at)}});

  out["state"] = problems.empty() ? "ok" : "degraded";
  out["problems"] = problems;
  out["workers"] = workers;
  out["elements"] = elements;
  out["services"] = services;
  out["reloads"] = r;
  out["faults"] = {{"count", control_faults().count()}, {"recent", recent}};
  return out;
}

}  // namespace weft
