// FlatMap — a small open-addressing hash map from 64-bit keys to 64-bit
// values (linear probing, backward-shift deletion, no tombstones).
//
// The session table keeps its slow-path indexes in these (inside endpoint →
// mapping, external endpoint → inside endpoint, source address → session
// count). Each map belongs to one lock stripe and is only touched with that
// stripe's lock held, so it needs no synchronisation of its own. Key 0 is
// reserved (callers never use it).
#pragma once

#include <cstdint>
#include <vector>

namespace weft::nat {

class FlatMap {
 public:
  FlatMap() : slots_(kInitial) {}

  uint64_t* find(uint64_t key) {
    size_t mask = slots_.size() - 1;
    for (size_t i = slot_of(key, mask);; i = (i + 1) & mask) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == 0) return nullptr;
    }
  }

  // Inserts or overwrites.
  void put(uint64_t key, uint64_t value) {
    if ((count_ + 1) * 4 > slots_.size() * 3) grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = slot_of(key, mask);; i = (i + 1) & mask) {
      if (slots_[i].key == key) {
        slots_[i].value = value;
        return;
      }
      if (slots_[i].key == 0) {
        slots_[i] = {key, value};
        count_++;
        return;
      }
    }
  }

  bool erase(uint64_t key) {
    size_t mask = slots_.size() - 1;
    size_t i = slot_of(key, mask);
    while (slots_[i].key != key) {
      if (slots_[i].key == 0) return false;
      i = (i + 1) & mask;
    }
    // Backward shift: pull later members of the probe run into the hole.
    size_t hole = i;
    for (size_t j = (hole + 1) & mask; slots_[j].key != 0; j = (j + 1) & mask) {
      size_t home = slot_of(slots_[j].key, mask);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (!stays) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = {0, 0};
    count_--;
    if (slots_.size() > kInitial && count_ * 8 < slots_.size()) shrink();
    return true;
  }

  size_t size() const { return count_; }
  size_t memory() const { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    uint64_t key = 0;
    uint64_t value = 0;
  };
  static constexpr size_t kInitial = 8;

  static size_t slot_of(uint64_t key, size_t mask) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return static_cast<size_t>(key) & mask;
  }
  void rehash(size_t n) {
    std::vector<Slot> old(n);
    old.swap(slots_);
    count_ = 0;
    for (const Slot& s : old)
      if (s.key) put(s.key, s.value);
  }
  void grow() { rehash(slots_.size() * 2); }
  void shrink() { rehash(slots_.size() / 2); }

  std::vector<Slot> slots_;
  size_t count_ = 0;
};

}  // namespace weft::nat
