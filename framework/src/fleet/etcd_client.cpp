#include "fleet/etcd_client.hpp"

#include <openssl/evp.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <optional>

#include "core/text.hpp"

namespace weft {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::use_awaitable;
using json = nlohmann::json;

std::vector<std::string> EtcdOptions::split_endpoints(const std::string& list) {
  std::vector<std::string> out;
  for (auto& e : split(list, ','))
    if (!trim(e).empty()) out.push_back(trim(e));
  return out;
}

void EtcdOptions::check_no_downgrade() const {
  if (!secure()) return;
  for (const auto& e : endpoints) {
    if (e.rfind("http://", 0) != 0) continue;
    const std::string fix = "; use https://" + e.substr(7);
    if (tls())
      throw std::invalid_argument("etcd endpoint " + e + " is plain HTTP, but TLS is configured (--etcd-ca, --etcd-cert, "
                                  "--etcd-key; fleet: ca, cert, key): refusing an unencrypted connection" + fix);
    throw std::invalid_argument("etcd endpoint " + e + " is plain HTTP, but etcd credentials are configured "
                                "(--etcd-user; fleet: user): refusing to send them unencrypted" + fix);
  }
}

std::string base64_encode(const std::string& s) {
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string base64_decode(const std::string& s) {
  if (s.size() % 4 != 0) throw EtcdError(-2, "bad base64 from etcd (length " + std::to_string(s.size()) + ")");
  std::string out(3 * (s.size() / 4) + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0) throw EtcdError(-2, "bad base64 from etcd");
  size_t len = static_cast<size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  for (size_t i = s.size(); i > 0 && s[i - 1] == '='; i--) len--;
  out.resize(len);
  return out;
}

std::string prefix_end(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(end.back() + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

namespace {

// A reply's fields, read without trusting its shape (the fuzz target's
// findings): a member that is missing, or of another type than the API's, is
// absent (the gateway omits zero values, empty strings and lists); a number
// that is not one is an EtcdError. Never nlohmann's const operator[] on a
// missing key (an assertion; undefined without one), never its type_error.
const json& member(const json& j, const char* key) {
  static const json absent;
  if (!j.is_object()) return absent;
  auto it = j.find(key);
  return it == j.end() ? absent : *it;
}

const json& items(const json& j, const char* key) {
  static const json none = json::array();
  const json& v = member(j, key);
  return v.is_array() ? v : none;
}

std::string text(const json& j, const char* key, const std::string& otherwise = "") {
  const json& v = member(j, key);
  return v.is_string() ? v.get<std::string>() : otherwise;
}

bool flag(const json& j, const char* key) {
  const json& v = member(j, key);
  return v.is_boolean() && v.get<bool>();
}

// 64-bit numbers travel as decimal strings (JSON numbers are accepted too).
int64_t num(const json& j, const char* key) {
  const json& v = member(j, key);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    int64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc() && end == s.data() + s.size()) return n;
  } else if (v.is_null()) {
    return 0;
  }
  throw EtcdError(-2, std::string("etcd sent a ") + key + " that is not a 64-bit integer: " + v.dump().substr(0, 60));
}

struct Endpoint {
  bool tls = false;
  std::string host, port;
};

Endpoint parse_endpoint(const std::string& url, bool tls_default) {
  Endpoint e;
  std::string rest = url;
  e.tls = tls_default;
  if (rest.rfind("https://", 0) == 0) {
    e.tls = true;
    rest = rest.substr(8);
  } else if (rest.rfind("http://", 0) == 0) {
    e.tls = false;
    rest = rest.substr(7);
  }
  if (auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  if (!rest.empty() && rest[0] == '[') {  // [v6]:port
    auto close = rest.find(']');
    e.host = rest.substr(1, close - 1);
    e.port = close + 1 < rest.size() && rest[close + 1] == ':' ? rest.substr(close + 2) : "2379";
  } else if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    e.host = rest.substr(0, colon);
    e.port = rest.substr(colon + 1);
  } else {
    e.host = rest;
    e.port = "2379";
  }
  return e;
}

EtcdError transport_error(const std::string& where, const std::string& what) {
  return EtcdError(-1, where + ": " + what);
}

}  // namespace

// One HTTP/1.1 connection to one endpoint, plain or TLS.
class EtcdConnection {
 public:
  std::string endpoint;
  std::string host;
  std::unique_ptr<beast::tcp_stream> tcp;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *tcp; }
  void close() {
    beast::error_code ec;
    lowest().socket().close(ec);
  }

  template <class Msg>
  asio::awaitable<void> send(Msg& m) {
    if (tls) co_await http::async_write(*tls, m, use_awaitable);
    else co_await http::async_write(*tcp, m, use_awaitable);
  }
  template <class Msg>
  asio::awaitable<void> receive(Msg& m) {
    if (tls) co_await http::async_read(*tls, buffer, m, use_awaitable);
    else co_await http::async_read(*tcp, buffer, m, use_awaitable);
  }
  template <class Parser>
  asio::awaitable<void> receive_header(Parser& p) {
    if (tls) co_await http::async_read_header(*tls, buffer, p, use_awaitable);
    else co_await http::async_read_header(*tcp, buffer, p, use_awaitable);
  }
  template <class Parser>
  asio::awaitable<size_t> receive_some(Parser& p) {
    if (tls) co_return co_await http::async_read_some(*tls, buffer, p, use_awaitable);
    co_return co_await http::async_read_some(*tcp, buffer, p, use_awaitable);
  }
};

struct EtcdClient::TlsContext {
  ssl::context ctx{ssl::context::tls_client};
};

EtcdClient::EtcdClient(asio::io_context& io, EtcdOptions opts) : io_(io), opts_(std::move(opts)) {
  if (opts_.endpoints.empty()) throw std::invalid_argument("etcd: no endpoints given");
  opts_.check_no_downgrade();
  bool any_tls = opts_.secure();
  for (const auto& e : opts_.endpoints) any_tls = any_tls || e.rfind("https://", 0) == 0;
  if (any_tls) {
    tls_ = std::make_unique<TlsContext>();
    try {
      tls_->ctx.set_verify_mode(ssl::verify_peer);
      if (!opts_.ca_file.empty()) tls_->ctx.load_verify_file(opts_.ca_file);
      else tls_->ctx.set_default_verify_paths();
      if (!opts_.cert_file.empty()) tls_->ctx.use_certificate_chain_file(opts_.cert_file);
      if (!opts_.key_file.empty()) tls_->ctx.use_private_key_file(opts_.key_file, ssl::context::pem);
    } catch (const boost::system::system_error& e) {
      throw std::invalid_argument("etcd TLS set-up: " + std::string(e.what()));
    }
  }
}

EtcdClient::~EtcdClient() = default;

const std::string& EtcdClient::current_endpoint() const { return opts_.endpoints[preferred_ % opts_.endpoints.size()]; }

asio::awaitable<std::unique_ptr<EtcdConnection>> EtcdClient::connect() {
  std::string errors;
  const size_t n = opts_.endpoints.size();
  for (size_t i = 0; i < n; i++) {
    const size_t idx = (preferred_ + i) % n;
    const std::string& url = opts_.endpoints[idx];
    Endpoint ep = parse_endpoint(url, opts_.secure());
    auto c = std::make_unique<EtcdConnection>();
    c->endpoint = url;
    c->host = ep.host;
    try {
      asio::ip::tcp::resolver resolver(io_);
      auto results = co_await resolver.async_resolve(ep.host, ep.port, use_awaitable);
      if (ep.tls) {
        if (!tls_) throw std::runtime_error("https endpoint but no TLS context");
        c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io_, tls_->ctx);
        beast::error_code ec;
        asio::ip::make_address(ep.host, ec);
        if (ec) SSL_set_tlsext_host_name(c->tls->native_handle(), ep.host.c_str());  // SNI for names only
        c->tls->set_verify_callback(ssl::host_name_verification(ep.host));
      } else {
        c->tcp = std::make_unique<beast::tcp_stream>(io_);
      }
      c->lowest().expires_after(opts_.timeout);
      co_await c->lowest().async_connect(results, use_awaitable);
      if (c->tls) {
        try {
          co_await c->tls->async_handshake(ssl::stream_base::client, use_awaitable);
        } catch (const boost::system::system_error& e) {  // e.g. a plain-HTTP server: "stream truncated"
          throw std::runtime_error("TLS handshake failed: " +
                                   (e.code() == beast::error::timeout ? std::string("timed out") : e.code().message()));
        }
      }
      preferred_ = idx;
      co_return c;
    } catch (const boost::system::system_error& e) {
      std::string what = e.code() == beast::error::timeout ? std::string("timed out") : e.code().message();
      if (e.code().category() == asio::error::get_ssl_category()) what = "TLS: " + std::string(e.what());
      errors += (errors.empty() ? "" : "; ") + url + ": " + what;
    } catch (const std::exception& e) {
      errors += (errors.empty() ? "" : "; ") + url + ": " + e.what();
    }
  }
  throw EtcdError(-1, "no etcd endpoint reachable (" + errors + ")");
}

