// HostLink — the kernel side of a host path, over rtnetlink (libmnl), on the
// control thread.
//
// Two sockets:
//   * requests: synchronous request/ack (RTM_GETLINK, RTM_GETADDR dumps,
//     RTM_NEWLINK, RTM_NEWADDR, RTM_DELADDR), with a receive timeout so a
//     kernel that never answers cannot hang the control thread. Extended
//     acks are on: the kernel's own reason is part of every error message.
//   * events: RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR and RTNLGRP_IPV6_IFADDR on a
//     Boost.Asio stream_descriptor; each message becomes a HostLinkEvent
//     handed to a callback. Nothing here throws into the event loop.
//
// apply() makes one kernel interface match a HostLinkSpec (MAC, MTU, up,
// addresses) and changes only what differs. A MAC change on an interface
// that is up sets it down and up again, so the kernel makes its IPv6
// link-local from the new MAC (the same fe80:: EUI-64 as Weft's); give a
// net_tap port `mac=` in its args to spare that. It removes only addresses it
// added itself (`owned`), so what the kernel made (the IPv6 link-local) or
// an operator added stays.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "weft/net.hpp"

struct mnl_socket;
struct nlmsghdr;

namespace weft::route {

// What a kernel interface should look like.
struct HostLinkSpec {
  std::string ifname;
  Mac mac;
  uint32_t mtu = 1500;
  std::vector<Prefix> addresses;  // host bits kept: "192.0.2.1/24"
  bool up = true;
  bool operator==(const HostLinkSpec&) const = default;
};

// A kernel interface as RTM_GETLINK reports it.
struct HostLinkInfo {
  uint32_t ifindex = 0;
  std::string ifname;
  Mac mac;
  uint32_t mtu = 0;
  bool up = false;       // IFF_UP (administratively)
  bool carrier = false;  // IFF_LOWER_UP: a tap's other side (a queue) is attached
};

// One address of a kernel interface (RTM_GETADDR).
struct HostAddress {
  Prefix prefix;
  bool permanent = false;  // IFA_F_PERMANENT: configured, not made by the kernel (SLAAC, link-local)
};

// What the event socket saw.
struct HostLinkEvent {
  enum class Kind { LinkNew, LinkDel, AddrNew, AddrDel, Overrun };
  Kind kind = Kind::LinkNew;
  uint32_t ifindex = 0;
  std::string ifname;  // LinkNew/LinkDel
  Mac mac;             // LinkNew
  uint32_t mtu = 0;    // LinkNew
  bool up = false, carrier = false;  // LinkNew
  Prefix prefix;       // AddrNew/AddrDel
};

// What apply() did.
struct HostLinkResult {
  bool found = false;          // the interface exists
  HostLinkInfo link;           // as it is after the changes
  std::vector<std::string> changes;  // "mac 02:..", "mtu 1400", "up", "add 192.0.2.1/24", "del ..."
  std::string error;           // every refused change, "; "-separated ("" none)
};

class HostLink final : public std::enable_shared_from_this<HostLink> {
 public:
  HostLink() = default;
  ~HostLink();
  HostLink(const HostLink&) = delete;
  HostLink& operator=(const HostLink&) = delete;

  // Opens the request socket; "" or why not.
  std::string open(int timeout_ms = 2000);
  bool is_open() const { return req_ != nullptr; }
  // Opens the event socket on `io` and hands every event to `on_event`; "" or why not.
  std::string listen(boost::asio::io_context& io, std::function<void(const HostLinkEvent&)> on_event);
  // Closes both sockets (what was applied stays in the kernel).
  void close();

  // The interface named `ifname`: nullopt when there is none (err stays "")
  // or the request failed (err says why).
  std::optional<HostLinkInfo> link(const std::string& ifname, std::string& err);
  std::vector<HostAddress> addresses(uint32_t ifindex, std::string& err);

  // Makes interface spec.ifname match `spec`; `owned` holds the addresses
  // this host path added (in: from earlier calls, out: updated).
  HostLinkResult apply(const HostLinkSpec& spec, std::set<Prefix>& owned);
  // Removes the addresses in `owned` from `ifname` (an interface no longer
  // configured); returns the errors ("" none).
  std::string release(const std::string& ifname, std::set<Prefix>& owned);

  // One datagram as the event socket read it (public: a fuzz target feeds it).
  void on_datagram(const uint8_t* buf, size_t n);

  uint64_t requests() const { return requests_; }
  uint64_t overruns() const { return overruns_; }
  const std::string& listen_error() const { return listen_error_; }

 private:
  // Sends `nlh` and reads until its ack (or the end of a dump); `each` sees
  // every answer message. Returns 0 or the kernel's errno, `err` its words.
  int request(nlmsghdr* nlh, const std::function<void(const nlmsghdr*)>& each, std::string& err);
  int set_link(uint32_t ifindex, const Mac* mac, const uint32_t* mtu, std::optional<bool> up, std::string& err);
  int change_address(uint16_t type, uint32_t ifindex, const Prefix& p, std::string& err);
  void read_more();

  mnl_socket* req_ = nullptr;
  mnl_socket* ev_ = nullptr;
  uint32_t seq_ = 0;
  std::optional<boost::asio::posix::stream_descriptor> sd_;
  std::function<void(const HostLinkEvent&)> on_event_;
  std::vector<uint8_t> rbuf_;
  std::string listen_error_;
  uint64_t requests_ = 0, overruns_ = 0;
};

// Parses an RTM_NEWLINK/RTM_DELLINK message (false: malformed).
bool parse_link(const nlmsghdr* nlh, HostLinkInfo& out);
// Parses an RTM_NEWADDR/RTM_DELADDR message (false: malformed or not IPv4/IPv6).
bool parse_address(const nlmsghdr* nlh, uint32_t& ifindex, HostAddress& out);

}  // namespace weft::route
