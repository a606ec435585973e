#include "control/metrics_server.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <map>
#include <optional>

#include "weft/log.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace weft {

namespace {

class Connection;

// A rendering is reused for this long: a client asking in a tight loop costs
// the control thread at most a few renderings a second.
constexpr auto kReuse = std::chrono::milliseconds(100);

}  // namespace

struct MetricsServer::Shared {
  MetricsServerOptions opts;
  Render render;
  bool stopped = false;
  // Open connections, oldest first.
  std::list<std::weak_ptr<Connection>> conns;
  uint64_t accepted = 0, evicted = 0, refused = 0, timeouts = 0, bad_requests = 0;
  std::map<unsigned, uint64_t> codes;
  struct Cached {
    std::chrono::steady_clock::time_point at;
    std::string text;
  };
  std::optional<Cached> cached[2];
  const std::string& rendering(ExpositionFormat f) {
    auto& c = cached[f == ExpositionFormat::OpenMetrics ? 1 : 0];
    const auto now = std::chrono::steady_clock::now();
    if (!c || now - c->at >= kReuse) c = Cached{now, render(f)};
    return c->text;
  }
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket s, std::shared_ptr<MetricsServer::Shared> sh) : stream_(std::move(s)), sh_(std::move(sh)) {}
  ~Connection() {
    if (listed_) sh_->conns.erase(pos_);
  }

  void start(std::list<std::weak_ptr<Connection>>::iterator pos) {
    pos_ = pos;
    listed_ = true;
    read();
  }
  // Waiting for a request (a new connection, or kept alive between two).
  bool idle() const { return idle_; }
  // Closes at once, giving up its slot (the pending operation ends aborted).
  void evict() {
    if (listed_) sh_->conns.erase(pos_);
    listed_ = false;
    close();
  }

 private:
  void read() {
    idle_ = true;
    parser_.emplace();
    parser_->header_limit(8192);
    stream_.expires_after(sh_->opts.timeout);
    http::async_read(stream_, buf_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    idle_ = false;
    if (ec == beast::error::timeout) {
      sh_->timeouts++;
      return close();
    }
    if (ec && ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      sh_->bad_requests++;  // not HTTP, or too large: say so and close
      return reply(http::status::bad_request, "text/plain; charset=utf-8", "bad request: " + ec.message() + "\n",
                   11, false, false);
    }
    if (ec) return close();  // the client went away
    handle(parser_->get());
  }

  void handle(const http::request<http::empty_body>& req) {
    if (sh_->stopped) return close();
    const bool keep = req.keep_alive();
    const unsigned version = req.version();
    if (req.method() != http::verb::get && req.method() != http::verb::head)
      return reply(http::status::method_not_allowed, "text/plain; charset=utf-8", "only GET and HEAD\n", version, keep,
                   false);
    const bool head = req.method() == http::verb::head;
    std::string_view target(req.target().data(), req.target().size());
    target = target.substr(0, target.find('?'));
    if (target == "/metrics") {
      const auto accept = req[http::field::accept];
      const ExpositionFormat f = format_for_accept(std::string_view(accept.data(), accept.size()));
      std::string body;
      try {
        body = sh_->rendering(f);
      } catch (const std::exception& e) {
        WEFT_LOG(Error, "metrics: rendering failed: %s", e.what());
        return reply(http::status::internal_server_error, "text/plain; charset=utf-8", "internal error\n", version,
                     false, head);
      }
      return reply(http::status::ok, content_type(f), std::move(body), version, keep, head);
    }
    if (target == "/")
      return reply(http::status::ok, "text/plain; charset=utf-8", "Weft routerd: metrics at /metrics\n", version, keep,
                   head);
    reply(http::status::not_found, "text/plain; charset=utf-8", "not found: metrics are at /metrics\n", version, keep,
          head);
  }

  void reply(http::status status, const char* type, std::string body, unsigned version, bool keep, bool head) {
    sh_->codes[static_cast<unsigned>(status)]++;
    auto res = std::make_shared<http::response<http::string_body>>(status, version);
    res->set(http::field::server, "weft-routerd");
    res->set(http::field::content_type, type);
    res->keep_alive(keep);
    const size_t size = body.size();
    if (!head) res->body() = std::move(body);
    res->content_length(size);  // HEAD: the length GET would have, no body
    stream_.expires_after(sh_->opts.timeout);
    if (head) {
      // The serializer writes what the body holds (nothing) under the header's length.
      auto sr = std::make_shared<http::response_serializer<http::string_body>>(*res);
      http::async_write_header(stream_, *sr, [self = shared_from_this(), res, sr, keep](beast::error_code ec, size_t) {
        self->written(ec, keep);
      });
      return;
    }
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, keep](beast::error_code ec, size_t) { self->written(ec, keep); });
  }

  void written(beast::error_code ec, bool keep) {
    if (ec == beast::error::timeout) sh_->timeouts++;
    if (ec || !keep || sh_->stopped) return close();
    read();
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buf_{8192};
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::shared_ptr<MetricsServer::Shared> sh_;
  std::list<std::weak_ptr<Connection>>::iterator pos_;
  bool listed_ = false;
  bool idle_ = true;
};

}  // namespace

