// ReloadTransaction: replaces the running graph without losing a packet.
//
//   1. (caller) parse and validate the new file; any error: nothing changes.
//   2. Compare ports. Added ports are created and started now (no running
//      element touches them). Ports whose device arguments changed are refused.
//   3. Services (the graph's `services:`): each service of the new graph takes
//      the state of the running one with the same name and class (its
//      tables, connections), or is built anew (services.hpp). Then build and
//      initialize every new per-worker instance, their service handles from
//      the new services, while the old graph keeps running. Any failure:
//      every service state goes back, undo 2, nothing else changed.
//   4. Swap, in one of two modes:
//      flip   (no port changes queues): each worker, at its next batch
//             boundary, lets every kept element (same id and class) take the
//             state of its old instance, then switches to its new graph. The
//             workers do this independently; none waits for another. If one
//             has not taken its task before the deadline, the task is
//             withdrawn and workers that already switched are switched back
//             (state returned the same way): a rollback.
//      pause  (a port's queues change): every worker parks at a batch
//             boundary; the changed ports are reconfigured; state is handed
//             over and every worker switched; the workers resume. Ports that
//             did not change keep their packets in their RX rings meanwhile.
//   5. Free the old instances (every worker has passed a batch boundary since
//      it switched, so none can still be inside them) and close removed ports;
//      stop the services no longer in the graph, start the new ones.
//
// The transaction reaches the Runtime only through its reload interface
// (Runtime::graph, reconfigure_port, running_services, commit; runtime.hpp)
// and the workers' mailboxes (Worker::post, Worker::wait).
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_pause.h>

#include <thread>

#include "runtime/fault_log.hpp"
#include "runtime/runtime.hpp"
#include "weft/clock.hpp"
#include "weft/log.hpp"

namespace weft {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

bool same_device(const PortSpec& a, const PortSpec& b) { return a.device == b.device; }

bool same_config(const PortRuntime& old, const PortPlan& next) {
  return old.spec.args == next.spec->args && old.rx_queues == next.rx_queues && old.tx_queues == next.tx_queues &&
         old.spec.rx_desc == next.spec->rx_desc && old.spec.tx_desc == next.spec->tx_desc &&
         old.spec.promiscuous == next.spec->promiscuous && old.spec.mtu == next.spec->mtu &&
         old.spec.rss == next.spec->rss && old.spec.checksum_offload == next.spec->checksum_offload;
}

class ReloadTransaction {
 public:
  ReloadTransaction(Runtime& rt, GraphPlan next, std::chrono::milliseconds timeout)
      : rt_(rt), next_(std::move(next)), timeout_(timeout) {}

  ReloadReport run() {
    if (!check_unsupported()) return report_;
    if (!plan_ports()) return report_;
    auto t = Clock::now();
    if (!build_services()) {
      undo_added_ports();
      return report_;
    }
    if (!build()) {
      services_.roll_back();
      undo_added_ports();
      return report_;
    }
    report_.build_ms = ms_since(t);
    match_elements();
    t = Clock::now();
    bool swapped = changed_.empty() ? flip() : pause_and_swap();
    report_.swap_ms = ms_since(t);
    if (!swapped) {
      for (auto& g : next_graphs_) cleanup_graph_instance(*g);
      next_graphs_.clear();
      services_.roll_back();
      undo_added_ports();
      return report_;
    }
    finish();
    report_.ok = true;
    return report_;
  }

 private:
  struct Pair {
    size_t next_node, old_node;
  };
  // What one worker's swap produced (owned jointly with its task, so a late
  // worker never writes into freed memory).
  struct SwapOutcome {
    std::vector<StateCarry> carries;
    uint64_t pause_ns = 0;  // how long the hand-over took
  };

  bool fail(const std::string& why) {
    report_.error = why;
    return false;
  }

