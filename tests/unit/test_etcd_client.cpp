// EtcdClient's options: with TLS material or credentials configured, no
// endpoint may be plain HTTP (no silent downgrade), each refusal saying which
// endpoint and why.
#include <catch2/catch.hpp>

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
