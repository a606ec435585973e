// Per-packet metadata that crosses elements (VNI, VLAN, next hop, flow id)
// lives in rte_mbuf dynamic fields. Fields are registered by name, so two
// plugins asking for the same name get the same field, and different names
// never collide.
//
//   weft::MetaField<uint32_t> vni_;
//   void initialize(weft::InitContext&) override { vni_ = weft::MetaField<uint32_t>("weft_vni"); }
//   ... vni_(m) = 42; ... if (vni_(m) == 42) ...
//
// Registration needs DPDK to be running: do it in initialize(), not configure().
#pragma once

#include <string>
#include <type_traits>

#include "weft/dpdk.hpp"

namespace weft {

// Registers (or finds) a dynfield; throws InitError if DPDK refuses (for
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
  T& operator()(rte_mbuf* m) const { return *RTE_MBUF_DYNFIELD(m, offset_, T*); }
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

}  // namespace weft
