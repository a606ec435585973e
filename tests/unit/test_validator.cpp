// The validator, with the real built-in plugin: every class of mistake the
// issue names is caught, with its position, all at once.
#include <catch2/catch.hpp>

#include "core/validator.hpp"
#include "test_env.hpp"

using namespace weft;

namespace {

struct Result {
  GraphPlan plan;
  std::string text;
  bool errors;
};

Result check(const std::string& yaml) {
  Diagnostics d("g.yaml");
  auto spec = std::make_shared<GraphSpec>(parse_graph(yaml, "g.yaml", d));
  GraphPlan plan = validate_graph(spec, test::loader(), d);
  return {plan, d.format(), d.has_errors()};
}

bool has(const Result& r, const std::string& s) { return r.text.find(s) != std::string::npos; }

const char* kPorts = R"(
ports:
  p0: net_null0
  p1: net_null1
)";

}  // namespace

TEST_CASE("a valid graph resolves links, outputs and queues", "[validator]") {
  auto r = check(std::string(kPorts) + R"(
workers: [1, 2]
elements:
  rx: {class: PortRx, port: p0}
  cls: {class: Classifier, rules: [{output: web, dst_port: 80}, {output: arp, ethertype: arp}]}
  m: Merge
  tx: {class: PortTx, port: p1}
connections:
  - rx -> cls
  - cls[web] -> [0]m
  - cls[arp] -> [1]m
  - cls[default] -> m -> tx
)");
  INFO(r.text);
  REQUIRE_FALSE(r.errors);
  const NodePlan& cls = r.plan.nodes[1];
  CHECK(cls.outputs == std::vector<std::string>{"web", "arp", "default"});
  CHECK(cls.links[0].element == 2);
  CHECK(cls.links[1].input == 1);
  CHECK(cls.links[2].input == 2);
  CHECK(r.plan.nodes[2].inputs.size() == 3);
  CHECK(r.plan.ports[0].rx_queues == 2);  // one per worker
  CHECK(r.plan.ports[1].tx_queues == 2);
}

TEST_CASE("unknown class gets a suggestion", "[validator]") {
  auto r = check("elements:\n  c: {class: Countr}\n");
  CHECK(r.errors);
  CHECK(has(r, "g.yaml:2:14: error: element 'c': unknown class 'Countr' (did you mean 'Counter'?)"));
}

TEST_CASE("unknown, missing and mistyped parameters", "[validator]") {
  auto r = check(std::string(kPorts) + R"(
elements:
  rx: {class: PortRx, prot: p0}
  tx: {class: PortTx, port: p1, retries: lots}
  t: {class: Tee, outputs: [1]}
connections:
  - rx -> t
  - t[out0] -> tx
)");
  INFO(r.text);
  CHECK(has(r, "g.yaml:7:23: error: element 'rx': PortRx has no parameter 'prot' (did you mean 'port'?)"));
  CHECK(has(r, "g.yaml:7:3: error: element 'rx': missing required parameter 'port'"));
  CHECK(has(r, "g.yaml:8:42: error: element 'tx': parameter 'retries' expects a non-negative integer, got 'lots'"));
  CHECK(has(r, "element 't': parameter 'outputs' expects a non-negative integer, got a list"));
}

TEST_CASE("connections to missing elements or ports", "[validator]") {
  auto r = check(std::string(kPorts) + R"(
elements:
  rx: {class: PortRx, port: p0}
  cls: {class: Classifier, rules: [{output: web, dst_port: 80}]}
  tx: {class: PortTx, port: p1}
connections:
  - rx -> cls
  - cls[wbe] -> tx
  - cls[default] -> txx
  - tx -> rx
)");
  INFO(r.text);
  CHECK(has(r, "g.yaml:12:9: error: element 'cls' has no output 'wbe' (outputs: web, default) (did you mean 'web'?)"));
  CHECK(has(r, "g.yaml:13:21: error: connection to unknown element 'txx' (did you mean 'tx'?)"));
  CHECK(has(r, "element 'tx' (PortTx) has no outputs"));
  // Outputs of 'cls' were meant to be connected (misspelled): no follow-up noise.
  CHECK_FALSE(has(r, "is not connected"));
}

