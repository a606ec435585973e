// The host path's kernel side against the real kernel: HostLink and
// HostPathControl on veth pairs and tap devices in a network namespace of
// the test's own (unshare(CLONE_NEWNET), left at the end of each case).
// The kernel's view is read back with iproute2 (`ip -j`), an independent
// netlink client. Event messages for the parser are built with libmnl.
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "control/host_link.hpp"
#include "control/host_path_service.hpp"
#include "scratch_netns.hpp"

using namespace weft;
using namespace weft::route;
using namespace std::chrono_literals;

using weft::test::ScratchNetns;
using weft::test::sh;

namespace {

// `ip -j addr show dev NAME`, the kernel's view of one interface.
nlohmann::json kernel(const std::string& ifname) {
  auto j = nlohmann::json::parse(sh("ip -j addr show dev " + ifname));
  REQUIRE(j.size() == 1);
  return j[0];
}

bool has_address(const nlohmann::json& k, const std::string& prefix) {
  for (const auto& a : k["addr_info"])
    if (a["local"].get<std::string>() + "/" + std::to_string(a["prefixlen"].get<int>()) == prefix) return true;
  return false;
}

bool has_flag(const nlohmann::json& k, const std::string& f) {
  for (const auto& x : k["flags"])
    if (x == f) return true;
  return false;
}

Prefix P(const char* s) { return *Prefix::parse(s); }

HostLinkSpec spec_of(const std::string& ifname, uint32_t mtu, std::vector<Prefix> addrs) {
  HostLinkSpec s;
  s.ifname = ifname;
  s.mac = *Mac::parse("02:00:00:00:0a:01");
  s.mtu = mtu;
  s.addresses = std::move(addrs);
  return s;
}

bool run_until(boost::asio::io_context& io, const std::function<bool()>& cond, std::chrono::milliseconds limit = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (io.stopped()) io.restart();
    io.run_for(5ms);
  }
  return true;
}

void make_veth() {
  sh("ip link add hpa type veth peer name hpb");
  sh("ip link set hpb up");
}

}  // namespace

TEST_CASE("HostLink makes a kernel interface match its spec and removes only what it added", "[hostpath]") {
  ScratchNetns ns;
  make_veth();
  sh("ip link set hpa up");  // veth changes its MAC only while down: HostLink handles that
  HostLink nl;
  REQUIRE(nl.open().empty());
  std::set<Prefix> owned;

  HostLinkSpec s = spec_of("hpa", 1400, {P("192.0.2.1/24"), P("2001:db8::1/64")});
  HostLinkResult r = nl.apply(s, owned);
  INFO(r.error);
  REQUIRE(r.found);
  CHECK(r.error.empty());
  CHECK(r.link.ifindex == if_nametoindex("hpa"));
  nlohmann::json k = kernel("hpa");
  CHECK(k["address"] == "02:00:00:00:0a:01");
  CHECK(k["mtu"] == 1400);
  CHECK(has_flag(k, "UP"));
  CHECK(has_address(k, "192.0.2.1/24"));
  CHECK(has_address(k, "2001:db8::1/64"));
  CHECK(owned.size() == 2);

  // The kernel's own link-local (EUI-64 of the same MAC) and an operator's address.
  for (int i = 0; i < 200 && !has_address(kernel("hpa"), "fe80::ff:fe00:a01/64"); i++) usleep(10000);
  CHECK(has_address(kernel("hpa"), "fe80::ff:fe00:a01/64"));
  sh("ip addr add 198.51.100.9/24 dev hpa");

  // The same spec again: nothing to do.
  r = nl.apply(s, owned);
  CHECK(r.changes.empty());
  CHECK(r.error.empty());

  // A new spec: the MTU changes, one address goes, one comes.
  s = spec_of("hpa", 1500, {P("192.0.2.1/24"), P("203.0.113.1/24")});
  r = nl.apply(s, owned);
  INFO(r.error);
  CHECK(r.error.empty());
  CHECK(r.changes == std::vector<std::string>{"mtu 1500", "add 203.0.113.1/24", "del 2001:db8::1/64"});
  k = kernel("hpa");
  CHECK(k["mtu"] == 1500);
  CHECK(has_address(k, "203.0.113.1/24"));
  CHECK_FALSE(has_address(k, "2001:db8::1/64"));
  CHECK(has_address(k, "198.51.100.9/24"));        // not ours: stays
  CHECK(has_address(k, "fe80::ff:fe00:a01/64"));   // the kernel's: stays

  // A change the kernel refuses: the message names the change and the kernel's reason.
  r = nl.apply(spec_of("hpa", 70000, {P("192.0.2.1/24"), P("203.0.113.1/24")}), owned);
  CHECK(r.found);
  CHECK(r.error.find("set MTU 70000 on hpa: Invalid argument") == 0);
  CHECK(kernel("hpa")["mtu"] == 1500);

  // An interface that is not there.
  std::set<Prefix> none;
  r = nl.apply(spec_of("nosuch0", 1500, {}), none);
  CHECK_FALSE(r.found);
  CHECK(r.error.empty());

  // Releasing takes away only what was added.
  CHECK(nl.release("hpa", owned).empty());
  k = kernel("hpa");
  CHECK_FALSE(has_address(k, "192.0.2.1/24"));
  CHECK_FALSE(has_address(k, "203.0.113.1/24"));
  CHECK(has_address(k, "198.51.100.9/24"));
  CHECK(owned.empty());
}

