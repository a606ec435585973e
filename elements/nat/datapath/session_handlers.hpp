// The handlers and metrics Nat44 and Nat64 share over their session table,
// declared once for both classes: count, per-protocol sessions, mappings,
// created, expired, allocation_failures, memory, pool; weft_nat_*.
#pragma once

#include <string>

#include "tables/session_table.hpp"
#include "weft/element.hpp"

namespace weft::nat {

// Values written to handlers; both throw std::invalid_argument.
uint32_t parse_seconds(const std::string& v);      // advance_clock: a number of seconds
int parse_filter_port(const std::string& v);       // session_filter's port=N: 0-65535

// "dpdk BYTES heap BYTES per_session BYTES"
std::string memory_text(SessionTable& t);
// One line per pool address: "ADDR tcp N udp N icmp N" (free ports).
std::string pool_text(const SessionTable& t);

// Adds the shared handlers to class T's builder. `table(const T&)` returns the
// element's table (read at each call: a reload may hand the element another).
template <class T, class TableOf>
void add_session_table_handlers(ClassBuilder<T>& b, TableOf table) {
  auto num = [](uint64_t v) { return std::to_string(v); };
  b.read("count", "sessions now", [=](const T& e) { return num(table(e).live()); })
      .read("tcp_sessions", "TCP sessions now", [=](const T& e) { return num(table(e).live(0)); })
      .read("udp_sessions", "UDP sessions now", [=](const T& e) { return num(table(e).live(1)); })
      .read("icmp_sessions", "ICMP sessions now", [=](const T& e) { return num(table(e).live(2)); })
      .read("mappings", "dynamic external endpoints in use", [=](const T& e) { return num(table(e).mappings()); })
      .read("created", "sessions created since the table was made",
            [=](const T& e) {
              const TableTotals x = table(e).totals();
              return num(x.created[0] + x.created[1] + x.created[2]);
            })
      .read("expired", "sessions ended by their idle timeout",
            [=](const T& e) { return num(table(e).totals().expired); })
      .read("allocation_failures", "new sessions refused for want of a port",
            [=](const T& e) { return num(table(e).totals().allocation_failures); })
      .read("memory", "bytes the session table holds", [=](const T& e) { return memory_text(table(e)); })
      .read("pool", "free ports per pool address and protocol", [=](const T& e) { return pool_text(table(e)); });
}

// Adds the shared metrics to class T's builder. They read the table's
// counters (atomics, summed over workers) from the control thread.
template <class T, class TableOf>
void add_session_table_metrics(ClassBuilder<T>& b, TableOf table) {
  static constexpr const char* kProto[kProtoClasses] = {"tcp", "udp", "icmp"};
  b.metric("weft_nat_sessions", MetricType::Gauge, "sessions now, by protocol", {"protocol"},
           [=](const T& e, MetricSink& out) {
             const SessionTable& t = table(e);
             for (int p = 0; p < kProtoClasses; p++) out.sample({kProto[p]}, double(t.live(p)));
           })
      .metric("weft_nat_session_capacity", MetricType::Gauge, "sessions the table holds at most (max_sessions)",
              [=](const T& e) { return table(e).capacity(); })
      .metric("weft_nat_mappings", MetricType::Gauge, "dynamic external endpoints in use",
              [=](const T& e) { return table(e).mappings(); })
      .metric("weft_nat_sessions_created_total", MetricType::Counter, "sessions created, by protocol", {"protocol"},
              [=](const T& e, MetricSink& out) {
                const TableTotals x = table(e).totals();
                for (int p = 0; p < kProtoClasses; p++) out.sample({kProto[p]}, double(x.created[p]));
              })
      .metric("weft_nat_sessions_expired_total", MetricType::Counter, "sessions ended by their idle timeout",
              [=](const T& e) { return table(e).totals().expired; })
      .metric("weft_nat_allocation_failures_total", MetricType::Counter,
              "new sessions refused for want of an external port (the pool exhausted)",
              [=](const T& e) { return table(e).totals().allocation_failures; })
      .metric("weft_nat_pool_ports", MetricType::Gauge, "external ports of the pool, by protocol (all addresses)",
              {"protocol"},
              [=](const T& e, MetricSink& out) {
                const PortPool& pp = table(e).pool();
                for (int p = 0; p < kProtoClasses; p++)
                  out.sample({kProto[p]}, double(pp.size()) * double(pp.ports_per_address()));
              })
      .metric("weft_nat_pool_free_ports", MetricType::Gauge, "external ports free now, by protocol (all addresses)",
              {"protocol"}, [=](const T& e, MetricSink& out) {
                const PortPool& pp = table(e).pool();
                for (int p = 0; p < kProtoClasses; p++) {
                  int64_t free = 0;
                  for (size_t a = 0; a < pp.size(); a++) free += pp.free_ports(a, p);
                  out.sample({kProto[p]}, double(free));
                }
              });
}

}  // namespace weft::nat