  bool check_unsupported() {
    const GraphSpec& a = *rt_.plan().spec;
    const GraphSpec& b = *next_.spec;
    if (a.worker_lcores != b.worker_lcores)
      return fail("workers.lcores changed: adding or removing workers needs a restart of routerd");
    if (a.eal_args != b.eal_args || a.memory_mb != b.memory_mb)
      return fail("eal settings changed: DPDK's settings need a restart of routerd");
    if (a.mempool_size != b.mempool_size || a.mempool_cache != b.mempool_cache ||
        a.mempool_packing != b.mempool_packing)
      return fail("mempool settings changed: the packet pool needs a restart of routerd");
    return true;
  }

  // Decides, per port of the new graph: unchanged, changed (queues) or added;
  // and which old ports are removed. Creates the added ones.
  bool plan_ports() {
    const std::vector<PortRuntime>& ports = rt_.ports();
    std::vector<bool> old_kept(ports.size(), false);
    for (const auto& pp : next_.ports) {
      int found = -1;
      for (size_t i = 0; i < ports.size(); i++)
        if (same_device(ports[i].spec, *pp.spec)) found = static_cast<int>(i);
      if (found < 0) {
        added_.push_back(&pp);
        continue;
      }
      const PortRuntime& old = ports[static_cast<size_t>(found)];
      old_kept[static_cast<size_t>(found)] = true;
      if (old.spec.args != pp.spec->args)
        return fail("port '" + pp.spec->name + "': changing the arguments of device '" + pp.spec->device +
                    "' needs a restart (or a new device name)");
      PortRuntime pr = old;
      pr.name = pp.spec->name;  // a port may be renamed
      pr.spec = *pp.spec;
      if (same_config(old, pp)) {
        report_.ports_unchanged.push_back(pp.spec->name);
      } else {
        changed_.push_back({&pp, static_cast<size_t>(found)});
        report_.ports_changed.push_back(pp.spec->name);
        pr.rx_queues = pp.rx_queues;  // what the new graph's elements will see
        pr.tx_queues = pp.tx_queues;
      }
      next_ports_.push_back(pr);
    }
    for (size_t i = 0; i < ports.size(); i++)
      if (!old_kept[i]) {
        removed_ports_.push_back(i);
        report_.ports_removed.push_back(ports[i].name);
      }
    for (const PortPlan* pp : added_) {
      const PortSpec& s = *pp->spec;
      if (s.is_vdev()) {
        int rc = rte_eal_hotplug_add("vdev", s.device.c_str(), s.args.c_str());
        if (rc < 0) return fail("port '" + s.name + "': cannot create device '" + s.device + "': " + rte_strerror(-rc));
        hotplugged_.push_back(s.device);
      }
      try {
        next_ports_.push_back(setup_port(*pp, rt_.mempool()));
        created_.push_back(next_ports_.back());
      } catch (const std::exception& e) {
        return fail(e.what());
      }
      report_.ports_added.push_back(s.name);
    }
    return true;
  }

  void undo_added_ports() {
    for (auto& p : created_) close_port(p, false);
    for (const auto& d : hotplugged_) rte_eal_hotplug_remove("vdev", d.c_str());
    created_.clear();
    hotplugged_.clear();
  }

  bool build_services() {
    try {
      services_.build();
    } catch (...) {
      return fail(current_exception_text());
    }
    report_.services_added = services_.added;
    report_.services_removed = services_.removed;
    for (const auto& k : services_.kept)
      report_.services_kept.push_back(
          {k.name, k.klass, k.carry.stateless ? "none" : k.carry.carried ? "carried" : "reset", k.carry.why});
    return true;
  }

  bool build() {
    try {
      for (unsigned w = 0; w < rt_.workers().size(); w++) {
        WorkerInitContext ctx(rt_, *rt_.workers()[w], next_ports_, services_.next());
        next_graphs_.push_back(build_graph_instance(next_, w, ctx));
        // Watched as the running graph is (runtime figures); the worker
        // switches to it at a batch boundary, after this is written.
        attach_probes(*next_graphs_.back(), rt_.workers()[w]->probe);
        apply_probes(*next_graphs_.back());
      }
    } catch (...) {
      const std::string why = current_exception_text();
      for (auto& g : next_graphs_) cleanup_graph_instance(*g);
      next_graphs_.clear();
      return fail(why);
    }
    return true;
  }

