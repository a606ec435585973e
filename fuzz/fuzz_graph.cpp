// fuzz_graph: the path a graph file takes when routerd starts, end to end.
//
//   YAML text -> parse_graph -> validate_graph -> Runtime::prepare (the
//   packet pool, every port set up and started, every service and every
//   worker's element instance configured and initialized) -> stop
//
// without launching the workers. The rule it checks: a graph that
// validation accepts never crashes the router at start; building it either
// succeeds or throws with a message. Inputs are YAML graphs, mutated as
// documents (yaml_mutator.hpp); ports are sandboxed to null and ring devices.
#include <memory>
#include <stdexcept>

#include "core/validator.hpp"
#include "fuzz_env.hpp"
#include "runtime/runtime.hpp"
#include "yaml_mutator.hpp"

using namespace weft;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::start_dpdk();
  const PluginLoader& l = fuzz::builtin_plugins();
  std::vector<std::string> w = l.class_names();
  for (const auto& s : l.service_class_names()) w.push_back(s);
  for (const auto& c : l.class_names())
    for (const auto& p : l.find(c)->params) w.push_back(p.name);
  fuzz::add_yaml_words(w);
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  return fuzz::mutate_yaml(data, size, max_size, seed);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return -1;
  Diagnostics diag("fuzz.yaml");
  auto spec = std::make_shared<GraphSpec>(parse_graph(std::string(reinterpret_cast<const char*>(data), size),
                                                      "fuzz.yaml", diag));
  if (diag.has_errors() || !fuzz::sandbox(*spec)) return 0;
  GraphPlan plan = validate_graph(spec, fuzz::builtin_plugins(), diag);
  if (diag.has_errors()) return 0;
  diag.format();  // the report routerctl prints (warnings)
  fuzz::attach_devices(*spec);
  Runtime rt(std::move(plan));
  try {
    rt.prepare();
  } catch (const std::exception& e) {
    // Refused with a reason (memory, queues, a device): routerd exits 1.
    if (std::string(e.what()).empty()) fuzz::fail("a start failure without a message");
  }
  rt.stop();
  return 0;
}
