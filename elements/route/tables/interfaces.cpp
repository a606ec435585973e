#include "tables/interfaces.hpp"

#include <rte_hash.h>

#include <algorithm>
#include <stdexcept>

namespace weft::route {

IpAddr Interface::source_for(const IpAddr& dst) const {
  const IpAddr* first = nullptr;
  for (const Prefix& p : addresses) {
    if (p.addr.version != dst.version) continue;
    if (p.contains(dst)) return p.addr;
    if (!first) first = &p.addr;
  }
  if (dst.v6()) {
    // A link-local destination is answered from our link-local address.
    if (dst.bytes[0] == 0xfe && (dst.bytes[1] & 0xc0) == 0x80) return IpAddr(link_local);
    return first ? *first : IpAddr(link_local);
  }
  return first ? *first : IpAddr{};
}

bool Interface::owns(const IpAddr& a) const {
  if (a.v6() && a.ip6() == link_local) return true;
  for (const Prefix& p : addresses)
    if (p.addr == a) return true;
  return false;
}

void InterfaceTable::add(Interface i) {
  if (i.id >= kMaxInterfaces || index_of_id_[i.id] != kNoInterface)
    throw std::logic_error("interface id " + std::to_string(i.id) + " out of range or reused");
  const auto index = static_cast<uint16_t>(list_.size());
  index_of_id_[i.id] = index;
  if (i.vlan == 0 && i.port_id < by_port_.size()) by_port_[i.port_id] = index;
  for (const Prefix& p : i.addresses) {
    if (p.v4()) {
      Local4 l{};
      std::memcpy(&l.addr, p.addr.data(), 4);
      l.index = index;
      local4_.push_back(l);
    } else {
      Local6 l{};
      std::memcpy(l.addr, p.addr.data(), 16);
      l.index = index;
      local6_.push_back(l);
    }
  }
  Local6 ll{};
  std::memcpy(ll.addr, i.link_local.data(), 16);
  ll.index = index;
  local6_.push_back(ll);
  list_.push_back(std::move(i));
}

const Interface* InterfaceTable::by_name(std::string_view name) const {
  for (const auto& i : list_)
    if (i.name == name) return &i;
  return nullptr;
}

const Interface* InterfaceTable::by_port_vlan(uint16_t port_id, uint16_t vlan) const {
  if (vlan == 0) return by_port(port_id);
  for (const auto& i : list_)
    if (i.port_id == port_id && i.vlan == vlan) return &i;
  return nullptr;
}

bool NeighborCache::lookup(uint16_t iface, uint8_t family, const uint8_t* addr, uint8_t* mac, uint64_t now_tsc) const {
  NeighborKey k{};
  k.iface = iface;
  k.family = family;
  std::memcpy(k.addr, addr, family == AF_INET ? 4 : 16);
  const int32_t pos = rte_hash_lookup(hash_, &k);
  if (pos < 0) return false;
  NeighborEntry& e = entries_[pos];
  const uint64_t v = e.mac.load(std::memory_order_acquire);
  if (!(v & NeighborEntry::kUsable)) return false;
  NeighborEntry::unpack(v, mac);
  e.touch(now_tsc);
  return true;
}

void NeighborCache::lookup_bulk(const NeighborKey* keys, unsigned n, uint8_t (*macs)[6], bool* found,
                                uint64_t now_tsc, NeighborFront* front) const {
  const void* ptrs[RTE_HASH_LOOKUP_BULK_MAX];
  int32_t pos[RTE_HASH_LOOKUP_BULK_MAX];
  for (unsigned base = 0; base < n; base += RTE_HASH_LOOKUP_BULK_MAX) {
    const unsigned m = std::min<unsigned>(n - base, RTE_HASH_LOOKUP_BULK_MAX);
    for (unsigned i = 0; i < m; i++) ptrs[i] = &keys[base + i];
    if (rte_hash_lookup_bulk(hash_, ptrs, m, pos) != 0) {
      for (unsigned i = 0; i < m; i++) found[base + i] = false;
      continue;
    }
    for (unsigned i = 0; i < m; i++) {
      found[base + i] = false;
      if (pos[i] < 0) continue;
      NeighborEntry& e = entries_[pos[i]];
      const uint64_t v = e.mac.load(std::memory_order_acquire);
      if (!(v & NeighborEntry::kUsable)) continue;
      NeighborEntry::unpack(v, macs[base + i]);
      found[base + i] = true;
      e.touch(now_tsc);
      if (front) front->remember(keys[base + i], pos[i], v, now_tsc);
    }
  }
}

void NeighborFront::init(const NeighborCache* c, unsigned lines) {
  size_t n = 4;
  while (n < lines) n <<= 1;
  cache_ = c;
  entries_ = c->entries();
  sets4_.assign(n / 4, Set4{});
  sets6_.assign(n / 4, Set6{});
  mask4_ = sets4_.size() - 1;
  mask6_ = sets6_.size() - 1;
  clear(c->epoch(), c->invalidations());
}

namespace {
// The way of `set` to (re)fill for `tag` and `same` (the way's key test):
// the way already holding the key, else an empty one, else the next victim.
template <class Way, size_t N, class Same>
Way& way_for(Way (&set)[N], unsigned& victim, Same same) {
  Way* empty = nullptr;
  for (Way& w : set) {
    if (w.tag && same(w)) return w;
    if (!w.tag && !empty) empty = &w;
  }
  return empty ? *empty : set[victim++ % N];
}
}  // namespace

void NeighborFront::remember(const NeighborKey& k, int32_t pos, uint64_t v, uint64_t now_tsc) {
  if (pos < 0 || uint32_t(pos) > kPosMask || k.iface >= kMaxInterfaces) return;  // not kept: looked up again next time
  const uint32_t tag = uint32_t(k.iface + 1) << kIfaceShift | uint32_t(pos);
  const uint32_t want = tag & ~kPosMask;
  if (k.family == AF_INET) {
    uint32_t a;
    std::memcpy(&a, k.addr, 4);
    Way4& w = way_for(sets4_[hash4(k.iface, a) & mask4_].way, victim_,
                      [&](const Way4& x) { return x.addr == a && (x.tag & ~kPosMask) == want; });
    w.addr = a;
    w.tag = tag;
    NeighborEntry::unpack(v, w.mac);
    w.touched = uint16_t(now_tsc >> 24);
  } else {
    Way6& w = way_for(sets6_[hash6(k.iface, k.addr) & mask6_].way, victim_, [&](const Way6& x) {
      return (x.tag & ~kPosMask) == want && std::memcmp(x.addr, k.addr, 16) == 0;
    });
    std::memcpy(w.addr, k.addr, 16);
    w.tag = tag;
    NeighborEntry::unpack(v, w.mac);
    w.touched = uint16_t(now_tsc >> 24);
  }
}

void NeighborFront::clear(uint64_t epoch, uint64_t invalidations) {
  // Tag 0: an empty way, which matches no key.
  std::fill(sets4_.begin(), sets4_.end(), Set4{});
  std::fill(sets6_.begin(), sets6_.end(), Set6{});
  epoch_ = epoch;
  invalidations_ = invalidations;
}

}  // namespace weft::route
