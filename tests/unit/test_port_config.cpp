// The port configuration computed from a device description
// (runtime/port_config.hpp): RSS, MTU and scattered RX, checksum offloads.
#include <rte_thash.h>

#include <catch2/catch.hpp>

#include "runtime/port_config.hpp"

using namespace weft;

namespace {

PortSpec spec(PortSpec::Rss rss = PortSpec::Rss::Auto, uint16_t mtu = 0, bool csum = true) {
  PortSpec s;
  s.name = "p0";
  s.device = "0000:01:00.0";
  s.rss = rss;
  s.mtu = mtu;
  s.checksum_offload = csum;
  return s;
}

// A NIC in the style of a 10/25G card: RSS over IP/TCP/UDP (and more), a
// 52-byte key, checksum offloads, scattered RX, MTU up to 9702.
rte_eth_dev_info nic() {
  rte_eth_dev_info i{};
  i.min_mtu = 68;
  i.max_mtu = 9702;
  i.max_rx_pktlen = 9728;
  i.hash_key_size = 52;
  i.flow_type_rss_offloads = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_SCTP |
                             RTE_ETH_RSS_L2_PAYLOAD;
  i.rx_offload_capa = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM |
                      RTE_ETH_RX_OFFLOAD_SCATTER | RTE_ETH_RX_OFFLOAD_VLAN_STRIP;
  i.tx_offload_capa = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
                      RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_TCP_TSO;
  return i;
}

// A virtual device offering nothing (as net_null or net_af_packet do).
rte_eth_dev_info bare() {
  rte_eth_dev_info i{};
  i.min_mtu = 68;
  i.max_mtu = UINT16_MAX;
  i.max_rx_pktlen = UINT32_MAX;
  return i;
}

constexpr uint32_t kBuffer = 2048;

}  // namespace

TEST_CASE("one RX queue: no RSS, MTU 1500, the offered checksum offloads", "[port_config]") {
  PortConfig c = port_config(spec(), nic(), 1, kBuffer);
  CHECK(c.conf.rxmode.mq_mode == RTE_ETH_MQ_RX_NONE);
  CHECK(c.rss_hf == 0);
  CHECK(c.mtu == 1500);
  CHECK(c.conf.rxmode.mtu == 1500);
  CHECK(c.rx_offloads ==
        (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM));
  CHECK(c.tx_offloads ==
        (RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM));
  CHECK(c.conf.rxmode.offloads == c.rx_offloads);
  CHECK(c.conf.txmode.offloads == c.tx_offloads);
  CHECK(rx_offload_names(c.rx_offloads) == std::vector<std::string>{"IPV4_CKSUM", "UDP_CKSUM", "TCP_CKSUM"});
}

TEST_CASE("several RX queues: RSS by IP, TCP and UDP as far as the device can hash", "[port_config]") {
  PortConfig c = port_config(spec(), nic(), 4, kBuffer);
  CHECK(c.conf.rxmode.mq_mode == RTE_ETH_MQ_RX_RSS);
  const uint64_t want = RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_FRAG_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP |
                        RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_NONFRAG_IPV4_OTHER | RTE_ETH_RSS_IPV6 |
                        RTE_ETH_RSS_FRAG_IPV6 | RTE_ETH_RSS_NONFRAG_IPV6_TCP | RTE_ETH_RSS_NONFRAG_IPV6_UDP |
                        RTE_ETH_RSS_NONFRAG_IPV6_OTHER;
  CHECK(c.rss_hf == want);  // not SCTP or L2 payload, which the device also offers
  CHECK(c.conf.rx_adv_conf.rss_conf.rss_hf == want);
  CHECK(c.conf.rx_adv_conf.rss_conf.rss_key == nullptr);  // the driver's own key
  CHECK_FALSE(c.rss_symmetric);

  rte_eth_dev_info tcp_only = nic();
  tcp_only.flow_type_rss_offloads = RTE_ETH_RSS_NONFRAG_IPV4_TCP;
  CHECK(port_config(spec(), tcp_only, 2, kBuffer).rss_hf == RTE_ETH_RSS_NONFRAG_IPV4_TCP);
}

