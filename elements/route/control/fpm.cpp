#include "fpm.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>

#include <cstring>

#include "weft/netlink.hpp"

namespace weft::route {

namespace {
constexpr uint8_t kFpmVersion = 1;
constexpr uint8_t kFpmTypeNetlink = 1;
constexpr uint16_t kEncapVxlan = 100;  // FRR's FPM_NH_ENCAP_VXLAN
constexpr uint16_t kVxlanVni = 0;      // FRR's VXLAN_VNI, nested in RTA_ENCAP

size_t addr_len(uint8_t family) { return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0; }
}  // namespace

bool NextHop::operator==(const NextHop& o) const {
  return family == o.family && gateway == o.gateway && ifindex == o.ifindex && vni == o.vni && weight == o.weight;
}

std::string NextHop::str() const {
  std::string s;
  if (family) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(family, gateway.data(), buf, sizeof buf);
    s = std::string("via ") + buf;
  } else {
    s = "direct";
  }
  if (ifindex) s += " if " + std::to_string(ifindex);
  if (vni) s += " vni " + std::to_string(vni);
  if (weight != 1) s += " weight " + std::to_string(weight);
  return s;
}

const char* to_string(RouteType t) {
  switch (t) {
    case RouteType::Unicast: return "unicast";
    case RouteType::Blackhole: return "blackhole";
    case RouteType::Unreachable: return "unreachable";
    case RouteType::Prohibit: return "prohibit";
  }
  return "?";
}

std::string protocol_name(uint8_t p) {
  switch (p) {
    case 2: return "connected";  // RTPROT_KERNEL: zebra's connected routes
    case 3: return "boot";
    case 4: return "static(kernel)";
    case 11: return "zebra";
    case 42: return "babel";
    case 186: return "bgp";  // FRR's numbers (zebra/rt_netlink.h) from here
    case 187: return "isis";
    case 188: return "ospf";
    case 189: return "rip";
    case 190: return "ripng";
    case 191: return "nhrp";
    case 192: return "eigrp";
    case 193: return "ldp";
    case 194: return "sharp";
    case 195: return "pbr";
    case 196: return "static";
    case 197: return "openfabric";
    case 198: return "srte";
    default: return std::to_string(p);
  }
}

bool FpmDecoder::feed(const uint8_t* data, size_t len) {
  counters_.bytes += len;
  buffer_.insert(buffer_.end(), data, data + len);
  size_t off = 0;
  bool ok = true;
  while (buffer_.size() - off >= kHeader) {
    const uint8_t* h = buffer_.data() + off;
    uint16_t flen = static_cast<uint16_t>((h[2] << 8) | h[3]);
    std::string bad;
    if (h[0] != kFpmVersion) bad = "version " + std::to_string(h[0]);
    else if (h[1] != kFpmTypeNetlink) bad = "message type " + std::to_string(h[1]) + " (only netlink, 1, is supported)";
    else if (flen < kHeader + sizeof(nlmsghdr)) bad = "frame length " + std::to_string(flen) + " too short";
    if (!bad.empty()) {
      counters_.framing_errors++;
      if (on_error) on_error("FPM framing error: " + bad + "; closing the connection");
      ok = false;
      break;
    }
    if (buffer_.size() - off < flen) break;  // wait for the rest
    counters_.frames++;
    frame(h + kHeader, flen - kHeader);
    off += flen;
  }
  if (!ok) {
    buffer_.clear();
    return false;
  }
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<long>(off));
  return true;
}

size_t FpmDecoder::end_of_stream() {
  const size_t n = buffer_.size();
  if (n) counters_.truncated_frames++;
  buffer_.clear();
  return n;
}

void FpmDecoder::frame(const uint8_t* payload, size_t len) {
  // Netlink messages are read in place, 4-byte aligned: copy if not.
  std::vector<uint8_t> aligned;
  if (reinterpret_cast<uintptr_t>(payload) % NLMSG_ALIGNTO != 0) {
    aligned.assign(payload, payload + len);
    payload = aligned.data();
  }
  const NetlinkWalk w = walk_netlink(payload, len, [this](const nlmsghdr* nlh) {
    counters_.messages++;
    message(nlh);
    return true;
  });
  if (w.leftover > 0 || w.messages == 0) {
    counters_.message_errors++;
    if (on_error)
      on_error("FPM frame holds a truncated netlink message (" + std::to_string(w.leftover) +
               " byte(s) left over); the rest of the frame was dropped");
  }
}

