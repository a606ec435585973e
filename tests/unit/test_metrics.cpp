// Metrics: the naming rules a class's declaration must follow, the two
// exposition formats, content negotiation, and the `telemetry:` section.
#include <catch2/catch.hpp>

#include "control/metrics.hpp"
#include "core/graph_spec.hpp"
#include "core/metric_catalog.hpp"
#include "core/plugin_loader.hpp"
#include "test_env.hpp"

using namespace weft;

namespace {

// Why a class's declaration breaks the rules ("" if it keeps them); `framework`: a framework
// family, which holds the labels a class may not declare.
std::string rule_broken(const MetricSpec& m, bool framework = false) {
  try {
    if (framework) check_metric_spec(m, "the framework", {});
    else check_metric_spec(m, "class X", {"element", "class"});
  } catch (const std::logic_error& e) {
    return e.what();
  }
  return "";
}

MetricSet sample_set() {
  MetricSet set;
  set.add("weft_reloads_total", {"applied"}, 3);
  set.add("weft_reloads_total", {"refused"}, 1);
  set.add("weft_build_info", {"0.2.0", "3.0", "DPDK 22.11.11", "itanium/libstdc++"}, 1);
  set.add("weft_uptime_seconds", {}, 12.5);
  MetricFamily* f = set.family({"weft_test_queue_bytes", MetricType::Gauge, "a \\ help\nwith a newline", {"queue"}});
  REQUIRE(f);
  f->samples.push_back({{"a \"quoted\" \\ name\n"}, 1e20});
  return set;
}

}  // namespace

TEST_CASE("metric names follow Prometheus's conventions", "[metrics]") {
  CHECK(rule_broken({"weft_x_packets_total", MetricType::Counter, "h", {"queue"}}).empty());
  CHECK(rule_broken({"weft_x_seconds", MetricType::Gauge, "h", {}}).empty());
  CHECK(rule_broken({"weft_x_info", MetricType::Info, "h", {"version"}}).empty());
  CHECK_THAT(rule_broken({"x_packets_total", MetricType::Counter, "h", {}}), Catch::Contains("a name is weft_"));
  CHECK_THAT(rule_broken({"weft_X", MetricType::Gauge, "h", {}}), Catch::Contains("a name is weft_"));
  CHECK_THAT(rule_broken({"weft_a__b", MetricType::Gauge, "h", {}}), Catch::Contains("single underscores"));
  CHECK_THAT(rule_broken({"weft_packets", MetricType::Counter, "h", {}}), Catch::Contains("ends in _total"));
  CHECK_THAT(rule_broken({"weft_packets_total", MetricType::Gauge, "h", {}}),
             Catch::Contains("only a counter's name ends in _total"));
  CHECK_THAT(rule_broken({"weft_build", MetricType::Info, "h", {}}), Catch::Contains("ends in _info"));
  CHECK_THAT(rule_broken({"weft_x", MetricType::Gauge, "", {}}), Catch::Contains("no help text"));
  CHECK_THAT(rule_broken({"weft_x", MetricType::Gauge, "h", {"element"}}),
             Catch::Contains("label 'element' is added by the framework"));
  CHECK_THAT(rule_broken({"weft_x", MetricType::Gauge, "h", {"le"}}), Catch::Contains("reserved by Prometheus"));
  CHECK_THAT(rule_broken({"weft_x", MetricType::Gauge, "h", {"a", "a"}}), Catch::Contains("twice"));
  CHECK_THAT(rule_broken({"weft_x", MetricType::Gauge, "h", {"Queue"}}), Catch::Contains("label 'Queue'"));
}

TEST_CASE("every framework and built-in metric keeps the rules and one meaning per name", "[metrics]") {
  for (const auto& f : framework_metrics()) CHECK(rule_broken(f.spec, true).empty());
  PluginLoader l;
  l.load_directories({test::builtin_plugin_dir()});  // refuses a conflicting class (checked below)
  size_t declared = 0;
  for (const auto& n : l.class_names()) declared += l.find(n)->metrics.size();
  for (const auto& n : l.service_class_names()) declared += l.find_service(n)->metrics.size();
  CHECK(declared >= 20);  // NAT, L2 switch, Fib, Svp, NeighborSink
  // A class may not take a framework name, nor reuse a name with other labels.
  const MetricSpec mine{"weft_reloads_total", MetricType::Counter, "h", {"result"}};
  CHECK_THAT(metric_conflict(mine, {}), Catch::Contains("one of the framework's"));
  const MetricSpec a{"weft_x_entries", MetricType::Gauge, "h", {"element", "class"}};
  MetricSpec b = a;
  b.labels.push_back("table");
  CHECK(metric_conflict(a, {a}).empty());
  CHECK_THAT(metric_conflict(b, {a}), Catch::Contains("another type or other labels"));
  // The same name declared twice in one collection with other labels is not served twice.
  MetricSet set;
  CHECK(set.family(a));
  CHECK_FALSE(set.family(b));
}

