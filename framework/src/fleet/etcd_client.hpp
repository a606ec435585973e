// EtcdClient: a client for etcd v3 through its JSON gateway (HTTP/1.1 POST to
// /v3/kv/range, /v3/kv/txn, /v3/watch, /v3/lease/*, /v3/auth/authenticate;
// keys and values base64, 64-bit numbers as strings), with Boost.Beast on an
// Asio io_context, as C++20 coroutines. TLS (server verification with a CA,
// client certificates) through Boost.Asio's OpenSSL streams; user/password
// through the auth token header. Several endpoints: a request that cannot
// reach one (connection refused, timeout) moves on to the next.
//
// Everything runs on the io_context's thread; the client is not thread-safe.
#pragma once

#include <utility>  // Boost 1.74 asio uses std::exchange without including it
#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace weft {

struct EtcdOptions {
  std::vector<std::string> endpoints;  // "http://127.0.0.1:2379", "https://h:2379", or "h:2379"
  std::string ca_file;                 // verify the server against this CA (implies https)
  std::string cert_file, key_file;     // client certificate (etcd --client-cert-auth)
  std::string user, password;          // etcd auth (--user); empty: none
  std::chrono::milliseconds timeout{2000};  // per request (and per connection attempt)
  // TLS material is configured.
  bool tls() const { return !ca_file.empty() || !cert_file.empty() || !key_file.empty(); }
  // Credentials are configured.
  bool credentials() const { return !user.empty() || !password.empty(); }
  // With either, a bare "h:2379" means https, and an http:// endpoint is
  // refused: check_no_downgrade() throws std::invalid_argument saying which
  // endpoint and why. No silent fall-back to an unencrypted connection.
  bool secure() const { return tls() || credentials(); }
  void check_no_downgrade() const;
  // Parses "a,b,c" into endpoints.
  static std::vector<std::string> split_endpoints(const std::string& list);
};

// An error etcd answered with (gRPC code and message), or a transport failure
// (code -1: unreachable, timeout, TLS).
class EtcdError : public std::runtime_error {
 public:
  EtcdError(int code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  int code() const { return code_; }
  bool transport() const { return code_ < 0; }
  // gRPC OUT_OF_RANGE: "required revision has been compacted".
  bool compacted() const { return code_ == 11; }

 private:
  int code_;
};

struct KeyValue {
  std::string key, value;
  int64_t mod_revision = 0;
  int64_t create_revision = 0;
  int64_t lease = 0;
};

struct WatchEvent {
  bool deleted = false;
  KeyValue kv;  // for a delete: key and mod_revision (the revision of the delete)
};

struct RangeResult {
  int64_t revision = 0;  // the store's revision the read saw
  std::vector<KeyValue> kvs;
};

std::string base64_encode(const std::string& s);
std::string base64_decode(const std::string& s);  // throws EtcdError on bad input
// The range_end that selects every key starting with `prefix`.
std::string prefix_end(const std::string& prefix);
KeyValue parse_kv(const nlohmann::json& j);

class EtcdConnection;

// Every call is a coroutine that starts when it is first resumed, which may
// be after the statement that made it (co_spawn): its arguments are taken
// by value, so temporaries given to it cannot dangle.
class EtcdClient {
 public:
  template <class T>
  using Task = boost::asio::awaitable<T>;

  EtcdClient(boost::asio::io_context& io, EtcdOptions opts);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // One unary call: POST `path` with `body`; the reply's JSON. Throws EtcdError.
  Task<nlohmann::json> call(std::string path, nlohmann::json body);

  // Linearizable reads of several ranges at one revision (one txn).
  struct Range {
    std::string key, range_end;  // range_end empty: just `key`
  };
  Task<std::vector<RangeResult>> read(std::vector<Range> ranges);
  // Puts (and deletes, value == nullopt) in one txn; returns its revision.
  struct Put {
    std::string key;
    std::optional<std::string> value;
    int64_t lease = 0;
  };
  Task<int64_t> write(std::vector<Put> ops);
  Task<int64_t> lease_grant(int ttl_s);
  // Returns the remaining TTL; 0 when the lease is gone.
  Task<int64_t> lease_keepalive(int64_t id);
  Task<void> lease_revoke(int64_t id);
  Task<int64_t> compact(int64_t revision);

  // Watches [key, range_end) from `start_revision`, calling on_events(header
  // revision, events) for each response with events. Returns when the stream
  // ends (server closed, cancel()); throws EtcdError, compacted() when
  // start_revision is no longer available.
  using EventsFn = std::function<void(int64_t revision, const std::vector<WatchEvent>&)>;
  Task<void> watch(std::string key, std::string range_end, int64_t start_revision, EventsFn on_events,
                   std::function<void()> on_created = {});
  // Ends a running watch (its coroutine returns).
  void cancel_watch();

  const EtcdOptions& options() const { return opts_; }
  // The endpoint the last successful request went to.
  const std::string& current_endpoint() const;

 private:
  Task<std::unique_ptr<EtcdConnection>> connect();
  Task<nlohmann::json> call_once(std::string path, nlohmann::json body);
  Task<void> authenticate();

  boost::asio::io_context& io_;
  EtcdOptions opts_;
  struct TlsContext;
  std::unique_ptr<TlsContext> tls_;
  size_t preferred_ = 0;  // index of the endpoint to try first
  std::vector<std::unique_ptr<EtcdConnection>> idle_;
  std::string token_;
  std::shared_ptr<EtcdConnection> watch_conn_;
};

// Runs one coroutine to completion on a private io_context (for command-line
// tools); rethrows its exception.
template <class T>
T run_sync(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  std::optional<T> out;
  std::exception_ptr err;
  boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T v) {
    err = e;
    if (!e) out = std::move(v);
  });
  io.restart();
  io.run();
  if (err) std::rethrow_exception(err);
  return std::move(*out);
}

}  // namespace weft
