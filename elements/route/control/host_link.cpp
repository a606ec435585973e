#include "control/host_link.hpp"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

#include "weft/log.hpp"
#include "weft/netlink.hpp"

namespace weft::route {

namespace asio = boost::asio;

namespace {

// libmnl's mnl_attr_for_each is C (void* conversions); the same walk.
const nlattr* attrs_of(const nlmsghdr* nlh, size_t header) {
  return static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, header));
}
bool attr_ok(const nlmsghdr* nlh, const nlattr* a) {
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
  return mnl_attr_ok(a, static_cast<int>(tail - reinterpret_cast<const char*>(a)));
}

// The kernel's words for an NLMSG_ERROR: strerror, plus its extended ack
// message when it sent one ("Invalid argument (MTU greater than device maximum)").
std::string error_text(const nlmsghdr* nlh, const nlmsgerr* e) {
  std::string s = std::strerror(-e->error);
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return s;
  size_t off = sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) off += e->msg.nlmsg_len > sizeof(nlmsghdr) ? e->msg.nlmsg_len - sizeof(nlmsghdr) : 0;
  off = MNL_ALIGN(off);
  if (nlh->nlmsg_len < mnl_nlmsg_size(off)) return s;
  for (const nlattr* a = attrs_of(nlh, off); attr_ok(nlh, a); a = mnl_attr_next(a))
    if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
      s += std::string(" (") + mnl_attr_get_str(a) + ")";
  return s;
}

}  // namespace

bool parse_link(const nlmsghdr* nlh, HostLinkInfo& out) {
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifinfomsg))) return false;
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  out.ifindex = static_cast<uint32_t>(ifi->ifi_index);
  out.up = (ifi->ifi_flags & IFF_UP) != 0;
  out.carrier = (ifi->ifi_flags & IFF_LOWER_UP) != 0;
  for (const nlattr* a = attrs_of(nlh, sizeof(ifinfomsg)); attr_ok(nlh, a); a = mnl_attr_next(a)) {
    switch (mnl_attr_get_type(a)) {
      case IFLA_IFNAME:
        if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0) out.ifname = mnl_attr_get_str(a);
        break;
      case IFLA_ADDRESS:
        if (mnl_attr_get_payload_len(a) == 6) out.mac = Mac::of(static_cast<const uint8_t*>(mnl_attr_get_payload(a)));
        break;
      case IFLA_MTU:
        if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0) out.mtu = mnl_attr_get_u32(a);
        break;
      default: break;
    }
  }
  return out.ifindex != 0;
}

bool parse_address(const nlmsghdr* nlh, uint32_t& ifindex, HostAddress& out) {
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifaddrmsg))) return false;
  const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
  if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) return false;
  const size_t want = ifa->ifa_family == AF_INET ? 4 : 16;
  ifindex = ifa->ifa_index;
  uint32_t flags = ifa->ifa_flags;
  const nlattr *local = nullptr, *address = nullptr;
  for (const nlattr* a = attrs_of(nlh, sizeof(ifaddrmsg)); attr_ok(nlh, a); a = mnl_attr_next(a)) {
    switch (mnl_attr_get_type(a)) {
      case IFA_LOCAL: local = a; break;
      case IFA_ADDRESS: address = a; break;
      case IFA_FLAGS:
        if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0) flags = mnl_attr_get_u32(a);
        break;
      default: break;
    }
  }
  // IPv4: IFA_LOCAL is the interface's address (IFA_ADDRESS the peer's on
  // point-to-point links); IPv6 sends IFA_ADDRESS only.
  const nlattr* a = local ? local : address;
  if (!a || mnl_attr_get_payload_len(a) != want) return false;
  const auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(a));
  out.prefix.addr = want == 4 ? IpAddr(Ip4::of(p)) : IpAddr(Ip6::of(p));
  out.prefix.len = ifa->ifa_prefixlen;
  if (out.prefix.len > out.prefix.max_len()) return false;
  out.permanent = (flags & IFA_F_PERMANENT) != 0;
  return true;
}

HostLink::~HostLink() { close(); }

