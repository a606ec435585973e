#include "datapath/svp_resolver.hpp"

#include <rte_ether.h>
#include <rte_ip.h>

#include "weft/clock.hpp"

namespace weft::svp {

const ElementClass& SvpResolver::klass() {
  static const ElementClass k =
      ElementClass::make<SvpResolver>("SvpResolver")
          .describe("Look overlay destinations up in Portolan's cache: the underlay address for VxlanEncap.",
                    "Keys each frame by its destination MAC (mode vl2) or destination IP (mode vl3) and its VNI "
                    "(`vni`, or the VNI metadata), and looks the key up in the overlay cache of the Svp service "
                    "`svp`. A hit leaves by `out` with the underlay metadata set (address, UDP port) — what "
                    "VxlanEncap needs when it has no remote_ip — and, in vl3 mode with rewrite_mac, the "
                    "destination MAC Portolan gave. A miss is held (at most `queue` packets per destination, "
                    "`max_pending` destinations) while the control thread asks Portolan, then released, or dropped "
                    "as not_found or timeout. Entries past their ttl keep being used while they are refreshed, so "
                    "known destinations keep working when Portolan is down.\n\n"
                    "  services:\n"
                    "    portolan: {class: Svp, servers: [\"192.0.2.10:1296\"]}\n"
                    "  elements:\n"
                    "    res: {class: SvpResolver, svp: portolan, vni: 100}\n"
                    "    enc: {class: VxlanEncap, local_ip: 192.0.2.1, local_mac: \"02:00:00:00:00:01\",\n"
                    "          remote_mac: \"02:00:00:00:00:fe\"}\n"
                    "  connections: [rx -> res -> enc -> tx]")
          .input("in")
          .poll()  // run() releases held packets once answers arrive
          .output("out")
          .uses<OverlayHandle>("svp", "the Svp service whose overlay cache to use")
          .param("mode", ParamType::String, "vl2", "vl2: key on destination MAC + VNI; vl3: on destination IP + VNI")
          .param("vni", ParamType::UInt, "", "VNI (0-16777215); absent: the packet's VNI metadata")
          .param("rewrite_mac", ParamType::Bool, "true", "vl3: set the destination MAC to the one Portolan gave")
          .param("queue", ParamType::UInt, "8", "packets held per unresolved destination")
          .param("max_pending", ParamType::UInt, "256", "unresolved destinations held at once (per worker)")
          .param("wait", ParamType::Double, "1", "seconds a held packet waits for Portolan's answer")
          .drop(kNotFound, "not_found", "Portolan answered NOTFOUND for the destination")
          .drop(kTimeout, "timeout", "no answer within `wait` seconds (Portolan down or slow)")
          .drop(kQueueFull, "queue_full", "`queue` packets already wait for this destination")
          .drop(kTooMany, "too_many_pending", "`max_pending` destinations already wait for answers")
          .drop(kNoVni, "no_vni", "no `vni` parameter and no VNI metadata on the packet")
          .drop(kNotIp, "not_ip", "vl3 mode: neither IPv4 nor IPv6, or truncated")
          .drop(kRunt, "runt", "shorter than an Ethernet header")
          .read("pending", "destinations waiting for Portolan and packets held", [](const SvpResolver& e) {
            return std::to_string(e.waiting_.size()) + " destination(s), " + std::to_string(e.held_) + " packet(s)";
          });
  return k;
}

void SvpResolver::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  svp_ = p.get<std::string>("svp");
  const std::string mode = p.get<std::string>("mode");
  if (mode != "vl2" && mode != "vl3") throw ConfigError(p.mark("mode"), "mode: expected vl2 or vl3");
  vl3_ = mode == "vl3";
  if (p.has("vni")) {
    uint64_t v = p.get<uint64_t>("vni");
    if (v > 0xffffff) throw ConfigError(p.mark("vni"), "vni: expected 0..16777215");
    vni_param_ = static_cast<uint32_t>(v);
  }
  rewrite_mac_ = p.get<bool>("rewrite_mac");
  uint64_t q = p.get<uint64_t>("queue"), mp = p.get<uint64_t>("max_pending");
  if (q < 1 || q > 4096) throw ConfigError(p.mark("queue"), "queue: expected 1..4096");
  if (mp < 1 || mp > 65536) throw ConfigError(p.mark("max_pending"), "max_pending: expected 1..65536");
  queue_ = static_cast<uint32_t>(q);
  max_pending_ = static_cast<uint32_t>(mp);
  wait_s_ = p.get<double>("wait");
  if (!(wait_s_ > 0) || wait_s_ > 60) throw ConfigError(p.mark("wait"), "wait: expected seconds, above 0 and at most 60");
}