namespace {

http::request<http::string_body> make_request(const std::string& host, const std::string& path,
                                              const std::string& body, const std::string& token) {
  http::request<http::string_body> req{http::verb::post, path, 11};
  req.set(http::field::host, host);
  req.set(http::field::content_type, "application/json");
  req.keep_alive(true);
  if (!token.empty()) req.set(http::field::authorization, token);
  req.body() = body;
  req.prepare_payload();
  return req;
}

[[noreturn]] void throw_reply_error(const json& j) {
  // Unary: {"error": "...", "code": N}; streams: {"error": {"grpc_code": N, "message": "..."}}.
  const json& e = member(j, "error");
  if (e.is_object()) throw EtcdError(static_cast<int>(num(e, "grpc_code")), text(e, "message", "etcd error"));
  throw EtcdError(static_cast<int>(num(j, "code")), text(j, "message", e.is_string() ? e.get<std::string>() : ""));
}

// Errors that say "this member cannot serve now": try another one.
bool failover_error(const EtcdError& e) {
  if (e.transport()) return true;
  const std::string m = e.what();
  return e.code() == 14 || m.find("no leader") != std::string::npos || m.find("timed out") != std::string::npos;
}

bool auth_error(const EtcdError& e) {
  const std::string m = e.what();
  return e.code() == 16 || m.find("invalid auth token") != std::string::npos;
}

}  // namespace