std::string HostLink::open(int timeout_ms) {
  if (req_) return {};
  req_ = mnl_socket_open(NETLINK_ROUTE);
  if (!req_ || mnl_socket_bind(req_, 0, MNL_SOCKET_AUTOPID) < 0) {
    std::string e = std::string("cannot open a netlink socket: ") + std::strerror(errno);
    if (req_) mnl_socket_close(req_);
    req_ = nullptr;
    return e;
  }
  int one = 1;
  mnl_socket_setsockopt(req_, NETLINK_EXT_ACK, &one, sizeof one);
  mnl_socket_setsockopt(req_, NETLINK_CAP_ACK, &one, sizeof one);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(mnl_socket_get_fd(req_), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return {};
}

std::string HostLink::listen(asio::io_context& io, std::function<void(const HostLinkEvent&)> on_event) {
  if (ev_) return {};
  on_event_ = std::move(on_event);
  ev_ = mnl_socket_open(NETLINK_ROUTE);
  if (!ev_ || mnl_socket_bind(ev_, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, MNL_SOCKET_AUTOPID) < 0) {
    listen_error_ = std::string("cannot open the netlink event socket: ") + std::strerror(errno);
    if (ev_) mnl_socket_close(ev_);
    ev_ = nullptr;
    return listen_error_;
  }
  const int fd = mnl_socket_get_fd(ev_);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  int big = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  rbuf_.resize(1 << 16);
  sd_.emplace(io, fd);
  listen_error_.clear();
  read_more();
  return {};
}

void HostLink::close() {
  if (sd_) {
    boost::system::error_code ec;
    sd_->cancel(ec);
    sd_->release();  // mnl_socket_close closes the descriptor
    sd_.reset();
  }
  if (ev_) mnl_socket_close(ev_);
  ev_ = nullptr;
  if (req_) mnl_socket_close(req_);
  req_ = nullptr;
}

void HostLink::read_more() {
  auto self = weak_from_this();
  sd_->async_wait(asio::posix::stream_descriptor::wait_read, [self, this](boost::system::error_code ec) {
    auto keep = self.lock();
    if (!keep || ec || !ev_) return;
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(ev_, rbuf_.data(), rbuf_.size());
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        if (errno == ENOBUFS) {  // the kernel dropped events: the owner re-reads everything
          overruns_++;
          HostLinkEvent e;
          e.kind = HostLinkEvent::Kind::Overrun;
          if (on_event_) on_event_(e);
          continue;
        }
        listen_error_ = std::string("netlink receive failed: ") + std::strerror(errno);
        WEFT_LOG(Error, "HostPath: %s", listen_error_.c_str());
        return;
      }
      on_datagram(rbuf_.data(), static_cast<size_t>(n));
    }
    if (sd_) read_more();
  });
}

void HostLink::on_datagram(const uint8_t* buf, size_t len) {
  walk_netlink(buf, len, [this](const nlmsghdr* nlh) {
    HostLinkEvent e;
    switch (nlh->nlmsg_type) {
      case RTM_NEWLINK:
      case RTM_DELLINK: {
        HostLinkInfo l;
        if (!parse_link(nlh, l)) return true;
        e.kind = nlh->nlmsg_type == RTM_NEWLINK ? HostLinkEvent::Kind::LinkNew : HostLinkEvent::Kind::LinkDel;
        e.ifindex = l.ifindex;
        e.ifname = l.ifname;
        e.mac = l.mac;
        e.mtu = l.mtu;
        e.up = l.up;
        e.carrier = l.carrier;
        break;
      }
      case RTM_NEWADDR:
      case RTM_DELADDR: {
        HostAddress a;
        if (!parse_address(nlh, e.ifindex, a)) return true;
        e.kind = nlh->nlmsg_type == RTM_NEWADDR ? HostLinkEvent::Kind::AddrNew : HostLinkEvent::Kind::AddrDel;
        e.prefix = a.prefix;
        break;
      }
      default: return true;
    }
    if (on_event_) on_event_(e);
    return true;
  });
}

