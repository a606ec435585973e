#include "runtime/ports.hpp"

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf_pool_ops.h>

#include <stdexcept>

#include "runtime/port_config.hpp"
#include "weft/batch.hpp"
#include "weft/log.hpp"
#include "weft/metadata.hpp"
#include "weft/port_lock.hpp"

namespace weft {

rte_mempool* create_packet_pool(const char* name, unsigned n, unsigned cache, int socket, bool packed) {
  // Without hugepages (and with IOVA as VA), nothing DMAs from physical
  // addresses, so buffers need not stay within one page. Packing them avoids
  // DPDK's one-mbuf-per-4K-page layout, which puts every mbuf header at the
  // same page offset and makes them all compete for the same L1 sets.
  if (!packed || rte_eal_has_hugepages() || rte_eal_iova_mode() != RTE_IOVA_VA)
    return rte_pktmbuf_pool_create(name, n, cache, kMetadataBytes, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
  const unsigned elt = sizeof(rte_mbuf) + kMetadataBytes + RTE_MBUF_DEFAULT_BUF_SIZE;
  rte_mempool* mp = rte_mempool_create_empty(name, n, elt, cache, sizeof(rte_pktmbuf_pool_private), socket,
                                             RTE_MEMPOOL_F_NO_IOVA_CONTIG);
  if (!mp) return nullptr;
  rte_pktmbuf_pool_private priv{};
  priv.mbuf_data_room_size = RTE_MBUF_DEFAULT_BUF_SIZE;
  priv.mbuf_priv_size = kMetadataBytes;
  if (rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), nullptr) != 0) {
    rte_mempool_free(mp);
    return nullptr;
  }
  rte_pktmbuf_pool_init(mp, &priv);
  if (rte_mempool_populate_default(mp) < 0) {
    rte_mempool_free(mp);
    return nullptr;
  }
  rte_mempool_obj_iter(mp, rte_pktmbuf_init, nullptr);
  return mp;
}

rte_mempool* create_graph_pool(const GraphPlan& plan) {
  const GraphSpec& g = *plan.spec;
  unsigned n = g.mempool_size;
  if (n == 0) {
    // Every descriptor may hold a buffer, plus each worker's cache and bursts in flight.
    unsigned need = 2048;
    for (const auto& p : plan.ports)
      need += p.rx_queues * p.spec->rx_desc + p.tx_queues * p.spec->tx_desc;
    need += plan.workers() * (g.mempool_cache + 4 * kBatchCapacity);
    n = 1;
    while (n < need + 1) n <<= 1;
    n -= 1;  // a power of two minus one is the optimum for rte_mempool
  }
  const bool can_pack = !rte_eal_has_hugepages() && rte_eal_iova_mode() == RTE_IOVA_VA;
  if (g.mempool_packing == GraphSpec::Packing::Always && !can_pack)
    throw std::runtime_error("mempool.packed: true needs --no-huge and IOVA as VA");
  rte_mempool* pool = create_packet_pool("weft_pool", n, g.mempool_cache, static_cast<int>(rte_socket_id()),
                                         g.mempool_packing != GraphSpec::Packing::Never);
  if (!pool)
    throw std::runtime_error("cannot create a pool of " + std::to_string(n) +
                             " packet buffers: " + rte_strerror(rte_errno) + " (raise eal.memory_mb)");
  return pool;
}

