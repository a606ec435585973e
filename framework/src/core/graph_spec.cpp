#include "core/graph_spec.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/text.hpp"
#include "core/param_node.hpp"
#include "weft/net.hpp"

namespace weft {

const PortSpec* GraphSpec::find_port(const std::string& n) const {
  for (const auto& p : ports)
    if (p.name == n) return &p;
  return nullptr;
}

const ElementSpec* GraphSpec::find_element(const std::string& id) const {
  for (const auto& e : elements)
    if (e.id == id) return &e;
  return nullptr;
}

const ServiceSpec* GraphSpec::find_service(const std::string& service) const {
  for (const auto& s : services)
    if (s.id == service) return &s;
  return nullptr;
}

std::optional<ListenAddress> ListenAddress::parse(std::string_view text) {
  ListenAddress a;
  std::string_view port = text;
  if (!text.empty() && text[0] == '[') {  // [IPv6]:PORT
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    a.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
    auto ip = IpAddr::parse(a.host);
    if (!ip || ip->version != 6) return std::nullopt;
  } else if (size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    a.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    auto ip = IpAddr::parse(a.host);
    if (!ip || ip->version != 4) return std::nullopt;  // IPv6 needs brackets
  }
  auto p = port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos
               ? std::nullopt
               : parse_uint(port);
  if (!p || *p > 65535) return std::nullopt;
  a.port = static_cast<uint16_t>(*p);
  return a;
}

std::string ListenAddress::str() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

namespace {

const std::vector<std::string> kTopKeys = {"name",     "eal",   "workers",  "mempool",  "stats",       "plugins",
                                           "control",  "ports", "services", "elements", "connections", "include",
                                           "fleet",    "telemetry"};

class Reader {
 public:
  Reader(GraphSpec& g, Diagnostics& d) : g_(g), d_(d) {}

  // yaml-cpp keeps duplicate keys (and lookups see only the first): refuse them.
  void check_duplicates(const YAML::Node& map, const std::string& where) {
    std::map<std::string, Mark> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      auto [pos, inserted] = seen.emplace(it->first.Scalar(), mark_of(it->first));
      if (!inserted)
        d_.error(mark_of(it->first), "duplicate key '" + it->first.Scalar() + "' in " + where +
                                         " (first at line " + std::to_string(pos->second.line) + ")");
    }
  }

  void check_keys(const YAML::Node& map, const std::vector<std::string>& allowed, const std::string& where) {
    check_duplicates(map, where);
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string k = it->first.Scalar();
      bool ok = false;
      for (const auto& a : allowed) ok = ok || a == k;
      if (!ok) d_.error(mark_of(it->first), "unknown key '" + k + "' in " + where + did_you_mean(k, allowed));
    }
  }

  template <class T>
  bool read_uint(const YAML::Node& n, T& out, const std::string& what) {
    auto v = n.IsScalar() ? parse_uint(n.Scalar()) : std::nullopt;
    if (!v || *v > std::numeric_limits<T>::max()) {
      d_.error(mark_of(n), what + ": expected a non-negative integer" +
                               (v ? " no larger than " + std::to_string(std::numeric_limits<T>::max()) : ""));
      return false;
    }
    out = static_cast<T>(*v);
    return true;
  }

  bool read_string(const YAML::Node& n, std::string& out, const std::string& what) {
    if (!n.IsScalar()) {
      d_.error(mark_of(n), what + ": expected a string");
      return false;
    }
    out = n.Scalar();
    return true;
  }

  bool expect_map(const YAML::Node& n, const std::string& what) {
    if (!n.IsMap()) {
      d_.error(mark_of(n), what + ": expected a mapping");
      return false;
    }
    return true;
  }

