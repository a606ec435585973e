// PortPool — the external ports (and ICMP identifiers) of a NAT pool, each
// address's range split into one slice per worker.
//
// For every pool address and protocol class (TCP, UDP, ICMP) a bitmap marks
// the free ports of `port_range`. Worker i allocates only from slice i, with
// its own cursor, so allocations never contend; a port is given back by
// whichever worker ends its last session (an atomic OR on the bitmap, plus
// the slice's free count), which never waits either.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace weft::nat {

inline constexpr int kProtoClasses = 3;  // 0 TCP, 1 UDP, 2 ICMP (echo identifiers)

class PortPool {
 public:
  // `addresses` in host byte order; ports lo..hi inclusive.
  PortPool(std::vector<uint32_t> addresses, uint16_t lo, uint16_t hi, unsigned workers);

  size_t size() const { return addresses_.size(); }
  uint32_t address(size_t i) const { return addresses_[i]; }
  // Index of a host-order address in the pool, or -1.
  int index_of(uint32_t address) const;
  bool in_range(uint16_t port) const { return port >= lo_ && port <= hi_; }
  // Ports of port_range per address and protocol class.
  uint32_t ports_per_address() const { return uint32_t(hi_) - lo_ + 1; }

  // Takes a port out of circulation for good (a static forward's external
  // port). Returns false if it is outside port_range (then it was never
  // allocatable anyway).
  bool reserve(size_t addr, int pclass, uint16_t port);
  // A free port of worker `w`'s slice of address `addr`: `prefer` if it lies
  // in the slice and is free, else the next free one after the slice's
  // cursor. 0 when the slice is exhausted.
  uint16_t allocate(size_t addr, int pclass, unsigned w, uint16_t prefer);
  void release(size_t addr, int pclass, uint16_t port);

  // Free ports of one worker's slice / of a whole address.
  int64_t free_in_slice(size_t addr, int pclass, unsigned w) const;
  int64_t free_ports(size_t addr, int pclass) const;
  size_t memory() const;

 private:
  struct alignas(64) Slice {
    uint16_t lo = 0, hi = 0;  // inclusive
    uint16_t cursor = 0;      // next port to try; touched by the owner only
    std::atomic<int64_t> free{0};
  };
  static constexpr size_t kWords = 65536 / 64;
  struct Space {
    std::atomic<uint64_t> bits[kWords];  // 1 = free
  };
  Space& space(size_t addr, int pclass) { return spaces_[addr * kProtoClasses + pclass]; }
  Slice& slice(size_t addr, int pclass, unsigned w) { return slices_[(addr * kProtoClasses + pclass) * workers_ + w]; }
  const Slice& slice(size_t addr, int pclass, unsigned w) const {
    return slices_[(addr * kProtoClasses + pclass) * workers_ + w];
  }
  unsigned owner_of(uint16_t port) const;
  bool claim(Space& s, uint16_t port);

  std::vector<uint32_t> addresses_;  // sorted
  uint16_t lo_, hi_;
  unsigned workers_;
  std::unique_ptr<Space[]> spaces_;
  std::unique_ptr<Slice[]> slices_;
};

}  // namespace weft::nat
