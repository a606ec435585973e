#include "datapath/icmp_error.hpp"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "weft/clock.hpp"

namespace weft::route {

const ElementClass& IcmpError::klass() {
  static const ElementClass k =
      ElementClass::make<IcmpError>("IcmpError")
          .describe("Sends the ICMP or ICMPv6 error a packet calls for (time exceeded, unreachable, fragmentation "
                    "needed / packet too big) back to its source, rate-limited.",
                    "Takes Ethernet frames carrying IPv4 or IPv6 as received. What to send comes from the "
                    "packet's ICMP error metadata (weft_icmp_error: type, code, ingress interface, MTU), which "
                    "IpLookup sets on its `icmp` output; a packet without it gets the element's fixed `type` "
                    "and `code` (as Click's ICMPError), else it is dropped (no_metadata).\n"
                    "The error is a new packet: an Ethernet header with the ethertype set and both MACs zero, "
                    "an IPv4 header (TOS 0xc0, internetwork control, RFC 1812 4.3.2.5; TTL 64; not DF) or IPv6 "
                    "header (hop limit 64), the ICMP header (fragmentation needed carries the next-hop MTU, RFC "
                    "1191; packet too big the MTU, RFC 4443 3.2; parameter problem the pointer), then as much "
                    "of the original IP packet as fits: 576 bytes in all for IPv4 (RFC 1812 4.3.2.3), 1280 "
                    "for IPv6 (RFC 4443 2.4(c)). Its destination is the original's source; its source the "
                    "address of the interface the original arrived on (the ingress metadata ArpNd sets, else the "
                    "ICMP metadata's, else its port's) that suits that destination (Interface::source_for: one on the same subnet, else the interface's first of the "
                    "family). Route it with a second IpLookup (`icmp -> err -> lookup2`), which writes the "
                    "MACs. Checksums are computed in full (ICMPv6 with its pseudo-header).\n"
                    "Never sent (RFC 1812 4.3.2.7, RFC 4443 2.4(e)), dropped as not_eligible: about an ICMP "
                    "or ICMPv6 error message, a non-first fragment, a packet to a multicast or broadcast "
                    "address (255.255.255.255, our subnets' broadcasts, 224.0.0.0/4, ff00::/8) or sent to a "
                    "link-layer multicast or broadcast address (except IPv6 packet too big and parameter "
                    "problem code 2), a packet whose source is not one host (0.0.0.0/8, 127.0.0.0/8, "
                    "224.0.0.0/3; ::, ::1, ff00::/8). IPv6 extension headers are walked to find the "
                    "fragment header and the upper-layer protocol.\n"
                    "Rate limit: a token bucket on the framework's clock, `rate` errors per second with "
                    "bursts of `burst`, for the whole router (each of N workers gets rate/N and burst/N, at "
                    "least 1); `rate: 0` removes the limit. The original is consumed: counted under the drop "
                    "reason `answered` once its error is sent, or under the reason it got none. Handlers "
                    "count the errors sent by kind (`time_exceeded`, `unreachable`, `too_big`, `other`), "
                    "each as `IPv4 IPv6`.\n"
                    "Fixed errors: `type: time_exceeded` (`code: ttl` or `reassembly`), `type: unreachable` "
                    "(`code: net`, `host`, `port` or `prohibited`: ICMPv4 3/0, 3/1, 3/3, 3/13; ICMPv6 1/0, "
                    "1/3, 1/4, 1/1), `type: too_big` (`mtu` required: ICMPv4 3/4, ICMPv6 2).\n"
                    "Example:\n"
                    "  err: {class: IcmpError, interfaces: ifaces}\n"
                    "  lookup[icmp] -> err -> lookup2\n"
                    "  ttl: {class: IcmpError, interfaces: ifaces, type: time_exceeded}")
          .input("in")
          .output("out")
          .uses<InterfacesHandle>("interfaces", "the Interfaces service: ingress interfaces and their addresses")
          .param("type", ParamType::String, "\"\"",
                 "the error of packets without metadata: time_exceeded, unreachable or too_big (\"\": none)")
          .param("code", ParamType::String, "\"\"",
                 "with type: ttl (default) or reassembly; net, host (default), port or prohibited")
          .param("mtu", ParamType::UInt, "0", "with type too_big: the MTU to report (68-65535)")
          .param("rate", ParamType::Double, "1000", "errors per second, router-wide (0: no limit)")
          .param("burst", ParamType::UInt, "50", "errors sent at once before the rate applies")
          .drop(kNotIp, "not_ip", "neither IPv4 nor IPv6 after the Ethernet header, or a bad IP version")
          .drop(kTruncated, "truncated", "the frame ends inside its IP header")
          .drop(kNoMetadata, "no_metadata", "no ICMP error metadata and no fixed `type`")
          .drop(kNotEligible, "not_eligible", "no error may be sent about it (RFC 1812 4.3.2.7, RFC 4443 2.4(e))")
          .drop(kNoSource, "no_source_address",
                "the ingress interface is unknown or has no address of the packet's family")
          .drop(kRateLimited, "rate_limited", "an error beyond the rate limit")
          .drop(kAllocFailed, "alloc_failed", "the packet pool is empty (or its buffers too small)")
          .drop(kAnswered, "answered", "the original, consumed once its error was sent")
          .read("time_exceeded", "time exceeded errors sent: IPv4 IPv6",
                [](const IcmpError& e) { return e.counts_text(kTimeExceeded); })
          .read("unreachable", "destination unreachable errors sent (not fragmentation needed): IPv4 IPv6",
                [](const IcmpError& e) { return e.counts_text(kUnreachable); })
          .read("too_big", "fragmentation needed (IPv4) and packet too big (IPv6) errors sent: IPv4 IPv6",
                [](const IcmpError& e) { return e.counts_text(kTooBig); })
          .read("other", "other errors sent (parameter problem, ...): IPv4 IPv6",
                [](const IcmpError& e) { return e.counts_text(kOtherKind); })
          .read("tokens", "errors this worker may send at once now", [](const IcmpError& e) {
            return e.bucket_.unlimited() ? std::string("unlimited") : std::to_string(e.bucket_.tokens(Clock::now_ns()));
          });
  return k;
}

void IcmpError::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  rate_ = p.get<double>("rate");
  if (!std::isfinite(rate_) || rate_ < 0 || rate_ > 1e9)
    throw ConfigError(p.mark("rate"), "rate: expected 0 (no limit) to 1e9 errors per second");
  burst_ = p.get<uint64_t>("burst");
  if (burst_ < 1 || burst_ > 1000000) throw ConfigError(p.mark("burst"), "burst: expected 1 to 1000000");
  const std::string type = p.get<std::string>("type"), code = p.get<std::string>("code");
  const uint64_t mtu = p.get<uint64_t>("mtu");
  fixed_ = Fixed{};
  if (type.empty()) {
    if (!code.empty()) throw ConfigError(p.mark("code"), "code: only with a type");
    if (mtu) throw ConfigError(p.mark("mtu"), "mtu: only with type too_big");
    return;
  }
  fixed_.set = true;
  if (type == "time_exceeded") {
    fixed_.type4 = icmp4::kTimeExceeded;
    fixed_.type6 = icmp6::kTimeExceeded;
    if (code.empty() || code == "ttl") fixed_.code4 = fixed_.code6 = 0;
    else if (code == "reassembly") fixed_.code4 = fixed_.code6 = 1;
    else throw ConfigError(p.mark("code"), "code: time_exceeded takes ttl or reassembly");
  } else if (type == "unreachable") {
    fixed_.type4 = icmp4::kUnreachable;
    fixed_.type6 = icmp6::kUnreachable;
    if (code == "net") {
      fixed_.code4 = icmp4::kNetUnreachable;
      fixed_.code6 = icmp6::kNoRoute;
    } else if (code.empty() || code == "host") {
      fixed_.code4 = icmp4::kHostUnreachable;
      fixed_.code6 = icmp6::kAddressUnreachable;
    } else if (code == "port") {
      fixed_.code4 = 3;
      fixed_.code6 = 4;
    } else if (code == "prohibited") {
      fixed_.code4 = icmp4::kAdminProhibited;
      fixed_.code6 = icmp6::kAdminProhibited;
    } else {
      throw ConfigError(p.mark("code"), "code: unreachable takes net, host, port or prohibited");
    }
  } else if (type == "too_big") {
    fixed_.type4 = icmp4::kUnreachable;
    fixed_.code4 = icmp4::kFragNeeded;
    fixed_.type6 = icmp6::kPacketTooBig;
    fixed_.code6 = 0;
    if (!code.empty()) throw ConfigError(p.mark("code"), "code: too_big takes none");
    if (mtu < 68 || mtu > 65535) throw ConfigError(p.mark("mtu"), "mtu: type too_big needs an MTU of 68-65535");
    fixed_.mtu = static_cast<uint32_t>(mtu);
  } else {
    throw ConfigError(p.mark("type"), "type: expected time_exceeded, unreachable or too_big");
  }
  if (type != "too_big" && mtu) throw ConfigError(p.mark("mtu"), "mtu: only with type too_big");
}