  void read_eal(const YAML::Node& n) {
    if (!expect_map(n, "eal")) return;
    check_keys(n, {"args", "memory_mb", "log_level"}, "eal");
    if (auto a = n["args"]) {
      if (!a.IsSequence()) {
        d_.error(mark_of(a), "eal.args: expected a list of strings");
      } else {
        g_.eal_args_given = true;
        for (const auto& x : a) {
          std::string s;
          if (read_string(x, s, "eal.args item")) g_.eal_args.push_back(s);
        }
      }
    }
    if (auto m = n["memory_mb"]) read_uint(m, g_.memory_mb, "eal.memory_mb");
    if (auto l = n["log_level"]) read_string(l, g_.log_level, "eal.log_level");
  }

  void read_lcores(const YAML::Node& n) {
    g_.workers_mark = mark_of(n);
    if (!n.IsSequence() || n.size() == 0) {
      d_.error(mark_of(n), "workers.lcores: expected a non-empty list of lcore numbers");
      return;
    }
    g_.worker_lcores.clear();
    std::set<unsigned> seen;
    for (const auto& x : n) {
      unsigned l = 0;
      if (!read_uint(x, l, "workers.lcores item")) continue;
      if (l == 0) {
        d_.error(mark_of(x), "lcore 0 is the control lcore; workers need other lcores");
        continue;
      }
      if (l >= 128) {
        d_.error(mark_of(x), "lcore " + std::to_string(l) + " is out of range (0-127)");
        continue;
      }
      if (!seen.insert(l).second) {
        d_.error(mark_of(x), "lcore " + std::to_string(l) + " is listed twice");
        continue;
      }
      g_.worker_lcores.push_back(l);
    }
  }

  void read_workers(const YAML::Node& n) {
    if (n.IsSequence()) return read_lcores(n);
    if (!expect_map(n, "workers")) return;
    check_keys(n, {"lcores", "burst", "idle_sleep_us", "idle_polls"}, "workers");
    if (auto l = n["lcores"]) read_lcores(l);
    if (auto b = n["burst"]) {
      if (read_uint(b, g_.burst, "workers.burst") && (g_.burst == 0 || g_.burst > 256))
        d_.error(mark_of(b), "workers.burst: must be between 1 and 256");
    }
    if (auto s = n["idle_sleep_us"]) read_uint(s, g_.idle_sleep_us, "workers.idle_sleep_us");
    if (auto s = n["idle_polls"]) read_uint(s, g_.idle_polls, "workers.idle_polls");
  }

  void read_mempool(const YAML::Node& n) {
    if (!expect_map(n, "mempool")) return;
    check_keys(n, {"size", "cache", "packed"}, "mempool");
    if (auto pk = n["packed"]) {
      auto b = pk.IsScalar() ? parse_bool(pk.Scalar()) : std::nullopt;
      if (pk.IsScalar() && pk.Scalar() == "auto") g_.mempool_packing = GraphSpec::Packing::Auto;
      else if (b) g_.mempool_packing = *b ? GraphSpec::Packing::Always : GraphSpec::Packing::Never;
      else d_.error(mark_of(pk), "mempool.packed: expected auto, true or false");
    }
    if (auto s = n["size"]) read_uint(s, g_.mempool_size, "mempool.size");
    if (auto c = n["cache"]) {
      if (read_uint(c, g_.mempool_cache, "mempool.cache") && g_.mempool_cache > 512)
        d_.error(mark_of(c), "mempool.cache: at most 512 (RTE_MEMPOOL_CACHE_MAX_SIZE)");
    }
  }

  void read_stats(const YAML::Node& n) {
    if (!expect_map(n, "stats")) return;
    check_keys(n, {"bytes", "runtime"}, "stats");
    if (auto b = n["bytes"]) {
      auto v = b.IsScalar() ? parse_bool(b.Scalar()) : std::nullopt;
      if (v) g_.count_bytes = *v;
      else d_.error(mark_of(b), "stats.bytes: expected true or false");
    }
    if (auto r = n["runtime"]) {
      auto v = r.IsScalar() ? parse_bool(r.Scalar()) : std::nullopt;
      if (v) g_.runtime_figures = *v;
      else d_.error(mark_of(r), "stats.runtime: expected true or false");
    }
  }