TEST_CASE("the text format 0.0.4: HELP, TYPE, escaped labels, info as gauge", "[metrics]") {
  const std::string text = render_metrics(sample_set(), ExpositionFormat::Prometheus);
  CHECK_THAT(text, Catch::Contains("# HELP weft_reloads_total reloads by result"));
  CHECK_THAT(text, Catch::Contains("# TYPE weft_reloads_total counter\n"
                                   "weft_reloads_total{result=\"applied\"} 3\n"
                                   "weft_reloads_total{result=\"refused\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("# TYPE weft_build_info gauge\nweft_build_info{version=\"0.2.0\",plugin_abi=\"3.0\","));
  CHECK_THAT(text, Catch::Contains("weft_uptime_seconds 12.5\n"));
  CHECK_THAT(text, Catch::Contains("# HELP weft_test_queue_bytes a \\\\ help\\nwith a newline\n"));
  CHECK_THAT(text, Catch::Contains("weft_test_queue_bytes{queue=\"a \\\"quoted\\\" \\\\ name\\n\"} 1e+20\n"));
  CHECK(text.find("# EOF") == std::string::npos);
}

TEST_CASE("OpenMetrics: families without _total and _info, info type, # EOF", "[metrics]") {
  const std::string text = render_metrics(sample_set(), ExpositionFormat::OpenMetrics);
  CHECK_THAT(text, Catch::Contains("# TYPE weft_reloads counter\nweft_reloads_total{result=\"applied\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("# TYPE weft_build info\nweft_build_info{"));
  CHECK(text.size() > 6);
  CHECK(text.substr(text.size() - 6) == "# EOF\n");
}

TEST_CASE("the Accept header chooses the format", "[metrics]") {
  // What Prometheus 2.42 sends.
  CHECK(format_for_accept("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
                          "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1") == ExpositionFormat::OpenMetrics);
  CHECK(format_for_accept("") == ExpositionFormat::Prometheus);
  CHECK(format_for_accept("*/*") == ExpositionFormat::Prometheus);
  CHECK(format_for_accept("text/plain;version=0.0.4") == ExpositionFormat::Prometheus);
  CHECK(format_for_accept("application/openmetrics-text;q=0, text/plain") == ExpositionFormat::Prometheus);
  CHECK_THAT(content_type(ExpositionFormat::Prometheus), Catch::Contains("version=0.0.4"));
  CHECK_THAT(content_type(ExpositionFormat::OpenMetrics), Catch::Contains("application/openmetrics-text"));
}

TEST_CASE("listen addresses", "[metrics][spec]") {
  auto a = ListenAddress::parse("0.0.0.0:9100");
  REQUIRE(a);
  CHECK(a->host == "0.0.0.0");
  CHECK(a->port == 9100);
  a = ListenAddress::parse("9418");
  REQUIRE(a);
  CHECK(a->host == "127.0.0.1");
  CHECK(a->str() == "127.0.0.1:9418");
  a = ListenAddress::parse("[::1]:0");
  REQUIRE(a);
  CHECK(a->str() == "[::1]:0");
  for (const char* bad : {"", "localhost:9417", "::1:9417", "1.2.3.4:", "1.2.3.4:70000", "[1.2.3.4]:80", "x"})
    CHECK_FALSE(ListenAddress::parse(bad));
}

TEST_CASE("telemetry: off by default, on loopback when asked, bad values named", "[metrics][spec]") {
  const std::string base =
      "name: t\nports: {p0: net_null0}\nelements: {rx: {class: PortRx, port: p0}, d: Discard}\nconnections: [rx -> d]\n";
  Diagnostics d0("g.yaml");
  GraphSpec g = parse_graph(base, "g.yaml", d0);
  REQUIRE_FALSE(d0.has_errors());
  CHECK_FALSE(g.telemetry.metrics);
  CHECK(g.telemetry.dpdk);

  Diagnostics d1("g.yaml");
  g = parse_graph(base + "telemetry: {metrics: true}\n", "g.yaml", d1);
  REQUIRE_FALSE(d1.has_errors());
  CHECK(g.telemetry.metrics);
  CHECK(g.telemetry.metrics_listen.str() == "127.0.0.1:9417");

  Diagnostics d2("g.yaml");
  g = parse_graph(base + "telemetry:\n  metrics: {listen: \"[::1]:9500\", max_connections: 4, timeout: 2.5}\n  dpdk: false\n",
                  "g.yaml", d2);
  REQUIRE_FALSE(d2.has_errors());
  CHECK(g.telemetry.metrics);
  CHECK(g.telemetry.metrics_listen.str() == "[::1]:9500");
  CHECK(g.telemetry.max_connections == 4);
  CHECK(g.telemetry.timeout_s == 2.5);
  CHECK_FALSE(g.telemetry.dpdk);

  Diagnostics d3("g.yaml");
  parse_graph(base + "telemetry:\n  metrics: {listen: nowhere, max_connections: 0, timeout: 0, colour: red}\n", "g.yaml",
              d3);
  CHECK(d3.has_errors());
  std::string all;
  for (const auto& x : d3.items()) all += x.format() + "\n";
  CHECK_THAT(all, Catch::Contains("telemetry.metrics.listen: expected ADDRESS:PORT"));
  CHECK_THAT(all, Catch::Contains("telemetry.metrics.max_connections: 1 to 1024"));
  CHECK_THAT(all, Catch::Contains("telemetry.metrics.timeout"));
  CHECK_THAT(all, Catch::Contains("colour"));
}