TEST_CASE("an unconnected output is an error", "[validator]") {
  auto r = check("elements:\n  cls: {class: Classifier, rules: [{output: web, dst_port: 80}]}\n  d: Discard\n"
                 "connections:\n  - cls[web] -> d\n");
  CHECK(has(r, "g.yaml:2:3: error: output 'default' of 'cls' is not connected"));
}

TEST_CASE("an output connected twice is refused", "[validator]") {
  auto r = check("elements:\n  a: Pass\n  b: Discard\n  c: Discard\nconnections:\n  - a -> b\n  - a -> c\n");
  INFO(r.text);
  CHECK(has(r, "g.yaml:7:5: error: output 'out' of 'a' is already connected (line 6)"));
}

TEST_CASE("cycles are refused", "[validator]") {
  auto r = check("elements:\n  a: Pass\n  b: Pass\n  c: Pass\nconnections:\n  - a -> b -> c -> a\n");
  INFO(r.text);
  CHECK(r.errors);
  CHECK(has(r, "connection cycle: a -> b -> c -> a"));
}

TEST_CASE("an RX queue claimed twice is refused", "[validator]") {
  auto r = check(std::string(kPorts) + R"(
elements:
  rx1: {class: PortRx, port: p0}
  rx2: {class: PortRx, port: p0}
  d: Discard
connections:
  - rx1 -> d
  - rx2 -> d
)");
  INFO(r.text);
  CHECK(has(r, "g.yaml:8:30: error: element 'rx2': RX queue 0 of port 'p0' is already claimed by 'rx1' (line 7)"));

  auto r2 = check(std::string(kPorts) + R"(
workers: [1, 2]
elements:
  rx: {class: PortRx, port: p0, queue: 0}
  d: Discard
connections:
  - rx -> d
)");
  CHECK(has(r2, "RX queue 0 of port 'p0' would be claimed twice: each of the 2 workers polls it"));
}

TEST_CASE("a port is transmitted on from the workers or from a thread, not both", "[validator]") {
  // Two deferred PortTx share the thread (queue 0); another port transmits directly.
  auto ok = check(std::string(kPorts) + R"(
  p2: net_null2
workers: [1, 2]
elements:
  rx: {class: PortRx, port: p0}
  cls: {class: Classifier, rules: [{output: web, dst_port: 80}, {output: arp, ethertype: arp}]}
  t1: {class: PortTx, port: p1, deferred: true}
  t2: {class: PortTx, port: p1, deferred: true}
  direct: {class: PortTx, port: p2}
connections:
  - rx -> cls
  - cls[web] -> t1
  - cls[arp] -> t2
  - cls[default] -> direct
)");
  INFO(ok.text);
  REQUIRE_FALSE(ok.errors);
  CHECK(ok.plan.ports[1].tx_queues == 2);
  CHECK(ok.plan.ports[2].tx_queues == 2);
  CHECK(ok.plan.nodes[2].tx_uses.size() == 1);
  CHECK(ok.plan.nodes[2].tx_uses[0].queue == 0);
  CHECK(ok.plan.nodes[2].tx_ports == std::vector<std::string>{"p1"});  // still its port for captures and traces
  CHECK(ok.plan.nodes[4].tx_uses[0].queue == -1);

  // A PortTx and a Forward transmit on p1 from the workers, beside a deferred one.
  auto mixed = check(std::string(kPorts) + R"(
  p2: net_null2
elements:
  rx: {class: PortRx, port: p0}
  cls: {class: Classifier, rules: [{output: web, dst_port: 80}]}
  t1: {class: PortTx, port: p1, deferred: true}
  direct: {class: PortTx, port: p1}
  fwd: {class: Forward, from: p2, to: p1}
connections:
  - rx -> cls
  - cls[web] -> t1
  - cls[default] -> direct
)");
  INFO(mixed.text);
  CHECK(has(mixed, "g.yaml:11:33: error: element 'direct' transmits on port 'p1' from the workers, but 't1' (line 10) "
                   "hands its packets to a thread that transmits on the port's TX queue 0, worker 0's queue"));
  CHECK(has(mixed, "g.yaml:12:39: error: element 'fwd' transmits on port 'p1' from the workers, but 't1' (line 10)"));
}

