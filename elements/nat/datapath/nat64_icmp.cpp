// Nat64: ICMP errors (RFC 7915 sections 4.2-4.3 and 5.2-5.3, RFC 6146
// section 3.5.3). An error about a packet of a session is rebuilt in the
// other family: outer header, ICMP type/code/MTU/pointer, the quoted packet's
// header (addresses and port or identifier translated back to what the
// receiver sent), the quoted L4 checksum updated incrementally, and the
// error's own checksum verified on arrival and computed anew.
#include <arpa/inet.h>
#include <rte_ether.h>
#include <rte_hash.h>

#include <algorithm>
#include <cstring>

#include "datapath/nat64.hpp"
#include "datapath/xlat.hpp"

namespace weft::nat {

namespace {

constexpr uint32_t kMaxIcmp4Error = 576;   // a whole ICMPv4 error (RFC 1812 section 4.3.2.3)
constexpr uint32_t kMaxIcmp6Error = 1280;  // a whole ICMPv6 error (RFC 4443 section 2.4 (c))
constexpr uint32_t kReadMax = 1280;        // bytes of an arriving ICMP message read
constexpr uint8_t kNextHopByHop = 0, kNextRouting = 43, kNextFragment = 44, kNextDestOpts = 60;
constexpr uint16_t kPlateaus[] = {65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68};  // RFC 1191

struct IcmpHead {
  uint8_t type = 0, code = 0;
  uint8_t rest[4] = {};  // bytes 4-7: MTU, pointer or unused
};

// RFC 7915 section 5.2: an ICMPv6 error's ICMPv4 counterpart.
bool map_6to4(const uint8_t* in, IcmpHead& o) {
  switch (in[0]) {
    case 1:  // destination unreachable
      o.type = 3;
      switch (in[1]) {
        case 0:  // no route
        case 2:  // beyond scope of source address
        case 3:  // address unreachable
          o.code = 1;
          return true;
        case 1:  // administratively prohibited
          o.code = 10;
          return true;
        case 4:  // port unreachable
          o.code = 3;
          return true;
        default:
          return false;
      }
    case 2: {  // packet too big: fragmentation needed, the MTU less the header difference
      o.type = 3;
      o.code = 4;
      const uint32_t mtu6 = ntohl(ld32(in + 4));
      const uint32_t mtu4 = std::min<uint32_t>(mtu6 > 20 ? mtu6 - 20 : 0, 0xffff);
      st16(o.rest + 2, htons(static_cast<uint16_t>(mtu4)));
      return true;
    }
    case 3:  // time exceeded: the code carries over
      o.type = 11;
      o.code = in[1];
      return true;
    case 4: {  // parameter problem
      if (in[1] == 1) {  // unrecognized next header: protocol unreachable
        o.type = 3;
        o.code = 2;
        return true;
      }
      if (in[1] != 0) return false;
      const uint32_t ptr = ntohl(ld32(in + 4));
      uint8_t p4;
      if (ptr <= 1) p4 = static_cast<uint8_t>(ptr);  // version, traffic class
      else if (ptr == 4 || ptr == 5) p4 = 2;           // payload length: total length
      else if (ptr == 6) p4 = 9;                       // next header: protocol
      else if (ptr == 7) p4 = 8;                       // hop limit: TTL
      else if (ptr >= 8 && ptr <= 23) p4 = 12;         // source address
      else if (ptr >= 24 && ptr <= 39) p4 = 16;        // destination address
      else return false;                               // flow label, or beyond the header
      o.type = 12;
      o.code = 0;
      o.rest[0] = p4;
      return true;
    }
    default:
      return false;
  }
}

// RFC 7915 section 4.2: an ICMPv4 error's ICMPv6 counterpart (the MTU of a
// packet too big is filled in by the caller).
bool map_4to6(const uint8_t* in, IcmpHead& o) {
  switch (in[0]) {
    case 3:  // destination unreachable
      o.type = 1;
      switch (in[1]) {
        case 0:
        case 1:
        case 5:
        case 6:
        case 7:
        case 8:
        case 11:
        case 12:
          o.code = 0;  // no route to destination
          return true;
        case 2:  // protocol unreachable: parameter problem, unrecognized next header, at next header
          o.type = 4;
          o.code = 1;
          st32(o.rest, htonl(6));
          return true;
        case 3:
          o.code = 4;  // port unreachable
          return true;
        case 4:
          o.type = 2;  // packet too big
          o.code = 0;
          return true;
        case 9:
        case 10:
        case 13:
        case 15:
          o.code = 1;  // administratively prohibited
          return true;
        default:  // 14 (host precedence violation) and unknown codes
          return false;
      }
    case 11:  // time exceeded
      o.type = 3;
      o.code = in[1];
      return true;
    case 12: {  // parameter problem
      if (in[1] != 0 && in[1] != 2) return false;
      static const int8_t ptrs[20] = {0, 1, 4, 4, -1, -1, -1, -1, 7, 6, -1, -1, 8, 8, 8, 8, 24, 24, 24, 24};
      const uint8_t ptr = in[4];
      if (ptr >= 20 || ptrs[ptr] < 0) return false;
      o.type = 4;
      o.code = 0;
      st32(o.rest, htonl(static_cast<uint32_t>(ptrs[ptr])));
      return true;
    }
    default:
      return false;
  }
}

}  // namespace

const Drop* Nat64::icmp6_error(rte_mbuf* m, const Parsed& p) {
  if (p.l4_len < 8 + 40) return &kTruncatedIcmpInner;
  // The error is rebuilt with a fresh checksum: it must be right on arrival.
  uint16_t raw = 0;
  if (rte_raw_cksum_mbuf(m, p.l4, p.l4_len, &raw) != 0) return &kTruncated;
  if (csum_fold(raw + p.addr_sum + pseudo_rest(p.l4_len, kProtoIcmp6)) != 0xffff) return &kBadChecksum;
  uint8_t buf[kReadMax];
  const uint32_t have = std::min<uint32_t>(p.l4_len, kReadMax);
  const auto* icmp = static_cast<const uint8_t*>(rte_pktmbuf_read(m, p.l4, have, buf));
  if (!icmp) return &kTruncated;
  IcmpHead h;
  if (!map_6to4(icmp, h)) return &kUnsupportedIcmp;
  uint32_t quote = have - 8;
  if ((icmp[0] == 1 || icmp[0] == 3) && icmp[4]) quote = std::min<uint32_t>(quote, icmp[4] * 8u);  // RFC 4884: no extensions
  const uint8_t* q6 = icmp + 8;
  if (quote < 40 || (q6[0] >> 4) != 6) return &kTruncatedIcmpInner;
  uint8_t next = q6[6];
  uint32_t off = 40;
  for (unsigned seen = 0; next == kNextHopByHop || next == kNextRouting || next == kNextDestOpts || next == kNextFragment;) {
    if (++seen > 8) return &kUnsupportedProtocol;
    if (off + 8 > quote) return &kTruncatedIcmpInner;
    if (next == kNextFragment && (ntohs(ld16(q6 + off + 2)) & 0xfff8) != 0) return &kFragment;
    const uint32_t len = next == kNextFragment ? 8 : (q6[off + 1] + 1u) * 8;
    next = q6[off];
    off += len;
  }
  if (off + 8 > quote) return &kTruncatedIcmpInner;  // the ports or identifier
  const uint8_t* il4 = q6 + off;
  const uint32_t inner_plen = ntohs(ld16(q6 + 4));
  const uint32_t inner_l4_len = inner_plen > off - 40 ? inner_plen - (off - 40) : 0;
  const uint8_t iproto = next == kProtoIcmp6 ? IPPROTO_ICMP : next == IPPROTO_ICMP ? 0xff : next;
  if (iproto == IPPROTO_ICMP) {
    if (il4[0] != 128 && il4[0] != 129) return &kUnsupportedIcmp;  // an error about an error
  } else if (iproto != IPPROTO_TCP && iproto != IPPROTO_UDP) {
    return &kUnsupportedProtocol;
  }
  // The quoted packet is one this NAT sent: from PREFIX+R to host H. The
  // error goes back to R.
  uint32_t r4;
  if (!prefix_.extract(q6 + 8, r4)) return &kNotPrefix;
  if (r4 != p.key.dst_ip) return &kNoSession;
  HostKey hk;
  std::memcpy(hk.a, q6 + 24, 16);
  void* d = nullptr;
  if (rte_hash_lookup_data(table_->hosts(), &hk, &d) < 0) return &kNoSession;
  FlowKey k{static_cast<uint32_t>(reinterpret_cast<uintptr_t>(d)), r4, 0, 0, iproto, kKeyFromInside, 0};
  if (iproto == IPPROTO_ICMP) {
    k.src_port = ld16(il4 + 4);
  } else {
    k.src_port = ld16(il4 + 2);
    k.dst_port = ld16(il4);
  }
  if (rte_hash_lookup_data(table_->hash(), &k, &d) < 0) return &kNoSession;
  const Session& s = table_->session(data_index(d));

  uint8_t out[22 + kMaxIcmp4Error];
  Window w;
  w.open(m, 0, p.l3);
  std::memcpy(out, w.p, p.l3);
  st16(out + p.l3 - 2, htons(RTE_ETHER_TYPE_IPV4));
  uint8_t* ip = out + p.l3;
  uint8_t* ic = ip + 20;
  uint8_t* iip = ic + 8;
  uint8_t* iil4 = iip + 20;
  const uint32_t copy = std::min<uint32_t>(quote - off, kMaxIcmp4Error - 20 - 8 - 20);
  std::memcpy(iil4, il4, copy);

  // The quoted packet as it was before this NAT translated it.
  const uint32_t inner_total = 20 + inner_l4_len;
  iip[0] = 0x45;
  iip[1] = static_cast<uint8_t>((q6[0] << 4) | (q6[1] >> 4));
  st16(iip + 2, htons(static_cast<uint16_t>(std::min<uint32_t>(inner_total, 0xffff))));
  st16(iip + 4, 0);
  st16(iip + 6, inner_total > 1260 ? htons(0x4000) : 0);
  iip[8] = q6[7];
  iip[9] = iproto;
  st16(iip + 10, 0);
  st32(iip + 12, r4);
  st32(iip + 16, s.ext_ip);
  st16(iip + 10, csum_final(sum16(iip, 20)));
  const uint32_t old_addrs = sum16(q6 + 8, 32), new_addrs = sum16(iip + 12, 8);
  if (iproto == IPPROTO_ICMP) {
    const uint16_t tc_old = ld16(iil4), id_old = ld16(iil4 + 4);
    iil4[0] = iil4[0] == 128 ? 8 : 0;
    st16(iil4 + 4, s.ext_port);
    const uint32_t dd = csum_neg(old_addrs + pseudo_rest(inner_l4_len, kProtoIcmp6)) +
                        csum_delta16(tc_old, ld16(iil4)) + csum_delta16(id_old, s.ext_port);
    st16(iil4 + 2, csum_apply(ld16(iil4 + 2), dd));
  } else {
    const uint32_t dd = csum_neg(old_addrs) + new_addrs + csum_delta16(ld16(iil4 + 2), s.ext_port);
    st16(iil4 + 2, s.ext_port);
    if (iproto == IPPROTO_TCP && copy >= 18) st16(iil4 + 16, csum_apply(ld16(iil4 + 16), dd));
    if (iproto == IPPROTO_UDP) st16(iil4 + 6, udp_csum_apply(ld16(iil4 + 6), dd));
  }

  const uint32_t icmp_len = 8 + 20 + copy, total = 20 + icmp_len;
  ic[0] = h.type;
  ic[1] = h.code;
  st16(ic + 2, 0);
  std::memcpy(ic + 4, h.rest, 4);
  st16(ic + 2, csum_final(sum16(ic, icmp_len)));
  ip[0] = 0x45;
  ip[1] = p.tclass;
  st16(ip + 2, htons(static_cast<uint16_t>(total)));
  st16(ip + 4, htons(next_ip_id()));
  st16(ip + 6, 0);  // at most 576 bytes: never DF (RFC 7915 section 5.1)
  ip[8] = static_cast<uint8_t>(p.hop - 1);
  ip[9] = IPPROTO_ICMP;
  st16(ip + 10, 0);
  st32(ip + 12, s.ext_ip);
  st32(ip + 16, r4);
  st16(ip + 10, csum_final(sum16(ip, 20)));
  if (!replace_head(m, m->pkt_len, out, p.l3 + total)) return &kNoHeadroom;
  emit(kTo4, m);
  return nullptr;
}

const Drop* Nat64::icmp4_error(rte_mbuf* m, const Parsed& p) {
  if (p.l4_len < 8 + 20) return &kTruncatedIcmpInner;
  uint16_t raw = 0;
  if (rte_raw_cksum_mbuf(m, p.l4, p.l4_len, &raw) != 0) return &kTruncated;
  if (csum_fold(raw) != 0xffff) return &kBadChecksum;
  uint8_t buf[kReadMax];
  const uint32_t have = std::min<uint32_t>(p.l4_len, kReadMax);
  const auto* icmp = static_cast<const uint8_t*>(rte_pktmbuf_read(m, p.l4, have, buf));
  if (!icmp) return &kTruncated;
  IcmpHead h;
  if (!map_4to6(icmp, h)) return &kUnsupportedIcmp;
  uint32_t quote = have - 8;
  if (icmp[5]) quote = std::min<uint32_t>(quote, icmp[5] * 4u);  // RFC 4884: no extensions
  const uint8_t* q4 = icmp + 8;
  if (quote < 20 || (q4[0] >> 4) != 4 || (q4[0] & 15) < 5) return &kTruncatedIcmpInner;
  const uint32_t ihl = (q4[0] & 15u) * 4;
  if (quote < ihl + 8) return &kTruncatedIcmpInner;
  if (ntohs(ld16(q4 + 6)) & 0x1fff) return &kFragment;
  const uint8_t iproto = q4[9];
  const uint8_t* il4 = q4 + ihl;
  if (iproto == IPPROTO_ICMP) {
    if (il4[0] != 8 && il4[0] != 0) return &kUnsupportedIcmp;  // an error about an error
  } else if (iproto != IPPROTO_TCP && iproto != IPPROTO_UDP) {
    return &kUnsupportedProtocol;
  }
  // The quoted packet is one this NAT sent: from a pool address:port to R.
  const uint32_t inner_total = ntohs(ld16(q4 + 2));
  const uint32_t inner_l4_len = inner_total > ihl ? inner_total - ihl : 0;
  const uint32_t r4 = ld32(q4 + 16);
  FlowKey k{r4, ld32(q4 + 12), 0, 0, iproto, kKeyFromOutside, 0};
  if (iproto == IPPROTO_ICMP) {
    k.dst_port = ld16(il4 + 4);
  } else {
    k.src_port = ld16(il4 + 2);
    k.dst_port = ld16(il4);
  }
  void* d = nullptr;
  if (rte_hash_lookup_data(table_->hash(), &k, &d) < 0) return &kNoSession;
  const Session& s = table_->session(data_index(d));
  if (p.key.dst_ip != s.ext_ip) return &kNoSession;
  const uint8_t* host = table_->host_address(s.in_ip);

  uint8_t out[22 + kMaxIcmp6Error];
  Window w;
  w.open(m, 0, p.l3);
  std::memcpy(out, w.p, p.l3);
  st16(out + p.l3 - 2, htons(RTE_ETHER_TYPE_IPV6));
  uint8_t* ip = out + p.l3;
  uint8_t* ic = ip + 40;
  uint8_t* iip = ic + 8;
  uint8_t* iil4 = iip + 40;
  const uint32_t copy = std::min<uint32_t>(quote - ihl, kMaxIcmp6Error - 40 - 8 - 40);
  std::memcpy(iil4, il4, copy);

  // The quoted packet as the IPv6 host sent it (IPv4 options dropped).
  iip[0] = static_cast<uint8_t>(0x60 | (q4[1] >> 4));
  iip[1] = static_cast<uint8_t>(q4[1] << 4);
  iip[2] = iip[3] = 0;
  st16(iip + 4, htons(static_cast<uint16_t>(inner_l4_len)));
  iip[6] = iproto == IPPROTO_ICMP ? kProtoIcmp6 : iproto;
  iip[7] = q4[8];
  std::memcpy(iip + 8, host, 16);
  prefix_.embed(r4, iip + 24);
  const uint32_t old_addrs = sum16(q4 + 12, 8), new_addrs = sum16(iip + 8, 32);
  if (iproto == IPPROTO_ICMP) {
    const uint16_t tc_old = ld16(iil4), id_old = ld16(iil4 + 4);
    iil4[0] = iil4[0] == 8 ? 128 : 129;
    st16(iil4 + 4, s.in_port);
    const uint32_t dd = new_addrs + pseudo_rest(inner_l4_len, kProtoIcmp6) + csum_delta16(tc_old, ld16(iil4)) +
                        csum_delta16(id_old, s.in_port);
    st16(iil4 + 2, csum_apply(ld16(iil4 + 2), dd));
  } else {
    const uint32_t dd = csum_neg(old_addrs) + new_addrs + csum_delta16(ld16(iil4), s.in_port);
    st16(iil4, s.in_port);
    if (iproto == IPPROTO_TCP && copy >= 18) st16(iil4 + 16, csum_apply(ld16(iil4 + 16), dd));
    if (iproto == IPPROTO_UDP) st16(iil4 + 6, udp_csum_apply(ld16(iil4 + 6), dd));
  }

  if (h.type == 2) {  // packet too big: the IPv4 MTU plus the header difference, at least IPv6's minimum
    uint32_t mtu4 = ntohs(ld16(icmp + 6));
    if (mtu4 == 0) {  // a router from before RFC 1191: guess from the plateaus
      for (uint16_t pl : kPlateaus)
        if (pl < inner_total) {
          mtu4 = pl;
          break;
        }
    }
    st32(h.rest, htonl(std::max<uint32_t>(1280, mtu4 + 20)));
  }
  const uint32_t icmp_len = 8 + 40 + copy;
  ip[0] = static_cast<uint8_t>(0x60 | (p.tclass >> 4));
  ip[1] = static_cast<uint8_t>(p.tclass << 4);
  ip[2] = ip[3] = 0;
  st16(ip + 4, htons(static_cast<uint16_t>(icmp_len)));
  ip[6] = kProtoIcmp6;
  ip[7] = static_cast<uint8_t>(p.hop - 1);
  prefix_.embed(p.key.src_ip, ip + 8);
  std::memcpy(ip + 24, host, 16);
  ic[0] = h.type;
  ic[1] = h.code;
  st16(ic + 2, 0);
  std::memcpy(ic + 4, h.rest, 4);
  st16(ic + 2, csum_final(sum16(ip + 8, 32) + pseudo_rest(icmp_len, kProtoIcmp6) + sum16(ic, icmp_len)));
  if (!replace_head(m, m->pkt_len, out, p.l3 + 40 + icmp_len)) return &kNoHeadroom;
  emit(kTo6, m);
  return nullptr;
}

}  // namespace weft::nat