TEST_CASE("rss: symmetric puts both directions of a flow on one queue", "[port_config]") {
  PortConfig c = port_config(spec(PortSpec::Rss::Symmetric), nic(), 4, kBuffer);
  REQUIRE(c.rss_symmetric);
  REQUIRE(c.rss_key.size() == 52);  // the device's key size
  CHECK(c.conf.rx_adv_conf.rss_conf.rss_key == c.rss_key.data());
  CHECK(c.conf.rx_adv_conf.rss_conf.rss_key_len == 52);
  PortConfig moved = std::move(c);
  moved.fix_pointers();
  CHECK(moved.conf.rx_adv_conf.rss_conf.rss_key == moved.rss_key.data());

  // The Toeplitz hash (DPDK's software implementation of what the NIC
  // computes) of a TCP flow and of its reply are equal with this key, and
  // differ with a common asymmetric key.
  auto hash = [](const std::vector<uint8_t>& key, uint32_t sa, uint32_t da, uint16_t sp, uint16_t dp) {
    rte_ipv4_tuple t{};
    t.src_addr = sa;
    t.dst_addr = da;
    t.sport = sp;
    t.dport = dp;
    return rte_softrss(reinterpret_cast<uint32_t*>(&t), RTE_THASH_V4_L4_LEN, key.data());
  };
  const std::vector<uint8_t>& key = moved.rss_key;
  for (uint16_t port = 1000; port < 1064; port++) {
    CHECK(hash(key, 0x0a000001, 0x0a000102, port, 80) == hash(key, 0x0a000102, 0x0a000001, 80, port));
  }
  std::vector<uint8_t> asym(52);
  for (size_t i = 0; i < asym.size(); i++) asym[i] = static_cast<uint8_t>(i * 37 + 11);
  CHECK(hash(asym, 0x0a000001, 0x0a000102, 1234, 80) != hash(asym, 0x0a000102, 0x0a000001, 80, 1234));

  // A device that does not say its key size gets the common 40 bytes.
  rte_eth_dev_info no_size = nic();
  no_size.hash_key_size = 0;
  CHECK(port_config(spec(PortSpec::Rss::Symmetric), no_size, 2, kBuffer).rss_key.size() == 40);
}

TEST_CASE("rss: off, or a device without RSS, leaves the device's own spreading", "[port_config]") {
  PortConfig off = port_config(spec(PortSpec::Rss::Off), nic(), 4, kBuffer);
  CHECK(off.conf.rxmode.mq_mode == RTE_ETH_MQ_RX_NONE);
  CHECK(off.rss_hf == 0);
  PortConfig none = port_config(spec(), bare(), 2, kBuffer);
  CHECK(none.conf.rxmode.mq_mode == RTE_ETH_MQ_RX_NONE);
  REQUIRE(none.notes.size() == 1);
  CHECK_THAT(none.notes[0], Catch::Contains("offers no RSS"));
  CHECK(none.rx_offloads == 0);
  CHECK(none.tx_offloads == 0);
}

TEST_CASE("MTU: inside the device's range, scattered RX when a frame outgrows a buffer", "[port_config]") {
  PortConfig jumbo = port_config(spec(PortSpec::Rss::Auto, 9000), nic(), 1, kBuffer);
  CHECK(jumbo.mtu == 9000);
  CHECK(jumbo.conf.rxmode.mtu == 9000);
  CHECK((jumbo.rx_offloads & RTE_ETH_RX_OFFLOAD_SCATTER));
  CHECK((jumbo.tx_offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS));

  // 2000 + 26 bytes of framing fit a 2048-byte buffer; 2030 do not.
  CHECK_FALSE((port_config(spec(PortSpec::Rss::Auto, 2022), nic(), 1, kBuffer).rx_offloads &
               RTE_ETH_RX_OFFLOAD_SCATTER));
  CHECK((port_config(spec(PortSpec::Rss::Auto, 2023), nic(), 1, kBuffer).rx_offloads & RTE_ETH_RX_OFFLOAD_SCATTER));

  rte_eth_dev_info no_scatter = nic();
  no_scatter.rx_offload_capa &= ~RTE_ETH_RX_OFFLOAD_SCATTER;
  CHECK_THROWS_WITH(port_config(spec(PortSpec::Rss::Auto, 9000), no_scatter, 1, kBuffer),
                    Catch::Contains("port 'p0': mtu 9000 needs frames of 9026 bytes") &&
                        Catch::Contains("cannot scatter"));
  CHECK_THROWS_WITH(port_config(spec(PortSpec::Rss::Auto, 9800), nic(), 1, kBuffer),
                    Catch::Contains("mtu 9800 is outside the device's range 68..9702"));
  // net_tap says: any MTU, but frames of at most 1522 bytes.
  rte_eth_dev_info tap = bare();
  tap.max_rx_pktlen = 1522;
  CHECK_NOTHROW(port_config(spec(PortSpec::Rss::Auto, 1504), tap, 1, kBuffer));
  CHECK_THROWS_WITH(port_config(spec(PortSpec::Rss::Auto, 9000), tap, 1, kBuffer),
                    Catch::Contains("mtu 9000 needs frames of 9018 bytes; the device receives frames up to 1522"));
}

TEST_CASE("checksum_offload: false keeps checksums in software", "[port_config]") {
  PortConfig c = port_config(spec(PortSpec::Rss::Auto, 0, false), nic(), 1, kBuffer);
  CHECK(c.rx_offloads == 0);
  CHECK(c.tx_offloads == 0);
}
