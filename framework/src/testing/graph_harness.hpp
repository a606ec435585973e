// GraphHarness: one instance of a graph, driven by hand, without ports or
// worker lcores. Tests and benchmarks push batches into any element and read
// what reached `Capture` elements.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/plugin_loader.hpp"
#include "core/validator.hpp"
#include "runtime/runtime.hpp"

namespace weft {

class GraphHarness {
 public:
  // The `Capture` element class: keeps every packet it receives (per input)
  // until the test takes them. Add it to a loader with add_class().
  static const ElementClass& capture_class();

  // Validates `yaml` (errors: std::runtime_error with every diagnostic) and
  // builds and initializes one instance of it, using `pool` for buffers.
  // The loader must outlive the harness (its plugins hold the elements' code).
  GraphHarness(const std::string& yaml, const PluginLoader& loader, rte_mempool* pool);
  ~GraphHarness();

  Element& element(const std::string& id);
  // Pushes a batch into an element's input, then flushes what it staged.
  void push(const std::string& id, Batch& b, uint16_t input = 0);
  // Polls a source element once.
  bool run(const std::string& id);
  // Packets a Capture element received (the caller owns and frees them).
  std::vector<rte_mbuf*> take(const std::string& capture_id);
  // An element's drop count for a named reason, packets sent on a named
  // output (std::invalid_argument if the class has no such reason or output).
  uint64_t drops(const std::string& id, const std::string& reason);
  uint64_t output_packets(const std::string& id, const std::string& output);
  // Reads or writes one of the element's own handlers (std::invalid_argument
  // if it has no such handler, or it is read-only / write-only).
  std::string read_handler(const std::string& id, const std::string& handler);
  void write_handler(const std::string& id, const std::string& handler, const std::string& value);
  const GraphPlan& plan() const { return plan_; }
  // A service of the graph (std::out_of_range if none), built but not
  // started until start_services() runs it on an event loop.
  Service& service(const std::string& name);
  void start_services(boost::asio::io_context& io);

 private:
  GraphPlan plan_;
  ServiceSet services_;
  std::unique_ptr<WorkerGraph> graph_;
};

}  // namespace weft