void IcmpError::initialize(InitContext& ctx) {
  handle_ = ctx.service<const InterfacesHandle>("interfaces");
  table_ = handle_->interfaces();
  if (!table_) throw InitError("the Interfaces service has no interface table");
  pool_ = ctx.mempool();
  meta_ = icmp_error_slot();
  ingress_ = ingress_slot();
  local_origin_ = fields::local_origin();
  broadcast4_ = icmp_errors::broadcasts4(*table_);
  const RateShare s = RateShare::of(rate_, burst_, ctx.worker_count());
  bucket_.configure(s.rate, s.burst, Clock::now_ns());
  ip_id_ = static_cast<uint16_t>(ctx.worker_index() << 12);
}

void IcmpError::cleanup() {
  table_.reset();
  handle_.reset();
  pool_ = nullptr;
}

StateCarry IcmpError::take_state(Element& old_el) {
  auto& old = static_cast<IcmpError&>(old_el);
  sent_ = old.sent_;
  ip_id_ = old.ip_id_;
  if (old.rate_ != rate_ || old.burst_ != burst_) return StateCarry::reset("rate or burst changed: the bucket starts full");
  bucket_ = old.bucket_;
  return StateCarry::kept("token bucket and counts");
}

std::string IcmpError::counts_text(Kind k) const {
  return std::to_string(sent_[0][k]) + " " + std::to_string(sent_[1][k]);
}

