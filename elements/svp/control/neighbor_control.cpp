#include "control/neighbor_control.hpp"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "weft/log.hpp"
#include "weft/netlink.hpp"

namespace weft::svp {

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

}  // namespace

NeighborControl::NeighborControl(std::shared_ptr<OverlayResolver> svp) : svp_(std::move(svp)), rbuf_(1 << 16) {}

NeighborControl::~NeighborControl() { stop(); }

void NeighborControl::stop() {
  if (svp_ && sub_) svp_->unsubscribe(sub_);
  sub_ = 0;
  if (sd_) {
    boost::system::error_code ec;
    sd_->cancel(ec);
    sd_->release();  // mnl_socket_close closes the descriptor
    sd_.reset();
  }
  if (nl_) mnl_socket_close(nl_);
  nl_ = nullptr;
  io_ = nullptr;
}

void NeighborControl::configure(const NeighborConfig& c) {
  if (c == cfg_ && !links_.empty()) return;
  cfg_ = c;
  std::vector<Link> next;
  for (const auto& l : c.links) {
    Link x;
    x.cfg = l;
    if (Link* old = link_by_name(l.ifname); old && old->cfg == l) x = *old;  // keep what it installed
    next.push_back(std::move(x));
  }
  links_ = std::move(next);
  for (auto& l : links_) {
    if (!l.ifindex) l.ifindex = if_nametoindex(l.cfg.ifname.c_str());
    if (!l.cfg.fdb.empty() && !l.fdb_ifindex) l.fdb_ifindex = if_nametoindex(l.cfg.fdb.c_str());
  }
}

NeighborControl::Link* NeighborControl::link_by_index(uint32_t ifindex) {
  for (auto& l : links_)
    if (l.ifindex && l.ifindex == ifindex) return &l;
  return nullptr;
}

NeighborControl::Link* NeighborControl::link_by_name(const std::string& name) {
  for (auto& l : links_)
    if (l.cfg.ifname == name) return &l;
  return nullptr;
}

void NeighborControl::start(asio::io_context& io) {
  io_ = &io;
  open_socket();
  auto self = weak_from_this();
  sub_ = svp_->subscribe([self, this](const CacheKey& k) {
    if (self.lock()) on_invalidated(k);
  });
}

void NeighborControl::open_socket() {
  nl_ = mnl_socket_open(NETLINK_ROUTE);
  if (!nl_ || mnl_socket_bind(nl_, RTMGRP_NEIGH | RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
    error_ = std::string("cannot open the netlink socket: ") + std::strerror(errno);
    WEFT_LOG(Error, "NeighborSink: %s", error_.c_str());
    if (nl_) mnl_socket_close(nl_);
    nl_ = nullptr;
    return;
  }
  const int fd = mnl_socket_get_fd(nl_);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  int big = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  sd_.emplace(*io_, fd);
  WEFT_LOG(Info, "NeighborSink: listening for neighbour misses on %zu link(s)", links_.size());
  read_more();
}

void NeighborControl::read_more() {
  auto self = weak_from_this();
  sd_->async_wait(asio::posix::stream_descriptor::wait_read, [self, this](boost::system::error_code ec) {
    auto keep = self.lock();
    if (!keep || ec || !nl_) return;
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(nl_, rbuf_.data(), rbuf_.size());
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == ENOBUFS) {  // the kernel dropped messages: we carry on
          c_.overruns++;
          continue;
        }
        if (errno == EINTR) continue;
        error_ = std::string("netlink receive failed: ") + std::strerror(errno);
        WEFT_LOG(Error, "NeighborSink: %s", error_.c_str());
        return;
      }
      on_datagram(rbuf_.data(), static_cast<size_t>(n));
    }
    read_more();
  });
}

void NeighborControl::on_datagram(const uint8_t* buf, size_t len) {
  // Bytes left that do not hold a whole message are counted as malformed.
  const NetlinkWalk w = walk_netlink(buf, len, [this](const nlmsghdr* nlh) {
    switch (nlh->nlmsg_type) {
      case NLMSG_ERROR: {
        if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) {
          c_.malformed++;
          break;
        }
        const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (e->error != 0) {
          c_.install_errors++;
          WEFT_LOG(Warning, "NeighborSink: the kernel refused request %u: %s", nlh->nlmsg_seq, std::strerror(-e->error));
        }
        break;
      }
      case RTM_GETNEIGH: on_getneigh(nlh); break;
      case RTM_NEWLINK: on_link(nlh, false); break;
      case RTM_DELLINK: on_link(nlh, true); break;
      default: break;  // RTM_NEWNEIGH/DELNEIGH (ours included): nothing to do
    }
    return true;
  });
  if (w.leftover) c_.malformed++;
}