  void read_plugins(const YAML::Node& n) {
    if (!expect_map(n, "plugins")) return;
    check_keys(n, {"path"}, "plugins");
    if (auto p = n["path"]) {
      g_.plugins_mark = mark_of(p);
      std::vector<YAML::Node> items;
      if (p.IsScalar()) items.push_back(p);
      else if (p.IsSequence())
        for (const auto& x : p) items.push_back(x);
      else d_.error(mark_of(p), "plugins.path: expected a directory or a list of directories");
      for (const auto& x : items) {
        std::string s;
        if (!read_string(x, s, "plugins.path item")) continue;
        std::filesystem::path path(s);
        if (path.is_relative() && !g_.dir.empty()) path = std::filesystem::path(g_.dir) / path;
        g_.plugin_paths.push_back(path.lexically_normal().string());
      }
    }
  }

  // A capture named relatively in a port's args (net_pcap's rx_pcap=, tx_pcap=) is found from the graph's
  // directory, as plugins.path is: the graph runs from any working directory.
  std::string resolve_capture_paths(const std::string& args) const {
    if (g_.dir.empty()) return args;
    std::string out;
    size_t start = 0;
    while (start <= args.size()) {
      size_t end = args.find(',', start);
      if (end == std::string::npos) end = args.size();
      std::string item = args.substr(start, end - start);
      for (const char* key : {"rx_pcap=", "tx_pcap="}) {
        const std::string k(key);
        if (item.rfind(k, 0) == 0 && item.size() > k.size() && item[k.size()] != '/')
          item = k + std::filesystem::absolute(std::filesystem::path(g_.dir) / item.substr(k.size()))
                         .lexically_normal()
                         .string();
      }
      out += (start == 0 ? "" : ",") + item;
      start = end + 1;
    }
    return out;
  }

  void read_fleet(const YAML::Node& n) {
    if (!expect_map(n, "fleet")) return;
    check_keys(n,
               {"etcd", "node", "prefix", "ca", "cert", "key", "user", "password_file", "lease_ttl", "sync_interval",
                "status_interval"},
               "fleet");
    FleetSpec& f = g_.fleet;
    f.given = true;
    f.mark = mark_of(n);
    if (auto e = n["etcd"]) {
      if (e.IsScalar()) {
        for (auto& x : split(e.Scalar(), ','))
          if (!trim(x).empty()) f.endpoints.push_back(trim(x));
      } else if (e.IsSequence()) {
        for (const auto& x : e) {
          std::string s;
          if (read_string(x, s, "fleet.etcd item")) f.endpoints.push_back(s);
        }
      } else {
        d_.error(mark_of(e), "fleet.etcd: expected an endpoint or a list of them (http://127.0.0.1:2379)");
      }
    }
    if (auto x = n["node"]) read_string(x, f.node, "fleet.node");
    if (auto x = n["prefix"]) read_string(x, f.prefix, "fleet.prefix");
    if (auto x = n["user"]) read_string(x, f.user, "fleet.user");
    auto path = [&](const char* key, std::string& out) {
      if (auto x = n[key]; x && read_string(x, out, std::string("fleet.") + key)) {
        std::filesystem::path p(out);
        if (p.is_relative() && !g_.dir.empty()) out = (std::filesystem::path(g_.dir) / p).lexically_normal().string();
      }
    };
    path("ca", f.ca_file);
    path("cert", f.cert_file);
    path("key", f.key_file);
    path("password_file", f.password_file);
    if (auto x = n["lease_ttl"]) {
      if (read_uint(x, f.lease_ttl_s, "fleet.lease_ttl") && f.lease_ttl_s < 2)
        d_.error(mark_of(x), "fleet.lease_ttl: at least 2 seconds");
    }
    auto seconds = [&](const char* key, double& out) {
      if (auto x = n[key]) {
        auto v = x.IsScalar() ? parse_double(x.Scalar()) : std::nullopt;
        if (!v || *v < 0.1) d_.error(mark_of(x), std::string("fleet.") + key + ": expected seconds (at least 0.1)");
        else out = *v;
      }
    };
    seconds("sync_interval", f.sync_interval_s);
    seconds("status_interval", f.status_interval_s);
  }

