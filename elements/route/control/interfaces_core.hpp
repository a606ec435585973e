// The running state of an Interfaces service, on the control thread: the
// interface table it publishes, the neighbour cache workers read, the
// neighbour state machine (ARP, RFC 826; Neighbour Discovery, RFC 4861;
// states and timers as the Linux kernel keeps them), the packets waiting
// for a neighbour, and the rings to and from the workers.
//
// It moves from service to service across reloads (take_state), so
// neighbours, waiting packets and rings survive any reload that keeps the
// service; configure() applies a new interface list to it in place.
#pragma once

#include <rte_ring.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tables/arp_nd.hpp"
#include "tables/interfaces.hpp"

struct rte_rcu_qsbr;
struct rte_mempool;

namespace weft::route {

struct InterfacesConfig {
  struct Iface {
    std::string name;
    std::string port;
    std::string device;  // the port's device (for its DPDK id)
    std::optional<Mac> mac;
    uint16_t mtu = 0;  // 0: the port's
    uint16_t vlan = 0;
    std::vector<Prefix> addresses;
    std::string host;  // kernel interface of the host path
  };
  struct Static {
    std::string iface;
    IpAddr ip;
    Mac mac;
  };
  std::vector<Iface> interfaces;
  std::vector<Static> neighbors;
  // Timers and limits, as the kernel's neigh sysctls (seconds).
  double reachable_time = 30;     // base_reachable_time: reachable for 0.5..1.5 x this
  double retrans_time = 1;        // between probes
  double delay_first_probe = 5;   // stale entry in use -> probe after this
  double gc_stale_time = 60;      // unused stale entries go after this
  double failed_time = 20;        // a failed entry is forgotten after this
  unsigned mcast_probes = 3;      // broadcast/multicast probes of an unknown neighbour
  unsigned ucast_probes = 3;      // unicast probes of a known one
  unsigned queue = 16;            // packets held per unresolved neighbour
  unsigned max_neighbors = 4096;
  double max_requests_per_s = 200;  // ARP requests / NS sent per second, all neighbours
  // The control thread's timer (run_timers: probes, ageing). A packet a
  // worker holds or punts wakes the thread at once, whatever this is.
  double poll_period = 0.005;
};

enum class NeighState : uint8_t { Incomplete, Reachable, Stale, Delay, Probe, Failed, Static };
const char* to_string(NeighState s);

struct NeighborCounters {
  uint64_t requests_sent = 0, replies_sent = 0, gratuitous_sent = 0;
  uint64_t resolved = 0, failed = 0;
  uint64_t held = 0, released = 0, queue_full = 0, failed_drops = 0, tx_full = 0;
  uint64_t unreachable_sent = 0;
  uint64_t learned = 0, updated = 0, ignored = 0, conflicts = 0, table_full = 0;
  uint64_t arp_in = 0, nd_in = 0;
  uint64_t alloc_failed = 0;
};

class InterfacesCore final : public InterfacesHandle {
 public:
  InterfacesCore(std::string name, rte_rcu_qsbr* rcu, int socket);
  ~InterfacesCore() override;

  // Applies a configuration (first time, or a reload keeping the service).
  // Throws (leaving the running state as it was) if it cannot.
  void configure(const InterfacesConfig& c);
  void start(boost::asio::io_context& io);
  void stop();

  // InterfacesHandle
  std::shared_ptr<const InterfaceTable> interfaces() const override { return table_; }
  const NeighborCache& neighbors() const override { return *cache_; }
  bool punt(rte_mbuf* m) const override;
  bool hold(rte_mbuf* m) const override;
  rte_ring* tx_ring(uint16_t id) const override { return id < kMaxInterfaces ? tx_[id] : nullptr; }

  // One pass of the control loop: what workers handed over, then timers.
  // Public for tests (the timer calls it every few milliseconds).
  void poll();

  nlohmann::json status() const;
  nlohmann::json interfaces_json() const;
  nlohmann::json neighbors_json(const nlohmann::json& args) const;
  void flush(const nlohmann::json& args);
  const NeighborCounters& counters() const { return c_; }
  size_t neighbor_count() const { return neigh_.size(); }
  std::map<std::string, size_t> neighbor_states() const;
  const NeighborRingCounters& ring_counters() const { return rings_; }
  std::string last_conflict() const { return last_conflict_; }