namespace {

struct AttrTable {
  const nlattr* tb[RTA_MAX + NHA_MAX + 8] = {};
  uint64_t unknown = 0;
  int max = 0;
};

int collect(const nlattr* attr, void* data) {
  auto* t = static_cast<AttrTable*>(data);
  int type = mnl_attr_get_type(attr);
  if (type > t->max) {
    t->unknown++;
    return MNL_CB_OK;
  }
  t->tb[type] = attr;
  return MNL_CB_OK;
}

bool read_addr(const nlattr* a, uint8_t family, std::array<uint8_t, 16>& out) {
  size_t n = addr_len(family);
  if (!a || n == 0 || mnl_attr_get_payload_len(a) != n) return false;
  std::memcpy(out.data(), mnl_attr_get_payload(a), n);
  return true;
}

bool read_u32(const nlattr* a, uint32_t& out) {
  if (!a || mnl_attr_validate(a, MNL_TYPE_U32) < 0) return false;
  out = mnl_attr_get_u32(a);
  return true;
}

// VNI from RTA_ENCAP_TYPE (100) + nested RTA_ENCAP { VXLAN_VNI u32 }.
bool read_vni(const nlattr* type, const nlattr* encap, uint32_t& vni, uint64_t& unknown) {
  if (!type || !encap) return true;
  if (mnl_attr_validate(type, MNL_TYPE_U16) < 0) return false;
  if (mnl_attr_get_u16(type) != kEncapVxlan) {
    unknown++;
    return true;
  }
  bool ok = false;
  const auto* a = static_cast<const nlattr*>(mnl_attr_get_payload(encap));
  int left = static_cast<int>(mnl_attr_get_payload_len(encap));
  while (mnl_attr_ok(a, left)) {
    if (mnl_attr_get_type(a) == kVxlanVni && mnl_attr_validate(a, MNL_TYPE_U32) >= 0) {
      vni = mnl_attr_get_u32(a);
      ok = true;
    }
    left -= static_cast<int>(MNL_ALIGN(a->nla_len));
    a = mnl_attr_next(a);
  }
  return ok;
}

}  // namespace