MetricsServer::MetricsServer(asio::io_context& io, MetricsServerOptions opts, Render render)
    : acceptor_(io), shared_(std::make_shared<Shared>()) {
  shared_->opts = std::move(opts);
  shared_->render = std::move(render);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(shared_->opts.listen.host, ec);
  tcp::endpoint ep;
  if (!ec) {
    ep = tcp::endpoint(address, shared_->opts.listen.port);
    acceptor_.open(ep.protocol(), ec);
  }
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(64, ec);
  if (ec) throw std::runtime_error("metrics: cannot listen on " + shared_->opts.listen.str() + ": " + ec.message());
  bound_ = shared_->opts.listen;
  bound_.port = acceptor_.local_endpoint().port();
  accept();
}

MetricsServer::~MetricsServer() {
  shared_->stopped = true;
  shared_->render = nullptr;
  boost::system::error_code ec;
  acceptor_.close(ec);
  std::vector<std::shared_ptr<Connection>> open;
  for (auto& w : shared_->conns)
    if (auto c = w.lock()) open.push_back(std::move(c));
  for (auto& c : open) c->evict();
}

void MetricsServer::accept() {
  acceptor_.async_accept([this, sh = shared_](boost::system::error_code ec, tcp::socket s) {
    if (sh->stopped) return;  // the server is gone: `this` with it
    if (ec) {
      if (ec != asio::error::operation_aborted) accept();
      return;
    }
    if (sh->conns.size() >= sh->opts.max_connections) {
      // Full: the oldest connection still waiting for a request makes room.
      std::shared_ptr<Connection> victim;
      for (auto& w : sh->conns)
        if (auto c = w.lock(); c && c->idle()) {
          victim = std::move(c);
          break;
        }
      if (victim) {
        victim->evict();
        sh->evicted++;
      } else {
        boost::system::error_code ignored;
        s.close(ignored);
        sh->refused++;
        accept();
        return;
      }
    }
    sh->accepted++;
    auto c = std::make_shared<Connection>(std::move(s), sh);
    sh->conns.push_back(c);
    c->start(std::prev(sh->conns.end()));
    accept();
  });
}

void MetricsServer::add_metrics(MetricSet& set) const {
  const Shared& s = *shared_;
  for (const auto& [code, n] : s.codes) set.add("weft_metrics_http_requests_total", {std::to_string(code)}, double(n));
  set.add("weft_metrics_http_connections_total", {}, double(s.accepted));
  set.add("weft_metrics_http_dropped_connections_total", {"evicted"}, double(s.evicted));
  set.add("weft_metrics_http_dropped_connections_total", {"refused"}, double(s.refused));
  set.add("weft_metrics_http_dropped_connections_total", {"timeout"}, double(s.timeouts));
  set.add("weft_metrics_http_dropped_connections_total", {"bad_request"}, double(s.bad_requests));
}

}  // namespace weft
