#include "weft/metadata.hpp"

#include <rte_errno.h>

#include <cstring>

#include "weft/error.hpp"

namespace weft {

int register_metadata_field(const std::string& name, size_t size, size_t align) {
  rte_mbuf_dynfield desc{};
  if (name.size() >= sizeof desc.name) throw InitError("metadata field name too long: " + name);
  std::memcpy(desc.name, name.c_str(), name.size() + 1);
  desc.size = size;
  desc.align = align;
  int off = rte_mbuf_dynfield_register(&desc);
  if (off < 0)
    throw InitError("cannot register metadata field '" + name + "': " + rte_strerror(rte_errno));
  return off;
}

int register_metadata_flag(const std::string& name) {
  rte_mbuf_dynflag desc{};
  if (name.size() >= sizeof desc.name) throw InitError("metadata flag name too long: " + name);
  std::memcpy(desc.name, name.c_str(), name.size() + 1);
  int bit = rte_mbuf_dynflag_register(&desc);
  if (bit < 0) throw InitError("cannot register metadata flag '" + name + "': " + rte_strerror(rte_errno));
  return bit;
}

}  // namespace weft
