// FPM decoding and the RIB. Frames are built with libmnl's message builder,
// a code path independent of the decoder under test.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <random>

#include "control/fpm.hpp"
#include "control/rib.hpp"
#include "fpm_zebra.hpp"

using namespace weft::route;
using weft::Prefix;

namespace {

using Msg = weft::test::Nl;  // one netlink message under construction
using weft::test::addr_bytes;
using weft::test::frame;

Msg route(uint16_t type, int family, const char* dst, uint8_t len, uint8_t rtype = RTN_UNICAST) {
  Msg m(type);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(m.nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<uint8_t>(family);
  rtm->rtm_dst_len = len;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_STATIC;
  rtm->rtm_type = rtype;
  auto a = addr_bytes(family, dst);
  mnl_attr_put(m.nlh, RTA_DST, a.size(), a.data());
  return m;
}

void put_gw(Msg& m, int family, const char* gw, uint32_t oif) {
  auto a = addr_bytes(family, gw);
  mnl_attr_put(m.nlh, RTA_GATEWAY, a.size(), a.data());
  mnl_attr_put_u32(m.nlh, RTA_OIF, oif);
}

Msg nexthop(uint16_t type, uint32_t id) {
  Msg m(type);
  auto* nhm = static_cast<nhmsg*>(mnl_nlmsg_put_extra_header(m.nlh, sizeof(nhmsg)));
  nhm->nh_family = AF_INET;
  mnl_attr_put_u32(m.nlh, NHA_ID, id);
  return m;
}

struct Sink {
  FpmDecoder dec;
  std::vector<RouteUpdate> routes;
  std::vector<NexthopUpdate> nexthops;
  std::vector<std::string> errors;
  Sink() {
    dec.on_route = [this](const RouteUpdate& u) { routes.push_back(u); };
    dec.on_nexthop = [this](const NexthopUpdate& u) { nexthops.push_back(u); };
    dec.on_error = [this](const std::string& e) { errors.push_back(e); };
  }
  bool feed(const std::vector<uint8_t>& b) { return dec.feed(b.data(), b.size()); }
};

Prefix pfx(const char* s) {
  const auto p = Prefix::parse(s);
  REQUIRE(p);
  return *p;
}

}  // namespace

TEST_CASE("FPM: an IPv4 route with a gateway", "[fpm]") {
  Sink s;
  Msg m = route(RTM_NEWROUTE, AF_INET, "10.1.2.0", 24);
  put_gw(m, AF_INET, "192.0.2.1", 7);
  mnl_attr_put_u32(m.nlh, RTA_PRIORITY, 20);
  REQUIRE(s.feed(frame({m.bytes()})));
  REQUIRE(s.routes.size() == 1);
  const RouteUpdate& u = s.routes[0];
  CHECK(u.add);
  CHECK(u.dst.str() == "10.1.2.0/24");
  CHECK(u.table == 254);
  CHECK(u.metric == 20);
  REQUIRE(u.nexthops.size() == 1);
  CHECK(u.nexthops[0].str() == "via 192.0.2.1 if 7");
  CHECK(s.dec.counters().frames == 1);
  CHECK(s.dec.counters().new_route == 1);
}

TEST_CASE("FPM: DEL and NEW in one frame are both applied, in order", "[fpm]") {
  Sink s;
  Msg del = route(RTM_DELROUTE, AF_INET, "10.9.0.0", 16);
  Msg add = route(RTM_NEWROUTE, AF_INET, "10.9.0.0", 16);
  put_gw(add, AF_INET, "192.0.2.9", 3);
  REQUIRE(s.feed(frame({del.bytes(), add.bytes()})));
  REQUIRE(s.routes.size() == 2);
  CHECK_FALSE(s.routes[0].add);
  CHECK(s.routes[1].add);
}

TEST_CASE("FPM: IPv6 multipath, blackhole, unreachable, tables, VXLAN VNI", "[fpm]") {
  Sink s;
  Msg mp = route(RTM_NEWROUTE, AF_INET6, "2001:db8:1::", 48);
  mnl_attr_put_u32(mp.nlh, RTA_TABLE, 1001);
  nlattr* nest = mnl_attr_nest_start(mp.nlh, RTA_MULTIPATH);
  for (const char* gw : {"fe80::1", "fe80::2"}) {
    auto* rtnh = static_cast<rtnexthop*>(mnl_nlmsg_get_payload_tail(mp.nlh));
    mp.nlh->nlmsg_len += MNL_ALIGN(sizeof(rtnexthop));
    std::memset(rtnh, 0, sizeof *rtnh);
    rtnh->rtnh_ifindex = 4;
    rtnh->rtnh_hops = 1;  // weight 2
    auto a = addr_bytes(AF_INET6, gw);
    mnl_attr_put(mp.nlh, RTA_GATEWAY, a.size(), a.data());
    mnl_attr_put_u16(mp.nlh, RTA_ENCAP_TYPE, 100);
    nlattr* enc = mnl_attr_nest_start(mp.nlh, RTA_ENCAP);
    mnl_attr_put_u32(mp.nlh, 0, 4242);
    mnl_attr_nest_end(mp.nlh, enc);
    rtnh->rtnh_len = static_cast<unsigned short>(static_cast<uint8_t*>(mnl_nlmsg_get_payload_tail(mp.nlh)) -
                                                 reinterpret_cast<uint8_t*>(rtnh));
  }
  mnl_attr_nest_end(mp.nlh, nest);
  Msg bh = route(RTM_NEWROUTE, AF_INET, "203.0.113.0", 24, RTN_BLACKHOLE);
  Msg un = route(RTM_NEWROUTE, AF_INET6, "2001:db8:dead::", 64, RTN_UNREACHABLE);
  REQUIRE(s.feed(frame({mp.bytes(), bh.bytes(), un.bytes()})));
  REQUIRE(s.routes.size() == 3);
  CHECK(s.routes[0].table == 1001);
  REQUIRE(s.routes[0].nexthops.size() == 2);
  CHECK(s.routes[0].nexthops[1].str() == "via fe80::2 if 4 vni 4242 weight 2");
  CHECK(s.routes[1].type == RouteType::Blackhole);
  CHECK(s.routes[2].type == RouteType::Unreachable);
  CHECK(s.routes[2].dst.str() == "2001:db8:dead::/64");
}

TEST_CASE("FPM: nexthop objects and groups resolve in the RIB and follow changes", "[fpm][rib]") {
  Sink s;
  Rib rib;
  std::vector<std::pair<std::string, std::string>> changes;
  rib.on_change = [&](const Rib::Key& k, const Resolved* r) {
    std::string v = r ? std::string(to_string(r->type)) : "withdrawn";
    if (r)
      for (const auto& nh : r->nexthops) v += " [" + nh.str() + "]";
    changes.emplace_back(k.prefix.str(), v);
  };
  s.dec.on_route = [&](const RouteUpdate& u) { rib.apply(u); };
  s.dec.on_nexthop = [&](const NexthopUpdate& u) { rib.apply(u); };
  Msg n1 = nexthop(RTM_NEWNEXTHOP, 10);
  auto g1 = addr_bytes(AF_INET, "192.0.2.1");
  mnl_attr_put(n1.nlh, NHA_GATEWAY, 4, g1.data());
  mnl_attr_put_u32(n1.nlh, NHA_OIF, 2);
  Msg n2 = nexthop(RTM_NEWNEXTHOP, 11);
  auto g2 = addr_bytes(AF_INET, "192.0.2.2");
  mnl_attr_put(n2.nlh, NHA_GATEWAY, 4, g2.data());
  mnl_attr_put_u32(n2.nlh, NHA_OIF, 3);
  Msg grp = nexthop(RTM_NEWNEXTHOP, 20);
  nexthop_grp members[2] = {{10, 0, 0, 0}, {11, 0, 0, 0}};
  mnl_attr_put(grp.nlh, NHA_GROUP, sizeof members, members);
  Msg r = route(RTM_NEWROUTE, AF_INET, "10.20.0.0", 16);
  mnl_attr_put_u32(r.nlh, RTA_NH_ID, 20);
  REQUIRE(s.feed(frame({n1.bytes(), n2.bytes(), grp.bytes(), r.bytes()})));
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].second == "unicast [via 192.0.2.1 if 2] [via 192.0.2.2 if 3]");
  // A member changes: the route is re-resolved.
  Msg n2b = nexthop(RTM_NEWNEXTHOP, 11);
  auto g3 = addr_bytes(AF_INET, "192.0.2.3");
  mnl_attr_put(n2b.nlh, NHA_GATEWAY, 4, g3.data());
  mnl_attr_put_u32(n2b.nlh, NHA_OIF, 3);
  REQUIRE(s.feed(frame({n2b.bytes()})));
  REQUIRE(changes.size() == 2);
  CHECK(changes[1].second == "unicast [via 192.0.2.1 if 2] [via 192.0.2.3 if 3]");
  // The route goes: withdrawn.
  Msg d = route(RTM_DELROUTE, AF_INET, "10.20.0.0", 16);
  REQUIRE(s.feed(frame({d.bytes()})));
  CHECK(changes.back().second == "withdrawn");
  CHECK(rib.resolved().empty());
}

