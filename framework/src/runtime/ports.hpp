// Ports and the packet pool: DPDK ethdev set-up and teardown for the ports a
// plan declares, and the one mbuf pool their RX queues and the elements draw
// buffers from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/validator.hpp"
#include "weft/dpdk.hpp"

namespace weft {

// A port's link as the device last reported it.
struct LinkState {
  bool known = false;  // the device answered
  bool up = false;
  uint32_t speed_mbps = 0;
  bool full_duplex = false;
  bool autoneg = false;
  bool operator==(const LinkState&) const = default;
};

struct PortRuntime {
  std::string name;
  PortSpec spec;  // as configured (for reload's comparison)
  uint16_t id = 0;
  uint16_t rx_queues = 0;
  uint16_t tx_queues = 0;
  bool started = false;
  // As configured (runtime/port_config.hpp):
  uint16_t mtu = 0;
  uint64_t rss_hf = 0;  // 0: no RSS
  bool rss_symmetric = false;
  uint64_t rx_offloads = 0;
  uint64_t tx_offloads = 0;
  LinkState link;  // as last read (at start, then by the link watch)
};

// A packet buffer pool; packed (not one buffer per page) when `packed` and
// running without hugepages with IOVA as VA (nothing DMAs from physical
// addresses then). Returns nullptr and sets rte_errno on failure.
rte_mempool* create_packet_pool(const char* name, unsigned n, unsigned cache, int socket, bool packed = true);

// The pool a plan runs on: sized by its `mempool` settings, or to hold a
// buffer in every descriptor plus each worker's cache and bursts. Throws
// std::runtime_error.
rte_mempool* create_graph_pool(const GraphPlan& plan);

// Configures port `pp` (its queues drawing from `pool`) and starts it. `id`:
// the device's port id when it is known already (a port reconfigured in
// place); otherwise DPDK's device of that name. Throws std::runtime_error
// naming the port.
PortRuntime setup_port(const PortPlan& pp, rte_mempool* pool, std::optional<uint16_t> id = std::nullopt);

// The port's link now (never waits for autonegotiation).
LinkState read_link(uint16_t port_id);
// "link up, 10000 Mb/s, full duplex", "link down".
std::string link_text(const LinkState& l);

// Stops and closes a port (flushing capture files and freeing its queues);
// with `detach`, also removes its virtual device.
void close_port(PortRuntime& p, bool detach);

}  // namespace weft
