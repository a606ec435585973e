#include "testing/graph_harness.hpp"

#include <rte_lcore.h>

#include <stdexcept>

namespace weft {

namespace {

class Capture final : public Element {
 public:
  void push(uint16_t, Batch& b) override {
    packets.insert(packets.end(), b.pkts, b.pkts + b.count);
    b.clear();
  }
  void cleanup() override {
    for (auto* m : packets) rte_pktmbuf_free(m);
    packets.clear();
  }
  std::vector<rte_mbuf*> packets;
};

class HarnessContext : public ElementInitContext {
 public:
  HarnessContext(rte_mempool* pool, const ServiceSet& services) : ElementInitContext(&services), pool_(pool) {}
  unsigned worker_index() const override { return 0; }
  unsigned worker_count() const override { return 1; }
  unsigned lcore() const override { return rte_lcore_id(); }
  int socket() const override { return static_cast<int>(rte_socket_id()); }
  rte_mempool* mempool() const override { return pool_; }
  uint16_t port_id(const std::string& port) const override { throw InitError("no ports in a harness: " + port); }
  uint16_t rx_queue(const std::string& port) const override { throw InitError("no ports in a harness: " + port); }
  uint16_t tx_queue(const std::string& port) const override { throw InitError("no ports in a harness: " + port); }
  rte_rcu_qsbr* rcu() const override { return nullptr; }
  std::shared_ptr<void> shared_object(const std::string& key, const std::string& compat,
                                      const std::function<std::shared_ptr<void>()>& make) override {
    return shared_.get(key, compat, make);
  }

 private:
  rte_mempool* pool_;
  SharedObjects shared_;
};

}  // namespace

const ElementClass& GraphHarness::capture_class() {
  static const ElementClass k = ElementClass::make<Capture>("Capture")
                                    .describe("Keeps every packet it receives, for tests.")
                                    .any_inputs();
  return k;
}

GraphHarness::GraphHarness(const std::string& yaml, const PluginLoader& loader, rte_mempool* pool) {
  Diagnostics diag("<harness>");
  auto spec = std::make_shared<GraphSpec>(parse_graph(yaml, "<harness>", diag));
  if (!diag.has_errors()) plan_ = validate_graph(spec, loader, diag);
  if (diag.has_errors()) throw std::runtime_error(diag.format());
  // Services are built as routerd builds them, but not started: a test that
  // needs one running starts it on its own event loop (start_services()).
  services_ = build_services(plan_, ServiceEnv{nullptr, static_cast<int>(rte_socket_id()), 1});
  HarnessContext ctx(pool, services_);
  try {
    graph_ = build_graph_instance(plan_, 0, ctx);
  } catch (...) {
    services_.stop_all();
    throw;
  }
}

GraphHarness::~GraphHarness() {
  set_fault_context(nullptr, nullptr);
  if (graph_) cleanup_graph_instance(*graph_);
  graph_.reset();
  services_.stop_all();
}

Service& GraphHarness::service(const std::string& name) {
  auto s = services_.find(name);
  if (!s) throw std::out_of_range("no service '" + name + "'");
  return *s;
}

void GraphHarness::start_services(boost::asio::io_context& io) { services_.start_pending(&io); }

Element& GraphHarness::element(const std::string& id) {
  int i = plan_.index_of(id);
  if (i < 0) throw std::out_of_range("no element '" + id + "'");
  return *graph_->elements[static_cast<size_t>(i)];
}

void GraphHarness::push(const std::string& id, Batch& b, uint16_t input) {
  Element& e = element(id);
  set_fault_context(nullptr, graph_.get());  // an element downstream that throws is contained as on a worker
  e.push(input, b);
  e.flush_staged();
}

bool GraphHarness::run(const std::string& id) {
  Element& e = element(id);
  set_fault_context(nullptr, graph_.get());
  bool moved = e.run();
  e.flush_staged();
  return moved;
}

std::vector<rte_mbuf*> GraphHarness::take(const std::string& capture_id) {
  auto* c = dynamic_cast<Capture*>(&element(capture_id));
  if (!c) throw std::invalid_argument("'" + capture_id + "' is not a Capture element");
  std::vector<rte_mbuf*> out;
  out.swap(c->packets);
  return out;
}

uint64_t GraphHarness::drops(const std::string& id, const std::string& reason) {
  Element& e = element(id);
  for (size_t i = 0; i < e.drop_reason_count(); i++)
    if (e.element_class().drops[i].name == reason) return e.drops(i);
  for (size_t k = 0; k < kFrameworkDropCount; k++)
    if (reason == kFrameworkDrops[k]) return e.drops(e.drop_reason_count() + k);
  throw std::invalid_argument("element '" + id + "' (" + e.element_class().name + ") has no drop reason '" +
                              reason + "'");
}

uint64_t GraphHarness::output_packets(const std::string& id, const std::string& output) {
  Element& e = element(id);
  const NodePlan& n = plan_.nodes[static_cast<size_t>(plan_.index_of(id))];
  for (size_t i = 0; i < n.outputs.size() && i < e.output_count(); i++)
    if (n.outputs[i] == output) return e.output_port(i).packets.get();
  throw std::invalid_argument("element '" + id + "' has no output '" + output + "'");
}

namespace {
HandlerSpec find_handler(Element& e, const NodePlan& n, const std::string& name) {
  for (auto& h : handlers_of(n))
    if (h.name == name) return h;
  throw std::invalid_argument("element '" + e.id() + "' has no handler '" + name + "'");
}
}  // namespace

std::string GraphHarness::read_handler(const std::string& id, const std::string& handler) {
  Element& e = element(id);
  const HandlerSpec h = find_handler(e, plan_.nodes[static_cast<size_t>(plan_.index_of(id))], handler);
  if (!h.read) throw std::invalid_argument("handler '" + handler + "' is write-only");
  return h.read(e);
}

void GraphHarness::write_handler(const std::string& id, const std::string& handler, const std::string& value) {
  Element& e = element(id);
  const HandlerSpec h = find_handler(e, plan_.nodes[static_cast<size_t>(plan_.index_of(id))], handler);
  if (!h.write) throw std::invalid_argument("handler '" + handler + "' is read-only");
  h.write(e, value);
}

}  // namespace weft