  void match_elements() {
    const GraphPlan& old = rt_.plan();
    std::vector<bool> old_used(old.nodes.size(), false);
    for (size_t i = 0; i < next_.nodes.size(); i++) {
      const NodePlan& n = next_.nodes[i];
      int j = old.index_of(n.spec->id);
      if (j >= 0 && old.nodes[static_cast<size_t>(j)].klass == n.klass) {
        pairs_.push_back({i, static_cast<size_t>(j)});
        old_used[static_cast<size_t>(j)] = true;
      } else {
        report_.added.push_back(n.spec->id);
      }
    }
    for (size_t j = 0; j < old.nodes.size(); j++)
      if (!old_used[j]) {
        report_.removed.push_back(old.nodes[j].spec->id);
        removed_nodes_.push_back(j);
      }
  }

  // Hands state from `from` to `to` for every pair, on one worker. Runs where
  // neither graph is processing packets.
  void hand_over(WorkerGraph& to, WorkerGraph& from, bool forward, SwapOutcome& out) {
    const uint64_t t0 = weft::Clock::now_ns();
    out.carries.clear();
    for (const Pair& p : pairs_) {
      size_t ti = forward ? p.next_node : p.old_node;
      size_t fi = forward ? p.old_node : p.next_node;
      const NodePlan& tp = forward ? next_.nodes[ti] : rt_.plan().nodes[ti];
      const NodePlan& fp = forward ? rt_.plan().nodes[fi] : next_.nodes[fi];
      Element& te = *to.elements[ti];
      Element& fe = *from.elements[fi];
      carry_counters(te, fe, tp, fp);
      carry_runtime(from.probes[fi], to.probes[ti]);
      if (const ElementFault* f = from.faults.find(fi)) {
        // It threw: its state is suspect, and the new instance starts afresh.
        out.carries.push_back(StateCarry::reset(std::string("the old instance failed (threw in ") + f->call + ": " +
                                                f->error + "): its state is not carried"));
        continue;
      }
      try {
        out.carries.push_back(te.take_state(fe));
      } catch (...) {
        out.carries.push_back(StateCarry::reset("take_state failed: " + current_exception_text()));
      }
    }
    out.pause_ns = weft::Clock::now_ns() - t0;
  }

  void switch_worker(Worker& w, WorkerGraph* g) {
    w.graph.store(g, std::memory_order_release);
    w.generation.inc();
  }

  bool flip() {
    report_.mode = "flip";
    const size_t nw = rt_.workers().size();
    std::vector<std::shared_ptr<SwapOutcome>> outs(nw);
    std::vector<bool> switched(nw, false);
    auto deadline = Clock::now() + timeout_;
    for (size_t w = 0; w < nw; w++) {
      outs[w] = std::make_shared<SwapOutcome>();
      Worker& wk = *rt_.workers()[w];
      WorkerGraph* to = next_graphs_[w].get();
      WorkerGraph* from = &rt_.graph(static_cast<unsigned>(w));
      auto task = [this, &wk, to, from, out = outs[w]] {
        hand_over(*to, *from, true, *out);
        switch_worker(wk, to);
      };
      if (!wk.running.load(std::memory_order_acquire)) {
        task();
        switched[w] = true;
      } else {
        wk.post(task);
      }
    }
    std::vector<size_t> late;
    for (size_t w = 0; w < nw; w++) {
      if (switched[w]) continue;
      if (rt_.workers()[w]->wait(deadline) == Worker::Wait::Done) switched[w] = true;
      else late.push_back(w);
    }
    if (!late.empty()) {
      // Roll back: the late workers never ran their task; switch the others back.
      bool back_ok = true;
      for (size_t w = 0; w < nw; w++) {
        if (!switched[w]) continue;
        Worker& wk = *rt_.workers()[w];
        WorkerGraph* to = &rt_.graph(static_cast<unsigned>(w));
        WorkerGraph* from = next_graphs_[w].get();
        auto out = std::make_shared<SwapOutcome>();
        auto task = [this, &wk, to, from, out] {
          hand_over(*to, *from, false, *out);
          switch_worker(wk, to);
        };
        if (!wk.running.load(std::memory_order_acquire)) task();
        else {
          wk.post(task);
          // Switching back must not be abandoned: wait as long as it takes.
          back_ok = wk.wait(Clock::time_point::max()) == Worker::Wait::Done && back_ok;
        }
      }
      std::string who;
      for (size_t w : late) who += (who.empty() ? "" : ", ") + std::to_string(w);
      report_.rolled_back = true;
      return fail("worker(s) " + who + " did not reach a batch boundary within " +
                  std::to_string(timeout_.count()) + " ms; rolled back, the old graph is running" +
                  (back_ok ? "" : " (a worker did not confirm the switch back)"));
    }
    double max_ms = 0;
    for (auto& o : outs) max_ms = std::max(max_ms, double(o->pause_ns) / 1e6);
    report_.pause_ms = max_ms;  // the longest any worker spent not forwarding
    collect(*outs[0]);
    for (auto& o : outs)
      for (auto& c : o->carries) report_.packets_lost += c.lost;
    return true;
  }

