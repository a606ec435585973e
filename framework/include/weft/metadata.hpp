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

}  // namespace weft