  void read_control(const YAML::Node& n) {
    if (!expect_map(n, "control")) return;
    check_keys(n, {"socket"}, "control");
    if (auto s = n["socket"]) read_string(s, g_.control_socket, "control.socket");
  }

  void read_telemetry(const YAML::Node& n) {
    if (!expect_map(n, "telemetry")) return;
    check_keys(n, {"metrics", "dpdk"}, "telemetry");
    TelemetrySpec& t = g_.telemetry;
    auto listen = [&](const YAML::Node& x) {
      if (auto a = x.IsScalar() ? ListenAddress::parse(x.Scalar()) : std::nullopt) t.metrics_listen = *a;
      else d_.error(mark_of(x), "telemetry.metrics.listen: expected ADDRESS:PORT (127.0.0.1:9417, [::1]:9417) or a port");
    };
    if (auto m = n["metrics"]) {
      auto b = m.IsScalar() ? parse_bool(m.Scalar()) : std::nullopt;
      if (b) {
        t.metrics = *b;
      } else if (m.IsScalar()) {
        t.metrics = true;
        listen(m);
      } else if (m.IsMap()) {
        t.metrics = true;
        check_keys(m, {"listen", "max_connections", "timeout"}, "telemetry.metrics");
        if (auto x = m["listen"]) listen(x);
        if (auto x = m["max_connections"]) {
          if (read_uint(x, t.max_connections, "telemetry.metrics.max_connections") &&
              (t.max_connections == 0 || t.max_connections > 1024))
            d_.error(mark_of(x), "telemetry.metrics.max_connections: 1 to 1024");
        }
        if (auto x = m["timeout"]) {
          auto v = x.IsScalar() ? parse_double(x.Scalar()) : std::nullopt;
          if (!v || !(*v >= 0.1) || *v > 3600) d_.error(mark_of(x), "telemetry.metrics.timeout: seconds, 0.1 to 3600");
          else t.timeout_s = *v;
        }
      } else {
        d_.error(mark_of(m), "telemetry.metrics: expected true, false, ADDRESS:PORT or {listen, max_connections, timeout}");
      }
    }
    if (auto x = n["dpdk"]) {
      auto v = x.IsScalar() ? parse_bool(x.Scalar()) : std::nullopt;
      if (v) t.dpdk = *v;
      else d_.error(mark_of(x), "telemetry.dpdk: expected true or false");
    }
  }

