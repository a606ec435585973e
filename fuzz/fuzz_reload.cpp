// fuzz_reload: `routerctl reload FILE` on a router that forwards.
//
// A Runtime runs a small graph (a ring port's packets counted and sent to a
// null port, on worker lcore 1). Each input is parsed, validated and, if
// valid, given to Runtime::reload as routerctl's reload would; then the
// original graph is reloaded back. Checked: nothing crashes; a refused
// reload leaves the running graph exactly as it was (same plan, workers
// running); the reload back always succeeds. Inputs are YAML graphs mutated
// as documents (yaml_mutator.hpp), ports sandboxed to null and ring devices.
#include <chrono>
#include <cstdlib>
#include <memory>

#include "core/validator.hpp"
#include "fuzz_env.hpp"
#include "runtime/runtime.hpp"
#include "yaml_mutator.hpp"

using namespace weft;
using namespace std::chrono_literals;

namespace {

const char* kBase = R"(
name: fuzz-base
workers: {lcores: [1], idle_sleep_us: 50}
ports:
  in: {device: net_ring0}
  out: net_null0
elements:
  rx: {class: PortRx, port: in}
  c: Counter
  tx: {class: PortTx, port: out}
connections:
  - rx -> c -> tx
)";

GraphPlan plan_of(const std::string& text, Diagnostics& diag) {
  auto spec = std::make_shared<GraphSpec>(parse_graph(text, "fuzz.yaml", diag));
  if (diag.has_errors() || !fuzz::sandbox(*spec)) return {};
  GraphPlan plan = validate_graph(spec, fuzz::builtin_plugins(), diag);
  return plan;
}

Runtime* g_rt = nullptr;

GraphPlan base_plan() {
  Diagnostics diag("base");
  GraphPlan p = plan_of(kBase, diag);
  if (diag.has_errors()) fuzz::fail("the base graph is not valid: " + diag.format());
  return p;
}

bool workers_running(const Runtime& rt) {
  for (const auto& w : rt.workers())
    if (!w->running.load()) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::start_dpdk();
  const PluginLoader& l = fuzz::builtin_plugins();
  std::vector<std::string> w = l.class_names();
  for (const auto& c : l.class_names())
    for (const auto& p : l.find(c)->params) w.push_back(p.name);
  fuzz::add_yaml_words(w);
  GraphPlan base = base_plan();
  fuzz::attach_devices(*base.spec);
  g_rt = new Runtime(std::move(base));  // runs until the process ends
  g_rt->start();
  // Stopped when libFuzzer exits, before the plugins are unloaded (the
  // loader is a static made before this handler was registered, so it is
  // destroyed after it): a worker left running would call element code
  // that is no longer mapped.
  std::atexit([] { g_rt->stop(); });
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  return fuzz::mutate_yaml(data, size, max_size, seed);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return -1;
  Diagnostics diag("fuzz.yaml");
  GraphPlan next = plan_of(std::string(reinterpret_cast<const char*>(data), size), diag);
  if (diag.has_errors() || !next.spec) return 0;
  Runtime& rt = *g_rt;
  const GraphSpec* before = rt.plan().spec.get();
  ReloadReport r = rt.reload(std::move(next), 2000ms);
  if (!workers_running(rt)) fuzz::fail("a worker stopped after a reload");
  if (!r.ok) {
    if (r.error.empty()) fuzz::fail("a refused reload without a reason");
    if (rt.plan().spec.get() != before) fuzz::fail("a refused reload changed the running graph: " + r.error);
    return 0;
  }
  if (r.packets_lost != 0) fuzz::fail("a reload lost " + std::to_string(r.packets_lost) + " packets");
  ReloadReport back = rt.reload(base_plan(), 2000ms);
  if (!back.ok) fuzz::fail("cannot reload the base graph back: " + back.error);
  return 0;
}
