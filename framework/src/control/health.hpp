// The `health` section of `routerctl status` (docs/routerd-and-routerctl.md,
// "Health"): what is wrong now — element instances out of service, stalled
// workers, services and peers not ok — and what went wrong before: refused
// reloads and exceptions the framework caught.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/runtime.hpp"
#include "weft/service.hpp"

namespace weft {

// Reloads as the control API saw them (routerctl, SIGHUP, the fleet).
struct ReloadHistory {
  uint64_t applied = 0, refused = 0, rolled_back = 0;
  std::string last_refusal;
  std::chrono::steady_clock::time_point last_refusal_at;
  void record(const nlohmann::json& reply);
};

// A peer that is not a service of the graph (the fleet's etcd): its name and its health.
using PeerHealth = std::pair<std::string, std::function<ServiceHealth()>>;

nlohmann::json health_json(Runtime& rt, const ReloadHistory& reloads, const std::vector<PeerHealth>& peers);
nlohmann::json service_health_json(const ServiceHealth& h);

}  // namespace weft