asio::awaitable<json> EtcdClient::call_once(std::string path, json body) {
  // A pooled connection may have been closed by the server since: one retry on a fresh one.
  for (int attempt = 0; attempt < 2; attempt++) {
    bool reused = !idle_.empty();
    std::unique_ptr<EtcdConnection> c;
    if (reused) {
      c = std::move(idle_.back());
      idle_.pop_back();
    } else {
      c = co_await connect();
    }
    http::response<http::string_body> res;
    try {
      auto req = make_request(c->host, path, body.dump(), token_);
      c->lowest().expires_after(opts_.timeout);
      co_await c->send(req);
      co_await c->receive(res);
    } catch (const boost::system::system_error& e) {
      c->close();
      if (reused && e.code() != beast::error::timeout) continue;
      idle_.clear();
      preferred_ = (preferred_ + 1) % opts_.endpoints.size();  // try another member next time
      std::string what = e.code() == beast::error::timeout ? std::string("request timed out") : e.code().message();
      if (e.code().category() == asio::error::get_ssl_category()) what = "TLS: " + what;
      throw transport_error(c->endpoint, what);
    }
    if (res.keep_alive() && idle_.size() < 4) idle_.push_back(std::move(c));
    json j = json::parse(res.body(), nullptr, false);
    if (j.is_discarded())
      throw EtcdError(-2, "etcd answered HTTP " + std::to_string(res.result_int()) + ": " +
                              res.body().substr(0, 200));
    if (j.contains("error")) throw_reply_error(j);
    if (res.result() != http::status::ok)
      throw EtcdError(-2, "etcd answered HTTP " + std::to_string(res.result_int()));
    co_return j;
  }
  throw EtcdError(-1, "unreachable");  // not reached
}