void NeighborControl::on_getneigh(const nlmsghdr* nlh) {
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ndmsg))) {
    c_.malformed++;
    return;
  }
  const auto* ndm = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(nlh));
  Link* l = link_by_index(static_cast<uint32_t>(ndm->ndm_ifindex));
  if (!l || (ndm->ndm_family != AF_INET && ndm->ndm_family != AF_INET6)) {
    c_.ignored++;
    return;
  }
  const nlattr* dst = nullptr;
  for (const nlattr* a = attrs_of(nlh, sizeof(ndmsg)); attr_ok(nlh, a); a = mnl_attr_next(a)) {
    if (mnl_attr_get_type(a) == NDA_DST) dst = a;
  }
  const size_t want = ndm->ndm_family == AF_INET ? 4 : 16;
  if (!dst || mnl_attr_get_payload_len(dst) != want) {
    c_.malformed++;
    return;
  }
  const auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(dst));
  const IpAddr ip = want == 4 ? IpAddr(Ip4::of(p)) : IpAddr(Ip6::of(p));
  c_.misses++;
  lookup(l->cfg.ifname, l->gen, ip, false);
}

void NeighborControl::lookup(const std::string& ifname, uint64_t gen, const IpAddr& dst, bool again) {
  Link* l = link_by_name(ifname);
  if (!l) return;
  const CacheKey k = CacheKey::vl3(dst, l->cfg.vni);
  auto self = weak_from_this();
  svp_->resolve(k, [self, this, ifname, gen, dst, again](const Resolution& r) {
    if (self.lock()) answer(ifname, gen, dst, r, again);
  });
}

void NeighborControl::answer(const std::string& ifname, uint64_t gen, const IpAddr& dst, const Resolution& r,
                             bool again) {
  Link* l = link_by_name(ifname);
  if (!l || l->gen != gen || !l->ifindex) {
    c_.stale_answers++;
    return;
  }
  if (r.kind == Resolution::Failed) {
    c_.failed++;
    WEFT_LOG(Notice, "NeighborSink: %s on %s: no answer from Portolan (%s)", dst.str().c_str(), ifname.c_str(),
             r.why.c_str());
    return;
  }
  if (r.kind == Resolution::NotFound) {
    c_.notfound++;
    if (again && l->installed.count(dst)) {
      send_neigh(RTM_DELNEIGH, l->ifindex, dst, nullptr);
      l->installed.erase(dst);
      c_.removed++;
    }
    return;
  }
  c_.resolved++;
  if (!send_neigh(RTM_NEWNEIGH, l->ifindex, dst, &r.mac)) return;
  c_.installed++;
  if (again) c_.refreshed++;
  Installed in;
  in.mac = r.mac;
  in.underlay = r.underlay;
  if (l->fdb_ifindex && send_fdb(l->fdb_ifindex, r.mac, r.underlay)) {
    c_.fdb_installed++;
    in.fdb = true;
  }
  l->installed[dst] = in;
  WEFT_LOG(Info, "NeighborSink: %s on %s is %s (underlay %s)", dst.str().c_str(), ifname.c_str(), r.mac.str().c_str(),
           r.underlay.family == 4 ? "IPv4" : "IPv6");
}

void NeighborControl::on_invalidated(const CacheKey& k) {
  if (k.kind != static_cast<uint8_t>(KeyKind::Vl3)) return;
  const IpAddr a = k.ip();
  for (auto& l : links_) {
    if (l.cfg.vni != k.vni) continue;
    if (!l.installed.count(a)) continue;
    lookup(l.cfg.ifname, l.gen, a, true);
  }
}

void NeighborControl::on_link(const nlmsghdr* nlh, bool removed) {
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifinfomsg))) {
    c_.malformed++;
    return;
  }
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  const uint32_t idx = static_cast<uint32_t>(ifi->ifi_index);
  if (removed) {
    for (auto& l : links_) {
      if (l.ifindex == idx) {
        c_.dellinks++;
        WEFT_LOG(Notice, "NeighborSink: link %s (ifindex %u) removed: %zu entr%s forgotten", l.cfg.ifname.c_str(), idx,
                 l.installed.size(), l.installed.size() == 1 ? "y" : "ies");
        l.ifindex = 0;
        l.gen++;
        l.installed.clear();
      }
      if (l.fdb_ifindex == idx) l.fdb_ifindex = 0;
    }
    return;
  }
  std::string name;
  for (const nlattr* a = attrs_of(nlh, sizeof(ifinfomsg)); attr_ok(nlh, a); a = mnl_attr_next(a)) {
    if (mnl_attr_get_type(a) == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0) name = mnl_attr_get_str(a);
  }
  if (name.empty()) return;
  for (auto& l : links_) {
    if (l.cfg.ifname == name && l.ifindex != idx) {
      if (l.ifindex) {  // the name moved to a new link: the old one's entries are gone
        l.gen++;
        l.installed.clear();
      }
      l.ifindex = idx;
      c_.newlinks++;
    }
    if (!l.cfg.fdb.empty() && l.cfg.fdb == name) l.fdb_ifindex = idx;
  }
}

