#include "runtime/trace_session.hpp"

#include <rte_cycles.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "runtime/packet_filter.hpp"
#include "runtime/runtime.hpp"
#include "weft/net.hpp"
#include "weft/clock.hpp"

namespace weft {

namespace {

constexpr auto kAnswer = std::chrono::milliseconds(2000);

std::string hex(const uint8_t* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (size_t i = 0; i < n; i++) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

std::string mac(const uint8_t* p) { return Mac::of(p).str(); }
std::string ip4(const uint8_t* p) { return Ip4::of(p).str(); }

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// The headers at the start of a traced packet, one line each: Ethernet,
// VLAN tags, ARP, IPv4 or IPv6, then TCP, UDP or ICMP (as far as the saved
// bytes go).
std::vector<std::string> decode_headers(const uint8_t* p, size_t n) {
  std::vector<std::string> out;
  char b[160];
  if (n < 14) {
    out.push_back("(" + std::to_string(n) + " bytes: too short for Ethernet)");
    return out;
  }
  uint16_t type = be16(p + 12);
  std::snprintf(b, sizeof b, "Ethernet %s > %s type 0x%04x", mac(p + 6).c_str(), mac(p).c_str(), type);
  out.push_back(b);
  size_t off = 14;
  while ((type == 0x8100 || type == 0x88a8) && off + 4 <= n) {
    std::snprintf(b, sizeof b, "VLAN %u pcp %u type 0x%04x", be16(p + off) & 0xfff, p[off] >> 5, be16(p + off + 2));
    out.push_back(b);
    type = be16(p + off + 2);
    off += 4;
  }
  unsigned proto = 256;
  size_t l4 = 0;
  if (type == 0x0800 && off + 20 <= n) {
    const uint8_t* ip = p + off;
    std::snprintf(b, sizeof b, "IPv4 %s > %s proto %u ttl %u len %u", ip4(ip + 12).c_str(), ip4(ip + 16).c_str(), ip[9],
                  ip[8], be16(ip + 2));
    out.push_back(b);
    proto = ip[9];
    l4 = off + size_t(ip[0] & 15) * 4;
    if (be16(ip + 6) & 0x1fff) proto = 256;  // a later fragment: no L4 header
  } else if (type == 0x86dd && off + 40 <= n) {
    const uint8_t* ip = p + off;
    std::snprintf(b, sizeof b, "IPv6 %s > %s next %u hlim %u len %u", Ip6::of(ip + 8).str().c_str(),
                  Ip6::of(ip + 24).str().c_str(), ip[6], ip[7], be16(ip + 4));
    out.push_back(b);
    proto = ip[6];
    l4 = off + 40;
  } else if (type == 0x0806 && off + 28 <= n) {
    const uint8_t* a = p + off;
    std::snprintf(b, sizeof b, "ARP %s %s > %s", be16(a + 6) == 1 ? "request" : "reply", ip4(a + 14).c_str(),
                  ip4(a + 24).c_str());
    out.push_back(b);
  }
  if ((proto == 6 || proto == 17) && l4 + 4 <= n) {
    std::snprintf(b, sizeof b, "%s %u > %u", proto == 6 ? "TCP" : "UDP", be16(p + l4), be16(p + l4 + 2));
    out.push_back(b);
  } else if ((proto == 1 || proto == 58) && l4 + 2 <= n) {
    std::snprintf(b, sizeof b, "%s type %u code %u", proto == 1 ? "ICMP" : "ICMPv6", p[l4], p[l4 + 1]);
    out.push_back(b);
  }
  return out;
}

}  // namespace

TraceSession::TraceSession(Runtime& rt, uint32_t generation, uint32_t count, const std::string& filter) : rt_(rt) {
  if (!filter.empty()) filter_ = std::make_unique<PacketFilter>(filter);
  shared_.generation = generation & ((1u << (32 - TraceShared::kIdBits)) - 1);
  shared_.limit = count;
  shared_.filter = filter_.get();
  shared_.traced = MetaFlag("weft_traced");
  shared_.id = MetaField<uint32_t>("weft_trace_id");
  const GraphPlan& plan = rt.plan();
  for (const auto& n : plan.nodes) {
    NodeNames nn{n.spec->id, n.klass->name, n.outputs, {}, n.tx_ports};
    for (const auto& d : n.klass->drops) nn.drops.push_back(d.name);
    nodes_.push_back(std::move(nn));
  }
  // Room for every packet to cross every element and end, twice over (queues).
  const size_t capacity = std::min<size_t>(size_t{count} * (2 * plan.nodes.size() + 4), size_t{1} << 20);
  for (const auto& w : rt.workers()) {
    auto b = std::make_unique<TraceBuffer>();
    b->shared = &shared_;
    b->capacity = capacity;
    b->records = std::make_unique<TraceRecord[]>(capacity);
    b->packets = std::make_unique<TracePacket[]>(count);
    b->at = std::make_unique<uint16_t[]>(count);
    std::fill_n(b->at.get(), count, TraceBuffer::kNowhere);
    buffers_.push_back(std::move(b));
    lcores_.push_back(w->lcore);
  }
  tsc_hz_ = double(Clock::hz());
}

TraceSession::~TraceSession() = default;

void TraceSession::install(bool on) {
  const auto& workers = rt_.workers();
  for (unsigned w = 0; w < workers.size(); w++) {
    Worker& wk = *workers[w];
    TraceBuffer* b = on ? buffers_[w].get() : nullptr;
    const bool answered = rt_.run_on_worker(
        w,
        [&] {
          wk.probe.trace = b;
          apply_probes(rt_.graph(w));
        },
        kAnswer);
    if (answered) continue;
    if (on)  // undo the workers already tracing
      for (unsigned u = 0; u < w; u++)
        rt_.run_on_worker(
            u,
            [&] {
              workers[u]->probe.trace = nullptr;
              apply_probes(rt_.graph(u));
            },
            kAnswer);
    throw std::runtime_error("worker " + std::to_string(w) + " did not answer within 2 s");
  }
}

void TraceSession::start() {
  install(true);
  running_ = true;
  state_ = "running";
  started_ = std::chrono::steady_clock::now();
}

void TraceSession::stop(const std::string& why) {
  if (!running_) return;
  install(false);
  running_ = false;
  state_ = "stopped";
  why_ = why;
}

nlohmann::json TraceSession::view() const {
  using nlohmann::json;
  const uint32_t taken = std::min(shared_.next_id.load(std::memory_order_relaxed), shared_.limit);
  struct Packet {
    json j;
    bool seen = false, done = false;
    uint64_t t0 = 0;
  };
  std::vector<Packet> packets(taken);
  uint64_t overflow = 0;
  auto ns = [&](uint64_t tsc, uint64_t t0) { return tsc > t0 ? double(tsc - t0) * 1e9 / tsc_hz_ : 0.0; };
  for (size_t w = 0; w < buffers_.size(); w++) {
    const TraceBuffer& b = *buffers_[w];
    overflow += b.overflow.get();
    const size_t n = b.count.load(std::memory_order_acquire);
    for (size_t i = 0; i < n; i++) {
      const TraceRecord& r = b.records[i];
      if (r.id >= taken || r.node >= nodes_.size()) continue;
      Packet& p = packets[r.id];
      const NodeNames& at = nodes_[r.node];
      json e{{"element", at.id}, {"class", at.klass}};
      switch (r.kind) {
        case TraceRecord::kStart: {
          const TracePacket& tp = b.packets[r.id];
          p.seen = true;
          p.t0 = tp.tsc;
          p.j = {{"id", r.id}, {"worker", w}, {"lcore", lcores_[w]}, {"length", tp.pkt_len},
                 {"head", hex(tp.head, tp.head_len)}, {"headers", decode_headers(tp.head, tp.head_len)},
                 {"path", json::array()}};
          e["event"] = "received";
          break;
        }
        case TraceRecord::kHop:
          e["event"] = "output";
          e["output"] = r.output < at.outputs.size() ? at.outputs[r.output] : std::to_string(r.output);
          e["to"] = r.to < nodes_.size() ? nodes_[r.to].id : std::to_string(r.to);
          break;
        case TraceRecord::kDropped: {
          e["event"] = "dropped";
          json reasons = json::array();
          for (size_t k = 0; k < at.drops.size() && k < 64; k++)
            if (r.reasons & (1ull << std::min<size_t>(k, 63))) reasons.push_back(at.drops[k]);
          e["reasons"] = reasons;
          p.done = true;
          break;
        }
        case TraceRecord::kConsumed:
          e["event"] = "consumed";
          if (!at.tx_ports.empty()) e["tx_ports"] = at.tx_ports;
          p.done = true;
          break;
        case TraceRecord::kHeld:
          e["event"] = "held";
          break;
      }
      if (!p.seen) continue;  // its start is not published yet
      e["ns"] = ns(r.tsc, p.t0);
      p.j["path"].push_back(e);
    }
  }
  json list = json::array();
  uint32_t done = 0;
  for (auto& p : packets) {
    if (!p.seen) continue;
    p.j["done"] = p.done;
    done += p.done;
    list.push_back(std::move(p.j));
  }
  json j{{"state", state_},
         {"count", shared_.limit},
         {"filter", filter_ ? filter_->expression() : std::string()},
         {"taken", taken},
         {"done", done},
         {"complete", taken == shared_.limit && done == taken},
         {"overflow", overflow},
         {"packets", list}};
  if (!why_.empty()) j["reason"] = why_;
  if (running_)
    j["running_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return j;
}

}  // namespace weft