asio::awaitable<void> EtcdClient::authenticate() {
  token_.clear();
  // (GCC 12 cannot take a string literal's address inside a co_await expression.)
  const std::string path = "/v3/auth/authenticate";
  const json body{{"name", opts_.user}, {"password", opts_.password}};
  json r = co_await call_once(path, body);
  token_ = text(r, "token");
  if (token_.empty()) throw EtcdError(16, "etcd authentication returned no token");
}

asio::awaitable<json> EtcdClient::call(std::string path, json body) {
  const size_t tries = opts_.endpoints.size();
  bool reauthenticated = false;
  for (size_t attempt = 0;; attempt++) {
    try {
      if (!opts_.user.empty() && token_.empty()) co_await authenticate();
      co_return co_await call_once(path, body);
    } catch (const EtcdError& e) {
      if (auth_error(e) && !opts_.user.empty() && !reauthenticated) {
        token_.clear();  // expired token (etcd restarted, simple tokens time out)
        reauthenticated = true;
        continue;
      }
      if (!failover_error(e) || attempt + 1 >= tries) throw;
      if (!e.transport()) preferred_ = (preferred_ + 1) % opts_.endpoints.size();
      idle_.clear();
    }
  }
}

asio::awaitable<std::vector<RangeResult>> EtcdClient::read(std::vector<Range> ranges) {
  json ops = json::array();
  for (const auto& r : ranges) {
    json q{{"key", base64_encode(r.key)}};
    if (!r.range_end.empty()) q["range_end"] = base64_encode(r.range_end);
    ops.push_back({{"request_range", q}});
  }
  const std::string path = "/v3/kv/txn";
  const json body{{"success", ops}};
  json res = co_await call(path, body);
  const int64_t rev = num(member(res, "header"), "revision");
  std::vector<RangeResult> out;
  for (const auto& r : items(res, "responses")) {
    RangeResult rr;
    rr.revision = rev;
    for (const auto& kv : items(member(r, "response_range"), "kvs")) rr.kvs.push_back(parse_kv(kv));
    out.push_back(std::move(rr));
  }
  if (out.size() != ranges.size()) throw EtcdError(-2, "etcd txn answered " + std::to_string(out.size()) + " ranges");
  co_return out;
}

KeyValue parse_kv(const json& j) {
  KeyValue kv;
  kv.key = base64_decode(text(j, "key"));
  kv.value = base64_decode(text(j, "value"));
  kv.mod_revision = num(j, "mod_revision");
  kv.create_revision = num(j, "create_revision");
  kv.lease = num(j, "lease");
  return kv;
}

asio::awaitable<int64_t> EtcdClient::write(std::vector<Put> ops) {
  json list = json::array();
  for (const auto& p : ops) {
    if (p.value) {
      json q{{"key", base64_encode(p.key)}, {"value", base64_encode(*p.value)}};
      if (p.lease) q["lease"] = std::to_string(p.lease);
      list.push_back({{"request_put", q}});
    } else {
      list.push_back({{"request_delete_range", {{"key", base64_encode(p.key)}}}});
    }
  }
  const std::string path = "/v3/kv/txn";
  const json body{{"success", list}};
  json res = co_await call(path, body);
  co_return num(member(res, "header"), "revision");
}

asio::awaitable<int64_t> EtcdClient::lease_grant(int ttl_s) {
  const std::string path = "/v3/lease/grant";
  const json body{{"TTL", std::to_string(ttl_s)}};
  json res = co_await call(path, body);
  co_return num(res, "ID");
}

asio::awaitable<int64_t> EtcdClient::lease_keepalive(int64_t id) {
  // A stream in gRPC; through the gateway one request gives one {"result": ...}.
  const std::string path = "/v3/lease/keepalive";
  const json body{{"ID", std::to_string(id)}};
  json res = co_await call(path, body);
  co_return num(member(res, "result"), "TTL");
}