  void read_ports(const YAML::Node& n) {
    if (!expect_map(n, "ports")) return;
    std::map<std::string, Mark> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      PortSpec p;
      p.name = it->first.Scalar();
      p.mark = mark_of(it->first);
      if (auto [pos, inserted] = seen.emplace(p.name, p.mark); !inserted) {
        d_.error(p.mark, "duplicate port '" + p.name + "' (first defined at line " + std::to_string(pos->second.line) +
                             ")");
        continue;
      }
      const YAML::Node v = it->second;  // a copy: the iterator yields a temporary pair
      if (v.IsScalar()) {
        p.device = v.Scalar();
      } else if (expect_map(v, "port '" + p.name + "'")) {
        check_keys(v,
                   {"device", "args", "rx_queues", "tx_queues", "rx_desc", "tx_desc", "promiscuous", "mtu", "rss",
                    "checksum_offload"},
                   "port '" + p.name + "'");
        if (auto d = v["device"]) read_string(d, p.device, "device");
        else d_.error(p.mark, "port '" + p.name + "' has no device (for example `device: net_null0`)");
        if (auto a = v["args"]) {
          read_string(a, p.args, "args");
          p.args = resolve_capture_paths(p.args);
        }
        auto queues = [&](const char* key, int& out, Mark* m) {
          if (auto q = v[key]) {
            if (m) *m = mark_of(q);
            if (q.IsScalar() && q.Scalar() == "auto") return;
            unsigned u = 0;
            if (read_uint(q, u, key)) {
              if (u == 0 || u > 1024) d_.error(mark_of(q), std::string(key) + ": must be between 1 and 1024");
              else out = static_cast<int>(u);
            }
          }
        };
        queues("rx_queues", p.rx_queues, &p.rx_queues_mark);
        queues("tx_queues", p.tx_queues, &p.tx_queues_mark);
        if (auto d = v["rx_desc"]) read_uint(d, p.rx_desc, "rx_desc");
        if (auto d = v["tx_desc"]) read_uint(d, p.tx_desc, "tx_desc");
        if (auto pr = v["promiscuous"]) {
          auto b = pr.IsScalar() ? parse_bool(pr.Scalar()) : std::nullopt;
          if (b) p.promiscuous = *b;
          else d_.error(mark_of(pr), "promiscuous: expected true or false");
        }
        if (auto m = v["mtu"]) {
          p.mtu_mark = mark_of(m);
          unsigned u = 0;
          if (read_uint(m, u, "mtu")) {
            if (u < 68 || u > 65535) d_.error(mark_of(m), "mtu: must be between 68 and 65535");
            else p.mtu = static_cast<uint16_t>(u);
          }
        }
        if (auto r = v["rss"]) {
          const std::string s = r.IsScalar() ? r.Scalar() : "";
          if (s == "auto") p.rss = PortSpec::Rss::Auto;
          else if (s == "off") p.rss = PortSpec::Rss::Off;
          else if (s == "symmetric") p.rss = PortSpec::Rss::Symmetric;
          else d_.error(mark_of(r), "rss: expected auto, off or symmetric");
        }
        if (auto c = v["checksum_offload"]) {
          auto b = c.IsScalar() ? parse_bool(c.Scalar()) : std::nullopt;
          if (b) p.checksum_offload = *b;
          else d_.error(mark_of(c), "checksum_offload: expected true or false");
        }
      }
      g_.ports.push_back(std::move(p));
    }
  }

  void read_elements(const YAML::Node& n) { read_instances(n, "elements", "element", g_.elements); }
  void read_services(const YAML::Node& n) { read_instances(n, "services", "service", g_.services); }

  // `elements:` or `services:`: a map of NAME -> CLASS or {class: CLASS, parameters...}.
  void read_instances(const YAML::Node& n, const char* section, const std::string& what,
                      std::vector<InstanceSpec>& out) {
    if (!expect_map(n, section)) return;
    const std::string example = what == "service" ? "`class: Fib`" : "`class: Counter`";
    std::map<std::string, Mark> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      InstanceSpec e;
      e.id = it->first.Scalar();
      e.mark = mark_of(it->first);
      if (auto [pos, inserted] = seen.emplace(e.id, e.mark); !inserted) {
        d_.error(e.mark, "duplicate " + what + (what == "element" ? " id '" : " name '") + e.id +
                             "' (first defined at line " + std::to_string(pos->second.line) + ")");
        continue;
      }
      if (!valid_id(e.id)) {
        d_.error(e.mark, what + (what == "element" ? " id '" : " name '") + e.id +
                             "': use letters, digits, '_', '-' and '.', starting with a letter");
        continue;
      }
      const YAML::Node v = it->second;  // a copy: the iterator yields a temporary pair
      if (v.IsScalar()) {  // shorthand: `counter: Counter`
        e.class_name = v.Scalar();
        e.class_mark = mark_of(v);
        e.params = YAML::Node(YAML::NodeType::Map);
        // `a: ""`: the validator looks no class up for an empty name, so it
        // must be refused here (an instance without a class crashed routerd).
        if (e.class_name.empty())
          d_.error(e.class_mark, what + " '" + e.id + "': the class is empty (for example " + example + ")");
      } else if (v.IsMap()) {
        check_duplicates(v, what + " '" + e.id + "'");
        YAML::Node params(YAML::NodeType::Map);
        for (auto kv = v.begin(); kv != v.end(); ++kv) {
          if (kv->first.Scalar() == "class") {
            e.class_mark = mark_of(kv->second);
            read_string(kv->second, e.class_name, "class");
          } else {
            params.force_insert(kv->first, kv->second);
          }
        }
        if (e.class_name.empty() && e.class_mark.line == 0)
          d_.error(e.mark, what + " '" + e.id + "' has no class (for example " + example + ")");
        else if (e.class_name.empty() && v["class"].IsScalar())  // `class: ""`
          d_.error(e.class_mark, what + " '" + e.id + "': the class is empty (for example " + example + ")");
        e.params = params;
      } else if (v.IsNull()) {
        d_.error(e.mark, what + " '" + e.id + "' has no class" +
                             (what == "element" ? " (note: YAML reads Null, null and ~ as nothing; "
                                                  "the pass-through class is Pass)"
                                                : " (for example " + example + ")"));
        continue;
      } else {
        d_.error(mark_of(v), what + " '" + e.id + "': expected a mapping with `class:` and parameters");
        continue;
      }
      out.push_back(std::move(e));
    }
  }

  void read_connections(const YAML::Node& n) {
    if (!n.IsSequence()) {
      d_.error(mark_of(n), "connections: expected a list such as `- rx -> tx`");
      return;
    }
    for (const auto& c : n) {
      if (!c.IsScalar()) {
        g_.connections_incomplete = true;
        d_.error(mark_of(c), "connection: expected a string such as 'a -> b' or 'cls[arp] -> arp_out'");
        continue;
      }
      Mark base = mark_of(c);
      // A quoted scalar's mark points at its quote: move to the first
      // character. Columns inside the string are exact only if the string
      // stands as written on that one line (not folded or escaped).
      bool exact = false;
      if (base.line > 0) {
        std::string line = source_line(base.line);
        size_t col = static_cast<size_t>(base.column - 1);
        if (col < line.size() && (line[col] == '"' || line[col] == '\'')) {
          base.column++;
          col++;
        }
        exact = line.compare(std::min(col, line.size()), c.Scalar().size(), c.Scalar()) == 0;
      }
      size_t errors_before = d_.items().size();
      for (auto& conn : parse_connection(c.Scalar(), base, d_, exact)) g_.connections.push_back(std::move(conn));
      if (d_.items().size() != errors_before) g_.connections_incomplete = true;
    }
  }

  static bool valid_id(const std::string& s) {
    if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
    for (char ch : s)
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-' && ch != '.') return false;
    return true;
  }

  std::string source_line(int line) const {
    std::istringstream in(g_.text);
    std::string s;
    for (int i = 0; i < line && std::getline(in, s); i++) {
    }
    return s;
  }

 private:
  GraphSpec& g_;
  Diagnostics& d_;
};

bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'; }

}  // namespace

std::vector<ConnectionSpec> parse_connection(const std::string& s, Mark base, Diagnostics& diag,
                                             bool exact_columns) {
  // Grammar: segment ( "->" segment )+ ; segment: [ "[" port "]" ] name [ "[" port "]" ]
  struct Segment {
    std::string in_port, name, out_port;
    Mark in_mark, name_mark, out_mark;
  };
  auto at = [&](size_t i) { return exact_columns ? Mark{base.line, base.column + static_cast<int>(i)} : base; };
  std::vector<Segment> segs;
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) i++;
  };
  auto read_port = [&](std::string& out, Mark& m) -> bool {
    // at '['
    size_t open = i++;
    skip_ws();
    size_t start = i;
    while (i < s.size() && is_ident_char(s[i])) i++;
    out = s.substr(start, i - start);
    m = at(start);
    skip_ws();
    if (i >= s.size() || s[i] != ']' || out.empty()) {
      diag.error(at(open), "connection '" + s + "': expected a port name or number between '[' and ']'");
      return false;
    }
    i++;
    return true;
  };
  while (true) {
    Segment seg;
    skip_ws();
    if (i < s.size() && s[i] == '[' && !read_port(seg.in_port, seg.in_mark)) return {};
    skip_ws();
    size_t start = i;
    while (i < s.size() && is_ident_char(s[i]) && !(s[i] == '-' && i + 1 < s.size() && s[i + 1] == '>')) i++;
    seg.name = s.substr(start, i - start);
    seg.name_mark = at(start);
    if (seg.name.empty()) {
      diag.error(at(start), "connection '" + s + "': expected an element name");
      return {};
    }
    skip_ws();
    if (i < s.size() && s[i] == '[' && !read_port(seg.out_port, seg.out_mark)) return {};
    segs.push_back(seg);
    skip_ws();
    if (i >= s.size()) break;
    if (s.compare(i, 2, "->") != 0) {
      diag.error(at(i), "connection '" + s + "': expected '->'");
      return {};
    }
    i += 2;
  }
  if (segs.size() < 2) {
    diag.error(base, "connection '" + s + "': expected at least two elements joined by '->'");
    return {};
  }
  if (!segs.front().in_port.empty()) {
    diag.error(segs.front().in_mark, "connection '" + s + "': the first element of a chain cannot name an input port");
    return {};
  }
  if (!segs.back().out_port.empty()) {
    diag.error(segs.back().out_mark, "connection '" + s + "': the last element of a chain cannot name an output port");
    return {};
  }
  std::vector<ConnectionSpec> out;
  for (size_t k = 0; k + 1 < segs.size(); k++) {
    ConnectionSpec c;
    c.from = {segs[k].name, segs[k].out_port, segs[k].name_mark, segs[k].out_mark};
    c.to = {segs[k + 1].name, segs[k + 1].in_port, segs[k + 1].name_mark, segs[k + 1].in_mark};
    out.push_back(std::move(c));
  }
  return out;
}

