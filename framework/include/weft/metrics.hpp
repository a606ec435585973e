// Metrics a class exports: declared once, in the class's description, with
// their name, type, help text, labels and the code that reads them; routerd
// serves them to Prometheus (GET /metrics), to DPDK's telemetry socket and to
// `routerctl metrics`, and docs/telemetry.md lists them (generated).
//
//   ServiceClass::make<FibService>("Fib")
//       .metric("weft_fib_routes", MetricType::Gauge, "routes installed", {"table", "family"},
//               [](const FibService& s, MetricSink& out) {
//                 for (...) out.sample({std::to_string(id), "ipv4"}, n);
//               });
//   ElementClass::make<Nat44>("Nat44")
//       .metric("weft_nat_sessions", MetricType::Gauge, "sessions now", {"protocol"}, ...);
//
// The framework adds the labels saying whose figure it is: `service` for a
// service's metrics; `element` and `class` for an element's. A reader runs on
// the control thread, for a service on the service itself, for an element on
// the instance of its first worker, while workers keep running: it reads only
// what is safe to read from another thread (weft::Counter, atomics, a table
// shared by the element's instances and its own totals), never per-worker
// state a handler would need the worker's mailbox for.
//
// Names follow Prometheus's conventions: `weft_` first, lower case, a unit
// suffix (`_seconds`, `_bytes`), counters end in `_total`, info metrics in
// `_info` (their value is 1 and their labels are the information). A name
// that breaks them makes the class's description throw std::logic_error, and
// the loader refuses the plugin naming the class.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace weft {

enum class MetricType { Counter, Gauge, Info };
const char* to_string(MetricType t);

struct MetricSpec {
  std::string name;
  MetricType type = MetricType::Gauge;
  std::string help;
  std::vector<std::string> labels;  // the metric's own labels, in the order readers give their values
};

// Where a reader writes its samples: the values of the metric's own labels,
// in declaration order, then the value. A sample with the wrong number of
// label values is dropped (and logged).
class MetricSink {
 public:
  virtual ~MetricSink() = default;
  virtual void sample(std::initializer_list<std::string_view> label_values, double value) = 0;
  void sample(double value) { sample({}, value); }
};

// Checks a declaration against the conventions above; `reserved` are the
// labels the framework adds. Throws std::logic_error naming `owner`.
void check_metric_spec(const MetricSpec& m, const std::string& owner, std::initializer_list<std::string_view> reserved);

// A metric of a class whose instances are of type Obj (an Element or a Service).
template <class Obj>
struct ClassMetricSpec {
  MetricSpec spec;
  std::function<void(const Obj&, MetricSink&)> read;
};

}  // namespace weft