asio::awaitable<void> EtcdClient::lease_revoke(int64_t id) {
  const std::string path = "/v3/lease/revoke";
  const json body{{"ID", std::to_string(id)}};
  co_await call(path, body);
}

asio::awaitable<int64_t> EtcdClient::compact(int64_t revision) {
  const std::string path = "/v3/kv/compaction";
  const json body{{"revision", std::to_string(revision)}};
  json res = co_await call(path, body);
  co_return num(member(res, "header"), "revision");
}

void EtcdClient::cancel_watch() {
  if (watch_conn_) watch_conn_->close();
}

asio::awaitable<void> EtcdClient::watch(std::string key, std::string range_end, int64_t start_revision,
                                        EventsFn on_events, std::function<void()> on_created) {
  if (!opts_.user.empty() && token_.empty()) co_await authenticate();
  std::shared_ptr<EtcdConnection> c{co_await connect()};
  watch_conn_ = c;
  json create{{"key", base64_encode(key)}};
  if (!range_end.empty()) create["range_end"] = base64_encode(range_end);
  if (start_revision > 0) create["start_revision"] = std::to_string(start_revision);
  auto req = make_request(c->host, "/v3/watch", json{{"create_request", create}}.dump(), token_);
  // Without a leader the member cancels the watch instead of going quiet.
  req.set("Grpc-Metadata-hasleader", "true");
  std::string lines;
  http::response_parser<http::string_body> p;
  p.body_limit(boost::none);
  auto on_chunk = [&lines](std::uint64_t, beast::string_view body, beast::error_code&) -> std::size_t {
    lines.append(body.data(), body.size());
    return body.size();
  };
  p.on_chunk_body(on_chunk);
  try {
    c->lowest().expires_after(opts_.timeout);
    co_await c->send(req);
    co_await c->receive_header(p);
    if (p.get().result() != http::status::ok || !p.chunked()) {
      co_await c->receive(p);
      json j = json::parse(p.get().body() + lines, nullptr, false);
      if (!j.is_discarded() && j.contains("error")) throw_reply_error(j);
      throw EtcdError(-2, "etcd watch answered HTTP " + std::to_string(p.get().result_int()));
    }
    c->lowest().expires_never();
    while (!p.is_done()) {
      co_await c->receive_some(p);
      size_t nl;
      while ((nl = lines.find('\n')) != std::string::npos) {
        json j = json::parse(lines.substr(0, nl), nullptr, false);
        lines.erase(0, nl + 1);
        if (j.is_discarded()) throw EtcdError(-2, "etcd watch sent a line that is not JSON");
        if (j.contains("error")) throw_reply_error(j);
        const json& r = member(j, "result");
        if (flag(r, "created") && on_created) on_created();
        if (flag(r, "canceled")) {
          if (num(r, "compact_revision") > 0)
            throw EtcdError(11, "watch start revision " + std::to_string(start_revision) +
                                    " was compacted (compact revision " + std::to_string(num(r, "compact_revision")) +
                                    ")");
          throw EtcdError(14, "watch canceled: " + text(r, "cancel_reason", "no reason given"));
        }
        if (member(r, "events").is_array()) {
          std::vector<WatchEvent> evs;
          for (const auto& e : items(r, "events")) {
            WatchEvent ev;
            ev.deleted = text(e, "type") == "DELETE";
            ev.kv = parse_kv(member(e, "kv"));
            evs.push_back(std::move(ev));
          }
          on_events(num(member(r, "header"), "revision"), evs);
        }
      }
    }
  } catch (const boost::system::system_error& e) {
    c->close();
    if (watch_conn_ == c) watch_conn_.reset();
    if (e.code() == asio::error::operation_aborted || e.code() == asio::error::bad_descriptor) co_return;
    throw transport_error(c->endpoint, "watch: " + e.code().message());
  }
  c->close();
  if (watch_conn_ == c) watch_conn_.reset();
}

}  // namespace weft