int HostLink::request(nlmsghdr* nlh, const std::function<void(const nlmsghdr*)>& each, std::string& err) {
  if (!req_) {
    err = "the netlink socket is not open";
    return ENOTCONN;
  }
  requests_++;
  nlh->nlmsg_seq = ++seq_;
  const uint32_t portid = mnl_socket_get_portid(req_);
  if (mnl_socket_sendto(req_, nlh, nlh->nlmsg_len) < 0) {
    const int e = errno;
    err = std::string("netlink send failed: ") + std::strerror(e);
    return e;
  }
  std::vector<uint8_t> buf(1 << 15);
  for (;;) {
    ssize_t got = mnl_socket_recvfrom(req_, buf.data(), buf.size());
    if (got < 0) {
      const int e = errno;
      if (e == EINTR) continue;
      err = e == EAGAIN || e == EWOULDBLOCK ? std::string("the kernel did not answer in time")
                                            : std::string("netlink receive failed: ") + std::strerror(e);
      return e == EAGAIN || e == EWOULDBLOCK ? ETIMEDOUT : e;
    }
    std::optional<int> done;
    walk_netlink(buf.data(), static_cast<size_t>(got), [&](const nlmsghdr* m) {
      if (m->nlmsg_seq != seq_ || (m->nlmsg_pid != 0 && m->nlmsg_pid != portid)) return true;  // an older request's
      if (m->nlmsg_type == NLMSG_DONE) {
        done = 0;
        return false;
      }
      if (m->nlmsg_type == NLMSG_ERROR) {
        if (m->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) {
          err = "malformed netlink error message";
          done = EPROTO;
          return false;
        }
        const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
        if (e->error != 0) err = error_text(m, e);
        done = e->error == 0 ? 0 : -e->error;
        return false;
      }
      if (each) each(m);
      return true;
    });
    if (done) return *done;
  }
}

std::optional<HostLinkInfo> HostLink::link(const std::string& ifname, std::string& err) {
  err.clear();
  alignas(nlmsghdr) uint8_t buf[256];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname.c_str());
  std::optional<HostLinkInfo> out;
  const int rc = request(nlh, [&](const nlmsghdr* m) {
    HostLinkInfo l;
    if (m->nlmsg_type == RTM_NEWLINK && parse_link(m, l)) out = l;
  }, err);
  if (rc == ENODEV) {
    err.clear();
    return std::nullopt;
  }
  if (rc != 0) {
    err = "read " + ifname + ": " + err;
    return std::nullopt;
  }
  return out;
}

std::vector<HostAddress> HostLink::addresses(uint32_t ifindex, std::string& err) {
  err.clear();
  alignas(nlmsghdr) uint8_t buf[256];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETADDR;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_UNSPEC;
  std::vector<HostAddress> out;
  const int rc = request(nlh, [&](const nlmsghdr* m) {
    HostAddress a;
    uint32_t idx = 0;
    if (m->nlmsg_type == RTM_NEWADDR && parse_address(m, idx, a) && idx == ifindex) out.push_back(a);
  }, err);
  if (rc != 0) err = "read the addresses: " + err;
  return out;
}

int HostLink::set_link(uint32_t ifindex, const Mac* mac, const uint32_t* mtu, std::optional<bool> up, std::string& err) {
  alignas(nlmsghdr) uint8_t buf[256];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = static_cast<int>(ifindex);
  if (up) {
    ifi->ifi_change = IFF_UP;
    ifi->ifi_flags = *up ? IFF_UP : 0;
  }
  if (mac) mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac->data());
  if (mtu) mnl_attr_put_u32(nlh, IFLA_MTU, *mtu);
  return request(nlh, nullptr, err);
}

int HostLink::change_address(uint16_t type, uint32_t ifindex, const Prefix& p, std::string& err) {
  alignas(nlmsghdr) uint8_t buf[256];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_REPLACE : 0);
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = static_cast<uint8_t>(p.addr.family());
  ifa->ifa_prefixlen = p.len;
  ifa->ifa_index = ifindex;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  mnl_attr_put(nlh, IFA_LOCAL, p.addr.size(), p.addr.data());
  mnl_attr_put(nlh, IFA_ADDRESS, p.addr.size(), p.addr.data());
  // The router's addresses are its own by configuration: the kernel need
  // not probe for duplicates (Weft answers for them on the wire).
  if (type == RTM_NEWADDR && p.v6()) mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
  return request(nlh, nullptr, err);
}