bool NeighborControl::send(nlmsghdr* nlh) {
  if (!nl_) return false;
  nlh->nlmsg_seq = ++seq_;
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) {
    c_.install_errors++;
    WEFT_LOG(Warning, "NeighborSink: netlink send failed: %s", std::strerror(errno));
    return false;
  }
  return true;
}

bool NeighborControl::send_neigh(uint16_t type, uint32_t ifindex, const IpAddr& dst, const Mac* mac) {
  alignas(nlmsghdr) uint8_t buf[256];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (type == RTM_NEWNEIGH ? NLM_F_CREATE | NLM_F_REPLACE : 0);
  auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  ndm->ndm_family = static_cast<uint8_t>(dst.family());
  ndm->ndm_ifindex = static_cast<int>(ifindex);
  ndm->ndm_state = cfg_.permanent ? NUD_PERMANENT : NUD_REACHABLE;
  mnl_attr_put(nlh, NDA_DST, dst.size(), dst.data());
  if (mac) mnl_attr_put(nlh, NDA_LLADDR, 6, mac->data());
  return send(nlh);
}

bool NeighborControl::send_fdb(uint32_t ifindex, const Mac& mac, const fields::Underlay& u) {
  alignas(nlmsghdr) uint8_t buf[256];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWNEIGH;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
  auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  ndm->ndm_family = AF_BRIDGE;
  ndm->ndm_ifindex = static_cast<int>(ifindex);
  ndm->ndm_flags = NTF_SELF;
  ndm->ndm_state = NUD_NOARP | NUD_PERMANENT;  // static, as `bridge fdb replace ... self permanent` makes
  mnl_attr_put(nlh, NDA_LLADDR, 6, mac.data());
  mnl_attr_put(nlh, NDA_DST, u.family == 4 ? 4 : 16, u.addr);
  if (u.udp_port) mnl_attr_put_u16(nlh, NDA_PORT, htons(u.udp_port));
  return send(nlh);
}

nlohmann::json NeighborControl::entries() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& l : links_)
    for (const auto& [ip, in] : l.installed)
      out.push_back({{"link", l.cfg.ifname}, {"ip", ip.str()}, {"mac", in.mac.str()}, {"fdb", in.fdb}});
  return {{"entries", out}};
}

ServiceHealth NeighborControl::health() const {
  ServiceHealth h;
  h.errors = c_.install_errors + c_.malformed + c_.overruns;
  h.peer = "kernel (netlink)";
  if (!error_.empty()) {
    h.state = ServiceHealth::State::Failed;
    h.detail = error_;
    h.last_error = error_;
  } else {
    h.detail = nl_ ? "listening for neighbour misses on " + std::to_string(links_.size()) + " link(s)" : "not started";
  }
  return h;
}

nlohmann::json NeighborControl::status() const {
  nlohmann::json links = nlohmann::json::array();
  for (const auto& l : links_)
    links.push_back({{"ifname", l.cfg.ifname},
                     {"ifindex", l.ifindex},
                     {"vni", l.cfg.vni},
                     {"fdb", l.cfg.fdb},
                     {"fdb_ifindex", l.fdb_ifindex},
                     {"installed", l.installed.size()}});
  nlohmann::json s;
  s["state"] = nl_ ? "listening" : (io_ ? "error" : "not started");
  if (!error_.empty()) s["error"] = error_;
  s["links"] = links;
  s["permanent"] = cfg_.permanent;
  s["counters"] = {{"misses", c_.misses},           {"ignored", c_.ignored},
                   {"resolved", c_.resolved},       {"notfound", c_.notfound},
                   {"failed", c_.failed},           {"installed", c_.installed},
                   {"fdb_installed", c_.fdb_installed}, {"removed", c_.removed},
                   {"refreshed", c_.refreshed},     {"install_errors", c_.install_errors},
                   {"stale_answers", c_.stale_answers}, {"dellinks", c_.dellinks},
                   {"newlinks", c_.newlinks},       {"overruns", c_.overruns},
                   {"malformed", c_.malformed}};
  return s;
}

}  // namespace weft::svp
