// weft::testing — run elements in your own unit tests (libweft_testing).
//
// A plugin author tests an element the way the router runs it: the plugin's
// shared object is loaded (manifest checks included), a small YAML graph is
// validated and built exactly as routerd builds a worker's instance, and
// packets are pushed into it by hand, without ports, lcores or hugepages.
// What reaches a `Capture` element (a class every harness knows) is read back
// as bytes and compared with the frames you expect, or with a pcap file.
//
//   #include <weft/testing.hpp>
//   namespace wt = weft::testing;
//
//   wt::Plugins plugins;                        // knows `Capture`
//   plugins.load_builtin().load(MY_PLUGIN_SO);  // PortRx, Classifier, ... + yours
//   wt::Graph g(R"(
//   elements:
//     mark: {class: DscpMark, dscp: ef}
//     out: Capture
//   connections: [mark -> out]
//   )", plugins);
//   g.push_pcap("mark", "input.pcap");
//   REQUIRE(wt::compare_frames(g.take("out"), wt::read_pcap("expected.pcap")) == "");
//   REQUIRE(g.drops("mark", "not_ip") == 1);
//
// DPDK starts on first use (`--no-huge`, one lcore, in this process only),
// once per process. Nothing here is safe to call from several threads.
//
// Link with Weft::testing (CMake) or `pkg-config --libs weft-testing`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weft/batch.hpp"
#include "weft/dpdk.hpp"
#include "weft/element.hpp"

namespace weft::testing {

// One Ethernet frame, as bytes on the wire.
using Frame = std::vector<uint8_t>;

// Starts DPDK's EAL for tests if it is not running: `--no-huge -m 256
// --no-shconf --no-pci`, lcore 0 on the first CPU this process may use, a
// file prefix unique to the process, plus `extra_args` (e.g. `--vdev=...`,
// or `--lcores=...` / `-m 512` replacing a default). Does nothing if DPDK already
// runs. Throws std::runtime_error if DPDK refuses.
void start_dpdk(const std::vector<std::string>& extra_args = {});

// The harness's packet pool (8191 buffers with Weft's metadata area), created
// on first use (starting DPDK if needed).
rte_mempool* pool();

// A packet from `pool()` holding exactly `frame`. Throws if the pool is empty.
rte_mbuf* make_packet(const Frame& frame);
// The bytes of a packet (all segments).
Frame frame_of(const rte_mbuf* m);

// Pcap files (libpcap; any link type is read, Ethernet is written).
std::vector<Frame> read_pcap(const std::string& path);  // throws std::runtime_error
void write_pcap(const std::string& path, const std::vector<Frame>& frames);

// "" when both lists hold the same frames in the same order; otherwise a
// description of the first difference (frame counts, the index of the first
// differing frame, the first differing byte and both frames in hex), ready
// for a test failure message.
std::string compare_frames(const std::vector<Frame>& got, const std::vector<Frame>& want);

// Element classes a harness can instantiate: plugins loaded through the same
// loader routerd uses (a plugin it would refuse is refused here with the same
// message, as std::runtime_error), plus the harness's `Capture` class, which
// keeps every packet it receives on any number of inputs (so your plugin
// cannot also define a class named Capture).
class Plugins {
 public:
  Plugins();
  ~Plugins();
  Plugins(const Plugins&) = delete;
  Plugins& operator=(const Plugins&) = delete;

  // Loads one plugin file (e.g. CMake's $<TARGET_FILE:myplugin>).
  Plugins& load(const std::string& path);
  // Loads every *.so of a directory.
  Plugins& load_directory(const std::string& dir);
  // Loads Weft's built-in plugins (PortRx, Classifier, Counter, ...).
  Plugins& load_builtin();
  // Where the built-in plugins are: lib/weft/plugins next to libweft_testing.
  static std::string builtin_dir();

  // Names of every known class.
  std::vector<std::string> classes() const;
  // A class's description (ports, parameters, docs), or nullptr.
  const ElementClass* find(const std::string& class_name) const;

 private:
  friend class Graph;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One instance of a graph, built as a routerd worker builds its own: the
// YAML is parsed and validated (the same checks as `routerctl validate`),
// then every element is configured, wired and initialized. A graph for a
// harness has no `ports:`; feed packets into any element with push() and
// collect them in `Capture` elements. `plugins` must outlive the graph.
class Graph {
 public:
  // Throws std::runtime_error with every diagnostic (`<harness>:LINE:COL: ...`)
  // if the graph is not valid, or naming the element whose initialize failed.
  Graph(const std::string& yaml, const Plugins& plugins);
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // The instance of an element (throws std::out_of_range for an unknown id).
  Element& element(const std::string& id);

  // Pushes packets into an element's input, in batches of at most
  // kBatchCapacity, and lets each batch travel through the graph.
  void push(const std::string& id, const std::vector<Frame>& frames, uint16_t input = 0);
  void push(const std::string& id, Batch& batch, uint16_t input = 0);  // takes the batch's packets
  void push_pcap(const std::string& id, const std::string& pcap_path, uint16_t input = 0);
  // Polls a source (or polled) element once; true if it moved packets.
  bool run(const std::string& id);

  // What a Capture element received since the last take, in order (the
  // packets are freed). take_packets() hands the packets themselves over
  // instead (metadata, segments); free them with rte_pktmbuf_free.
  std::vector<Frame> take(const std::string& capture_id);
  std::vector<rte_mbuf*> take_packets(const std::string& capture_id);

  // An element's drop counter for a named reason (throws std::invalid_argument
  // if the class has no such reason), and packets sent on a named output.
  uint64_t drops(const std::string& id, const std::string& reason);
  uint64_t output_packets(const std::string& id, const std::string& output);

  // Reads or writes a handler, as `routerctl handler read|write` would.
  std::string read_handler(const std::string& id, const std::string& handler);
  void write_handler(const std::string& id, const std::string& handler, const std::string& value);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::testing
