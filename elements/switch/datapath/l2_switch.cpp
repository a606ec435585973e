#include "datapath/l2_switch.hpp"

#include <rte_hash.h>
#include <rte_mbuf.h>

#include <cstdio>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "weft/clock.hpp"
#include "weft/metadata.hpp"

namespace weft::sw {

const ElementClass& L2Switch::klass() {
  static const ElementClass k =
      ElementClass::make<L2Switch>("L2Switch")
          .describe(
              "A learning Ethernet switch with one MAC table per VNI, shared by every worker.",
              "Input [i] is switch port i (the i-th entry of `ports`); each port is also an output of the same "
              "name. A frame's switching domain is its port's `vni`, or for a trunk port (no `vni`) the packet's "
              "VNI metadata, else the element's `vni`. The source MAC is learned on the ingress port (unless "
              "`learn: false`); the destination MAC is looked up in the domain: a known MAC goes to its port "
              "(dropped as hairpin if that is the ingress port), broadcast and multicast are flooded to every "
              "other port of the domain with `flood: true` (trunks included), unknown unicast goes to the "
              "`unknown` output (or is flooded with `unknown: flood`). Every frame leaves with its VNI metadata "
              "set. Learned entries age out after `aging` seconds without a frame from their MAC; static "
              "entries never age and learning never moves them.\n"
              "Sharing: one rte_hash in lock-free read mode for all workers (lookups take no lock; learning "
              "writes through rte_hash's writer lock, at most once per MAC every aging/8 seconds once learned); "
              "worker 0 sweeps aged entries every second and their slots are reused after an RCU grace period.\n"
              "Example:\n"
              "  sw:\n"
              "    class: L2Switch\n"
              "    vni: 100\n"
              "    ports: [{name: vm1}, {name: vm2}, {name: uplink, flood: false}, {name: router}]\n"
              "    static: [{mac: \"02:00:00:00:00:fe\", port: router}]\n"
              "  connections: from_vm1 -> [0]sw, from_vm2 -> [1]sw, ..., sw[vm1] -> to_vm1, sw[unknown] -> "
              "resolve")
          .any_inputs()
          .poll()
          .outputs_from_config("one output per switch port (its name), then `unknown`")
          .required("ports", ParamType::List, "switch ports: [{name, vni, flood (true), learn (true)}]")
          .param("vni", ParamType::UInt, "", "VNI of ports without one and of frames without VNI metadata")
          .param("static", ParamType::List, "", "static entries: [{mac, port, vni}] (vni: the port's, else `vni`)")
          .param("aging", ParamType::UInt, "300", "seconds a learned MAC lives without a frame from it (1-86400)")
          .param("size", ParamType::UInt, "65536", "MAC table entries, all VNIs together (64-16777216)")
          .param("unknown", ParamType::String, "output", "unknown unicast: `output` (to `unknown`) or `flood`")
          .drop(kRunt, "runt", "shorter than an Ethernet header (in its first segment)")
          .drop(kBadSource, "bad_source", "the source MAC is a multicast or broadcast address")
          .drop(kNoVni, "no_vni", "a trunk port's frame without VNI metadata, and no `vni` parameter")
          .drop(kHairpin, "hairpin", "the destination MAC is on the port the frame came from")
          .drop(kNoFloodPort, "no_flood_port",
                "broadcast, multicast or flooded unknown unicast with no other port to go to")
          .drop(kCopyFailed, "copy_failed", "no packet buffer was free for a flooded copy")
          .drop(kNoSuchPort, "no_such_port", "the frame came in on an input that is no switch port")
          .read("table", "the MAC table: MAC, VNI, port, static or learned, age",
                [](const L2Switch& e) { return e.table_text(); })
          .read("count", "entries in the MAC table",
                [](const L2Switch& e) { return std::to_string(e.table_->count()); })
          .read("stats", "learned, moved, refreshed, table full, aged, static kept",
                [](const L2Switch& e) { return e.stats_text(); })
          .read("ports", "the switch ports and their VNIs", [](const L2Switch& e) { return e.ports_text(); })
          .metric("weft_l2switch_mac_entries", MetricType::Gauge, "entries in the MAC table (all VNIs)",
                  [](const L2Switch& e) { return e.table_->count(); })
          .metric("weft_l2switch_mac_capacity", MetricType::Gauge, "entries the MAC table holds at most",
                  [](const L2Switch& e) { return e.table_->capacity(); })
          .metric("weft_l2switch_mac_events_total", MetricType::Counter,
                  "MAC table changes: learned, moved (to another port), aged, full (not learned: the table was full)",
                  {"event"},
                  [](const L2Switch& e, MetricSink& out) {
                    auto& s = e.table_->stats();
                    out.sample({"learned"}, double(s.learned.load(std::memory_order_relaxed)));
                    out.sample({"moved"}, double(s.moved.load(std::memory_order_relaxed)));
                    out.sample({"aged"}, double(s.aged.load(std::memory_order_relaxed)));
                    out.sample({"full"}, double(s.full.load(std::memory_order_relaxed)));
                  })
          .write("flush", "forget learned MACs: all, or those of one VNI (`VNI`)",
                 [](L2Switch& e, const std::string& v) { e.flush_handler(v); })
          .write("add", "add a static entry: `MAC PORT [VNI]`",
                 [](L2Switch& e, const std::string& v) { e.add_handler(v); })
          .write("remove", "remove an entry: `MAC [VNI]`",
                 [](L2Switch& e, const std::string& v) { e.remove_handler(v); });
  return k;
}

namespace {

uint32_t vni_value(const ParamValue& v, const char* what) {
  const uint64_t n = v.as<uint64_t>(what);
  if (n > 0xffffff) throw ConfigError(v.mark(), std::string(what) + ": VNI above 16777215");
  return static_cast<uint32_t>(n);
}

// The VNI a handler names (`VNI` after its other words), else `fallback`.
uint32_t vni_arg(std::istringstream& in, int64_t fallback) {
  std::string s;
  int64_t vni = fallback;
  if (in >> s) {
    try {
      vni = std::stoll(s);
    } catch (const std::exception&) {
      throw std::invalid_argument("bad VNI '" + s + "'");
    }
  }
  if (vni < 0 || vni > 0xffffff) throw std::invalid_argument("give a VNI (0-16777215)");
  return static_cast<uint32_t>(vni);
}

}  // namespace

int L2Switch::port_index(const std::string& name) const {
  for (size_t i = 0; i < ports_.size(); i++)
    if (ports_[i].name == name) return static_cast<int>(i);
  return -1;
}

void L2Switch::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  if (p.given("vni")) {
    uint64_t v = p.get<uint64_t>("vni");
    if (v > 0xffffff) throw ConfigError(p.mark("vni"), "vni must be 0-16777215");
    vni_ = static_cast<int64_t>(v);
  }
  aging_ = p.get<uint32_t>("aging");
  if (aging_ < 1 || aging_ > 86400) throw ConfigError(p.mark("aging"), "aging must be 1-86400 seconds");
  uint64_t size = p.get<uint64_t>("size");
  if (size < 64 || size > (1u << 24)) throw ConfigError(p.mark("size"), "size must be 64-16777216");
  size_ = static_cast<uint32_t>(size);
  const std::string unknown = p.get<std::string>("unknown");
  if (unknown != "output" && unknown != "flood")
    throw ConfigError(p.mark("unknown"), "unknown must be `output` or `flood`, not '" + unknown + "'");
  flood_unknown_ = unknown == "flood";

