#include "runtime/probe_control.hpp"

#include <utility>  // Boost 1.74 asio uses std::exchange without including it
#include <boost/asio/steady_timer.hpp>
#include <rte_cycles.h>

#include <stdexcept>

#include "runtime/capture_session.hpp"
#include "runtime/runtime.hpp"
#include "runtime/trace_session.hpp"
#include "weft/clock.hpp"

namespace weft {

namespace {
constexpr auto kAnswer = std::chrono::milliseconds(2000);
constexpr auto kDrainEvery = std::chrono::milliseconds(10);
constexpr size_t kFinishedKept = 8;  // finished captures still listed
}  // namespace

struct ProbeControl::Timer {
  explicit Timer(boost::asio::io_context& io) : t(io) {}
  boost::asio::steady_timer t;
  bool armed = false;
};

ProbeControl::ProbeControl(Runtime& rt) : rt_(rt) {}

ProbeControl::~ProbeControl() {
  if (timer_) timer_->t.cancel();
}

namespace {
// A build without probe hooks (kProbeHooks, probe.hpp) cannot time its
// sources' turns: say so instead of showing figures that are half counted.
void need_hooks(const char* what) {
  if (!kProbeHooks)
    throw std::invalid_argument(std::string(what) +
                                ": this routerd was built without probe hooks (WEFT_PROBE_HOOKS=OFF, a benchmark "
                                "reference build)");
}
}  // namespace

void ProbeControl::set_timing(bool on) {
  if (on) need_hooks("runtime figures");
  const auto& workers = rt_.workers();
  for (unsigned w = 0; w < workers.size(); w++) {
    WorkerProbe& p = workers[w]->probe;
    const bool answered = rt_.run_on_worker(
        w,
        [&] {
          p.timing = on;
          p.last = rte_rdtsc();
          apply_probes(rt_.graph(w));
        },
        kAnswer);
    if (!answered) throw std::runtime_error("worker " + std::to_string(w) + " did not answer within 2 s");
  }
  timing_ = on;
}

void ProbeControl::clear_figures() {
  const auto& workers = rt_.workers();
  for (unsigned w = 0; w < workers.size(); w++) {
    const bool answered = rt_.run_on_worker(
        w,
        [&] {
          WorkerGraph& g = rt_.graph(w);
          for (size_t i = 0; i < g.elements.size(); i++) {
            g.probes[i].calls.set(0);
            g.probes[i].packets.set(0);
            g.probes[i].cycles.set(0);
          }
          workers[w]->probe.idle_calls.set(0);
          workers[w]->probe.idle_cycles.set(0);
        },
        kAnswer);
    if (!answered) throw std::runtime_error("worker " + std::to_string(w) + " did not answer within 2 s");
  }
  cleared_ = std::chrono::steady_clock::now();
}

nlohmann::json ProbeControl::figures() const {
  using nlohmann::json;
  auto per_packet = [](uint64_t cycles, uint64_t packets) { return packets ? double(cycles) / double(packets) : 0.0; };
  auto per_call = [](uint64_t packets, uint64_t calls) { return calls ? double(packets) / double(calls) : 0.0; };
  auto figures_of = [&](uint64_t calls, uint64_t packets, uint64_t cycles) {
    return json{{"calls", calls},
                {"packets", packets},
                {"cycles", cycles},
                {"packets_per_call", per_call(packets, calls)},
                {"cycles_per_packet", per_packet(cycles, packets)}};
  };
  const GraphPlan& plan = rt_.plan();
  const auto& workers = rt_.workers();
  json elements = json::array();
  for (size_t i = 0; i < plan.nodes.size(); i++) {
    json per = json::array();
    uint64_t calls = 0, packets = 0, cycles = 0;
    for (unsigned w = 0; w < workers.size(); w++) {
      const ElementProbe& p = rt_.graph(w).probes[i];
      json f = figures_of(p.calls.get(), p.packets.get(), p.cycles.get());
      f["worker"] = w;
      f["lcore"] = workers[w]->lcore;
      per.push_back(f);
      calls += p.calls.get();
      packets += p.packets.get();
      cycles += p.cycles.get();
    }
    elements.push_back({{"id", plan.nodes[i].spec->id},
                        {"class", plan.nodes[i].klass->name},
                        {"total", figures_of(calls, packets, cycles)},
                        {"workers", per}});
  }
  json ws = json::array();
  for (unsigned w = 0; w < workers.size(); w++) {
    uint64_t busy = 0;
    for (size_t i = 0; i < plan.nodes.size(); i++) busy += rt_.graph(w).probes[i].cycles.get();
    ws.push_back({{"index", w},
                  {"lcore", workers[w]->lcore},
                  {"element_cycles", busy},
                  {"idle_calls", workers[w]->probe.idle_calls.get()},
                  {"idle_cycles", workers[w]->probe.idle_cycles.get()}});
  }
  return {{"enabled", timing_},
          {"since_clear_s", std::chrono::duration<double>(std::chrono::steady_clock::now() - cleared_).count()},
          {"tsc_hz", Clock::hz()},
          {"elements", elements},
          {"workers", ws}};
}

nlohmann::json ProbeControl::start_trace(uint32_t count, const std::string& filter) {
  if (count == 0 || count > kMaxTrace)
    throw std::invalid_argument("count must be between 1 and " + std::to_string(kMaxTrace));
  auto next = std::make_unique<TraceSession>(rt_, ++trace_generation_, count, filter);
  if (trace_) {
    trace_->stop("replaced by a new trace");
    trace_.reset();
  }
  next->start();
  trace_ = std::move(next);
  return trace_->view();
}

nlohmann::json ProbeControl::trace() const {
  if (!trace_) return {{"state", "none"}};
  return trace_->view();
}

nlohmann::json ProbeControl::stop_trace() {
  if (!trace_) return {{"state", "none"}};
  trace_->stop("stopped by routerctl");
  return trace_->view();
}

nlohmann::json ProbeControl::start_capture(const CaptureOptions& o) {
  poll_captures();
  size_t running = 0;
  for (const auto& [id, c] : captures_) running += c->running();
  if (running >= kMaxCaptures)
    throw std::invalid_argument(std::to_string(running) + " captures are running already (stop one first)");
  const unsigned id = next_capture_++;
  auto c = std::make_unique<CaptureSession>(rt_, id, o);
  c->start();
  nlohmann::json j = c->status();
  captures_[id] = std::move(c);
  // Forget the oldest finished captures.
  size_t finished = 0;
  for (auto it = captures_.rbegin(); it != captures_.rend(); ++it) finished += !it->second->running();
  for (auto it = captures_.begin(); it != captures_.end() && finished > kFinishedKept;) {
    if (!it->second->running()) {
      it = captures_.erase(it);
      finished--;
    } else {
      ++it;
    }
  }
  schedule_drain();
  return j;
}

nlohmann::json ProbeControl::captures() {
  poll_captures();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [id, c] : captures_) list.push_back(c->status());
  return list;
}

nlohmann::json ProbeControl::stop_capture(unsigned id) {
  auto it = captures_.find(id);
  if (it == captures_.end()) throw std::invalid_argument("no capture " + std::to_string(id) + " (routerctl capture --list)");
  it->second->drain();
  it->second->stop("stopped by routerctl");
  return it->second->status();
}

void ProbeControl::poll_captures() {
  for (auto& [id, c] : captures_) c->drain();
}

void ProbeControl::schedule_drain() {
  boost::asio::io_context* io = rt_.control_loop();
  if (!io) return;  // no event loop (tests): captures are written when asked about
  if (!timer_) timer_ = std::make_unique<Timer>(*io);
  if (timer_->armed) return;
  timer_->armed = true;
  timer_->t.expires_after(kDrainEvery);
  timer_->t.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // cancelled: the ProbeControl may be gone
    timer_->armed = false;
    poll_captures();
    for (const auto& [id, c] : captures_)
      if (c->running()) {
        schedule_drain();
        break;
      }
  });
}

void ProbeControl::end_sessions(const std::string& why) {
  if (trace_ && trace_->running()) trace_->stop(why);
  for (auto& [id, c] : captures_)
    if (c->running()) {
      c->drain();
      c->stop(why);
    }
}

}  // namespace weft