IcmpError::Kind IcmpError::kind_of(bool v6, uint8_t type, uint8_t code) {
  if (!v6) {
    if (type == icmp4::kTimeExceeded) return kTimeExceeded;
    if (type == icmp4::kUnreachable) return code == icmp4::kFragNeeded ? kTooBig : kUnreachable;
    return kOtherKind;
  }
  if (type == icmp6::kTimeExceeded) return kTimeExceeded;
  if (type == icmp6::kUnreachable) return kUnreachable;
  if (type == icmp6::kPacketTooBig) return kTooBig;
  return kOtherKind;
}


void IcmpError::handle(rte_mbuf* m) {
  const bool v4 = m->data_len >= sizeof(rte_ether_hdr) &&
                  rte_pktmbuf_mtod(m, const rte_ether_hdr*)->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  uint8_t type, code;
  uint32_t info;
  uint16_t iface = kNoInterface;
  if (meta_.has(m)) {
    const IcmpErrorMeta& e = meta_.get(m);
    type = e.type;
    code = e.code;
    info = e.info;
    iface = e.iface;
  } else if (fixed_.set) {
    type = v4 ? fixed_.type4 : fixed_.type6;
    code = v4 ? fixed_.code4 : fixed_.code6;
    info = fixed_.mtu;
  } else {
    type = code = 0;
    info = 0;
  }
  const bool known = meta_.has(m) || fixed_.set;
  icmp_errors::Offender o;
  switch (icmp_errors::examine(m, type, code, broadcast4_, o)) {
    case icmp_errors::Verdict::Ok: break;
    case icmp_errors::Verdict::NotIp: return drop(m, kNotIp);
    case icmp_errors::Verdict::Truncated: return drop(m, kTruncated);
    case icmp_errors::Verdict::NotEligible: return drop(m, known ? kNotEligible : kNoMetadata);
  }
  if (!known) return drop(m, kNoMetadata);
  // The ingress metadata (ArpNd) knows an overlay's or a VLAN's interface;
  // the ICMP metadata's (IpLookup) and the port only know the port's.
  const Interface* in = ingress_.has(m) ? table_->by_id(ingress_.get(m)) : nullptr;
  if (!in) in = iface != kNoInterface ? table_->by_id(iface) : table_->by_port(m->port);
  if (!in) return drop(m, kNoSource);
  const IpAddr src = in->source_for(o.source);
  if (src.version != o.source.version) return drop(m, kNoSource);
  if (!bucket_.take(now_)) return drop(m, kRateLimited);
  rte_mbuf* e = icmp_errors::build(pool_, m, o, src, type, code, info, ip_id_++);
  if (!e) return drop(m, kAllocFailed);
  e->port = m->port;
  local_origin_.set(e);
  sent_[o.v4 ? 0 : 1][kind_of(!o.v4, type, code)]++;
  emit(0, e);
  drop(m, kAnswered);
}

void IcmpError::push(uint16_t, Batch& b) {
  now_ = Clock::now_ns();
  for (uint16_t i = 0; i < b.count; i++) handle(b.pkts[i]);
  b.clear();
}

}  // namespace weft::route
