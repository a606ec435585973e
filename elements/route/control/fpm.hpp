// FPM (Forwarding Plane Manager) decoding: the byte stream zebra's
// dplane_fpm_nl module sends, as frames of netlink route messages.
//
//   frame  = version u8 (1) | type u8 (1: netlink) | length u16 big-endian,
//            counting these 4 bytes | one or more netlink messages (host order)
//
// FpmDecoder reassembles frames from a TCP stream and turns each netlink
// message into a RouteUpdate or NexthopUpdate (parsed with libmnl). A framing
// error means the stream is lost (the connection must be closed); a bad
// netlink message inside a good frame is dropped alone. Both are counted.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "weft/net.hpp"

namespace weft::route {

struct NextHop {
  uint8_t family = 0;  // of the gateway; 0: none (directly connected)
  std::array<uint8_t, 16> gateway{};
  uint32_t ifindex = 0;
  uint32_t vni = 0;   // VXLAN VNI (FPM encap type 100), 0: none
  uint8_t weight = 1;
  bool operator==(const NextHop& o) const;
  std::string str() const;
};

enum class RouteType : uint8_t { Unicast = 1, Blackhole = 6, Unreachable = 7, Prohibit = 8 };
const char* to_string(RouteType t);
// zebra's rtm_protocol values by name ("connected" for RTPROT_KERNEL, which
// zebra uses for connected routes, "static" for RTPROT_ZSTATIC, "bgp", ...);
// the number for others.
std::string protocol_name(uint8_t p);

struct RouteUpdate {
  bool add = true;  // RTM_NEWROUTE / RTM_DELROUTE
  uint32_t table = 254;
  Prefix dst;  // host bits cleared
  RouteType type = RouteType::Unicast;
  uint8_t protocol = 0;
  uint32_t metric = 0;
  uint32_t nhid = 0;  // RTA_NH_ID: the route uses nexthop (group) `nhid`
  std::vector<NextHop> nexthops;  // RTA_GATEWAY/RTA_OIF or RTA_MULTIPATH
};

struct NexthopUpdate {
  bool add = true;  // RTM_NEWNEXTHOP / RTM_DELNEXTHOP
  uint32_t id = 0;
  bool blackhole = false;
  NextHop nexthop;  // a single nexthop
  std::vector<std::pair<uint32_t, uint8_t>> group;  // a group: member ids and weights
};

struct FpmCounters {
  uint64_t bytes = 0, frames = 0, messages = 0;
  uint64_t new_route = 0, del_route = 0, new_nexthop = 0, del_nexthop = 0, other_messages = 0;
  uint64_t framing_errors = 0;   // bad version/type/length: the stream is lost
  uint64_t message_errors = 0;   // a malformed netlink message (dropped alone)
  uint64_t truncated_frames = 0; // a frame cut short by the end of its connection (dropped)
  uint64_t unknown_attributes = 0;
};

class FpmDecoder {
 public:
  std::function<void(const RouteUpdate&)> on_route;
  std::function<void(const NexthopUpdate&)> on_nexthop;
  std::function<void(const std::string&)> on_error;  // one line per problem, for the log

  // Consumes stream bytes. Returns false on a framing error: the stream
  // cannot be resynchronized and the connection must be closed.
  bool feed(const uint8_t* data, size_t len);
  void reset() { buffer_.clear(); }
  // Bytes of a frame not complete yet.
  size_t buffered() const { return buffer_.size(); }
  // The connection ended: a frame begun is lost. Counts it (truncated_frames)
  // and returns its bytes (0: none was begun).
  size_t end_of_stream();
  const FpmCounters& counters() const { return counters_; }
  static constexpr size_t kHeader = 4;
  static constexpr size_t kMaxFrame = 65535;

 private:
  void frame(const uint8_t* payload, size_t len);
  void message(const void* nlh);
  std::vector<uint8_t> buffer_;
  FpmCounters counters_;
};

}  // namespace weft::route