 private:
  struct Neigh {
    NeighborKey key;
    int32_t pos = -1;  // rte_hash position = index into entries_
    NeighState state = NeighState::Incomplete;
    Mac mac;
    double deadline = 0;     // next timer (seconds on the Clock)
    double confirmed = 0;    // last reachability confirmation
    double changed = 0;      // entered this state
    unsigned probes = 0;
    uint64_t used_seen = 0;  // NeighborEntry::used when last looked at
    std::deque<rte_mbuf*> queue;
  };
  using Key = std::string;  // NeighborKey bytes
  static Key key_of(const NeighborKey& k) { return Key(reinterpret_cast<const char*>(&k), sizeof k); }

  double now() const;
  const Interface* iface(uint16_t id) const { return table_ ? table_->by_id(id) : nullptr; }
  Neigh* find(const NeighborKey& k);
  Neigh* create(const NeighborKey& k);
  void remove(Neigh& n);
  void publish(Neigh& n);  // writes n's usable MAC (or none) for workers
  void unpublish(Neigh& n);  // n is no longer usable (it goes, or its position is reused later)
  // Writes an entry word for workers; counts an invalidation (NeighborCache)
  // when a usable word changes.
  void store_entry(int32_t pos, uint64_t v);
  void set_state(Neigh& n, NeighState s);
  void confirm(Neigh& n, const Mac& mac);  // a reply: reachable with this MAC
  void release_queue(Neigh& n);
  void fail_queue(Neigh& n);
  // False when max_requests held it back: not a probe then, and tried again
  // at the next retransmission (a neighbour is never failed unasked).
  bool send_probe(Neigh& n, bool unicast);
  bool send(uint16_t iface, rte_mbuf* m);
  rte_mbuf* alloc(size_t len);
  void send_unreachable(const Interface& in, rte_mbuf* orig);
  void announce(const Interface& i);  // gratuitous ARP / unsolicited NA for all its addresses
  void handle_punted(rte_mbuf* m);
  void handle_arp(const Interface& i, const nd::Arp& a);
  void handle_nd(const Interface& i, const nd::Nd& n);
  void handle_held(rte_mbuf* m);
  void run_timers();
  void reclaim();
  bool take_request_token();
  void conflict(const Interface& i, const std::string& addr, const Mac& by);
  void resolve_ports();
  void schedule();
  // The control thread's turn: poll(), then asleep until the timer or a worker's wake().
  void run_poll();
  void arm_wake();
  // Worker side, after an enqueue to punt_ or hold_: wakes the control
  // thread if it sleeps (one eventfd write per sleep, whatever the rate).
  void wake() const;

  std::string name_;
  rte_rcu_qsbr* rcu_;
  int socket_;
  InterfacesConfig cfg_;
  std::shared_ptr<const InterfaceTable> table_;
  std::vector<uint32_t> broadcast4_;  // the IPv4 subnets' broadcasts (ICMP errors never answer them)
  uint16_t ip_id_ = 0;                // of the ICMP errors it sends
  std::map<std::string, uint16_t> ids_;  // interface name -> stable id
  rte_hash* hash_ = nullptr;
  std::unique_ptr<NeighborEntry[]> entries_;
  size_t entry_slots_ = 0;
  std::unique_ptr<NeighborCache> cache_;
  uint64_t created_ = 0;  // neighbours created (NeighborCache::kEpochCreates)
  rte_ring* punt_ = nullptr;
  rte_ring* hold_ = nullptr;
  rte_ring* tx_[kMaxInterfaces] = {};
  rte_mempool* pool_ = nullptr;
  std::map<Key, Neigh> neigh_;
  struct Deferred {
    uint64_t token;
    int32_t pos;
  };
  std::deque<Deferred> deferred_;
  mutable NeighborRingCounters rings_;
  NeighborCounters c_;
  std::mt19937 rng_{std::random_device{}()};
  double tokens_ = 0, tokens_at_ = 0;
  std::string last_conflict_;
  boost::asio::io_context* io_ = nullptr;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> wake_;  // an eventfd
  int wake_fd_ = -1;
  mutable std::atomic<bool> asleep_{false};
  bool started_ = false;
  unsigned seq_ = 0;
};

}  // namespace weft::route