  bool pause_and_swap() {
    report_.mode = "pause";
    const size_t nw = rt_.workers().size();
    auto release = std::make_shared<std::atomic<bool>>(false);
    auto parked = std::make_shared<std::vector<std::atomic<bool>>>(nw);
    auto deadline = Clock::now() + timeout_;
    std::vector<bool> posted(nw, false);
    for (size_t w = 0; w < nw; w++) {
      Worker& wk = *rt_.workers()[w];
      if (!wk.running.load(std::memory_order_acquire)) {
        (*parked)[w] = true;
        continue;
      }
      wk.post([release, parked, w] {
        (*parked)[w].store(true, std::memory_order_release);
        while (!release->load(std::memory_order_acquire)) rte_pause();
      });
      posted[w] = true;
    }
    auto all_parked = [&] {
      for (size_t w = 0; w < nw; w++)
        if (!(*parked)[w].load(std::memory_order_acquire)) return false;
      return true;
    };
    while (!all_parked() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::microseconds(10));
    auto t_pause = Clock::now();
    auto resume = [&] {
      release->store(true, std::memory_order_release);
      std::vector<size_t> late;
      for (size_t w = 0; w < nw; w++)
        if (posted[w] && rt_.workers()[w]->wait(Clock::now()) == Worker::Wait::Withdrawn) late.push_back(w);
      return late;
    };
    if (!all_parked()) {
      auto late = resume();
      std::string who;
      for (size_t w : late) who += (who.empty() ? "" : ", ") + std::to_string(w);
      report_.rolled_back = true;
      return fail("worker(s) " + who + " did not reach a batch boundary within " +
                  std::to_string(timeout_.count()) + " ms; nothing changed, the old graph is running");
    }
    // Every worker is parked: nobody touches a port or an element.
    std::string error;
    std::vector<PortRuntime> saved;
    for (const auto& [pp, idx] : changed_) saved.push_back(rt_.ports()[idx]);
    for (const auto& [pp, idx] : changed_) {
      try {
        rt_.reconfigure_port(idx, *pp);  // the runtime's table now describes the reconfigured port
        const PortRuntime& fresh = rt_.ports()[idx];
        for (auto& np : next_ports_)
          if (np.id == fresh.id) np = fresh;
      } catch (const std::exception& e) {
        error = e.what();
        break;
      }
    }
    if (!error.empty()) {
      // A port could not take the new configuration: give every changed
      // port its old one back before the old graph resumes.
      for (size_t k = 0; k < changed_.size(); k++) {
        PortPlan restore{&saved[k].spec, saved[k].rx_queues, saved[k].tx_queues};
        try {
          rt_.reconfigure_port(changed_[k].second, restore);
        } catch (const std::exception& e) {
          error += "; restoring port '" + saved[k].name + "' failed too: " + e.what();
        }
      }
      resume();
      report_.pause_ms = ms_since(t_pause);
      return fail(error);
    }
    std::vector<SwapOutcome> outs(nw);
    for (size_t w = 0; w < nw; w++) {
      hand_over(*next_graphs_[w], rt_.graph(static_cast<unsigned>(w)), true, outs[w]);
      switch_worker(*rt_.workers()[w], next_graphs_[w].get());
    }
    resume();
    report_.pause_ms = ms_since(t_pause);
    collect(outs[0]);
    for (auto& o : outs)
      for (auto& c : o.carries) report_.packets_lost += c.lost;
    return true;
  }

