#include "datapath/vlan_pop.hpp"

#include <rte_byteorder.h>
#include <rte_ether.h>

#include <algorithm>
#include <cstring>

#include "weft/packet.hpp"

namespace weft::l2 {

const ElementClass& VlanPop::klass() {
  static const ElementClass k =
      ElementClass::make<VlanPop>("VlanPop")
          .describe("Removes the outermost VLAN tag (or both tags of a QinQ frame) and records them in metadata.",
                    "A tag is a TPID of 0x8100 or 0x88a8 and its TCI. The removed tags go to the packet's VLAN "
                    "metadata, outermost first, where a VlanPush without `vid` finds them. With `count: 2` both "
                    "tags of a QinQ frame are removed (a frame with one tag loses that one). Untagged frames pass "
                    "unchanged with their VLAN metadata cleared, or are dropped with `untagged: drop`.\n"
                    "Example:\n"
                    "  untag: {class: VlanPop, count: 2, untagged: drop}")
          .input("in")
          .output("out")
          .param("count", ParamType::UInt, "1", "tags to remove: 1 or 2")
          .param("untagged", ParamType::String, "pass", "untagged frames: pass (unchanged) or drop")
          .drop(kRunt, "runt", "shorter than an Ethernet header")
          .drop(kTruncVlan, "truncated_vlan", "a tag to remove ends past the packet")
          .drop(kUntagged, "untagged", "no tag and `untagged: drop`");
  return k;
}

void VlanPop::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  uint64_t n = p.get<uint64_t>("count");
  if (n < 1 || n > 2) throw ConfigError(p.mark("count"), "count must be 1 or 2");
  count_ = static_cast<unsigned>(n);
  const std::string u = p.get<std::string>("untagged");
  if (u != "pass" && u != "drop") throw ConfigError(p.mark("untagged"), "untagged: expected pass or drop");
  drop_untagged_ = u == "drop";
}

void VlanPop::initialize(InitContext&) { vlan_ = fields::vlan(); }

namespace {

bool is_tag(uint16_t type) { return type == RTE_ETHER_TYPE_VLAN || type == RTE_ETHER_TYPE_QINQ; }

// Removes `len` bytes that follow the MAC addresses.
void remove_after_macs(rte_mbuf* m, uint16_t len) {
  constexpr uint32_t kMacs = 2 * RTE_ETHER_ADDR_LEN;
  if (m->data_len >= kMacs + len) {
    uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
    std::memmove(d + len, d, kMacs);
    rte_pktmbuf_adj(m, len);
  } else {
    // The bytes straddle segments: move the addresses forward, then trim the
    // front of the chain, segment by segment (leading segments may end empty).
    uint8_t buf[kMacs];
    const auto* macs = static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, kMacs, buf));
    if (macs != buf) std::memcpy(buf, macs, kMacs);
    write_bytes(m, len, buf, kMacs);
    uint32_t left = len;
    for (rte_mbuf* seg = m; seg && left; seg = seg->next) {
      uint16_t k = static_cast<uint16_t>(std::min<uint32_t>(left, seg->data_len));
      seg->data_off = static_cast<uint16_t>(seg->data_off + k);
      seg->data_len = static_cast<uint16_t>(seg->data_len - k);
      left -= k;
    }
    m->pkt_len -= len;
  }
  if (m->ol_flags & RTE_MBUF_F_TX_TUNNEL_MASK) {
    if (m->outer_l2_len >= len) m->outer_l2_len = static_cast<uint8_t>(m->outer_l2_len - len);
  } else if (m->l2_len >= len) {
    m->l2_len = static_cast<uint8_t>(m->l2_len - len);
  }
}

}  // namespace

void VlanPop::push(uint16_t, Batch& b) {
  uint16_t kept = 0;
  for (uint16_t i = 0; i < b.count; i++) {
    rte_mbuf* m = b.pkts[i];
    uint8_t buf[4];
    const auto* et = static_cast<const uint8_t*>(rte_pktmbuf_read(m, 12, 2, buf));
    if (!et) {
      drop(m, kRunt);
      continue;
    }
    uint16_t type = static_cast<uint16_t>(et[0] << 8 | et[1]);
    if (!is_tag(type)) {
      if (drop_untagged_) {
        drop(m, kUntagged);
        continue;
      }
      vlan_.clear(m);
      b.pkts[kept++] = m;
      continue;
    }
    fields::VlanTags tags{};
    uint32_t off = RTE_ETHER_HDR_LEN;  // the TCI after a TPID at 12
    bool truncated = false;
    while (tags.count < count_ && is_tag(type)) {
      const auto* v = static_cast<const uint8_t*>(rte_pktmbuf_read(m, off, 4, buf));
      if (!v) {
        truncated = true;
        break;
      }
      tags.tpid[tags.count] = type;
      tags.tci[tags.count] = static_cast<uint16_t>(v[0] << 8 | v[1]);
      type = static_cast<uint16_t>(v[2] << 8 | v[3]);
      tags.count++;
      off += sizeof(rte_vlan_hdr);
    }
    if (truncated) {
      drop(m, kTruncVlan);
      continue;
    }
    remove_after_macs(m, static_cast<uint16_t>(tags.count * sizeof(rte_vlan_hdr)));
    vlan_.set(m, tags);
    b.pkts[kept++] = m;
  }
  b.count = kept;
  if (kept) output(0, b);
}

}  // namespace weft::l2