TEST_CASE("HostPathControl: deleted underneath, re-created, changed by hand, reconfigured", "[hostpath]") {
  ScratchNetns ns;
  make_veth();
  boost::asio::io_context io;
  auto c = std::make_shared<HostPathControl>();
  HostPathSpec wan{"wan", spec_of("hpa", 1400, {P("192.0.2.1/24"), P("2001:db8::1/64")})};
  c->configure({wan});
  c->start(io);
  REQUIRE(c->entries().size() == 1);
  const auto& l = [&]() -> const HostPathControl::Link& { return c->entries()[0]; };
  CHECK(l().state == HostPathControl::State::Ok);
  const uint32_t first = if_nametoindex("hpa");
  CHECK(l().ifindex == first);
  CHECK(c->interface_of(first) == std::optional<std::string>("wan"));
  CHECK(c->ifindex_of("wan") == first);
  CHECK(c->health().state == ServiceHealth::State::Ok);

  SECTION("deleted, then an interface of that name comes back") {
    sh("ip link del hpa");
    REQUIRE(run_until(io, [&] { return l().state == HostPathControl::State::Missing; }));
    ServiceHealth h = c->health();
    INFO(h.detail);
    CHECK(h.state == ServiceHealth::State::Degraded);
    CHECK(h.detail.find("hpa (wan): the kernel interface hpa was deleted") == 0);
    CHECK(c->counters().deleted == 1);
    CHECK_FALSE(c->interface_of(first).has_value());

    make_veth();
    REQUIRE(run_until(io, [&] { return l().state == HostPathControl::State::Ok; }));
    const uint32_t second = if_nametoindex("hpa");
    CHECK(l().ifindex == second);
    CHECK(c->interface_of(second) == std::optional<std::string>("wan"));
    CHECK(c->counters().reappeared == 1);
    nlohmann::json k = kernel("hpa");
    CHECK(k["address"] == "02:00:00:00:0a:01");
    CHECK(k["mtu"] == 1400);
    CHECK(has_address(k, "192.0.2.1/24"));
    CHECK(has_address(k, "2001:db8::1/64"));
    h = c->health();
    CHECK(h.state == ServiceHealth::State::Ok);
    CHECK(h.last_error.find("was deleted") != std::string::npos);  // kept after recovery
  }

  SECTION("changes made by hand are set back") {
    sh("ip addr del 192.0.2.1/24 dev hpa");
    sh("ip link set hpa mtu 1300");
    REQUIRE(run_until(io, [&] {
      nlohmann::json k = kernel("hpa");
      return has_address(k, "192.0.2.1/24") && k["mtu"] == 1400;
    }));
    CHECK(c->counters().restored >= 1);  // one read may set both back
    CHECK(l().state == HostPathControl::State::Ok);
  }

  SECTION("a tap nobody holds has no carrier") {
    sh("ip tuntap add hpt mode tap");
    HostPathSpec tap{"lan", spec_of("hpt", 1500, {P("198.51.100.1/24")})};
    tap.link.mac = *Mac::parse("02:00:00:00:0b:01");
    c->configure({wan, tap});
    REQUIRE(c->entries().size() == 2);
    CHECK(c->entries()[1].state == HostPathControl::State::NoCarrier);
    CHECK(has_address(kernel("hpt"), "198.51.100.1/24"));
    CHECK(c->health().state == ServiceHealth::State::Degraded);
    CHECK(c->health().detail.find("hpt (lan): hpt has no carrier") == 0);
  }

  SECTION("a live reconfiguration touches only what changed") {
    const uint64_t applied = c->counters().applied;
    c->configure({wan});  // unchanged: not applied again
    CHECK(c->counters().applied == applied);
    HostPathSpec changed = wan;
    changed.link.mtu = 1450;
    changed.link.addresses = {P("192.0.2.1/24")};
    c->configure({changed});
    CHECK(c->counters().applied == applied + 1);
    nlohmann::json k = kernel("hpa");
    CHECK(k["mtu"] == 1450);
    CHECK_FALSE(has_address(k, "2001:db8::1/64"));
    c->configure({});  // no longer a host path: its addresses go, the interface stays
    k = kernel("hpa");
    CHECK_FALSE(has_address(k, "192.0.2.1/24"));
    CHECK(c->entries().empty());
  }

  c->stop();
}