TEST_CASE("FPM: frames split anywhere in the stream are reassembled", "[fpm]") {
  Sink s;
  std::vector<uint8_t> stream;
  for (int i = 0; i < 20; i++) {
    Msg m = route(RTM_NEWROUTE, AF_INET, ("10." + std::to_string(i) + ".0.0").c_str(), 16);
    put_gw(m, AF_INET, "192.0.2.1", 1);
    auto f = frame({m.bytes()});
    stream.insert(stream.end(), f.begin(), f.end());
  }
  for (uint8_t b : stream) REQUIRE(s.dec.feed(&b, 1));
  CHECK(s.routes.size() == 20);
  CHECK(s.dec.counters().frames == 20);
}

TEST_CASE("FPM: framing errors close the stream, malformed messages are dropped alone", "[fpm]") {
  Msg good = route(RTM_NEWROUTE, AF_INET, "10.0.0.0", 8);
  put_gw(good, AF_INET, "192.0.2.1", 1);
  {
    Sink s;
    CHECK_FALSE(s.feed(frame({good.bytes()}, 2)));
    CHECK(s.dec.counters().framing_errors == 1);
    CHECK(s.errors[0].find("version 2") != std::string::npos);
  }
  {
    Sink s;
    CHECK_FALSE(s.feed(frame({good.bytes()}, 1, 2)));
    CHECK(s.errors[0].find("message type 2") != std::string::npos);
  }
  {
    Sink s;
    CHECK_FALSE(s.feed({1, 1, 0, 3}));  // length shorter than the header itself
    CHECK(s.routes.empty());
  }
  {
    Sink s;  // a netlink message whose length runs past the frame
    auto f = frame({good.bytes()});
    auto* nlh = reinterpret_cast<nlmsghdr*>(f.data() + 4);
    nlh->nlmsg_len += 64;
    CHECK(s.feed(f));
    CHECK(s.routes.empty());
    CHECK(s.dec.counters().message_errors == 1);
  }
  {
    Sink s;  // a bad attribute (a 3-byte RTA_OIF) drops that message only
    Msg bad = route(RTM_NEWROUTE, AF_INET, "10.1.0.0", 16);
    uint8_t three[3] = {1, 2, 3};
    mnl_attr_put(bad.nlh, RTA_OIF, 3, three);
    CHECK(s.feed(frame({bad.bytes(), good.bytes()})));
    CHECK(s.routes.size() == 1);
    CHECK(s.dec.counters().message_errors == 1);
  }
  {
    Sink s;  // unknown attributes are counted and ignored
    Msg odd = route(RTM_NEWROUTE, AF_INET, "10.2.0.0", 16);
    put_gw(odd, AF_INET, "192.0.2.1", 1);
    mnl_attr_put_u32(odd.nlh, RTA_MAX + 5, 1);
    CHECK(s.feed(frame({odd.bytes()})));
    CHECK(s.routes.size() == 1);
    CHECK(s.dec.counters().unknown_attributes == 1);
  }
}

