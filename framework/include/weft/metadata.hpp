// Per-packet metadata that crosses elements (VNI, VLAN, next hop, flow id).
// Fields are registered by name, so two plugins asking for the same name get
// the same field, and different names never collide.
//
//   weft::MetaField<uint32_t> vni_;
//   void initialize(weft::InitContext&) override { vni_ = weft::MetaField<uint32_t>("weft_vni"); }
//   ... vni_(m) = 42; ... if (vni_(m) == 42) ...
//
// Registration needs DPDK to be running: do it in initialize(), not configure().
#pragma once

#include <cstring>
#include <string>
#include <type_traits>

#include "weft/dpdk.hpp"

namespace weft {

// Metadata values live in the packet buffer's private area, which every Weft
// packet pool reserves (kMetadataBytes per buffer): DPDK 22.11's dynamic
// fields (36 bytes, shared with drivers such as net_pcap's timestamp) cannot
// hold the standard fields. Presence flags stay DPDK dynflags in ol_flags.
// Every packet entering a graph comes from such a pool (InitContext::mempool()
// for packets an element creates).
inline constexpr uint16_t kMetadataBytes = 128;

// Registers (or finds) a field in the private area; throws InitError if DPDK refuses (for
// example a field of that name with a different size already exists).
int register_metadata_field(const std::string& name, size_t size, size_t align);
// Registers (or finds) a dynamic flag (a bit of ol_flags); throws InitError.
int register_metadata_flag(const std::string& name);

template <class T>
class MetaField {
  static_assert(std::is_trivially_copyable_v<T>, "metadata must be trivially copyable");

 public:
  MetaField() = default;
  explicit MetaField(const std::string& name) : offset_(register_metadata_field(name, sizeof(T), alignof(T))) {}
  bool valid() const { return offset_ >= 0; }
  T& operator()(rte_mbuf* m) const { return *reinterpret_cast<T*>(static_cast<uint8_t*>(rte_mbuf_to_priv(m)) + offset_); }
  int offset() const { return offset_; }

 private:
  int offset_ = -1;
};

// A one-bit mark carried in the packet's ol_flags (a DPDK dynflag). Drivers
// clear ol_flags when they receive a packet, so a flag is never stale.
class MetaFlag {
 public:
  MetaFlag() = default;
  explicit MetaFlag(const std::string& name) : mask_(1ULL << register_metadata_flag(name)) {}
  bool test(const rte_mbuf* m) const { return (m->ol_flags & mask_) != 0; }
  void set(rte_mbuf* m) const { m->ol_flags |= mask_; }
  void clear(rte_mbuf* m) const { m->ol_flags &= ~mask_; }

 private:
  uint64_t mask_ = 0;
};

// A metadata value with a "present" flag: dynfield contents are undefined
// until someone writes them, so readers check has() first.
template <class T>
class MetaSlot {
 public:
  MetaSlot() = default;
  explicit MetaSlot(const std::string& name) : field_(name), flag_(name + "_set") {}
  void set(rte_mbuf* m, const T& v) const {
    field_(m) = v;
    flag_.set(m);
  }
  bool has(const rte_mbuf* m) const { return flag_.test(m); }
  const T& get(rte_mbuf* m) const { return field_(m); }  // valid only if has(m)
  void clear(rte_mbuf* m) const { flag_.clear(m); }

 private:
  MetaField<T> field_;
  MetaFlag flag_;
};

// Copies all metadata (values; flags travel in ol_flags) from one packet to
// another, e.g. to a copy made with rte_pktmbuf_copy, which does not.
inline void copy_metadata(rte_mbuf* dst, const rte_mbuf* src) {
  std::memcpy(rte_mbuf_to_priv(dst), rte_mbuf_to_priv(const_cast<rte_mbuf*>(src)), kMetadataBytes);
}

}  // namespace weft
