// The YAML loader: structure, positions, connection syntax.
#include <catch2/catch.hpp>

#include "core/graph_spec.hpp"
#include "core/text.hpp"

using namespace weft;

TEST_CASE("numbers and booleans parse strictly", "[text]") {
  CHECK(parse_uint("42") == 42u);
  CHECK(parse_uint("0x10") == 16u);
  CHECK_FALSE(parse_uint("-1"));
  CHECK_FALSE(parse_uint("12abc"));
  CHECK(parse_int("-5") == -5);
  CHECK(parse_bool("yes") == true);
  CHECK(parse_bool("Off") == false);
  CHECK_FALSE(parse_bool("maybe"));
  CHECK(parse_double("2.5") == 2.5);
}

TEST_CASE("did you mean suggests close names only", "[text]") {
  std::vector<std::string> names{"Classifier", "Counter", "PortRx", "PortTx"};
  CHECK(closest_match("Clasifier", names) == std::string("Classifier"));
  CHECK(closest_match("portrx", names) == std::string("PortRx"));
  CHECK_FALSE(closest_match("Nat44", names));
  CHECK(did_you_mean("Countr", names) == " (did you mean 'Counter'?)");
}

TEST_CASE("connection chains expand to pairs with ports", "[spec]") {
  Diagnostics d("f.yaml");
  auto c = parse_connection("rx -> cls[web] -> [1]m -> tx", {3, 5}, d);
  REQUIRE_FALSE(d.has_errors());
  REQUIRE(c.size() == 3);
  CHECK(c[0].from.element == "rx");
  CHECK(c[0].to.element == "cls");
  CHECK(c[1].from.port == "web");
  CHECK(c[1].to.element == "m");
  CHECK(c[1].to.port == "1");
  CHECK(c[2].from.element == "m");
  CHECK(c[2].to.element == "tx");
  // Columns point into the string.
  CHECK(c[0].to.mark.line == 3);
  CHECK(c[0].to.mark.column == 5 + 6);
  CHECK(c[1].from.port_mark.column == 5 + 10);
}

TEST_CASE("malformed connections are reported at the offending character", "[spec]") {
  Diagnostics d("f.yaml");
  parse_connection("a -> ", {1, 1}, d);
  parse_connection("a => b", {2, 1}, d);
  parse_connection("a[ -> b", {3, 1}, d);
  parse_connection("a", {4, 1}, d);
  parse_connection("[0]a -> b", {5, 1}, d);
  REQUIRE(d.items().size() == 5);
  CHECK(d.items()[1].mark.column == 3);
  CHECK(d.format().find("f.yaml:2:3: error: connection 'a => b': expected '->'") != std::string::npos);
}

TEST_CASE("YAML syntax errors carry file, line and column", "[spec]") {
  Diagnostics d("g.yaml");
  parse_graph("elements:\n  a: {class: Counter\n", "g.yaml", d);
  REQUIRE(d.has_errors());
  CHECK(d.items()[0].mark.line >= 2);
  CHECK(d.format().rfind("g.yaml:", 0) == 0);
}

TEST_CASE("graph sections are read with positions", "[spec]") {
  Diagnostics d("g.yaml");
  auto g = parse_graph(R"(name: t
workers: {lcores: [1, 2], burst: 64}
ports:
  p0: {device: net_null0, args: "size=64", rx_queues: 2}
  p1: net_null1
elements:
  rx: {class: PortRx, port: p0}
  c: Counter
connections:
  - "rx -> c"
)",
                       "g.yaml", d);
  INFO(d.format());
  REQUIRE_FALSE(d.has_errors());
  CHECK(g.name == "t");
  CHECK(g.worker_lcores == std::vector<unsigned>{1, 2});
  CHECK(g.burst == 64);
  REQUIRE(g.ports.size() == 2);
  CHECK(g.ports[0].args == "size=64");
  CHECK(g.ports[0].rx_queues == 2);
  CHECK(g.ports[1].device == "net_null1");
  REQUIRE(g.elements.size() == 2);
  CHECK(g.elements[1].class_name == "Counter");
  CHECK(g.elements[0].mark.line == 7);
  REQUIRE(g.connections.size() == 1);
  // Quoted string: column of the first character inside the quotes.
  CHECK(g.connections[0].to.mark.column == 12);
}

TEST_CASE("structural mistakes are all reported", "[spec]") {
  Diagnostics d("g.yaml");
  parse_graph(R"(workerz: [1]
workers: {lcores: [0, 1, 1]}
elements:
  a: {class: Counter}
  a: {class: Null}
  9bad: Counter
  b: {color: red}
)",
              "g.yaml", d);
  std::string out = d.format();
  INFO(out);
  CHECK(out.find("g.yaml:1:1: error: unknown key 'workerz' in the graph file (did you mean 'workers'?)") !=
        std::string::npos);
  CHECK(out.find("lcore 0 is the control lcore") != std::string::npos);
  CHECK(out.find("lcore 1 is listed twice") != std::string::npos);
  CHECK(out.find("g.yaml:5:3: error: duplicate element id 'a' (first defined at line 4)") != std::string::npos);
  CHECK(out.find("element id '9bad'") != std::string::npos);
  CHECK(out.find("element 'b' has no class") != std::string::npos);
}
