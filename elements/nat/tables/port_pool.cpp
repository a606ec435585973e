#include "tables/port_pool.hpp"

#include <algorithm>

namespace weft::nat {

PortPool::PortPool(std::vector<uint32_t> addresses, uint16_t lo, uint16_t hi, unsigned workers)
    : addresses_(std::move(addresses)), lo_(lo), hi_(hi), workers_(workers ? workers : 1) {
  std::sort(addresses_.begin(), addresses_.end());
  const size_t n = addresses_.size() * kProtoClasses;
  spaces_ = std::make_unique<Space[]>(n);
  slices_ = std::make_unique<Slice[]>(n * workers_);
  const uint32_t span = uint32_t{hi_} - lo_ + 1;
  for (size_t a = 0; a < addresses_.size(); a++)
    for (int p = 0; p < kProtoClasses; p++) {
      Space& s = space(a, p);
      for (auto& w : s.bits) w.store(0, std::memory_order_relaxed);
      for (uint32_t port = lo_; port <= hi_; port++)
        s.bits[port >> 6].fetch_or(1ULL << (port & 63), std::memory_order_relaxed);
      for (unsigned w = 0; w < workers_; w++) {
        Slice& sl = slice(a, p, w);
        sl.lo = static_cast<uint16_t>(lo_ + span * w / workers_);
        sl.hi = static_cast<uint16_t>(lo_ + span * (w + 1) / workers_ - 1);
        sl.cursor = sl.lo;
        sl.free.store(int64_t{sl.hi} - sl.lo + 1, std::memory_order_relaxed);
      }
    }
}

int PortPool::index_of(uint32_t address) const {
  auto it = std::lower_bound(addresses_.begin(), addresses_.end(), address);
  if (it == addresses_.end() || *it != address) return -1;
  return static_cast<int>(it - addresses_.begin());
}

unsigned PortPool::owner_of(uint16_t port) const {
  const uint32_t span = uint32_t{hi_} - lo_ + 1;
  // Inverse of the slice bounds: the largest w with lo + span*w/W <= port.
  unsigned w = static_cast<unsigned>((uint64_t{port} - lo_) * workers_ / span);
  while (w + 1 < workers_ && lo_ + span * (w + 1) / workers_ <= port) w++;
  while (w > 0 && lo_ + span * w / workers_ > port) w--;
  return w;
}

bool PortPool::claim(Space& s, uint16_t port) {
  const uint64_t bit = 1ULL << (port & 63);
  return (s.bits[port >> 6].fetch_and(~bit, std::memory_order_acq_rel) & bit) != 0;
}

bool PortPool::reserve(size_t addr, int pclass, uint16_t port) {
  if (!in_range(port)) return false;
  if (claim(space(addr, pclass), port)) slice(addr, pclass, owner_of(port)).free.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

uint16_t PortPool::allocate(size_t addr, int pclass, unsigned w, uint16_t prefer) {
  Slice& sl = slice(addr, pclass, w);
  if (sl.free.load(std::memory_order_relaxed) <= 0) return 0;
  Space& s = space(addr, pclass);
  if (prefer >= sl.lo && prefer <= sl.hi && claim(s, prefer)) {
    sl.free.fetch_sub(1, std::memory_order_relaxed);
    return prefer;
  }
  // Two passes from the cursor: the first may start mid-slice.
  uint32_t port = sl.cursor;
  for (uint32_t scanned = 0; scanned <= uint32_t{sl.hi} - sl.lo + 64u;) {
    if (port > sl.hi) port = sl.lo;
    const uint32_t word = port >> 6;
    uint64_t mask = ~0ULL << (port & 63);
    const uint32_t word_end = (word << 6) + 63;
    if (word_end > sl.hi) mask &= ~0ULL >> (word_end - sl.hi);
    uint64_t bits = s.bits[word].load(std::memory_order_relaxed) & mask;
    while (bits) {
      const uint16_t p = static_cast<uint16_t>((word << 6) + static_cast<uint32_t>(__builtin_ctzll(bits)));
      if (claim(s, p)) {
        sl.free.fetch_sub(1, std::memory_order_relaxed);
        sl.cursor = p == sl.hi ? sl.lo : static_cast<uint16_t>(p + 1);
        return p;
      }
      bits &= bits - 1;
    }
    const uint32_t next = (word + 1) << 6;
    scanned += next - port;
    port = next;
  }
  return 0;
}

void PortPool::release(size_t addr, int pclass, uint16_t port) {
  if (!in_range(port)) return;
  const uint64_t bit = 1ULL << (port & 63);
  uint64_t old = space(addr, pclass).bits[port >> 6].fetch_or(bit, std::memory_order_acq_rel);
  if (!(old & bit)) slice(addr, pclass, owner_of(port)).free.fetch_add(1, std::memory_order_relaxed);
}

int64_t PortPool::free_in_slice(size_t addr, int pclass, unsigned w) const {
  return slice(addr, pclass, w).free.load(std::memory_order_relaxed);
}

int64_t PortPool::free_ports(size_t addr, int pclass) const {
  int64_t n = 0;
  for (unsigned w = 0; w < workers_; w++) n += free_in_slice(addr, pclass, w);
  return n;
}

size_t PortPool::memory() const {
  return addresses_.size() * kProtoClasses * (sizeof(Space) + workers_ * sizeof(Slice));
}

}  // namespace weft::nat
