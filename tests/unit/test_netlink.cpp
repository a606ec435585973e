// weft::walk_netlink (weft/netlink.hpp): the one walk over netlink messages
// that the FPM decoder, NeighborSink and the host path's link reader share.
// Buffers are built by hand with the kernel's own header layout.
#include <catch2/catch.hpp>
#include <linux/netlink.h>

#include <cstring>
#include <vector>

#include "weft/netlink.hpp"

namespace {

// A buffer of messages with the given nlmsg_len values, each followed by
// its body and padded to 4 bytes (`pad_last` false: the last one is not).
struct Buffer {
  alignas(nlmsghdr) uint8_t bytes[512] = {};
  size_t len = 0;
  void put(uint32_t nlmsg_len, uint16_t type, size_t body, bool pad = true) {
    nlmsghdr h{};
    h.nlmsg_len = nlmsg_len;
    h.nlmsg_type = type;
    std::memcpy(bytes + len, &h, sizeof h);
    len += sizeof h + body;
    if (pad) len = (len + 3) & ~size_t{3};
  }
};

std::vector<uint16_t> types(const Buffer& b, weft::NetlinkWalk* out = nullptr, int stop_after = -1) {
  std::vector<uint16_t> seen;
  auto w = weft::walk_netlink(b.bytes, b.len, [&](const nlmsghdr* nlh) {
    seen.push_back(nlh->nlmsg_type);
    return static_cast<int>(seen.size()) != stop_after;
  });
  if (out) *out = w;
  return seen;
}

}  // namespace

TEST_CASE("walk_netlink gives every whole message, the last one unpadded included, and nothing left over",
          "[netlink]") {
  Buffer b;
  b.put(sizeof(nlmsghdr) + 5, 100, 5);          // padded to 24
  b.put(sizeof(nlmsghdr), 101, 0);              // header only
  b.put(sizeof(nlmsghdr) + 3, 102, 3, false);   // the datagram ends without padding
  weft::NetlinkWalk w;
  CHECK(types(b, &w) == std::vector<uint16_t>{100, 101, 102});
  CHECK(w.messages == 3);
  CHECK(w.leftover == 0);
  CHECK_FALSE(w.stopped);
}

TEST_CASE("walk_netlink stops at a length shorter than a header, longer than what is left, or of 2^31 and more, "
          "and says how many bytes it left",
          "[netlink]") {
  for (uint32_t bad : {uint32_t{0}, uint32_t{sizeof(nlmsghdr) - 1}, uint32_t{1000}, uint32_t{0x80000000u},
                       uint32_t{0xffffffffu}}) {
    CAPTURE(bad);
    Buffer b;
    b.put(sizeof(nlmsghdr) + 4, 100, 4);
    const size_t good = b.len;
    b.put(bad, 101, 8);
    weft::NetlinkWalk w;
    CHECK(types(b, &w) == std::vector<uint16_t>{100});
    CHECK(w.leftover == b.len - good);
  }
  // A tail shorter than a header.
  Buffer b;
  b.put(sizeof(nlmsghdr), 100, 0);
  b.len += 7;
  weft::NetlinkWalk w;
  CHECK(types(b, &w) == std::vector<uint16_t>{100});
  CHECK(w.leftover == 7);
  // Nothing at all: no message, nothing left over.
  CHECK(weft::walk_netlink(b.bytes, 0, [](const nlmsghdr*) { return true; }).messages == 0);
}

TEST_CASE("walk_netlink ends when the callback returns false", "[netlink]") {
  Buffer b;
  for (uint16_t t = 1; t <= 4; t++) b.put(sizeof(nlmsghdr) + 4, t, 4);
  weft::NetlinkWalk w;
  CHECK(types(b, &w, 2) == std::vector<uint16_t>{1, 2});
  CHECK(w.stopped);
  CHECK(w.leftover == 0);
}
