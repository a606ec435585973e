#include "datapath/vlan_push.hpp"

#include <rte_byteorder.h>
#include <rte_ether.h>

#include <cstdio>
#include <cstring>

#include "weft/packet.hpp"

namespace weft::l2 {

const ElementClass& VlanPush::klass() {
  static const ElementClass k =
      ElementClass::make<VlanPush>("VlanPush")
          .describe("Inserts an outermost 802.1Q or 802.1ad VLAN tag.",
                    "The tag goes right after the MAC addresses; on a tagged frame this makes a QinQ frame. "
                    "Without `vid` the tag is the outermost one a VlanPop recorded in the packet's VLAN metadata "
                    "(VID, PCP, DEI and TPID); `pcp`, `dei` and `tpid`, when written, override the recorded "
                    "values. Packets are modified in place.\n"
                    "Example:\n"
                    "  tag: {class: VlanPush, vid: 100, pcp: 5}\n"
                    "  stag: {class: VlanPush, vid: 20, tpid: 0x88a8}")
          .input("in")
          .output("out")
          .param("vid", ParamType::UInt, "", "VLAN id 0-4095; absent: the tag from the packet's VLAN metadata")
          .param("pcp", ParamType::UInt, "0", "priority code point 0-7")
          .param("dei", ParamType::Bool, "false", "drop eligible indicator")
          .param("tpid", ParamType::UInt, "0x8100", "tag protocol id: 0x8100 (802.1Q), 0x88a8 (802.1ad), any 16 bits")
          .drop(kRunt, "runt", "shorter than an Ethernet header")
          .drop(kNoHeadroom, "no_headroom", "fewer than 4 bytes of headroom before the frame")
          .drop(kNoVid, "no_vid", "no `vid` parameter and no VLAN metadata on the packet")
          .read("tag", "the tag as configured", [](const VlanPush& e) { return e.tag_text(); });
  return k;
}

void VlanPush::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  if (p.given("vid")) {
    uint64_t v = p.get<uint64_t>("vid");
    if (v > 4095) throw ConfigError(p.mark("vid"), "vid must be 0-4095");
    vid_ = static_cast<uint16_t>(v);
  }
  uint64_t pcp = p.get<uint64_t>("pcp");
  if (pcp > 7) throw ConfigError(p.mark("pcp"), "pcp must be 0-7");
  pcp_ = static_cast<uint16_t>(pcp);
  dei_ = p.get<bool>("dei");
  uint64_t tpid = p.get<uint64_t>("tpid");
  if (tpid > 0xffff) throw ConfigError(p.mark("tpid"), "tpid must be a 16-bit value such as 0x8100 or 0x88a8");
  tpid_ = static_cast<uint16_t>(tpid);
  pcp_given_ = p.given("pcp");
  dei_given_ = p.given("dei");
  tpid_given_ = p.given("tpid");
}

void VlanPush::initialize(InitContext&) { vlan_ = fields::vlan(); }

namespace {

// Inserts tpid+tci after the MAC addresses; false if there is no headroom.
bool insert_tag(rte_mbuf* m, uint16_t tpid, uint16_t tci) {
  uint8_t hdr[2 * RTE_ETHER_ADDR_LEN + sizeof(rte_vlan_hdr)];
  const uint16_t be_tpid = rte_cpu_to_be_16(tpid), be_tci = rte_cpu_to_be_16(tci);
  if (m->data_len >= 2 * RTE_ETHER_ADDR_LEN) {
    uint8_t* old = rte_pktmbuf_mtod(m, uint8_t*);
    auto* nh = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, sizeof(rte_vlan_hdr)));
    if (!nh) return false;
    std::memmove(nh, old, 2 * RTE_ETHER_ADDR_LEN);
    std::memcpy(nh + 12, &be_tpid, 2);
    std::memcpy(nh + 14, &be_tci, 2);
  } else {
    // The addresses straddle the first segments: read them whole, prepend,
    // and write addresses and tag back across the segments.
    const void* macs = rte_pktmbuf_read(m, 0, 2 * RTE_ETHER_ADDR_LEN, hdr);
    if (macs != hdr) std::memcpy(hdr, macs, 2 * RTE_ETHER_ADDR_LEN);
    if (!rte_pktmbuf_prepend(m, sizeof(rte_vlan_hdr))) return false;
    std::memcpy(hdr + 12, &be_tpid, 2);
    std::memcpy(hdr + 14, &be_tci, 2);
    write_bytes(m, 0, hdr, sizeof hdr);
  }
  // Keep TX offload lengths describing the frame (as rte_vlan_insert does).
  if (m->ol_flags & RTE_MBUF_F_TX_TUNNEL_MASK) {
    if (m->outer_l2_len) m->outer_l2_len += sizeof(rte_vlan_hdr);
  } else if (m->l2_len) {
    m->l2_len += sizeof(rte_vlan_hdr);
  }
  return true;
}

}  // namespace

void VlanPush::push(uint16_t, Batch& b) {
  const uint16_t fixed_tci = static_cast<uint16_t>(pcp_ << 13 | (dei_ ? 1u : 0u) << 12 | (vid_ ? *vid_ : 0));
  uint16_t kept = 0;
  for (uint16_t i = 0; i < b.count; i++) {
    rte_mbuf* m = b.pkts[i];
    if (m->pkt_len < RTE_ETHER_HDR_LEN) {
      drop(m, kRunt);
      continue;
    }
    uint16_t tpid = tpid_, tci = fixed_tci;
    if (!vid_) {
      if (!vlan_.has(m) || vlan_.get(m).count == 0) {
        drop(m, kNoVid);
        continue;
      }
      const fields::VlanTags& t = vlan_.get(m);
      tci = t.tci[0];
      if (pcp_given_) tci = static_cast<uint16_t>((tci & 0x1fff) | pcp_ << 13);
      if (dei_given_) tci = static_cast<uint16_t>((tci & 0xefff) | (dei_ ? 1u : 0u) << 12);
      if (!tpid_given_) tpid = t.tpid[0];
    }
    if (!insert_tag(m, tpid, tci)) {
      drop(m, kNoHeadroom);
      continue;
    }
    b.pkts[kept++] = m;
  }
  b.count = kept;
  if (kept) output(0, b);
}

std::string VlanPush::tag_text() const {
  char tpid[8];
  std::snprintf(tpid, sizeof tpid, "0x%04x", tpid_);
  std::string s = vid_ ? "vid " + std::to_string(*vid_) : std::string("vid from metadata");
  if (vid_ || pcp_given_) s += " pcp " + std::to_string(pcp_);
  if (vid_ || dei_given_) s += dei_ ? " dei 1" : " dei 0";
  if (vid_ || tpid_given_) s += " tpid " + std::string(tpid);
  return s;
}

}  // namespace weft::l2