PortRuntime setup_port(const PortPlan& pp, rte_mempool* pool, std::optional<uint16_t> id) {
  const PortSpec& s = *pp.spec;
  PortRuntime pr;
  pr.name = s.name;
  pr.spec = s;
  if (id) {
    pr.id = *id;
  } else if (rte_eth_dev_get_port_by_name(s.device.c_str(), &pr.id) != 0) {
    throw std::runtime_error("port '" + s.name + "': DPDK has no device '" + s.device + "'");
  }
  rte_eth_dev_info info{};
  if (rte_eth_dev_info_get(pr.id, &info) != 0)
    throw std::runtime_error("port '" + s.name + "': cannot read device information");
  if (pp.rx_queues > info.max_rx_queues || pp.tx_queues > info.max_tx_queues)
    throw std::runtime_error("port '" + s.name + "': device supports " + std::to_string(info.max_rx_queues) +
                             " RX / " + std::to_string(info.max_tx_queues) + " TX queues, graph needs " +
                             std::to_string(pp.rx_queues) + " / " + std::to_string(pp.tx_queues));
  const uint32_t buffer_bytes = rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM;
  PortConfig pc = port_config(s, info, pp.rx_queues, buffer_bytes);
  int rc = rte_eth_dev_configure(pr.id, pp.rx_queues, pp.tx_queues, &pc.conf);
  if (rc < 0) throw std::runtime_error("port '" + s.name + "': configure failed: " + rte_strerror(-rc));
  for (const auto& n : pc.notes) WEFT_LOG(Info, "port '%s': %s", s.name.c_str(), n.c_str());
  if (s.mtu) {
    // Drivers that own a kernel interface (net_tap, net_af_packet) set its
    // MTU here; the others take it from the configuration above.
    rc = rte_eth_dev_set_mtu(pr.id, pc.mtu);
    if (rc < 0 && rc != -ENOTSUP)
      throw std::runtime_error("port '" + s.name + "': cannot set mtu " + std::to_string(pc.mtu) + ": " +
                               rte_strerror(-rc));
  }
  pr.mtu = pc.mtu;
  pr.rss_hf = pc.rss_hf;
  pr.rss_symmetric = pc.rss_symmetric;
  pr.rx_offloads = pc.rx_offloads;
  pr.tx_offloads = pc.tx_offloads;
  uint16_t rxd = s.rx_desc, txd = s.tx_desc;
  rte_eth_dev_adjust_nb_rx_tx_desc(pr.id, &rxd, &txd);
  int socket = rte_eth_dev_socket_id(pr.id);
  if (socket < 0) socket = static_cast<int>(rte_socket_id());
  for (uint16_t q = 0; q < pp.rx_queues; q++) {
    rc = rte_eth_rx_queue_setup(pr.id, q, rxd, static_cast<unsigned>(socket), nullptr, pool);
    if (rc < 0)
      throw std::runtime_error("port '" + s.name + "': RX queue " + std::to_string(q) + ": " + rte_strerror(-rc));
  }
  for (uint16_t q = 0; q < pp.tx_queues; q++) {
    rc = rte_eth_tx_queue_setup(pr.id, q, txd, static_cast<unsigned>(socket), nullptr);
    if (rc < 0)
      throw std::runtime_error("port '" + s.name + "': TX queue " + std::to_string(q) + ": " + rte_strerror(-rc));
  }
  pr.rx_queues = pp.rx_queues;
  pr.tx_queues = pp.tx_queues;
  rc = rte_eth_dev_start(pr.id);
  if (rc < 0) throw std::runtime_error("port '" + s.name + "': start failed: " + rte_strerror(-rc));
  pr.started = true;
  if (s.promiscuous) rte_eth_promiscuous_enable(pr.id);  // some vdevs refuse; harmless
  pr.link = read_link(pr.id);
  WEFT_LOG(Info, "port '%s' (%s): %s, mtu %u", s.name.c_str(), s.device.c_str(), link_text(pr.link).c_str(),
           unsigned{pr.mtu});
  return pr;
}

LinkState read_link(uint16_t port_id) {
  rte_eth_link l{};
  LinkState st;
  if (rte_eth_link_get_nowait(port_id, &l) != 0) return st;
  st.known = true;
  st.up = l.link_status == RTE_ETH_LINK_UP;
  st.speed_mbps = l.link_speed;
  st.full_duplex = l.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
  st.autoneg = l.link_autoneg == RTE_ETH_LINK_AUTONEG;
  return st;
}

std::string link_text(const LinkState& l) {
  if (!l.known) return "link unknown";
  if (!l.up) return "link down";
  std::string speed = l.speed_mbps == RTE_ETH_SPEED_NUM_NONE || l.speed_mbps == RTE_ETH_SPEED_NUM_UNKNOWN
                          ? "speed unknown"
                          : std::to_string(l.speed_mbps) + " Mb/s";
  return "link up, " + speed + (l.full_duplex ? ", full duplex" : ", half duplex");
}

std::mutex& port_lock(uint16_t port_id) {
  static std::mutex locks[RTE_MAX_ETHPORTS];
  return locks[port_id % RTE_MAX_ETHPORTS];
}

void close_port(PortRuntime& p, bool detach) {
  std::lock_guard<std::mutex> hold(port_lock(p.id));  // no thread that is not a worker uses it meanwhile
  if (p.started) rte_eth_dev_stop(p.id);
  p.started = false;
  rte_eth_dev_close(p.id);  // flushes capture files (net_pcap) and frees queues
  if (detach && p.spec.is_vdev()) rte_eal_hotplug_remove("vdev", p.spec.device.c_str());
}

}  // namespace weft