void SvpResolver::initialize(InitContext& ctx) {
  handle_ = ctx.service<OverlayHandle>("svp");
  overlay_ = handle_.get();
  lookups_ = &overlay_->lookups(ctx.worker_index());
  vni_ = fields::vni();
  underlay_ = fields::underlay();
  wait_ns_ = Clock::ns_of_seconds(wait_s_);
  waiting_.reserve(max_pending_);
  memo_ = std::make_unique<Memo[]>(kMemoSlots);
  for (unsigned i = 0; i < kMemoSlots; i++) memo_[i].entry = nullptr;
}

void SvpResolver::cleanup() {
  for (auto& [k, w] : waiting_)
    for (rte_mbuf* m : w.pkts) rte_pktmbuf_free(m);
  waiting_.clear();
  held_ = 0;
  overlay_ = nullptr;
  handle_.reset();
}

const Drop* SvpResolver::key_of(rte_mbuf* m, CacheKey& k) const {
  if (m->data_len < sizeof(rte_ether_hdr)) return &kRunt;
  uint32_t vni;
  if (vni_param_) {
    vni = *vni_param_;
  } else {
    if (!vni_.has(m)) return &kNoVni;
    vni = vni_.get(m);
  }
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  if (!vl3_) {
    // Three 8-byte stores: this is the per-packet cost on the fast path. The
    // frame has at least 14 bytes, so reading 8 from its start is safe.
    uint64_t w[3];
    w[0] = static_cast<uint64_t>(KeyKind::Vl2) | (uint64_t{vni} << 32);
    std::memcpy(&w[1], eth, 8);
    w[1] &= 0x0000ffffffffffffull;  // the destination MAC (little-endian load)
    w[2] = 0;
    std::memcpy(&k, w, sizeof w);
    return nullptr;
  }
  const uint8_t* l3 = reinterpret_cast<const uint8_t*>(eth + 1);
  if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
    if (m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) return &kNotIp;
    k = CacheKey::vl3_v4(l3 + 16, vni);
    return nullptr;
  }
  if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
    if (m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr)) return &kNotIp;
    k = CacheKey::vl3(l3 + 24, vni);
    return nullptr;
  }
  return &kNotIp;
}

void SvpResolver::annotate(rte_mbuf* m, const CacheEntry& e, uint32_t vni) {
  underlay_.set(m, e.underlay);
  vni_.set(m, vni);
  if (vl3_ && rewrite_mac_) std::memcpy(rte_pktmbuf_mtod(m, rte_ether_hdr*)->dst_addr.addr_bytes, e.mac, 6);
}

void SvpResolver::hold(rte_mbuf* m, const CacheKey& k, uint64_t now) {
  auto it = waiting_.find(k);
  if (it == waiting_.end()) {
    if (waiting_.size() >= max_pending_) {
      drop(m, kTooMany);
      return;
    }
    it = waiting_.emplace(k, Waiting{}).first;
    it->second.pkts.reserve(queue_);
    it->second.deadline = now + wait_ns_;
    it->second.asked = overlay_->ask(k);
    next_deadline_ = std::min(next_deadline_, it->second.deadline);
  }
  if (it->second.pkts.size() >= queue_) {
    drop(m, kQueueFull);
    return;
  }
  it->second.pkts.push_back(m);
  held_++;
}

