// What the elements of a running graph share beyond their worker: objects
// made once per key (InitContext::shared()). The registry holds weak
// references, so an object lives exactly as long as some element instance
// uses it, across reloads. (Control-plane services: services.hpp.)
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace weft {

// The registry behind InitContext::shared(): objects by key, reused while
// their compat string is unchanged, freed with their last user.
class SharedObjects {
 public:
  std::shared_ptr<void> get(const std::string& key, const std::string& compat,
                            const std::function<std::shared_ptr<void>()>& make);

 private:
  struct Entry {
    std::string compat;
    std::weak_ptr<void> object;
  };
  std::map<std::string, Entry> entries_;
};

}  // namespace weft
