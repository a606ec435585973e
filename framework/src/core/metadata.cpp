#include "weft/metadata.hpp"

#include <rte_errno.h>

#include <cstring>
#include <map>
#include <mutex>

#include "weft/error.hpp"

namespace weft {

int register_metadata_field(const std::string& name, size_t size, size_t align) {
  static std::mutex lock;
  static std::map<std::string, std::pair<size_t, size_t>> fields;  // name -> offset, size
  static size_t next = 0;
  std::lock_guard<std::mutex> g(lock);
  if (auto it = fields.find(name); it != fields.end()) {
    if (it->second.second != size)
      throw InitError("cannot register metadata field '" + name + "': registered with another size");
    return static_cast<int>(it->second.first);
  }
  size_t off = (next + align - 1) / align * align;
  if (off + size > kMetadataBytes) throw InitError("cannot register metadata field '" + name + "': no space left");
  fields[name] = {off, size};
  next = off + size;
  return static_cast<int>(off);
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
