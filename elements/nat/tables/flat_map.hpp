// FlatMap — a small open-addressing hash map from 64-bit keys to 64-bit
// values (linear probing, backward-shift deletion, no tombstones).
//
// The session table keeps its slow-path indexes in these (inside endpoint →
// mapping, external endpoint → inside endpoint, source address → session
// count). Each map belongs to one lock stripe and is only touched with that
// stripe's lock held, so it needs no synchronisation of its own — except
// prefetch(), which a worker may call without the lock to start loading the
// slot a key will probe while it does other work. Key 0 is reserved (callers
// never use it).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

namespace weft::nat {

class FlatMap {
 public:
  FlatMap() { reset(kInitial); }
  FlatMap(const FlatMap&) = delete;
  FlatMap& operator=(const FlatMap&) = delete;

  uint64_t* find(uint64_t key) {
    for (size_t i = slot_of(key, mask_);; i = (i + 1) & mask_) {
      if (slot(i).key == key) return &slot(i).value;
      if (slot(i).key == 0) return nullptr;
    }
  }

  // Inserts or overwrites.
  void put(uint64_t key, uint64_t value) {
    if ((count_ + 1) * 4 > (size_t{mask_} + 1) * 3) rehash((size_t{mask_} + 1) * 2);
    for (size_t i = slot_of(key, mask_);; i = (i + 1) & mask_) {
      if (slot(i).key == key) {
        slot(i).value = value;
        return;
      }
      if (slot(i).key == 0) {
        slot(i) = {key, value};
        count_++;
        return;
      }
    }
  }

  bool erase(uint64_t key) {
    const size_t mask = mask_;
    size_t i = slot_of(key, mask);
    while (slot(i).key != key) {
      if (slot(i).key == 0) return false;
      i = (i + 1) & mask;
    }
    // Backward shift: pull later members of the probe run into the hole.
    size_t hole = i;
    for (size_t j = (hole + 1) & mask; slot(j).key != 0; j = (j + 1) & mask) {
      size_t home = slot_of(slot(j).key, mask);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (!stays) {
        slot(hole) = slot(j);
        hole = j;
      }
    }
    slot(hole) = {0, 0};
    count_--;
    if (mask_ + 1 > kInitial && count_ * 8 < size_t{mask_} + 1) rehash((size_t{mask_} + 1) / 2);
    return true;
  }

  // Starts loading the slot `key` probes first. Callable without the
  // stripe's lock: one relaxed atomic load gives the table's address and
  // size together, and a prefetch of memory the map has since released is
  // harmless (it never faults and changes nothing).
  void prefetch(uint64_t key) const {
    const uintptr_t v = view_.load(std::memory_order_relaxed);
    const size_t mask = (size_t{1} << (v & 63)) - 1;
    __builtin_prefetch(reinterpret_cast<const void*>((v & ~uintptr_t{63}) + slot_of(key, mask) * sizeof(Slot)));
  }

  // Calls f(key, value) for every entry.
  template <class F>
  void for_each(F&& f) const {
    for (size_t i = 0; i <= mask_; i++)
      if (slot(i).key) f(slot(i).key, slot(i).value);
  }

  size_t size() const { return count_; }
  size_t memory() const { return (size_t{mask_} + 1) * sizeof(Slot); }

 private:
  struct Slot {
    uint64_t key = 0;
    uint64_t value = 0;
  };
  struct Free {
    void operator()(Slot* p) const { std::free(p); }
  };
  static constexpr size_t kInitial = 8;

  Slot& slot(size_t i) const { return slots_.get()[i]; }

  // MurmurHash3's 64-bit finaliser: every bit of the key reaches the low
  // bits the mask keeps. (One multiply is not enough: the low bits of a
  // product depend only on the low bits of the key, and the callers' keys
  // differ mostly in their high bits — an inside host's ports, a block's
  // external ports — which then all probed from one home slot.)
  static size_t slot_of(uint64_t key, size_t mask) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ULL;
    key ^= key >> 33;
    return static_cast<size_t>(key) & mask;
  }
  // A zeroed table of n (a power of two, at least 4) 64-byte-aligned slots.
  static Slot* allocate(size_t n) {
    void* p = std::aligned_alloc(64, n * sizeof(Slot));
    if (!p) throw std::bad_alloc();
    auto* s = static_cast<Slot*>(p);
    for (size_t i = 0; i < n; i++) new (&s[i]) Slot();
    return s;
  }
  void reset(size_t n) {
    slots_.reset(allocate(n));
    mask_ = static_cast<uint32_t>(n - 1);
    count_ = 0;
    publish();
  }
  void publish() {
    view_.store(reinterpret_cast<uintptr_t>(slots_.get()) | static_cast<uintptr_t>(__builtin_ctzll(size_t{mask_} + 1)),
                std::memory_order_relaxed);
  }
  void rehash(size_t n) {
    std::unique_ptr<Slot, Free> old(allocate(n));
    old.swap(slots_);
    const Slot* from = old.get();
    const size_t old_n = size_t{mask_} + 1;
    mask_ = static_cast<uint32_t>(n - 1);
    count_ = 0;
    for (size_t i = 0; i < old_n; i++)
      if (from[i].key) put(from[i].key, from[i].value);
    publish();
  }

  // Kept small (24 bytes) so that a stripe's lock and both of its maps fit
  // one cache line.
  std::atomic<uintptr_t> view_{0};  // the table's address | log2(capacity), for prefetch()
  std::unique_ptr<Slot, Free> slots_;
  uint32_t mask_ = 0;
  uint32_t count_ = 0;
};

}  // namespace weft::nat
