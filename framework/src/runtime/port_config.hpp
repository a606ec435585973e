// What a port is configured with, computed from its graph entry and what the
// device says it can do (rte_eth_dev_info): receive-side scaling, MTU and
// scattered RX, checksum offloads. A pure function, so the choices can be
// tested against any device description without the device.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/graph_spec.hpp"
#include <rte_ethdev.h>

namespace weft {

struct PortConfig {
  rte_eth_conf conf{};        // for rte_eth_dev_configure; rss_key points into rss_key below
  uint16_t mtu = 1500;        // the MTU set on the device
  uint64_t rss_hf = 0;        // hash types RSS spreads by (0: no RSS)
  bool rss_symmetric = false;  // both directions of a flow land on one queue
  std::vector<uint8_t> rss_key;
  uint64_t rx_offloads = 0;
  uint64_t tx_offloads = 0;
  std::vector<std::string> notes;  // what was chosen and why, for the log

  // Points conf's RSS key at rss_key (call after copying or moving).
  void fix_pointers();
};

// The Toeplitz hash key made of 0x6d5a repeated, which hashes (src, dst) and
// (dst, src) alike: with it, RSS keeps both directions of a flow on one queue.
std::vector<uint8_t> symmetric_rss_key(size_t bytes);

// The configuration for port `s` on a device described by `info` with
// `rx_queues` RX queues, receiving into buffers of `buffer_bytes` bytes of
// data room after the headroom. Throws std::runtime_error naming the port when
// the graph asks what the device cannot do (an MTU outside its range, or one
// that needs scattered RX it does not offer).
PortConfig port_config(const PortSpec& s, const rte_eth_dev_info& info, uint16_t rx_queues, uint32_t buffer_bytes);

// Names of the RSS hash types and offload bits set in a mask, for status and logs.
std::vector<std::string> rss_hash_names(uint64_t hf);
std::vector<std::string> rx_offload_names(uint64_t offloads);
std::vector<std::string> tx_offload_names(uint64_t offloads);

}  // namespace weft
