#include "control/control_server.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "weft/log.hpp"

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;

namespace weft {

std::string ControlServer::default_path() {
  if (const char* e = std::getenv("WEFT_SOCKET"); e && *e) return e;
  return "/run/weft/routerd.sock";
}

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(stream::socket s, ControlServer::Handler& h) : sock_(std::move(s)), handler_(h) {}
  void start() { read(); }

 private:
  void read() {
    auto self = shared_from_this();
    asio::async_read_until(sock_, buf_, '\n', [this, self](boost::system::error_code ec, size_t n) {
      if (ec) return;
      std::string line(asio::buffers_begin(buf_.data()), asio::buffers_begin(buf_.data()) + static_cast<long>(n));
      buf_.consume(n);
      nlohmann::json reply;
      try {
        reply = handler_(nlohmann::json::parse(line));
      } catch (const nlohmann::json::exception& e) {
        reply = {{"ok", false}, {"error", std::string("bad request: ") + e.what()}};
      } catch (const std::exception& e) {
        // Whatever a command throws is that request's failure, never routerd's.
        reply = {{"ok", false}, {"error", std::string("request failed: ") + e.what()}};
      }
      // A reply may quote what the request said (an element name cut to fit
      // a message may end inside a UTF-8 sequence): invalid UTF-8 is written
      // as U+FFFD, not thrown (the fuzz target's finding: routerd aborted).
      out_ = reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
      asio::async_write(sock_, asio::buffer(out_), [this, self](boost::system::error_code wec, size_t) {
        if (!wec) read();
      });
    });
  }
  stream::socket sock_;
  ControlServer::Handler& handler_;
  asio::streambuf buf_{1 << 20};
  std::string out_;
};

}  // namespace

ControlServer::ControlServer(asio::io_context& io, std::string path, Handler handler)
    : io_(io), path_(std::move(path)), handler_(std::move(handler)), acceptor_(io) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(path_).parent_path();
  if (!dir.empty() && !fs::exists(dir)) {
    fs::create_directories(dir);
    ::chmod(dir.c_str(), 0700);
  }
  if (fs::exists(path_)) {
    // A live daemon answers; a stale socket from a crashed one does not.
    stream::socket probe(io_);
    boost::system::error_code ec;
    probe.connect(stream::endpoint(path_), ec);
    if (!ec) throw std::runtime_error("another routerd is already listening on " + path_);
    ::unlink(path_.c_str());
  }
  mode_t old = ::umask(0177);  // the socket is created owner-only
  boost::system::error_code ec;
  acceptor_.open(stream(), ec);
  if (!ec) acceptor_.bind(stream::endpoint(path_), ec);
  ::umask(old);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + path_ + ": " + ec.message());
  ::chmod(path_.c_str(), 0600);
  accept();
}

ControlServer::~ControlServer() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  ::unlink(path_.c_str());
}

void ControlServer::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, stream::socket s) {
    if (ec) return;  // closed
    std::make_shared<Session>(std::move(s), handler_)->start();
    accept();
  });
}

nlohmann::json control_request(const std::string& path, const nlohmann::json& request, int timeout_ms) {
  asio::io_context io;
  stream::socket s(io);
  boost::system::error_code ec;
  s.connect(stream::endpoint(path), ec);
  if (ec) throw std::system_error(ec.value(), std::generic_category(), path);
  std::string line = request.dump() + "\n";
  asio::write(s, asio::buffer(line), ec);
  if (ec) throw std::system_error(ec.value(), std::generic_category(), "write");
  asio::streambuf buf;
  bool done = false;
  std::string reply;
  asio::async_read_until(s, buf, '\n', [&](boost::system::error_code rec, size_t n) {
    done = true;
    if (rec) {
      ec = rec;
      return;
    }
    reply.assign(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + static_cast<long>(n));
  });
  io.run_for(std::chrono::milliseconds(timeout_ms));
  if (!done) throw std::runtime_error("routerd did not answer within " + std::to_string(timeout_ms) + " ms");
  if (ec) throw std::system_error(ec.value(), std::generic_category(), "read");
  return nlohmann::json::parse(reply);
}

}  // namespace weft
