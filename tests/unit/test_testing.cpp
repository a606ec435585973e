// weft/testing.hpp, the harness shipped to plugin authors: pcap files,
// frame comparison, and graphs of real plugins driven through the public API.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "test_env.hpp"
#include "weft/testing.hpp"

namespace wt = weft::testing;
namespace fs = std::filesystem;

namespace {
wt::Frame udp_frame(uint8_t last) {
  return weft::test::eth(0x0800, weft::test::ipv4("10.0.0.1", "10.0.0.2", 17, weft::test::ports(1000, 53, last)));
}
}  // namespace

TEST_CASE("pcap files written by the harness read back identically, through libpcap", "[testing]") {
  fs::path p = fs::temp_directory_path() / ("weft-testing-" + std::to_string(::getpid()) + ".pcap");
  std::vector<wt::Frame> frames = {udp_frame(0), udp_frame(10), wt::Frame(60, 0xab)};
  wt::write_pcap(p.string(), frames);
  CHECK(wt::read_pcap(p.string()) == frames);
  wt::write_pcap(p.string(), {});
  CHECK(wt::read_pcap(p.string()).empty());
  fs::remove(p);
  CHECK_THROWS_WITH(wt::read_pcap(p.string()), Catch::Contains("cannot read pcap " + p.string()));
}

TEST_CASE("compare_frames names the first difference", "[testing]") {
  wt::Frame a = {1, 2, 3, 4}, b = {1, 2, 9, 4};
  CHECK(wt::compare_frames({a, b}, {a, b}).empty());
  CHECK(wt::compare_frames({a, a}, {a, b}) ==
        "2 frame(s), 2 expected; first difference at frame 1, byte 2 (got 4 bytes, want 4 bytes)\n"
        "  got:  01020304\n  want: 01020904");
  CHECK_THAT(wt::compare_frames({a}, {a, b}), Catch::StartsWith("1 frame(s), 2 expected; first difference at frame 1") &&
                                                  Catch::Contains("got:  (none)"));
}

TEST_CASE("a graph of built-in elements runs through the public harness", "[testing]") {
  weft::test::eal();
  wt::Plugins plugins;
  plugins.load_builtin();
  CHECK(fs::equivalent(wt::Plugins::builtin_dir(), weft::test::builtin_plugin_dir()));
  REQUIRE(plugins.find("Classifier") != nullptr);
  REQUIRE(plugins.find("Capture") != nullptr);
  wt::Graph g(R"(
elements:
  cls: {class: Classifier, rules: [{output: dns, ip_proto: udp, dst_port: 53}], default: drop}
  count: Counter
  out: Capture
connections:
  - cls[dns] -> count -> out
)",
              plugins);
  std::vector<wt::Frame> in(300, udp_frame(8));  // more than one batch
  in.push_back(weft::test::eth(0x0806, wt::Frame(28, 0)));
  g.push("cls", in);
  auto out = g.take("out");
  CHECK(out.size() == 300);
  CHECK(wt::compare_frames(out, std::vector<wt::Frame>(300, udp_frame(8))).empty());
  CHECK(g.drops("cls", "no_match") == 1);
  CHECK(g.output_packets("cls", "dns") == 300);
  CHECK(g.read_handler("count", "count") == "300");
  g.write_handler("count", "reset", "");
  CHECK(g.read_handler("count", "count") == "0");
  CHECK_THROWS_WITH(g.drops("cls", "nonsense"), Catch::Contains("has no drop reason 'nonsense'"));
  CHECK_THROWS_WITH(g.write_handler("count", "count", "1"), Catch::Contains("read-only"));
  CHECK(g.take("out").empty());
}

TEST_CASE("the harness reports an invalid graph and a refused plugin as routerd would", "[testing]") {
  weft::test::eal();
  wt::Plugins plugins;
  plugins.load_builtin();
  CHECK_THROWS_WITH(wt::Graph("elements:\n  c: {class: Counter, colour: red}\n", plugins),
                    Catch::Contains("<harness>:2:") && Catch::Contains("colour"));
  CHECK_THROWS_WITH(plugins.load(weft::test::test_plugin_dir("bad_abi") + "/bad_abi.so"),
                    Catch::Contains("plugin ABI 99.0 is not compatible with the framework's ABI"));
  CHECK_THROWS_WITH(plugins.load(weft::test::test_plugin_dir("undefined_symbol") + "/undefined_symbol.so"),
                    Catch::Contains("undefined symbol: weft_test_symbol_that_does_not_exist"));
  plugins.load(weft::test::test_plugin_dir("good_extra") + "/good_extra.so");
  CHECK(plugins.find("TestPassthrough") != nullptr);
}