TEST_CASE("FPM: random and truncated input never crashes and is always accounted for", "[fpm][fuzz]") {
  std::mt19937 rng(20261121);
  std::vector<std::vector<uint8_t>> corpus;
  for (int i = 0; i < 8; i++) {
    Msg m = route(RTM_NEWROUTE, i % 2 ? AF_INET6 : AF_INET, i % 2 ? "2001:db8::" : "10.0.0.0", 24);
    if (i % 2) put_gw(m, AF_INET6, "fe80::1", 1);
    else put_gw(m, AF_INET, "192.0.2.1", 1);
    corpus.push_back(frame({m.bytes()}));
  }
  for (int iter = 0; iter < 20000; iter++) {
    Sink s;
    std::vector<uint8_t> input = corpus[rng() % corpus.size()];
    switch (rng() % 4) {
      case 0: input.resize(rng() % input.size()); break;              // truncated
      case 1: input[rng() % input.size()] ^= static_cast<uint8_t>(1 << (rng() % 8)); break;  // a bit flipped
      case 2: for (auto& b : input) b = static_cast<uint8_t>(rng()); break;                  // noise
      case 3: input[4 + rng() % (input.size() - 4)] = static_cast<uint8_t>(rng()); break;     // a byte inside
    }
    bool ok = s.dec.feed(input.data(), input.size());
    const FpmCounters& c = s.dec.counters();
    if (!ok) REQUIRE(c.framing_errors == 1);
    REQUIRE(c.messages >= c.new_route + c.del_route + c.new_nexthop + c.del_nexthop);
  }
}

TEST_CASE("RIB: a replay after reconnect withdraws only what was not re-sent", "[rib]") {
  Rib rib;
  std::vector<std::string> log;
  rib.on_change = [&](const Rib::Key& k, const Resolved* r) { log.push_back((r ? "+" : "-") + k.prefix.str()); };
  auto add = [&](const char* p, const char* gw) {
    RouteUpdate u;
    u.dst = pfx(p);
    NextHop nh;
    nh.family = AF_INET;
    inet_pton(AF_INET, gw, nh.gateway.data());
    u.nexthops.push_back(nh);
    rib.apply(u);
  };
  add("10.1.0.0/16", "192.0.2.1");
  add("10.2.0.0/16", "192.0.2.1");
  add("10.3.0.0/16", "192.0.2.1");
  log.clear();
  rib.begin_resync();
  add("10.1.0.0/16", "192.0.2.1");  // same as before: no change reported
  add("10.2.0.0/16", "192.0.2.9");  // changed
  CHECK(rib.resolved().size() == 3);  // nothing withdrawn while zebra replays
  CHECK(rib.end_resync() == 1);
  CHECK(log == std::vector<std::string>{"+10.2.0.0/16", "-10.3.0.0/16"});
}