TEST_CASE("unknown ports in parameters", "[validator]") {
  auto r = check(std::string(kPorts) + "elements:\n  f: {class: Forward, from: p0, to: p2}\n");
  INFO(r.text);
  CHECK(has(r, "g.yaml:6:37: error: element 'f': unknown port 'p2' (did you mean 'p0'?)"));
}

TEST_CASE("element configure errors carry the value's position", "[validator]") {
  auto r = check(R"(elements:
  cls:
    class: Classifier
    rules:
      - {output: a, ip_src: 10.0.0.0/33}
      - {output: b, colour: red}
  d: Discard
connections:
  - cls[a] -> d
)");
  INFO(r.text);
  CHECK(has(r, "g.yaml:5:29: error: element 'cls': ip_src: bad IPv4 prefix length in '10.0.0.0/33'"));
}

TEST_CASE("an element nobody feeds is a warning, not an error", "[validator]") {
  auto r = check("elements:\n  c: Counter\n  d: Discard\nconnections:\n  - c -> d\n");
  CHECK_FALSE(r.errors);
  CHECK(has(r, "g.yaml:2:3: warning: element 'c' receives no packets"));
}

TEST_CASE("services: declared once, ordered by use, typed handles checked with positions", "[validator][service]") {
  auto r = check(std::string(kPorts) + R"(
services:
  fib: {class: Fib, listen: "127.0.0.1:0"}
elements:
  rx: {class: PortRx, port: p0}
  look: {class: IpLookup, fib: fib, outputs: [a]}
  tx: {class: PortTx, port: p1}
connections:
  - rx -> look
  - look[a] -> tx
)");
  INFO(r.text);
  REQUIRE_FALSE(r.errors);
  REQUIRE(r.plan.services.size() == 1);
  CHECK(r.plan.services[0].spec->id == "fib");
  CHECK(r.plan.services[0].klass->name == "Fib");
  CHECK(r.plan.nodes.size() == 3);  // a service is not an element: on no worker, in no poll list
}

TEST_CASE("services: every mistake named at its position", "[validator][service]") {
  // A service class under elements: the migration error names the new form.
  auto r = check(std::string(kPorts) + R"(
elements:
  fib: {class: Fib}
)");
  INFO(r.text);
  CHECK(has(r, "g.yaml:7:16: error: element 'fib': Fib is a service class now: move 'fib' from elements: to "
               "services: (services: {fib: {class: Fib, ...}})"));
  // An element class under services:, an unknown service class.
  r = check(std::string(kPorts) + R"(
services:
  c: Counter
  f: {class: Fibb}
elements:
  rx: {class: PortRx, port: p0}
  tx: {class: PortTx, port: p1}
connections: [rx -> tx]
)");
  INFO(r.text);
  CHECK(has(r, "g.yaml:7:6: error: service 'c': Counter is an element class: declare it under elements:"));
  CHECK(has(r, "g.yaml:8:14: error: service 'f': unknown service class 'Fibb' (did you mean 'Fib'?)"));
  // A missing service, a service of the wrong kind, a bad service parameter.
  r = check(std::string(kPorts) + R"(
services:
  ping: TestPing
  fib: {class: Fib, listen: nowhere}
elements:
  rx: {class: PortRx, port: p0}
  a: {class: IpLookup, fib: fibb, outputs: [x]}
  b: {class: IpLookup, fib: ping, outputs: [x]}
  tx: {class: PortTx, port: p1}
  d: Discard
connections: [rx -> a, "a[x] -> b", "b[x] -> tx"]
)");
  INFO(r.text);
  CHECK(has(r, "g.yaml:8:29: error: service 'fib': listen: expected ADDRESS:PORT"));
  CHECK(has(r, "g.yaml:11:29: error: element 'a': parameter 'fib': no service 'fibb' (did you mean 'fib'?)"));
  CHECK(has(r, "g.yaml:12:29: error: element 'b': parameter 'fib': service 'ping' (class TestPing) does not provide "
               "route.fib"));
  // A name shared by a service and an element; a service without a class.
  r = check(std::string(kPorts) + R"(
services:
  x: TestPing
  y: ~
elements:
  x: Discard
)");
  INFO(r.text);
  CHECK(has(r, "g.yaml:7:3: error: service 'x' has the same name as element 'x' (line 10)"));
  CHECK(has(r, "g.yaml:8:3: error: service 'y' has no class (for example `class: Fib`)"));
}
