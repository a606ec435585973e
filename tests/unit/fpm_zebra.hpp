// What zebra sends a Fib service over FPM, built with libmnl, and a zebra
// stand-in that sends it: for the unit tests that install routes the way
// zebra does (test_fib, test_icmp); test_fpm uses its message builder and frame.
#pragma once

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "weft/net.hpp"

namespace weft::test {

// --- FPM frames ------------------------------------------------------------

struct Nl {
  std::vector<uint8_t> buf = std::vector<uint8_t>(8192, 0);
  nlmsghdr* nlh;
  explicit Nl(uint16_t type) {
    nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
  }
  std::vector<uint8_t> bytes() const { return {buf.begin(), buf.begin() + nlh->nlmsg_len}; }
};

inline std::vector<uint8_t> addr_bytes(int family, const char* text) {
  std::vector<uint8_t> a(family == AF_INET ? 4 : 16);
  REQUIRE(inet_pton(family, text, a.data()) == 1);
  return a;
}

struct Gw {
  const char* gw;  // nullptr: directly connected
  uint32_t oif;
};

// A route message: table > 255 goes in RTA_TABLE as zebra does.
// Deletes carry no route type, as zebra sends them.
inline std::vector<uint8_t> zroute(bool add, const char* prefix, std::vector<Gw> nhs = {}, uint32_t table = 254,
                           uint8_t type = RTN_UNICAST, uint32_t nhid = 0, uint8_t proto = RTPROT_STATIC) {
  const auto parsed = Prefix::parse(prefix);
  REQUIRE(parsed);
  const Prefix p = *parsed;
  int family = p.addr.family();
  Nl m(add ? RTM_NEWROUTE : RTM_DELROUTE);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(m.nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<uint8_t>(family);
  rtm->rtm_dst_len = p.len;
  rtm->rtm_table = static_cast<uint8_t>(table < 256 ? table : static_cast<uint32_t>(RT_TABLE_UNSPEC));
  rtm->rtm_protocol = proto;
  rtm->rtm_type = add ? type : static_cast<uint8_t>(RTN_UNSPEC);
  mnl_attr_put(m.nlh, RTA_DST, family == AF_INET ? 4 : 16, p.addr.data());
  if (table >= 256) mnl_attr_put_u32(m.nlh, RTA_TABLE, table);
  if (nhid) mnl_attr_put_u32(m.nlh, RTA_NH_ID, nhid);
  if (nhs.size() == 1) {
    if (nhs[0].gw) {
      auto a = addr_bytes(family, nhs[0].gw);
      mnl_attr_put(m.nlh, RTA_GATEWAY, a.size(), a.data());
    }
    mnl_attr_put_u32(m.nlh, RTA_OIF, nhs[0].oif);
  } else if (nhs.size() > 1) {
    nlattr* nest = mnl_attr_nest_start(m.nlh, RTA_MULTIPATH);
    for (const auto& g : nhs) {
      auto* rtnh = static_cast<rtnexthop*>(mnl_nlmsg_get_payload_tail(m.nlh));
      m.nlh->nlmsg_len += MNL_ALIGN(sizeof(rtnexthop));
      std::memset(rtnh, 0, sizeof *rtnh);
      rtnh->rtnh_ifindex = static_cast<int>(g.oif);
      if (g.gw) {
        auto a = addr_bytes(family, g.gw);
        mnl_attr_put(m.nlh, RTA_GATEWAY, a.size(), a.data());
      }
      rtnh->rtnh_len = static_cast<unsigned short>(static_cast<uint8_t*>(mnl_nlmsg_get_payload_tail(m.nlh)) -
                                                   reinterpret_cast<uint8_t*>(rtnh));
    }
    mnl_attr_nest_end(m.nlh, nest);
  }
  return m.bytes();
}

inline std::vector<uint8_t> nexthop(uint32_t id, const char* gw, uint32_t oif) {
  Nl m(RTM_NEWNEXTHOP);
  auto* nhm = static_cast<nhmsg*>(mnl_nlmsg_put_extra_header(m.nlh, sizeof(nhmsg)));
  nhm->nh_family = AF_INET;
  mnl_attr_put_u32(m.nlh, NHA_ID, id);
  auto a = addr_bytes(AF_INET, gw);
  mnl_attr_put(m.nlh, NHA_GATEWAY, 4, a.data());
  mnl_attr_put_u32(m.nlh, NHA_OIF, oif);
  return m.bytes();
}

// An FPM frame around netlink messages (type 1: netlink).
inline std::vector<uint8_t> frame(const std::vector<std::vector<uint8_t>>& msgs, uint8_t version = 1,
                                  uint8_t type = 1) {
  std::vector<uint8_t> f{version, type, 0, 0};
  for (const auto& m : msgs) f.insert(f.end(), m.begin(), m.end());
  f[2] = static_cast<uint8_t>(f.size() >> 8);
  f[3] = static_cast<uint8_t>(f.size());
  return f;
}

// --- a zebra stand-in: a blocking TCP client ---------------------------------

struct Zebra {
  int fd = -1;
  explicit Zebra(uint16_t port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Zebra() {
    if (fd >= 0) ::close(fd);
  }
  void send(const std::vector<uint8_t>& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      REQUIRE(n > 0);
      off += static_cast<size_t>(n);
    }
  }
  // True once the server closed its end (recv returns 0 or an error).
  bool closed() {
    uint8_t b;
    ssize_t n = ::recv(fd, &b, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }
};

}  // namespace weft::test
