#include "runtime/registries.hpp"

namespace weft {

std::shared_ptr<void> SharedObjects::get(const std::string& key, const std::string& compat,
                                         const std::function<std::shared_ptr<void>()>& make) {
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.compat == compat)
    if (auto obj = it->second.object.lock()) return obj;
  std::shared_ptr<void> obj = make();
  entries_[key] = {compat, obj};
  return obj;
}

}  // namespace weft