void SvpResolver::push(uint16_t, Batch& b) {
  const OverlayCache* cache = overlay_->cache();
  if (cache) {
    // Entries stay valid while the version read now holds (see overlay_cache.hpp).
    const uint64_t v = cache->version();
    if (v != memo_version_ || cache != memo_cache_) {
      for (unsigned i = 0; i < kMemoSlots; i++) memo_[i].entry = nullptr;
      memo_version_ = v;
      memo_cache_ = cache;
    }
  }
  CacheKey keys[OverlayCache::kBulkMax];
  const CacheKey* kp[OverlayCache::kBulkMax];
  const CacheEntry* found[OverlayCache::kBulkMax];
  const CacheEntry* looked[OverlayCache::kBulkMax];
  rte_mbuf* pkts[OverlayCache::kBulkMax];
  unsigned slot[OverlayCache::kBulkMax], ask_idx[OverlayCache::kBulkMax];
  const uint64_t now = Clock::now_ns();
  // Hits are compacted in place and leave as one batch (no per-packet staging).
  uint16_t out = 0, negative = 0, missed = 0;
  for (uint16_t base = 0; base < b.count; base += OverlayCache::kBulkMax) {
    const unsigned chunk = std::min<unsigned>(OverlayCache::kBulkMax, b.count - base);
    unsigned n = 0, nask = 0;
    for (unsigned i = 0; i < chunk; i++) {
      rte_mbuf* m = b.pkts[base + i];
      if (const Drop* why = key_of(m, keys[n])) {
        drop(m, *why);
        continue;
      }
      const unsigned s = memo_slot(keys[n]);
      const Memo& me = memo_[s];
      if (me.entry && same_key(me.key, keys[n])) {
        found[n] = me.entry;
      } else {
        found[n] = nullptr;
        slot[nask] = s;
        kp[nask] = &keys[n];
        ask_idx[nask++] = n;
      }
      pkts[n++] = m;
    }
    if (!n) continue;
    if (nask && cache) {
      cache->lookup_bulk(kp, nask, looked);
      for (unsigned j = 0; j < nask; j++) {
        found[ask_idx[j]] = looked[j];
        if (looked[j]) memo_[slot[j]] = {*kp[j], looked[j]};
      }
    }
    for (unsigned i = 0; i < n; i++) {
      const CacheEntry* e = found[i];
      if (e && e->state == CacheEntry::kResolved) {
        // Stale answers still forward; one worker asks for a fresh one.
        if (e->expired(now) && e->claim_refresh(now, overlay_->refresh_gap_ns())) overlay_->ask(keys[i]);
        annotate(pkts[i], *e, keys[i].vni);
        b.pkts[out++] = pkts[i];
      } else if (e && !e->expired(now)) {
        negative++;
        drop(pkts[i], kNotFound);
      } else {
        missed++;
        hold(pkts[i], keys[i], now);
      }
    }
  }
  lookups_->hits.add(out + negative);
  if (missed) lookups_->misses.add(missed);
  b.count = out;
  if (out) output(0, b);
}

bool SvpResolver::run() {
  if (waiting_.empty()) return false;
  const OverlayCache* cache = overlay_->cache();
  const uint64_t version = cache ? cache->version() : 0;
  const uint64_t now = Clock::now_ns();
  if (version == seen_version_ && now < next_deadline_) {
    // Nothing new; retry asks the ring refused.
    for (auto& [k, w] : waiting_)
      if (!w.asked) w.asked = overlay_->ask(k);
    return false;
  }
  seen_version_ = version;
  next_deadline_ = UINT64_MAX;
  bool moved = false;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    Waiting& w = it->second;
    const CacheEntry* e = cache ? cache->lookup(it->first) : nullptr;
    int outcome = 0;  // 0 keep waiting, 1 deliver, 2 not found, 3 timeout
    if (e && e->state == CacheEntry::kResolved) outcome = 1;
    else if (e && !e->expired(now)) outcome = 2;
    else if (now >= w.deadline) outcome = 3;
    if (outcome == 0) {
      if (!w.asked) w.asked = overlay_->ask(it->first);
      next_deadline_ = std::min(next_deadline_, w.deadline);
      ++it;
      continue;
    }
    for (rte_mbuf* m : w.pkts) {
      if (outcome == 1) {
        annotate(m, *e, it->first.vni);
        emit(0, m);
      } else {
        drop(m, outcome == 2 ? kNotFound : kTimeout);
      }
    }
    held_ -= w.pkts.size();
    moved = true;
    it = waiting_.erase(it);
  }
  return moved;
}

StateCarry SvpResolver::take_state(Element& old_el) {
  auto& old = static_cast<SvpResolver&>(old_el);
  if (old.svp_ != svp_ || old.vl3_ != vl3_ || old.vni_param_ != vni_param_) {
    // Different keys: the held packets are dropped (and counted) with the old instance.
    return StateCarry::reset("svp, mode or vni changed: held packets not carried");
  }
  uint64_t lost = 0;
  for (auto& [k, w] : old.waiting_) {
    for (rte_mbuf* m : w.pkts) {
      const uint64_t now = Clock::now_ns();
      auto before = held_;
      hold(m, k, now);
      if (held_ == before) lost++;
    }
    w.pkts.clear();
  }
  old.waiting_.clear();
  old.held_ = 0;
  return StateCarry::kept("held packets carried (the overlay cache is the Svp service's)", lost);
}

}  // namespace weft::svp
