// DPDK's EAL: the arguments a graph starts it with, and its one
// initialization per process (which starts the framework's clock).
#include <rte_eal.h>
#include <rte_errno.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>

#include "runtime/clock.hpp"
#include "runtime/runtime.hpp"

namespace weft {

namespace {

std::atomic<bool> g_eal_running{false};

}  // namespace

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; c++)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  if (cpus.empty()) cpus.push_back(0);
  return cpus;
}

bool Runtime::eal_running() { return g_eal_running.load(); }

std::vector<std::string> Runtime::eal_args(const GraphSpec& g, const std::string& program) {
  std::vector<std::string> a{program};
  if (g.eal_args_given) {
    a.insert(a.end(), g.eal_args.begin(), g.eal_args.end());
  } else {
    for (const char* s : {"--no-huge", "--no-shconf", "--no-pci"}) a.push_back(s);
    a.push_back("-m");
    a.push_back(std::to_string(g.memory_mb));
  }
  auto given = [&](const std::string& flag) {
    for (const auto& x : a)
      if (x == flag || x.rfind(flag + "=", 0) == 0) return true;
    return false;
  };
  if (!given("--file-prefix")) a.push_back("--file-prefix=weft" + std::to_string(::getpid()));
  if (!given("--lcores") && !given("-l")) {
    // Map lcore N to one of the CPUs this process may run on, so a graph that
    // asks for more workers than the machine has cores still starts.
    std::vector<int> cpus = allowed_cpus();
    std::string l = "0@" + std::to_string(cpus[0]);
    for (unsigned lc : g.worker_lcores) l += "," + std::to_string(lc) + "@" + std::to_string(cpus[lc % cpus.size()]);
    a.push_back("--lcores=" + l);
  }
  for (const auto& p : g.ports) {
    if (p.is_vdev()) a.push_back("--vdev=" + p.device + (p.args.empty() ? "" : "," + p.args));
    else if (!given("--no-pci")) a.push_back("--allow=" + p.device + (p.args.empty() ? "" : "," + p.args));
  }
  if (!g.log_level.empty() && !given("--log-level")) a.push_back("--log-level=" + g.log_level);
  return a;
}

void Runtime::init_eal(const std::vector<std::string>& args) {
  if (g_eal_running) throw std::runtime_error("DPDK is already initialized in this process");
  std::vector<char*> argv;
  std::vector<std::string> copy = args;
  for (auto& s : copy) argv.push_back(s.data());
  argv.push_back(nullptr);
  int rc = rte_eal_init(static_cast<int>(copy.size()), argv.data());
  if (rc < 0) throw std::runtime_error(std::string("DPDK EAL initialization failed: ") + rte_strerror(rte_errno));
  g_eal_running = true;
  ClockCalibrator::start_process_clock();
}

}  // namespace weft