  void collect(const SwapOutcome& o) {
    for (size_t k = 0; k < pairs_.size(); k++) {
      const NodePlan& n = next_.nodes[pairs_[k].next_node];
      const StateCarry& c = o.carries[k];
      report_.kept.push_back({n.spec->id, n.klass->name, c.stateless ? "none" : c.carried ? "carried" : "reset", c.why});
    }
  }

  void finish() {
    // Every worker has switched at a batch boundary: the old instances are
    // unreachable. Packets held by removed elements are freed: that is loss.
    for (unsigned w = 0; w < rt_.workers().size(); w++) {
      WorkerGraph& g = rt_.graph(w);
      for (size_t j : removed_nodes_) report_.packets_lost += g.elements[j]->held_packets();
      cleanup_graph_instance(g);
    }
    for (size_t i : removed_ports_) {
      PortRuntime gone = rt_.ports()[i];  // the table is replaced below
      close_port(gone, true);
    }
    services_.commit(rt_.control_loop());  // services no longer in the graph stop; new ones start
    rt_.commit({std::move(next_), std::move(next_graphs_), std::move(next_ports_)});
  }

  Runtime& rt_;
  GraphPlan next_;
  std::chrono::milliseconds timeout_;
  ReloadReport report_;
  ServiceTransaction services_{rt_.running_services(), next_, rt_.service_env()};
  std::vector<const PortPlan*> added_;
  std::vector<std::pair<const PortPlan*, size_t>> changed_;
  std::vector<size_t> removed_ports_;
  std::vector<PortRuntime> next_ports_;
  std::vector<PortRuntime> created_;
  std::vector<std::string> hotplugged_;
  std::vector<std::unique_ptr<WorkerGraph>> next_graphs_;
  std::vector<Pair> pairs_;
  std::vector<size_t> removed_nodes_;
};

}  // namespace

ReloadReport Runtime::reload(GraphPlan next, std::chrono::milliseconds timeout) {
  // The trace and captures watch elements of the running graph: they end here.
  try {
    probes_.end_sessions("the graph was reloaded");
  } catch (const std::exception& e) {
    ReloadReport refused;
    refused.error = std::string("ending the trace and captures: ") + e.what();
    return refused;
  }
  const bool figures_before = plan_.spec->runtime_figures, figures_after = next.spec->runtime_figures;
  ReloadReport r = ReloadTransaction(*this, std::move(next), timeout).run();
  if (r.ok) reload_packets_lost_ += r.packets_lost;
  if (r.ok && figures_before != figures_after) {
    try {
      probes_.set_timing(figures_after);  // the file says so: stats.runtime
    } catch (const std::exception& e) {
      WEFT_LOG(Warning, "reload: stats.runtime: %s", e.what());
    }
  }
  if (r.ok)
    WEFT_LOG(Notice, "reload (%s): %zu added, %zu removed, %zu kept; ports +%zu -%zu ~%zu; pause %.3f ms, lost %llu",
             r.mode.c_str(), r.added.size(), r.removed.size(), r.kept.size(), r.ports_added.size(),
             r.ports_removed.size(), r.ports_changed.size(), r.pause_ms,
             static_cast<unsigned long long>(r.packets_lost));
  else
    WEFT_LOG(Warning, "reload refused: %s", r.error.c_str());
  return r;
}

}  // namespace weft