  const ParamValue list = p.value("ports");
  if (list.size() == 0)
    throw ConfigError(p.mark("ports"), "ports: a list of switch ports such as [{name: vm1}, {name: uplink}]");
  if (list.size() > 1024) throw ConfigError(p.mark("ports"), "ports: at most 1024 switch ports");
  for (const ParamValue& n : list.items()) {
    if (!n.is_map() || !n["name"].defined()) throw ConfigError(n.mark(), "a port needs at least a name: {name: vm1}");
    n.only_keys({"name", "vni", "flood", "learn"}, "ports");
    Port port;
    const ParamValue name = n["name"];
    port.name = name.as<std::string>("name");
    if (port.name.empty() || port.name == "unknown" || port.name.find_first_of("[]: ") != std::string::npos)
      throw ConfigError(name.mark(), "port name '" + port.name + "': not empty, not `unknown`, no []: or spaces");
    if (port_index(port.name) >= 0) throw ConfigError(name.mark(), "port '" + port.name + "' is listed twice");
    if (n["vni"].defined()) port.vni = vni_value(n["vni"], "vni");
    if (n["flood"].defined()) port.flood = n["flood"].as<bool>("flood");
    if (n["learn"].defined()) port.learn = n["learn"].as<bool>("learn");
    ports_.push_back(port);
  }

  if (const ParamValue st = p.value("static"); st.defined() && !st.is_null()) {
    if (!st.is_list()) throw ConfigError(p.mark("static"), "static: a list of {mac, port, vni}");
    for (const ParamValue& n : st.items()) {
      if (!n.is_map() || !n["mac"].defined() || !n["port"].defined())
        throw ConfigError(n.mark(), "a static entry needs mac and port: {mac: \"02:00:00:00:00:01\", port: vm1}");
      n.only_keys({"mac", "port", "vni"}, "static");
      const Mac mac = n["mac"].as<Mac>("mac");
      if (mac.multicast()) throw ConfigError(n["mac"].mark(), "a static entry's MAC must be unicast");
      const std::string pn = n["port"].as<std::string>("port");
      int pi = port_index(pn);
      if (pi < 0) throw ConfigError(n["port"].mark(), "static entry: no switch port '" + pn + "'");
      int64_t vni = n["vni"].defined() ? vni_value(n["vni"], "vni") : ports_[pi].vni >= 0 ? ports_[pi].vni : vni_;
      if (vni < 0) throw ConfigError(n.mark(), "static entry on a trunk port: give its vni");
      statics_.push_back({mac_key(mac.data(), static_cast<uint32_t>(vni)), static_cast<uint16_t>(pi)});
    }
  }