namespace {

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// Reads one included fragment into `g`, its lines numbered after g.text's.
void read_fragment(GraphSpec& g, const GraphSource& src, Diagnostics& diag) {
  if (!g.text.empty() && g.text.back() != '\n') g.text += '\n';
  const int before = count_lines(g.text);
  diag.add_source(src.name, before);
  g.text += src.text;
  std::map<std::string, Mark> ids, ports;
  for (const auto& e : g.elements) ids.emplace(e.id, e.mark);
  for (const auto& p : g.ports) ports.emplace(p.name, p.mark);
  const size_t first_element = g.elements.size(), first_port = g.ports.size();
  YAML::Node root;
  try {
    root = YAML::Load(std::string(static_cast<size_t>(before), '\n') + src.text);
  } catch (const YAML::Exception& e) {
    diag.error({e.mark.line + 1, e.mark.column + 1}, "YAML syntax: " + e.msg);
    g.connections_incomplete = true;
    return;
  }
  if (!root.IsMap()) {
    diag.error(root.IsNull() ? Mark{before + 1, 1} : mark_of(root),
               "a fragment is a mapping with `ports:`, `elements:` and/or `connections:`");
    return;
  }
  Reader r(g, diag);
  r.check_keys(root, {"ports", "elements", "connections"}, "the fragment");
  if (auto n = root["ports"]) r.read_ports(n);
  if (auto n = root["elements"]) r.read_elements(n);
  if (auto n = root["connections"]) r.read_connections(n);
  // A name may be defined once in the whole graph.
  for (size_t i = first_element; i < g.elements.size(); i++)
    if (auto it = ids.find(g.elements[i].id); it != ids.end())
      diag.error(g.elements[i].mark, "duplicate element id '" + g.elements[i].id + "' (first defined at " +
                                         diag.where(it->second) + ")");
  for (size_t i = first_port; i < g.ports.size(); i++)
    if (auto it = ports.find(g.ports[i].name); it != ports.end())
      diag.error(g.ports[i].mark, "duplicate port '" + g.ports[i].name + "' (first defined at " +
                                      diag.where(it->second) + ")");
}

}  // namespace

