// ControlServer: routerd's Unix socket (owner-only). One JSON request per
// line, one JSON reply per line; see docs/control-protocol.md.
#pragma once

#include <utility>  // Boost 1.74 asio uses std::exchange without including it
#include <boost/asio.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace weft {

class ControlServer {
 public:
  using Handler = std::function<nlohmann::json(const nlohmann::json&)>;
  // Throws std::runtime_error if the socket cannot be created, or if another
  // live daemon already listens on it.
  ControlServer(boost::asio::io_context& io, std::string path, Handler handler);
  ~ControlServer();
  const std::string& path() const { return path_; }

  static std::string default_path();

 private:
  void accept();
  boost::asio::io_context& io_;
  std::string path_;
  Handler handler_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
};

// Client side (routerctl): sends one request, returns the reply. Throws
// std::system_error with ENOENT/ECONNREFUSED when no daemon listens.
nlohmann::json control_request(const std::string& path, const nlohmann::json& request, int timeout_ms = 10000);

}  // namespace weft