  std::vector<std::string> outs;
  compat_ = "size=" + std::to_string(size_) + " aging=" + std::to_string(aging_) + " ports=";
  for (const Port& port : ports_) {
    outs.push_back(port.name);
    compat_ += port.name + ",";
  }
  outs.push_back("unknown");
  ctx.set_outputs(std::move(outs));
}

void L2Switch::initialize(InitContext& ctx) {
  vni_meta_ = fields::vni();
  pool_ = ctx.mempool();
  MacTable::Config c;
  c.capacity = size_;
  c.aging = aging_;
  c.socket = ctx.socket();
  rte_rcu_qsbr* rcu = ctx.rcu();
  table_ = ctx.shared<MacTable>(id() + ":mac_table", compat_, [&] { return std::make_shared<MacTable>(c, rcu); });
  sweeper_ = ctx.worker_index() == 0;
  if (sweeper_ && !table_->set_statics(statics_))
    throw InitError("L2Switch " + id() + ": the MAC table has no room for the static entries");
  next_sweep_ns_ = Clock::now_ns() + kSweepEveryNs;
}

StateCarry L2Switch::take_state(Element& old) {
  auto& o = static_cast<L2Switch&>(old);
  if (o.table_ == table_) return StateCarry::kept("MAC table kept (" + std::to_string(table_->count()) + " entries)");
  return StateCarry::reset("ports, size or aging changed: a new MAC table");
}

bool L2Switch::run() {
  if (!sweeper_) return false;
  const uint64_t t = Clock::now_ns();
  if (t < next_sweep_ns_) return false;
  next_sweep_ns_ = t + kSweepEveryNs;
  table_->age(table_->now(), 4096);
  return false;
}

void L2Switch::flood(uint16_t in_port, uint32_t vni, rte_mbuf* m) {
  int last = -1;
  for (size_t i = 0; i < ports_.size(); i++) {
    const Port& p = ports_[i];
    if (i == in_port || !p.flood || (p.vni >= 0 && p.vni != vni)) continue;
    if (last >= 0) {
      rte_mbuf* c = rte_pktmbuf_copy(m, pool_, 0, UINT32_MAX);
      if (c) {
        copy_metadata(c, m);
        emit(static_cast<uint16_t>(last), c);
      } else {
        count_drop(kCopyFailed);
      }
    }
    last = static_cast<int>(i);
  }
  if (last < 0)
    drop(m, kNoFloodPort);
  else
    emit(static_cast<uint16_t>(last), m);
}

void L2Switch::push(uint16_t input, Batch& b) {
  if (input >= ports_.size()) {
    drop(b, kNoSuchPort);
    return;
  }
  const Port& port = ports_[input];
  const uint16_t unknown_out = static_cast<uint16_t>(ports_.size());
  const uint32_t now = table_->now();
  constexpr unsigned kChunk = RTE_HASH_LOOKUP_BULK_MAX;
  rte_mbuf* pk[kChunk];
  MacKey src[kChunk], dst[kChunk];
  const MacKey* keys[kChunk];
  uint64_t data[kChunk];
  for (uint16_t base = 0; base < b.count; base += kChunk) {
    unsigned n = 0;
    const uint16_t end = static_cast<uint16_t>(std::min<unsigned>(b.count, base + kChunk));
    for (uint16_t i = base; i < end; i++) {
      rte_mbuf* m = b.pkts[i];
      if (rte_pktmbuf_data_len(m) < 14) {  // the Ethernet header must be in the first segment
        drop(m, kRunt);
        continue;
      }
      const uint8_t* eth = rte_pktmbuf_mtod(m, const uint8_t*);
      if (eth[6] & 1) {
        drop(m, kBadSource);
        continue;
      }
      int64_t vni = port.vni;
      if (vni < 0) vni = vni_meta_.has(m) ? vni_meta_.get(m) : vni_;
      if (vni < 0) {
        drop(m, kNoVni);
        continue;
      }
      vni_meta_.set(m, static_cast<uint32_t>(vni));
      src[n] = mac_key(eth + 6, static_cast<uint32_t>(vni));
      dst[n] = mac_key(eth, static_cast<uint32_t>(vni));
      pk[n++] = m;
    }
    if (n == 0) continue;
    if (port.learn) {
      for (unsigned i = 0; i < n; i++) keys[i] = &src[i];
      uint64_t hits = table_->lookup_bulk(keys, n, data);
      for (unsigned i = 0; i < n; i++) {
        // One learning write per MAC and batch: skip repeats of the previous source.
        if (i > 0 && std::memcmp(&src[i], &src[i - 1], sizeof(MacKey)) == 0) continue;
        table_->learn(src[i], input, now, (hits >> i) & 1, data[i]);
      }
    }
    for (unsigned i = 0; i < n; i++) keys[i] = &dst[i];
    uint64_t hits = table_->lookup_bulk(keys, n, data);
    for (unsigned i = 0; i < n; i++) {
      rte_mbuf* m = pk[i];
      if (dst[i].mac[0] & 1) {  // broadcast, multicast
        flood(input, dst[i].vni, m);
        continue;
      }
      if ((hits >> i) & 1) {
        MacEntry e = MacTable::decode(data[i]);
        if (table_->live(e, now) && e.port < ports_.size()) {
          if (e.port == input)
            drop(m, kHairpin);
          else
            emit(e.port, m);
          continue;
        }
      }
      if (flood_unknown_)
        flood(input, dst[i].vni, m);
      else
        emit(unknown_out, m);
    }
  }
  b.clear();
}

