// weft::Service — control-plane code that lives on the control thread: an
// FPM server feeding a FIB, an SVP client, a netlink listener.
//
// An element creates its service in initialize() with
//
//   fib_ = weft::service<FibService>(ctx, id() + ":fib", compat, [&] { return std::make_shared<FibService>(...); });
//
// Every worker's instance gets the same object (as with InitContext::shared),
// a reload that keeps the element keeps the running service (connections
// stay up), and the framework starts it on the control thread once the graph
// runs. The service stops when its last element is gone: its destructor must
// close what it opened. Workers read what a service maintains (tables) under
// RCU (InitContext::rcu()); they never call into the service.
#pragma once

#include <utility>  // Boost 1.74 asio uses std::exchange without including it
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "weft/element.hpp"

namespace weft {

class Service {
 public:
  virtual ~Service() = default;
  // What the service is ("fib", "svp", ...): routerctl finds services by kind.
  virtual std::string kind() const = 0;
  // Called once, on the control thread; `io` is the control thread's event loop.
  virtual void start(boost::asio::io_context& io) = 0;
  // `routerctl service NAME COMMAND` (and shortcuts such as `routerctl
  // routes`): runs on the control thread; throws std::invalid_argument for
  // an unknown command or bad arguments.
  virtual nlohmann::json command(const std::string& cmd, const nlohmann::json& args) = 0;
  // State and counters for `routerctl service`.
  virtual nlohmann::json status() const = 0;
};

// The service of `key` for this element: created by `make` once, shared by
// every worker's instance, kept across reloads while `compat` is unchanged,
// and started on the control thread by the framework.
template <class T>
std::shared_ptr<T> service(InitContext& ctx, const std::string& key, const std::string& compat,
                           const std::function<std::shared_ptr<T>()>& make) {
  std::shared_ptr<T> s = ctx.shared<T>(key, compat, make);
  ctx.register_service(key, s);
  return s;
}

}  // namespace weft
