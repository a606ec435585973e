// GraphSpec: the parsed (not yet validated) content of a YAML graph file, with
// the position of everything so later checks can point at it.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/diagnostics.hpp"
#include "weft/error.hpp"

namespace weft {

struct PortSpec {
  std::string name;
  std::string device;      // "net_null0", "net_pcap0", or a PCI address
  std::string args;        // device arguments, e.g. "rx_pcap=in.pcap,tx_pcap=out.pcap"
  int rx_queues = -1;      // -1: one per worker
  int tx_queues = -1;      // -1: one per worker
  uint16_t rx_desc = 1024;
  uint16_t tx_desc = 1024;
  bool promiscuous = true;
  uint16_t mtu = 0;        // 0: the device's default (1500 on Ethernet)
  enum class Rss { Auto, Off, Symmetric } rss = Rss::Auto;  // with several RX queues
  bool checksum_offload = true;  // use the device's checksum offloads when it offers them
  Mark mark;
  Mark mtu_mark;
  Mark rx_queues_mark;
  Mark tx_queues_mark;
  bool is_vdev() const { return device.rfind("net_", 0) == 0 || device.rfind("eth_", 0) == 0; }
};

// One entry of `elements:` (an element instance) or of `services:` (a
// control-plane service, weft/service.hpp): a name, a class, parameters.
struct InstanceSpec {
  std::string id;
  std::string class_name;
  YAML::Node params;  // the entry's map minus `class`
  Mark mark;          // of the id
  Mark class_mark;
};
using ElementSpec = InstanceSpec;
using ServiceSpec = InstanceSpec;


struct Endpoint {
  std::string element;
  std::string port;  // name or index; empty: the element's first port
  Mark mark;         // of the element name
  Mark port_mark;
};

struct ConnectionSpec {
  Endpoint from;
  Endpoint to;
};

// `fleet:`: where routerd's desired graph comes from (etcd), read at start
// only; see docs/fleet.md. routerd's --etcd/--node flags override it.
struct FleetSpec {
  bool given = false;
  std::vector<std::string> endpoints;
  std::string node;
  std::string prefix;
  std::string ca_file, cert_file, key_file;  // relative to the graph's directory
  std::string user, password_file;
  unsigned lease_ttl_s = 0;       // 0: the default
  double sync_interval_s = 0;     // 0: the default
  double status_interval_s = 0;   // 0: the default
  Mark mark;
};

// A TCP address to listen on: "127.0.0.1:9417", "[::1]:9417", "0.0.0.0:9417",
// or a port alone ("9417": loopback).
struct ListenAddress {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  static std::optional<ListenAddress> parse(std::string_view text);
  std::string str() const;  // "127.0.0.1:9417", "[::1]:9417"
};

// `telemetry:`: the Prometheus/OpenMetrics endpoint and DPDK telemetry
// (docs/telemetry.md); read at start, like `control:`. routerd's --metrics
// flag overrides `metrics`.
struct TelemetrySpec {
  static constexpr uint16_t kDefaultMetricsPort = 9417;
  bool metrics = false;  // serve GET /metrics
  ListenAddress metrics_listen{"127.0.0.1", kDefaultMetricsPort};
  unsigned max_connections = 16;
  double timeout_s = 10;  // a connection's time to send its request, and to take the reply
  bool dpdk = true;       // register /weft/... commands with DPDK's telemetry socket
};

struct GraphSpec {
  std::string file;  // path as given (for messages); empty for an embedded graph
  std::string dir;   // directory of the file, for relative paths
  std::string name;
  // EAL
  std::vector<std::string> eal_args;  // replaces the embedded environment flags when given
  bool eal_args_given = false;
  unsigned memory_mb = 256;
  std::string log_level;
  // Workers
  std::vector<unsigned> worker_lcores{1};
  Mark workers_mark;
  unsigned burst = 32;
  unsigned idle_sleep_us = 100;   // 0: busy-poll always
  unsigned idle_polls = 256;      // empty polls before sleeping
  // Buffers
  unsigned mempool_size = 0;  // 0: sized from ports and workers
  unsigned mempool_cache = 256;
  // Pack buffers across pages when running without hugepages (auto), always
  // use DPDK's page-contained layout (false), or insist on packing (true).
  enum class Packing { Auto, Never, Always } mempool_packing = Packing::Auto;
  // Statistics: count bytes on every element output (reads each packet's
  // length once per hop) or packets only.
  bool count_bytes = true;
  // Runtime figures (cycles per element) counted from the start; `routerctl
  // runtime --on/--off` switches them live.
  bool runtime_figures = false;
  // Plugins and control
  std::vector<std::string> plugin_paths;
  Mark plugins_mark;
  // Taken from etcd (docs/fleet.md): its plugin_paths must lie under the
  // plugin loader's roots (routerd --plugin-root).
  bool from_etcd = false;
  std::string control_socket;
  TelemetrySpec telemetry;
  FleetSpec fleet;
  // The graph
  std::vector<PortSpec> ports;
  std::vector<ServiceSpec> services;
  std::vector<ElementSpec> elements;
  std::vector<ConnectionSpec> connections;
  // Source text, kept to report columns inside connection strings.
  std::string text;
  // True once the text parsed as a YAML mapping: later checks can still run
  // (and report their own errors) even if the structure had problems.
  bool parsed = false;
  // A connection string could not be parsed: the links it meant are unknown,
  // so "not connected" findings would be noise.
  bool connections_incomplete = false;

  const PortSpec* find_port(const std::string& n) const;
  const ElementSpec* find_element(const std::string& id) const;
  const ServiceSpec* find_service(const std::string& service) const;
};

// A fragment a graph includes (`include: [NAME, ...]`): the text, and the
// name diagnostics use for it (a file path, or an etcd key).
struct GraphSource {
  std::string name;
  std::string text;
};
// Finds an included fragment by the name written in the graph; nullopt: no
// such fragment.
using IncludeResolver = std::function<std::optional<GraphSource>(const std::string& name)>;

// Parses YAML text. Syntax and structure errors go to `diag`; the returned spec
// holds whatever could be read. `file` is used in messages and to resolve
// relative paths.
// `include:` names fragments (mappings of `ports:`, `elements:` and
// `connections:`) that `resolve` finds; their entries join the graph's, and
// diagnostics inside them name the fragment (see Diagnostics::add_source).
// Without a resolver, `include:` is an error.
GraphSpec parse_graph(const std::string& text, const std::string& file, Diagnostics& diag,
                      const IncludeResolver& resolve = {});
// Reads and parses a file; an unreadable file is reported in `diag`. Included
// fragments are files, relative to the graph's directory.
GraphSpec load_graph_file(const std::string& path, Diagnostics& diag);

// Parses one connection chain such as "rx -> [0]cls[arp] -> arp_out".
// `base` is the position of the string's first character; with
// `exact_columns` false (a string folded over several lines) every error is
// reported at `base`.
std::vector<ConnectionSpec> parse_connection(const std::string& chain, Mark base, Diagnostics& diag,
                                             bool exact_columns = true);

}  // namespace weft