HostLinkResult HostLink::apply(const HostLinkSpec& spec, std::set<Prefix>& owned) {
  HostLinkResult r;
  std::vector<std::string> errors;
  auto fail = [&](const std::string& what, const std::string& why) { errors.push_back(what + ": " + why); };
  std::string err;
  std::optional<HostLinkInfo> l = link(spec.ifname, err);
  if (!l) {
    r.error = err;
    return r;
  }
  r.found = true;
  const uint32_t idx = l->ifindex;

  if (l->mac != spec.mac) {
    // Down first: the kernel makes the IPv6 link-local from the MAC when the
    // link comes up, and a live MAC change would keep the old one (some
    // kinds, veth, refuse a live change anyway).
    if (l->up) {
      if (set_link(idx, nullptr, nullptr, false, err) == 0) l->up = false;
      else fail("set " + spec.ifname + " down to change its MAC", err);
    }
    if (set_link(idx, &spec.mac, nullptr, std::nullopt, err) == 0) r.changes.push_back("mac " + spec.mac.str());
    else fail("set MAC " + spec.mac.str() + " on " + spec.ifname, err);
  }
  if (l->mtu != spec.mtu) {
    if (set_link(idx, nullptr, &spec.mtu, std::nullopt, err) == 0) r.changes.push_back("mtu " + std::to_string(spec.mtu));
    else fail("set MTU " + std::to_string(spec.mtu) + " on " + spec.ifname, err);
  }
  if (l->up != spec.up) {
    if (set_link(idx, nullptr, nullptr, spec.up, err) == 0) r.changes.push_back(spec.up ? "up" : "down");
    else fail("set " + spec.ifname + (spec.up ? " up" : " down"), err);
  }

  std::vector<HostAddress> have = addresses(idx, err);
  if (!err.empty()) {
    fail(spec.ifname, err);
  } else {
    std::set<Prefix> present;
    for (const auto& a : have) present.insert(a.prefix);
    std::set<Prefix> wanted(spec.addresses.begin(), spec.addresses.end());
    for (const Prefix& p : spec.addresses) {
      if (present.count(p)) {
        owned.insert(p);  // ours from now on (routerd restarted over it, or someone added it)
        continue;
      }
      if (change_address(RTM_NEWADDR, idx, p, err) == 0) {
        owned.insert(p);
        r.changes.push_back("add " + p.str());
      } else {
        fail("add " + p.str() + " to " + spec.ifname, err);
      }
    }
    for (auto it = owned.begin(); it != owned.end();) {
      if (wanted.count(*it)) {
        ++it;
        continue;
      }
      if (!present.count(*it)) {  // gone already
        it = owned.erase(it);
        continue;
      }
      const int rc = change_address(RTM_DELADDR, idx, *it, err);
      if (rc == 0 || rc == EADDRNOTAVAIL) {
        r.changes.push_back("del " + it->str());
        it = owned.erase(it);
      } else {
        fail("remove " + it->str() + " from " + spec.ifname, err);
        ++it;
      }
    }
  }
  if (auto now = link(spec.ifname, err)) r.link = *now;
  else r.link = *l;
  for (const auto& e : errors) r.error += (r.error.empty() ? "" : "; ") + e;
  return r;
}

std::string HostLink::release(const std::string& ifname, std::set<Prefix>& owned) {
  std::string err;
  std::optional<HostLinkInfo> l = link(ifname, err);
  if (!l) {
    owned.clear();
    return err;
  }
  std::string errors;
  for (const Prefix& p : owned)
    if (const int rc = change_address(RTM_DELADDR, l->ifindex, p, err); rc != 0 && rc != EADDRNOTAVAIL)
      errors += (errors.empty() ? "" : "; ") + ("remove " + p.str() + " from " + ifname + ": " + err);
  owned.clear();
  return errors;
}

}  // namespace weft::route
