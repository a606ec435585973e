// routerctl memory: what routerd holds — resident memory, file descriptors,
// DPDK's heaps and memzones, the packet pool. A long run should keep these flat.
#include <cstdio>
#include <iostream>

#include "routerctl.hpp"

namespace routerctl {
namespace {

double mib(const json& v) { return double(v.get<uint64_t>()) / (1024.0 * 1024.0); }

Command memory_command{[](CLI::App& app, Options& o) -> std::pair<CLI::App*, Runner> {
  auto* sub = app.add_subcommand("memory", "resident memory, file descriptors, DPDK heaps and the packet pool");
  return {sub, [&o] {
            json m = request(o, "memory");
            if (o.json_out) {
              std::cout << m.dump(2) << "\n";
              return 0;
            }
            std::printf("resident %.1f MiB (peak %.1f MiB), %u file descriptors\n", mib(m["rss_bytes"]),
                        mib(m["rss_peak_bytes"]), m["fds"].get<unsigned>());
            for (const auto& h : m["dpdk_heaps"])
              std::printf("DPDK heap, socket %d: %.1f MiB, %.1f MiB allocated in %llu blocks, %.1f MiB free "
                          "(largest %.1f MiB)\n",
                          h["socket"].get<int>(), mib(h["heap_bytes"]), mib(h["allocated_bytes"]),
                          static_cast<unsigned long long>(h["allocations"].get<uint64_t>()), mib(h["free_bytes"]),
                          mib(h["largest_free_bytes"]));
            std::printf("DPDK memzones: %u\n", m["dpdk_memzones"].get<unsigned>());
            if (m.contains("packet_pool")) {
              const json& p = m["packet_pool"];
              std::printf("packet pool %s: %u buffers, %u in use, %u available\n",
                          p["name"].get<std::string>().c_str(), p["size"].get<unsigned>(),
                          p["in_use"].get<unsigned>(), p["available"].get<unsigned>());
            }
            return 0;
          }};
}};

}  // namespace
}  // namespace routerctl
