// The netlink messages in a buffer (a datagram read from a netlink socket, or
// an FPM frame's payload), walked without trusting their lengths. One walk
// for every reader of netlink in Weft and its plugins.
//
// Not libmnl's mnl_nlmsg_ok/mnl_nlmsg_next: they compare nlmsg_len as an
// int, so a length of 2^31 or more passes the check and the walk leaves the
// buffer. Here each header's unsigned length is checked against the bytes
// left, and the step to the next message (the length rounded up to 4 bytes)
// never goes past the end.
//
//   auto w = weft::walk_netlink(buf, len, [&](const nlmsghdr* nlh) { ...; return true; });
//   if (w.leftover) ...  // bytes at the end that do not hold a whole message: malformed
//
// The buffer must be 4-byte aligned (NLMSG_ALIGNTO), as a socket read into
// an aligned buffer is; a message's body is read through its header
// (NLMSG_DATA, mnl_nlmsg_get_payload) after checking nlmsg_len covers it.
#pragma once

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>

namespace weft {

struct NetlinkWalk {
  size_t messages = 0;  // messages given to the callback
  size_t leftover = 0;  // bytes after the last whole message (0 when the walk reached the end or was stopped)
  bool stopped = false;  // the callback returned false
};

// Calls fn(const nlmsghdr*) for each whole message in [buf, buf + len), in
// order, until the end, a message whose length is shorter than its header
// or longer than what is left (then `leftover` counts the bytes from there),
// or fn returning false.
template <class F>
NetlinkWalk walk_netlink(const void* buf, size_t len, F&& fn) {
  NetlinkWalk w;
  const auto* p = static_cast<const uint8_t*>(buf);
  while (len > 0) {
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(p);
    if (len < sizeof(nlmsghdr) || nlh->nlmsg_len < sizeof(nlmsghdr) || nlh->nlmsg_len > len) {
      w.leftover = len;
      return w;
    }
    w.messages++;
    if (!fn(nlh)) {
      w.stopped = true;
      return w;
    }
    const size_t step = (static_cast<size_t>(nlh->nlmsg_len) + NLMSG_ALIGNTO - 1) & ~size_t{NLMSG_ALIGNTO - 1};
    if (step >= len) return w;  // the last message (its padding may be missing)
    p += step;
    len -= step;
  }
  return w;
}

}  // namespace weft
