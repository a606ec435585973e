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

void ServiceRegistry::add(const std::string& key, const std::shared_ptr<Service>& s) {
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.service.lock() == s) return;
  entries_[key] = {s, false};
}

void ServiceRegistry::start_pending(boost::asio::io_context* io) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto s = it->second.service.lock();
    if (!s) {
      it = entries_.erase(it);
      continue;
    }
    if (!it->second.started && io) {
      s->start(*io);
      it->second.started = true;
    }
    ++it;
  }
}

std::vector<std::pair<std::string, std::shared_ptr<Service>>> ServiceRegistry::live() const {
  std::vector<std::pair<std::string, std::shared_ptr<Service>>> out;
  for (const auto& [k, e] : entries_)
    if (auto s = e.service.lock()) out.emplace_back(k, s);
  return out;
}

}  // namespace weft
