// What the elements of a running graph share beyond their worker: objects
// made once per key (InitContext::shared()) and control-thread services
// (weft/service.hpp). Both hold weak references, so an object or a service
// lives exactly as long as some element instance uses it, across reloads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "weft/service.hpp"

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

// Control-thread services registered by elements (weft/service.hpp).
class ServiceRegistry {
 public:
  void add(const std::string& key, const std::shared_ptr<Service>& s);
  // Starts, on `io`, every live service not started yet; forgets dead ones.
  void start_pending(boost::asio::io_context* io);
  // Live services, by key.
  std::vector<std::pair<std::string, std::shared_ptr<Service>>> live() const;

 private:
  struct Entry {
    std::weak_ptr<Service> service;
    bool started = false;
  };
  std::map<std::string, Entry> entries_;
};

}  // namespace weft