TEST_CASE("HostLink reads kernel events, and skips what is malformed", "[hostpath]") {
  // Messages built with libmnl, as the kernel would send them on the event socket.
  alignas(nlmsghdr) uint8_t buf[1024] = {};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWLINK;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_index = 7;
  ifi->ifi_flags = IFF_UP | (1u << 16);  // IFF_LOWER_UP (linux/if.h clashes with net/if.h)
  mnl_attr_put_strz(nlh, IFLA_IFNAME, "wtap0");
  const Mac mac = *Mac::parse("02:00:00:00:00:01");
  mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac.data());
  mnl_attr_put_u32(nlh, IFLA_MTU, 1400);
  const size_t link_len = nlh->nlmsg_len;
  nlmsghdr* a = mnl_nlmsg_put_header(buf + MNL_ALIGN(link_len));
  a->nlmsg_type = RTM_DELADDR;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(a, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET6;
  ifa->ifa_prefixlen = 64;
  ifa->ifa_index = 7;
  const Ip6 v6 = *Ip6::parse("2001:db8::1");
  mnl_attr_put(a, IFA_ADDRESS, 16, v6.data());
  const size_t total = MNL_ALIGN(link_len) + a->nlmsg_len;

  auto hl = std::make_shared<HostLink>();
  std::vector<HostLinkEvent> got;
  boost::asio::io_context io;
  ScratchNetns ns;  // the listener's socket lives in a namespace where nothing happens
  REQUIRE(hl->listen(io, [&](const HostLinkEvent& e) { got.push_back(e); }).empty());
  hl->on_datagram(buf, total);
  REQUIRE(got.size() == 2);
  CHECK(got[0].kind == HostLinkEvent::Kind::LinkNew);
  CHECK(got[0].ifindex == 7);
  CHECK(got[0].ifname == "wtap0");
  CHECK(got[0].mac == mac);
  CHECK(got[0].mtu == 1400);
  CHECK((got[0].up && got[0].carrier));
  CHECK(got[1].kind == HostLinkEvent::Kind::AddrDel);
  CHECK(got[1].prefix == P("2001:db8::1/64"));

  // Every truncation, and bytes that are no netlink at all: nothing crashes, nothing bogus comes out.
  for (size_t n = 0; n < total; n++) {
    got.clear();
    hl->on_datagram(buf, n);
    CHECK(got.size() <= 1);
  }
  std::vector<uint32_t> noise(256);
  uint32_t x = 12345;
  for (int round = 0; round < 2000; round++) {
    for (auto& w : noise) w = x = x * 1664525u + 1013904223u;
    noise[0] = 24 + (x % 64);  // a plausible nlmsg_len
    hl->on_datagram(reinterpret_cast<const uint8_t*>(noise.data()), noise.size() * 4);
  }
  // An address length that does not match its family is refused.
  got.clear();
  a = mnl_nlmsg_put_header(buf);
  a->nlmsg_type = RTM_NEWADDR;
  ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(a, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = 24;
  mnl_attr_put(a, IFA_LOCAL, 16, v6.data());
  hl->on_datagram(buf, a->nlmsg_len);
  CHECK(got.empty());
  hl->close();
}
