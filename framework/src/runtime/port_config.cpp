#include "runtime/port_config.hpp"

#include <stdexcept>

namespace weft {

namespace {

// What RSS spreads by when it can: IPv4 and IPv6, by addresses and, for TCP
// and UDP, ports too.
constexpr uint64_t kWantedRss = RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_FRAG_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP |
                                RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_NONFRAG_IPV4_OTHER | RTE_ETH_RSS_IPV6 |
                                RTE_ETH_RSS_FRAG_IPV6 | RTE_ETH_RSS_NONFRAG_IPV6_TCP | RTE_ETH_RSS_NONFRAG_IPV6_UDP |
                                RTE_ETH_RSS_NONFRAG_IPV6_OTHER;
constexpr uint64_t kRxChecksums =
    RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
constexpr uint64_t kTxChecksums =
    RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
// Room for an Ethernet header, two VLAN tags and the CRC around the MTU.
constexpr uint32_t kFrameOverhead = RTE_ETHER_HDR_LEN + 2 * RTE_VLAN_HLEN + RTE_ETHER_CRC_LEN;
constexpr size_t kDefaultKeyBytes = 40;

template <class Name>
std::vector<std::string> names_of(uint64_t mask, Name name) {
  std::vector<std::string> out;
  for (unsigned b = 0; b < 64; b++) {
    const uint64_t bit = uint64_t{1} << b;
    if (!(mask & bit)) continue;
    const char* n = name(bit);
    out.emplace_back(n ? n : "bit" + std::to_string(b));
  }
  return out;
}

const char* rss_name(uint64_t bit) {
  switch (bit) {
    case RTE_ETH_RSS_IPV4: return "ipv4";
    case RTE_ETH_RSS_FRAG_IPV4: return "ipv4-frag";
    case RTE_ETH_RSS_NONFRAG_IPV4_TCP: return "ipv4-tcp";
    case RTE_ETH_RSS_NONFRAG_IPV4_UDP: return "ipv4-udp";
    case RTE_ETH_RSS_NONFRAG_IPV4_OTHER: return "ipv4-other";
    case RTE_ETH_RSS_IPV6: return "ipv6";
    case RTE_ETH_RSS_FRAG_IPV6: return "ipv6-frag";
    case RTE_ETH_RSS_NONFRAG_IPV6_TCP: return "ipv6-tcp";
    case RTE_ETH_RSS_NONFRAG_IPV6_UDP: return "ipv6-udp";
    case RTE_ETH_RSS_NONFRAG_IPV6_OTHER: return "ipv6-other";
    default: return nullptr;
  }
}

std::string mask_text(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ",") + n;
  return s.empty() ? "none" : s;
}

}  // namespace

void PortConfig::fix_pointers() {
  conf.rx_adv_conf.rss_conf.rss_key = rss_key.empty() ? nullptr : rss_key.data();
  conf.rx_adv_conf.rss_conf.rss_key_len = static_cast<uint8_t>(rss_key.size());
}

std::vector<uint8_t> symmetric_rss_key(size_t bytes) {
  std::vector<uint8_t> key(bytes);
  for (size_t i = 0; i < bytes; i++) key[i] = (i % 2) ? 0x5a : 0x6d;
  return key;
}

std::vector<std::string> rss_hash_names(uint64_t hf) { return names_of(hf, rss_name); }
std::vector<std::string> rx_offload_names(uint64_t offloads) {
  return names_of(offloads, [](uint64_t bit) { return rte_eth_dev_rx_offload_name(bit); });
}
std::vector<std::string> tx_offload_names(uint64_t offloads) {
  return names_of(offloads, [](uint64_t bit) { return rte_eth_dev_tx_offload_name(bit); });
}

PortConfig port_config(const PortSpec& s, const rte_eth_dev_info& info, uint16_t rx_queues, uint32_t buffer_bytes) {
  PortConfig c;
  const std::string who = "port '" + s.name + "'";

  // MTU, and scattered RX when a frame of that MTU does not fit one buffer.
  c.mtu = s.mtu ? s.mtu : RTE_ETHER_MTU;
  if (c.mtu < info.min_mtu || (info.max_mtu && c.mtu > info.max_mtu))
    throw std::runtime_error(who + ": mtu " + std::to_string(c.mtu) + " is outside the device's range " +
                             std::to_string(info.min_mtu) + ".." + std::to_string(info.max_mtu));
  // As DPDK counts it: the device's own overhead when it says (max frame
  // minus max MTU), else Ethernet header and CRC.
  const uint32_t dev_overhead = info.max_mtu != UINT16_MAX && info.max_rx_pktlen > info.max_mtu
                                    ? info.max_rx_pktlen - info.max_mtu
                                    : RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
  if (info.max_rx_pktlen && c.mtu + dev_overhead > info.max_rx_pktlen)
    throw std::runtime_error(who + ": mtu " + std::to_string(c.mtu) + " needs frames of " +
                             std::to_string(c.mtu + dev_overhead) + " bytes; the device receives frames up to " +
                             std::to_string(info.max_rx_pktlen));
  c.conf.rxmode.mtu = c.mtu;
  const uint32_t frame = c.mtu + kFrameOverhead;
  if (frame > buffer_bytes) {
    if (!(info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER))
      throw std::runtime_error(who + ": mtu " + std::to_string(c.mtu) + " needs frames of " + std::to_string(frame) +
                               " bytes; packet buffers hold " + std::to_string(buffer_bytes) +
                               " and the device cannot scatter a frame over several");
    c.rx_offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
    if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) c.tx_offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
    c.notes.push_back("mtu " + std::to_string(c.mtu) + ": frames span several buffers (scattered RX)");
  }

  // RSS: only with several RX queues; spread by what the device can hash of
  // what we want.
  if (rx_queues > 1 && s.rss != PortSpec::Rss::Off) {
    c.rss_hf = kWantedRss & info.flow_type_rss_offloads;
    if (c.rss_hf == 0) {
      c.notes.push_back(std::to_string(rx_queues) +
                        " RX queues but the device offers no RSS over IP: it spreads packets its own way");
    } else {
      c.conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      c.conf.rx_adv_conf.rss_conf.rss_hf = c.rss_hf;
      if (s.rss == PortSpec::Rss::Symmetric) {
        c.rss_key = symmetric_rss_key(info.hash_key_size ? info.hash_key_size : kDefaultKeyBytes);
        c.rss_symmetric = true;
      }
      c.notes.push_back("RSS over " + std::to_string(rx_queues) + " queues by " + mask_text(rss_hash_names(c.rss_hf)) +
                        (c.rss_symmetric ? " (symmetric key)" : ""));
    }
  } else if (rx_queues > 1) {
    c.notes.push_back("rss: off with " + std::to_string(rx_queues) + " RX queues");
  }

  // Checksum offloads the device offers; what it does not do stays in software.
  if (s.checksum_offload) {
    c.rx_offloads |= kRxChecksums & info.rx_offload_capa;
    c.tx_offloads |= kTxChecksums & info.tx_offload_capa;
  }
  c.conf.rxmode.offloads = c.rx_offloads;
  c.conf.txmode.offloads = c.tx_offloads;
  c.fix_pointers();
  return c;
}

}  // namespace weft
