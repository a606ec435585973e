// EtcdClient's options: with TLS material or credentials configured, no
// endpoint may be plain HTTP (no silent downgrade), each refusal saying which
// endpoint and why. Its calls keep their arguments: a coroutine started after
// the statement that made it (co_spawn) sends what it was given.
#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without including it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "fleet/etcd_client.hpp"

using weft::EtcdClient;
using weft::EtcdOptions;

namespace {

// "" when a client can be made with these options, else why not.
std::string refusal(const EtcdOptions& o) {
  boost::asio::io_context io;
  try {
    EtcdClient c(io, o);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

EtcdOptions with(std::vector<std::string> endpoints) {
  EtcdOptions o;
  o.endpoints = std::move(endpoints);
  return o;
}

namespace asio = boost::asio;
namespace http = boost::beast::http;

// The other end of one connection on loopback: reads one request (kept in
// `req`), answers it with `reply` (raw HTTP; empty: nothing) and closes.
struct OnePeer {
  asio::ip::tcp::acceptor acceptor;
  asio::ip::tcp::socket sock;
  boost::beast::flat_buffer buf;
  http::request<http::string_body> req;
  std::string reply;
  bool received = false;

  OnePeer(asio::io_context& io, std::string r)
      : acceptor(io, {asio::ip::address_v4::loopback(), 0}), sock(io), reply(std::move(r)) {
    acceptor.async_accept(sock, [this](boost::system::error_code ec) {
      if (ec) return;
      http::async_read(sock, buf, req, [this](boost::system::error_code ec2, size_t) {
        received = !ec2;
        asio::async_write(sock, asio::buffer(reply), [this](boost::system::error_code, size_t) {
          boost::system::error_code ignored;
          sock.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
          sock.close(ignored);
        });
      });
    });
  }
  EtcdOptions options() const {
    EtcdOptions o = with({"http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port())});
    o.timeout = std::chrono::seconds(5);
    return o;
  }
};

std::string http_200(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

// One linearizable read of "/a" answered with `body`: its result, or the EtcdError's message.
std::pair<std::vector<weft::RangeResult>, std::string> read_answered(const std::string& body) {
  asio::io_context io;
  OnePeer peer(io, http_200(body));
  EtcdClient client(io, peer.options());
  try {
    return {weft::run_sync(io, client.read({{"/a", ""}})), ""};
  } catch (const weft::EtcdError& e) {
    return {{}, e.what()};
  }
}

}  // namespace

TEST_CASE("with TLS material or credentials, a plain http:// etcd endpoint is refused", "[fleet]") {
  const std::vector<std::string> mixed{"https://10.0.0.1:2379", "http://10.0.0.2:2379"};
  const std::string tls_refusal =
      "etcd endpoint http://10.0.0.2:2379 is plain HTTP, but TLS is configured (--etcd-ca, --etcd-cert, --etcd-key; "
      "fleet: ca, cert, key): refusing an unencrypted connection; use https://10.0.0.2:2379";
  const std::string credentials_refusal =
      "etcd endpoint http://10.0.0.2:2379 is plain HTTP, but etcd credentials are configured (--etcd-user; fleet: "
      "user): refusing to send them unencrypted; use https://10.0.0.2:2379";
  EtcdOptions o = with(mixed);
  o.ca_file = "/nonexistent/ca.pem";
  CHECK(refusal(o) == tls_refusal);
  o = with(mixed);
  o.cert_file = "/nonexistent/client.pem";
  CHECK(refusal(o) == tls_refusal);
  o = with(mixed);
  o.key_file = "/nonexistent/client.key";
  CHECK(refusal(o) == tls_refusal);
  o = with(mixed);
  o.user = "weft";
  o.password = "secret";
  CHECK(refusal(o) == credentials_refusal);
  o = with(mixed);
  o.password = "secret";  // a password without a user is a credential too
  CHECK(refusal(o) == credentials_refusal);
  o = with(mixed);
  o.user = "weft";
  o.ca_file = "/nonexistent/ca.pem";
  CHECK(refusal(o) == tls_refusal);

  // Neither: plain HTTP is what was asked for.
  CHECK(refusal(with(mixed)) == "");
  CHECK(refusal(with({"http://127.0.0.1:2379", "127.0.0.1:2379"})) == "");
  // Credentials over https://, or a bare host:port (which then means https://).
  o = with({"https://127.0.0.1:2379", "127.0.0.1:2380"});
  o.user = "weft";
  o.password = "secret";
  CHECK(refusal(o) == "");
  CHECK(o.secure());
}

// The etcd fuzz target's finding: watch() took its key and range end by
// reference, so a watch co_spawned with temporaries (it starts only when the
// io_context runs it) read them after they were destroyed (ASan:
// stack-use-after-scope in base64_encode). The peer records the request; its
// expected body is base64 computed apart (Python's base64.b64encode).
TEST_CASE("EtcdClient keeps its arguments: a watch co_spawned with temporaries sends the key it was given",
          "[fleet]") {
  asio::io_context io;
  OnePeer peer(io, "");  // no answer: the watch ends with an EtcdError
  EtcdClient client(io, peer.options());
  bool done = false;
  std::exception_ptr err;
  const std::string prefix = "/weft/desired/" + std::string(40, 'k');  // past the small-string buffer: on the heap
  asio::co_spawn(io, client.watch(prefix + "/", weft::prefix_end(prefix + "/"), 7, [](int64_t, const auto&) {}),
                 [&](std::exception_ptr e) {
                   done = true;
                   err = e;
                 });
  // The temporaries are gone; blocks of their size are handed out again.
  std::vector<std::string> reuse(16, std::string(prefix.size() + 1, 'X'));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done && std::chrono::steady_clock::now() < deadline) io.run_for(std::chrono::milliseconds(10));
  REQUIRE(done);
  REQUIRE(peer.received);
  CHECK(peer.req.target() == "/v3/watch");
  const auto body = nlohmann::json::parse(peer.req.body());
  CHECK(body["create_request"]["key"] == "L3dlZnQvZGVzaXJlZC9ra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2trLw==");
  CHECK(body["create_request"]["range_end"] ==
        "L3dlZnQvZGVzaXJlZC9ra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2trMA==");
  CHECK(body["create_request"]["start_revision"] == "7");
  REQUIRE(err);
  CHECK_THROWS_AS(std::rethrow_exception(err), weft::EtcdError);
}

// Also the fuzz target's: a txn reply whose range response lacked
// response_range hit nlohmann's assertion (const operator[] on a missing key;
// undefined behaviour in an optimized build), and members of other types
// threw its type_error, which no caller catches as an etcd failure.
TEST_CASE("EtcdClient reads a reply of another shape than etcd's as absent members or an EtcdError, never a crash or "
          "another exception",
          "[fleet]") {
  // A range response without response_range: no key in that range.
  auto [r1, e1] = read_answered(R"({"header":{"revision":"5"},"responses":[{}]})");
  CHECK(e1 == "");
  REQUIRE(r1.size() == 1);
  CHECK(r1[0].revision == 5);
  CHECK(r1[0].kvs.empty());
  // Members of other types than the API's are absent (the gateway omits empty values).
  auto [r2, e2] = read_answered(
      R"({"header":{"revision":"6"},"responses":[{"response_range":{"kvs":[{"key":"L2E=","value":7,"lease":null}]}}]})");
  CHECK(e2 == "");
  REQUIRE(r2.size() == 1);
  REQUIRE(r2[0].kvs.size() == 1);
  CHECK(r2[0].kvs[0].key == "/a");
  CHECK(r2[0].kvs[0].value == "");
  // Not an object, a revision that is not a 64-bit integer, too few ranges: EtcdErrors that say so.
  CHECK(read_answered("[1,2]").second == "etcd txn answered 0 ranges");
  CHECK(read_answered(R"({"header":{"revision":"12abc"},"responses":[{}]})").second ==
        R"(etcd sent a revision that is not a 64-bit integer: "12abc")");
  CHECK(read_answered(R"({"header":{"revision":1e300},"responses":[{}]})").second ==
        "etcd sent a revision that is not a 64-bit integer: 1e+300");
  CHECK(read_answered(R"({"header":{"revision":"99999999999999999999"},"responses":[{}]})").second ==
        R"(etcd sent a revision that is not a 64-bit integer: "99999999999999999999")");
  CHECK(read_answered(R"({"header":{"revision":"5"},"responses":"x"})").second == "etcd txn answered 0 ranges");
}