GraphSpec parse_graph(const std::string& text, const std::string& file, Diagnostics& diag,
                      const IncludeResolver& resolve) {
  GraphSpec g;
  g.file = file;
  g.text = text;
  if (!file.empty()) g.dir = std::filesystem::path(file).parent_path().string();
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    diag.error({e.mark.line + 1, e.mark.column + 1}, "YAML syntax: " + e.msg);
    return g;
  }
  if (!root.IsMap()) {
    diag.error(mark_of(root), "a graph file is a mapping with `ports:`, `elements:` and `connections:`");
    return g;
  }
  g.parsed = true;
  Reader r(g, diag);
  r.check_keys(root, kTopKeys, "the graph file");
  if (auto n = root["name"]) r.read_string(n, g.name, "name");
  if (auto n = root["eal"]) r.read_eal(n);
  if (auto n = root["workers"]) r.read_workers(n);
  if (auto n = root["mempool"]) r.read_mempool(n);
  if (auto n = root["stats"]) r.read_stats(n);
  if (auto n = root["plugins"]) r.read_plugins(n);
  if (auto n = root["control"]) r.read_control(n);
  if (auto n = root["fleet"]) r.read_fleet(n);
  if (auto n = root["telemetry"]) r.read_telemetry(n);
  if (auto n = root["ports"]) r.read_ports(n);
  if (auto n = root["services"]) r.read_services(n);
  if (auto n = root["elements"]) r.read_elements(n);
  else if (!root["include"] && !root["services"]) diag.error(mark_of(root), "the graph has no `elements:` section");
  if (auto n = root["connections"]) r.read_connections(n);
  if (auto inc = root["include"]) {
    std::vector<YAML::Node> names;
    if (inc.IsScalar()) names.push_back(inc);
    else if (inc.IsSequence())
      for (const auto& x : inc) names.push_back(x);
    else diag.error(mark_of(inc), "include: expected a fragment name or a list of them");
    std::set<std::string> seen;
    for (const auto& x : names) {
      if (!x.IsScalar()) {
        diag.error(mark_of(x), "include: expected a fragment name");
        continue;
      }
      if (!seen.insert(x.Scalar()).second) {
        diag.error(mark_of(x), "fragment '" + x.Scalar() + "' is included twice");
        continue;
      }
      std::optional<GraphSource> src;
      if (resolve) src = resolve(x.Scalar());
      if (!resolve) diag.error(mark_of(x), "include: fragments cannot be included here");
      else if (!src) diag.error(mark_of(x), "include: no fragment '" + x.Scalar() + "'");
      else read_fragment(g, *src, diag);
    }
  }
  return g;
}

GraphSpec load_graph_file(const std::string& path, Diagnostics& diag) {
  std::ifstream in(path);
  if (!in) {
    diag.error({}, "cannot read graph file: " + std::string(std::strerror(errno)));
    GraphSpec g;
    g.file = path;
    return g;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  IncludeResolver files = [&dir](const std::string& name) -> std::optional<GraphSource> {
    std::filesystem::path p = std::filesystem::path(name).is_absolute() ? std::filesystem::path(name) : dir / name;
    std::ifstream f(p);
    if (!f) return std::nullopt;
    std::stringstream text;
    text << f.rdbuf();
    return GraphSource{p.lexically_normal().string(), text.str()};
  };
  return parse_graph(ss.str(), path, diag, files);
}

}  // namespace weft