void FpmDecoder::message(const void* p) {
  const auto* nlh = static_cast<const nlmsghdr*>(p);
  auto fail = [&](const std::string& why) {
    counters_.message_errors++;
    if (on_error) on_error("FPM: malformed netlink message type " + std::to_string(nlh->nlmsg_type) + ": " + why);
  };
  switch (nlh->nlmsg_type) {
    case RTM_NEWROUTE:
    case RTM_DELROUTE: {
      if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(rtmsg))) return fail("shorter than a route header");
      const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
      RouteUpdate u;
      u.add = nlh->nlmsg_type == RTM_NEWROUTE;
      u.dst.addr.version = rtm->rtm_family == AF_INET ? 4 : 6;
      u.dst.len = rtm->rtm_dst_len;
      u.table = rtm->rtm_table;
      u.protocol = rtm->rtm_protocol;
      if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) {
        counters_.other_messages++;  // e.g. bridge/MPLS routes: not ours
        return;
      }
      if (u.dst.len > u.dst.max_len()) return fail("prefix length " + std::to_string(u.dst.len));
      switch (rtm->rtm_type) {
        case RTN_UNICAST: u.type = RouteType::Unicast; break;
        case RTN_BLACKHOLE: u.type = RouteType::Blackhole; break;
        case RTN_UNREACHABLE: u.type = RouteType::Unreachable; break;
        case RTN_PROHIBIT: u.type = RouteType::Prohibit; break;
        case RTN_UNSPEC:
          // zebra's RTM_DELROUTE carries no type: a delete is a delete.
          if (!u.add) break;
          counters_.other_messages++;
          return;
        default: counters_.other_messages++; return;  // local, broadcast, multicast...
      }
      AttrTable t;
      t.max = RTA_MAX;
      if (mnl_attr_parse(nlh, sizeof(rtmsg), collect, &t) < 0) return fail("bad attributes");
      counters_.unknown_attributes += t.unknown;
      if (t.tb[RTA_DST] && !read_addr(t.tb[RTA_DST], rtm->rtm_family, u.dst.addr.bytes)) return fail("bad RTA_DST");
      if (t.tb[RTA_TABLE] && !read_u32(t.tb[RTA_TABLE], u.table)) return fail("bad RTA_TABLE");
      if (t.tb[RTA_PRIORITY] && !read_u32(t.tb[RTA_PRIORITY], u.metric)) return fail("bad RTA_PRIORITY");
      if (t.tb[RTA_NH_ID] && !read_u32(t.tb[RTA_NH_ID], u.nhid)) return fail("bad RTA_NH_ID");
      // Zero the host bits: the RIB keys routes by their network.
      u.dst = u.dst.network();
      if (t.tb[RTA_MULTIPATH]) {
        const nlattr* mp = t.tb[RTA_MULTIPATH];
        const auto* rtnh = static_cast<const rtnexthop*>(mnl_attr_get_payload(mp));
        int left = static_cast<int>(mnl_attr_get_payload_len(mp));
        while (left >= static_cast<int>(sizeof(rtnexthop))) {
          if (rtnh->rtnh_len < sizeof(rtnexthop) || rtnh->rtnh_len > left) return fail("bad RTA_MULTIPATH entry");
          NextHop nh;
          nh.ifindex = static_cast<uint32_t>(rtnh->rtnh_ifindex);
          nh.weight = static_cast<uint8_t>(rtnh->rtnh_hops + 1);
          AttrTable nt;
          nt.max = RTA_MAX;
          const auto* first = reinterpret_cast<const nlattr*>(reinterpret_cast<const uint8_t*>(rtnh) + RTNH_LENGTH(0));
          int alen = static_cast<int>(rtnh->rtnh_len - RTNH_LENGTH(0));
          for (const nlattr* a = first; mnl_attr_ok(a, alen); a = mnl_attr_next(a)) {
            alen -= static_cast<int>(MNL_ALIGN(a->nla_len));
            collect(a, &nt);
          }
          counters_.unknown_attributes += nt.unknown;
          if (nt.tb[RTA_GATEWAY]) {
            if (!read_addr(nt.tb[RTA_GATEWAY], rtm->rtm_family, nh.gateway)) return fail("bad nexthop RTA_GATEWAY");
            nh.family = rtm->rtm_family;
          }
          if (!read_vni(nt.tb[RTA_ENCAP_TYPE], nt.tb[RTA_ENCAP], nh.vni, counters_.unknown_attributes))
            return fail("bad nexthop RTA_ENCAP");
          u.nexthops.push_back(nh);
          left -= RTNH_ALIGN(rtnh->rtnh_len);
          rtnh = reinterpret_cast<const rtnexthop*>(reinterpret_cast<const uint8_t*>(rtnh) + RTNH_ALIGN(rtnh->rtnh_len));
        }
      } else if (t.tb[RTA_GATEWAY] || t.tb[RTA_OIF]) {
        NextHop nh;
        if (t.tb[RTA_GATEWAY]) {
          if (!read_addr(t.tb[RTA_GATEWAY], rtm->rtm_family, nh.gateway)) return fail("bad RTA_GATEWAY");
          nh.family = rtm->rtm_family;
        }
        if (t.tb[RTA_OIF] && !read_u32(t.tb[RTA_OIF], nh.ifindex)) return fail("bad RTA_OIF");
        if (!read_vni(t.tb[RTA_ENCAP_TYPE], t.tb[RTA_ENCAP], nh.vni, counters_.unknown_attributes))
          return fail("bad RTA_ENCAP");
        u.nexthops.push_back(nh);
      }
      (u.add ? counters_.new_route : counters_.del_route)++;
      if (on_route) on_route(u);
      return;
    }
    case RTM_NEWNEXTHOP:
    case RTM_DELNEXTHOP: {
      if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nhmsg))) return fail("shorter than a nexthop header");
      const auto* nhm = static_cast<const nhmsg*>(mnl_nlmsg_get_payload(nlh));
      NexthopUpdate u;
      u.add = nlh->nlmsg_type == RTM_NEWNEXTHOP;
      AttrTable t;
      t.max = NHA_MAX;
      if (mnl_attr_parse(nlh, sizeof(nhmsg), collect, &t) < 0) return fail("bad attributes");
      counters_.unknown_attributes += t.unknown;
      if (!read_u32(t.tb[NHA_ID], u.id)) return fail("missing or bad NHA_ID");
      u.blackhole = t.tb[NHA_BLACKHOLE] != nullptr;
      if (t.tb[NHA_GROUP]) {
        size_t n = mnl_attr_get_payload_len(t.tb[NHA_GROUP]);
        if (n == 0 || n % sizeof(nexthop_grp) != 0) return fail("bad NHA_GROUP size");
        const auto* g = static_cast<const nexthop_grp*>(mnl_attr_get_payload(t.tb[NHA_GROUP]));
        for (size_t i = 0; i < n / sizeof(nexthop_grp); i++)
          u.group.emplace_back(g[i].id, static_cast<uint8_t>(g[i].weight + 1));
      } else {
        if (t.tb[NHA_GATEWAY]) {
          if (!read_addr(t.tb[NHA_GATEWAY], nhm->nh_family, u.nexthop.gateway)) return fail("bad NHA_GATEWAY");
          u.nexthop.family = nhm->nh_family;
        }
        if (t.tb[NHA_OIF] && !read_u32(t.tb[NHA_OIF], u.nexthop.ifindex)) return fail("bad NHA_OIF");
        if (!read_vni(t.tb[NHA_ENCAP_TYPE], t.tb[NHA_ENCAP], u.nexthop.vni, counters_.unknown_attributes))
          return fail("bad NHA_ENCAP");
      }
      (u.add ? counters_.new_nexthop : counters_.del_nexthop)++;
      if (on_nexthop) on_nexthop(u);
      return;
    }
    default:
      counters_.other_messages++;
  }
}

}  // namespace weft::route
