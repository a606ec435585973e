// Validation turns a GraphSpec into a GraphPlan: every class resolved, every
// parameter checked against its schema and by the element's own configure(),
// every connection resolved to (element, port) pairs, queues assigned. All
// problems are reported at once; a plan is only usable without errors.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/diagnostics.hpp"
#include "core/graph_spec.hpp"
#include "core/plugin_loader.hpp"
#include "weft/service.hpp"

namespace weft {

struct RxClaim {
  std::string port;
  int queue = -1;  // -1: the worker's own queue
  Mark mark;
};

// How an element transmits on a port: from each worker on the worker's own
// queue (queue -1), or through a thread of its own on one queue.
struct TxUse {
  std::string port;
  int queue = -1;
  Mark mark;
};

struct NodePlan {
  const ElementSpec* spec = nullptr;
  const ElementClass* klass = nullptr;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  struct Link {
    int element = -1;  // index into GraphPlan::nodes
    uint16_t input = 0;
  };
  std::vector<Link> links;  // one per output
  std::vector<RxClaim> rx_claims;
  std::vector<std::string> tx_ports;
  std::vector<TxUse> tx_uses;
};

struct PortPlan {
  const PortSpec* spec = nullptr;
  uint16_t rx_queues = 1;
  uint16_t tx_queues = 1;
};

struct ServicePlan {
  const ServiceSpec* spec = nullptr;
  const ServiceClass* klass = nullptr;
};

struct GraphPlan {
  std::shared_ptr<const GraphSpec> spec;
  std::vector<ServicePlan> services;  // a service after the services it uses
  std::vector<NodePlan> nodes;
  std::vector<PortPlan> ports;
  int index_of(const std::string& id) const;
  const ServicePlan* find_service(const std::string& name) const;
  unsigned workers() const { return static_cast<unsigned>(spec->worker_lcores.size()); }
};

// Checks everything that can be checked without DPDK running.
GraphPlan validate_graph(std::shared_ptr<const GraphSpec> spec, const PluginLoader& loader, Diagnostics& diag);

// Builds the Params view of an element spec against its class schema.
Params make_params(const ElementSpec& e, const ElementClass& k);
Params make_service_params(const ServiceSpec& s, const ServiceClass& k);

// Runs configure() on a fresh per-lcore instance of a validated node; the
// same checks the validator ran, so it only throws if configure() is not
// deterministic.
void configure_instance(Element& el, const NodePlan& node, const GraphSpec& graph);
// The same for a service.
void configure_service(Service& s, const ServicePlan& plan, const GraphSpec& graph);

}  // namespace weft
