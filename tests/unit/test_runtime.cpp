// The runtime with real DPDK ports (net_null) and a real worker lcore.
#include <catch2/catch.hpp>
#include <thread>

#include "control/control_api.hpp"
#include "runtime/runtime.hpp"
#include "test_env.hpp"

using namespace weft;

TEST_CASE("workers forward between ports, count, and answer handlers between batches", "[runtime]") {
  test::eal();
  Diagnostics d("rt.yaml");
  auto spec = std::make_shared<GraphSpec>(parse_graph(R"(
workers: {lcores: [1], idle_sleep_us: 0}
ports:
  p0: {device: net_null0, args: "size=64"}
  p1: net_null1
  p2: {device: net_null2, args: "size=128"}
  p3: net_null3
elements:
  rx: {class: PortRx, port: p0}
  c: Counter
  tx: {class: PortTx, port: p1}
  fwd: {class: Forward, from: p2, to: p3}
connections:
  - rx -> c -> tx
)",
                                                      "rt.yaml", d));
  GraphPlan plan = validate_graph(spec, test::loader(), d);
  INFO(d.format());
  REQUIRE_FALSE(d.has_errors());
  Runtime rt(plan);
  rt.start();
  REQUIRE(rt.workers().size() == 1);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (rt.element(0, 1)->output_port(0).packets.get() < 100000 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::string count;
  REQUIRE(rt.run_on_worker(0, [&] {
    const Element& el = *rt.element(0, 1);
    count = el.element_class().find_handler("count")->read(el);
  }, std::chrono::seconds(2)));
  CHECK(std::stoull(count) >= 100000);
  rt.halt();
  json st = stats_json(rt);
  const json& c = st["elements"][1];
  CHECK(c["total"]["in"] == c["total"]["out"]);
  CHECK(st["elements"][2]["total"]["in"] == c["total"]["out"]);
  CHECK(st["ports"][0]["rx_packets"].get<uint64_t>() == st["elements"][0]["total"]["out"].get<uint64_t>());
  CHECK(st["ports"][1]["tx_packets"].get<uint64_t>() + st["elements"][2]["total"]["dropped"].get<uint64_t>() ==
        c["total"]["out"].get<uint64_t>());
  CHECK(st["ports"][3]["tx_packets"].get<uint64_t>() > 0);
  CHECK(rt.element(0, 3)->drops(0) == 0);  // Forward: no tx_full on a null device
  rt.stop();
}