std::string L2Switch::table_text() const {
  const uint32_t now = table_->now();
  std::ostringstream o;
  char line[160];
  std::snprintf(line, sizeof line, "%-17s %8s  %-14s %-8s %s\n", "MAC", "VNI", "PORT", "TYPE", "AGE");
  o << line;
  for (const auto& r : table_->rows()) {
    const std::string pn = r.entry.port < ports_.size() ? ports_[r.entry.port].name : "?";
    std::string age = r.entry.is_static ? "-" : std::to_string(now - r.entry.seen) + "s";
    const char* type = r.entry.is_static ? "static" : table_->live(r.entry, now) ? "learned" : "aged";
    std::snprintf(line, sizeof line, "%-17s %8u  %-14s %-8s %s\n", Mac::of(r.key.mac).str().c_str(), r.key.vni,
                  pn.c_str(), type, age.c_str());
    o << line;
  }
  return o.str();
}

std::string L2Switch::stats_text() const {
  auto& s = table_->stats();
  std::ostringstream o;
  o << "entries " << table_->count() << " of " << table_->capacity() << ", aging " << table_->aging() << " s\n"
    << "learned " << s.learned.load() << ", moved " << s.moved.load() << ", refreshed " << s.refreshed.load()
    << ", table full " << s.full.load() << ", aged " << s.aged.load() << ", static kept " << s.static_kept.load()
    << "\n";
  return o.str();
}

std::string L2Switch::ports_text() const {
  std::ostringstream o;
  for (size_t i = 0; i < ports_.size(); i++) {
    const Port& p = ports_[i];
    o << "[" << i << "] " << p.name << " vni "
      << (p.vni >= 0 ? std::to_string(p.vni) : vni_ >= 0 ? "metadata, else " + std::to_string(vni_) : "metadata")
      << (p.flood ? "" : " no-flood") << (p.learn ? "" : " no-learn") << "\n";
  }
  return o.str();
}

void L2Switch::flush_handler(const std::string& v) {
  int64_t vni = -1;
  if (!v.empty() && v != "all") {
    try {
      vni = std::stoll(v);
    } catch (const std::exception&) {
      throw std::invalid_argument("flush: `all` or a VNI, not '" + v + "'");
    }
  }
  table_->flush(vni);
}

void L2Switch::add_handler(const std::string& v) {
  std::istringstream in(v);
  std::string mac, pn;
  in >> mac >> pn;
  const std::optional<Mac> m = Mac::parse(mac);
  if (!m || m->multicast()) throw std::invalid_argument("bad unicast MAC '" + mac + "'");
  int pi = port_index(pn);
  if (pi < 0) throw std::invalid_argument("no switch port '" + pn + "'");
  const MacKey k = mac_key(m->data(), vni_arg(in, ports_[pi].vni >= 0 ? ports_[pi].vni : vni_));
  if (!table_->add_static(k, static_cast<uint16_t>(pi))) throw std::invalid_argument("the MAC table is full");
}

void L2Switch::remove_handler(const std::string& v) {
  std::istringstream in(v);
  std::string mac;
  in >> mac;
  const std::optional<Mac> m = Mac::parse(mac);
  if (!m) throw std::invalid_argument("bad MAC '" + mac + "'");
  const MacKey k = mac_key(m->data(), vni_arg(in, vni_));
  if (!table_->remove(k)) throw std::invalid_argument("no entry for " + mac + " in VNI " + std::to_string(k.vni));
}

}  // namespace weft::sw
