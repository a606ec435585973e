#include "fuzz_env.hpp"

#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_ethdev.h>

#include <memory>

#include "runtime/runtime.hpp"
#include "weft/testing.hpp"

namespace weft::fuzz {

void start_dpdk() {
  // Four lcores over the CPUs this process may use: lcore 0 runs the
  // fuzzer, 1-3 may be a runtime's workers. 512 MB leaves room for the
  // pools of several graphs.
  const std::vector<int> cpus = allowed_cpus();
  std::string lcores = "--lcores=";
  for (size_t l = 0; l < 4; l++) lcores += (l ? "," : "") + std::to_string(l) + "@" + std::to_string(cpus[l % cpus.size()]);
  testing::start_dpdk({"-m", "512", "--log-level=*:error", lcores});
}

const PluginLoader& builtin_plugins() {
  static const std::unique_ptr<PluginLoader> loader = [] {
    auto l = std::make_unique<PluginLoader>();
    l->load_directories({PluginLoader::default_dir()});
    return l;
  }();
  return *loader;
}

namespace {
bool allowed_device(const std::string& d) { return d.rfind("net_null", 0) == 0 || d.rfind("net_ring", 0) == 0; }
}  // namespace

bool sandbox(GraphSpec& g) {
  unsigned next = 0;
  for (auto& p : g.ports) {
    if (allowed_device(p.device) && p.device.size() < 32) continue;
    // Another device: a null device of its own, numbered past the usual ones.
    p.device = "net_null" + std::to_string(100 + next++);
    p.args.clear();
  }
  g.eal_args.clear();
  g.eal_args_given = false;
  g.plugin_paths.clear();
  g.control_socket.clear();
  g.fleet = FleetSpec{};
  return true;
}

void attach_devices(const GraphSpec& g) {
  for (const auto& p : g.ports) {
    uint16_t id;
    if (rte_eth_dev_get_port_by_name(p.device.c_str(), &id) == 0) continue;
    // Closed by an earlier run (rte_eth_dev_close releases the port): detach
    // what is left of the device, then create it again, as a reload does.
    rte_eal_hotplug_remove("vdev", p.device.c_str());
    rte_eal_hotplug_add("vdev", p.device.c_str(), p.args.c_str());
  }
}

}  // namespace weft::fuzz
