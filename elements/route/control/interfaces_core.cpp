#include "control/interfaces_core.hpp"

#include <arpa/inet.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <set>
#include <stdexcept>

#include "tables/icmp_errors.hpp"
#include "tables/ingress.hpp"
#include "weft/clock.hpp"
#include "weft/fields.hpp"
#include "weft/log.hpp"

namespace weft::route {

namespace {

// The neighbour table's hash: CRC32 over the key. rte_hash_crc reads it 8
// bytes at a time, and keys come from arrays at their 20-byte stride (a
// worker's batch of misses) or from the stack at 2-byte alignment: hash an
// aligned copy.
uint32_t neighbor_hash(const void* key, uint32_t len, uint32_t init) {
  alignas(8) uint8_t k[sizeof(NeighborKey)];
  const uint32_t n = std::min<uint32_t>(len, sizeof k);  // len is the table's key_len, sizeof(NeighborKey)
  std::memcpy(k, key, n);
  return rte_hash_crc(k, n, init);
}

std::atomic<unsigned> g_seq{0};

bool usable(NeighState s) { return s != NeighState::Incomplete && s != NeighState::Failed; }

std::string addr_text(const NeighborKey& k) {
  return k.family == AF_INET ? Ip4::of(k.addr).str() : Ip6::of(k.addr).str();
}

constexpr size_t kEth = sizeof(rte_ether_hdr);

}  // namespace

const char* to_string(NeighState s) {
  switch (s) {
    case NeighState::Incomplete: return "incomplete";
    case NeighState::Reachable: return "reachable";
    case NeighState::Stale: return "stale";
    case NeighState::Delay: return "delay";
    case NeighState::Probe: return "probe";
    case NeighState::Failed: return "failed";
    case NeighState::Static: return "static";
  }
  return "?";
}

InterfacesCore::InterfacesCore(std::string name, rte_rcu_qsbr* rcu, int socket)
    : name_(std::move(name)), rcu_(rcu), socket_(socket), table_(std::make_shared<InterfaceTable>()) {}

InterfacesCore::~InterfacesCore() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
  for (auto& [k, n] : neigh_)
    for (rte_mbuf* m : n.queue) rte_pktmbuf_free(m);
  auto drain = [](rte_ring* r) {
    if (!r) return;
    void* m;
    while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    rte_ring_free(r);
  };
  drain(punt_);
  drain(hold_);
  for (rte_ring*& r : tx_) drain(r);
  if (hash_) rte_hash_free(hash_);
  // Packets of ours may still sit in a device's transmit queue: the pool
  // goes only when every buffer is back.
  if (pool_ && rte_mempool_full(pool_)) rte_mempool_free(pool_);
}

double InterfacesCore::now() const { return double(Clock::now_ns()) * 1e-9; }

void InterfacesCore::configure(const InterfacesConfig& c) {
  // Everything that can fail is computed first; the running state changes after.
  if (hash_ && c.max_neighbors != cfg_.max_neighbors)
    throw std::invalid_argument("max_neighbors cannot change while the service runs (" +
                                std::to_string(cfg_.max_neighbors) + "); rename the service to start afresh");
  auto next = std::make_shared<InterfaceTable>();
  std::map<std::string, uint16_t> ids = ids_;
  std::set<uint16_t> used_ids;
  for (const auto& [n, id] : ids_) used_ids.insert(id);
  uint16_t next_id = 0;
  for (const auto& [n, id] : ids_) next_id = std::max<uint16_t>(next_id, uint16_t(id + 1));
  for (const auto& ic : c.interfaces) {
    Interface i;
    i.name = ic.name;
    i.port = ic.port;
    uint16_t pid;
    if (!ic.device.empty() && rte_eth_dev_get_port_by_name(ic.device.c_str(), &pid) == 0) i.port_id = pid;
    if (ic.mac) {
      i.mac = *ic.mac;
    } else if (i.port_id != 0xffff) {
      rte_ether_addr a;
      if (rte_eth_macaddr_get(i.port_id, &a) != 0)
        throw std::invalid_argument("interface " + ic.name + ": cannot read port " + ic.port + "'s MAC: give mac:");
      i.mac = Mac::of(a.addr_bytes);
    } else {
      throw std::invalid_argument("interface " + ic.name + ": port " + ic.port + " has no device (yet): give mac:");
    }
    if (ic.mtu) {
      i.mtu = ic.mtu;
    } else if (uint16_t m; i.port_id != 0xffff && rte_eth_dev_get_mtu(i.port_id, &m) == 0) {
      i.mtu = m;
    }
    i.vlan = ic.vlan;
    i.addresses = ic.addresses;
    std::stable_sort(i.addresses.begin(), i.addresses.end(), [](const Prefix& a, const Prefix& b) { return a.v4() && !b.v4(); });
    i.link_local = nd::link_local_of(i.mac);
    i.host_ifname = ic.host;
    for (const Prefix& p : i.addresses) {
      if (p.v4() && !i.src4) std::memcpy(&i.src4, p.addr.data(), 4);
      if (p.v6() && i.src6 == Ip6{}) i.src6 = p.addr.ip6();
    }
    if (i.src6 == Ip6{}) i.src6 = i.link_local;
    if (auto it = ids.find(ic.name); it != ids.end()) {
      i.id = it->second;
    } else {
      // Ids are not reused while free ones remain above: a worker still on
      // the old graph never sees another interface's packets on its ring.
      uint16_t id = next_id;
      if (id >= kMaxInterfaces) {
        id = 0;
        while (id < kMaxInterfaces && (used_ids.count(id) || table_->by_id(id))) id++;
        if (id >= kMaxInterfaces) throw std::invalid_argument("more than 256 interfaces");
      }
      next_id = uint16_t(id + 1);
      used_ids.insert(id);
      ids[ic.name] = id;
      i.id = id;
    }
    next->add(std::move(i));
  }
  for (const auto& s : c.neighbors)
    if (!next->by_name(s.iface))
      throw std::invalid_argument("static neighbour " + s.ip.str() + ": no interface '" + s.iface + "'");

  // Resources, once.
  const unsigned seq = g_seq.fetch_add(1);
  if (!hash_) {
    const std::string base = "wif" + std::to_string(getpid()) + "_" + std::to_string(seq);
    rte_hash_parameters hp{};
    const std::string hn = base + "h";
    hp.name = hn.c_str();
    hp.entries = std::max(64u, c.max_neighbors);
    hp.key_len = sizeof(NeighborKey);
    hp.hash_func = neighbor_hash;
    hp.socket_id = socket_;
    hp.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    rte_hash* h = rte_hash_create(&hp);
    if (!h) throw std::runtime_error("neighbour table: rte_hash_create failed: " + std::string(rte_strerror(rte_errno)));
    const std::string pn = base + "p", hn2 = base + "q";
    rte_ring* punt = rte_ring_create(pn.c_str(), 1024, socket_, RING_F_SC_DEQ);
    rte_ring* hold = rte_ring_create(hn2.c_str(), 4096, socket_, RING_F_SC_DEQ);
    const std::string mn = base + "m";
    rte_mempool* pool = rte_pktmbuf_pool_create(mn.c_str(), 2047, 32, kMetadataBytes, RTE_MBUF_DEFAULT_BUF_SIZE, socket_);
    if (!punt || !hold || !pool) {
      if (punt) rte_ring_free(punt);
      if (hold) rte_ring_free(hold);
      if (pool) rte_mempool_free(pool);
      rte_hash_free(h);
      throw std::runtime_error("neighbour rings or packet pool: " + std::string(rte_strerror(rte_errno)));
    }
    hash_ = h;
    entry_slots_ = hp.entries + 64;
    entries_ = std::make_unique<NeighborEntry[]>(entry_slots_);
    cache_ = std::make_unique<NeighborCache>(hash_, entries_.get());
    punt_ = punt;
    hold_ = hold;
    pool_ = pool;
  }
  for (const Interface& i : next->all()) {
    if (tx_[i.id]) continue;
    const std::string tn = "wif" + std::to_string(getpid()) + "_" + std::to_string(seq) + "t" + std::to_string(i.id);
    tx_[i.id] = rte_ring_create(tn.c_str(), 1024, socket_, RING_F_SP_ENQ);
    if (!tx_[i.id]) throw std::runtime_error("interface " + i.name + ": transmit ring: " + rte_strerror(rte_errno));
  }

  // Apply.
  const std::shared_ptr<const InterfaceTable> old = table_;
  std::vector<const Interface*> announce_list;
  for (const Interface& i : next->all()) {
    const Interface* was = old->by_id(i.id);
    bool changed = !was || !(was->mac == i.mac);
    if (was && !changed)
      for (const Prefix& p : i.addresses)
        if (std::find(was->addresses.begin(), was->addresses.end(), p) == was->addresses.end()) changed = true;
    if (changed) announce_list.push_back(&i);
  }
  // Interfaces gone: their neighbours and queued packets go too.
  for (const Interface& w : old->all()) {
    if (next->by_id(w.id)) continue;
    for (auto it = neigh_.begin(); it != neigh_.end();) {
      Neigh& n = (it++)->second;
      if (n.key.iface == w.id) {
        c_.failed_drops += n.queue.size();
        for (rte_mbuf* m : n.queue) rte_pktmbuf_free(m);
        n.queue.clear();
        remove(n);
      }
    }
    ids.erase(w.name);
  }
  ids_ = std::move(ids);
  table_ = next;
  broadcast4_ = icmp_errors::broadcasts4(*table_);
  cfg_ = c;
  // Static neighbours: exactly the configured ones.
  std::set<Key> wanted;
  for (const auto& s : c.neighbors) {
    NeighborKey k{};
    k.iface = table_->by_name(s.iface)->id;
    k.family = uint8_t(s.ip.family());
    std::memcpy(k.addr, s.ip.data(), s.ip.size());
    wanted.insert(key_of(k));
    Neigh* n = find(k);
    if (!n) n = create(k);
    if (!n) throw std::runtime_error("static neighbour " + s.ip.str() + ": the neighbour table is full");
    n->mac = s.mac;
    set_state(*n, NeighState::Static);
    release_queue(*n);
  }
  for (auto it = neigh_.begin(); it != neigh_.end();) {
    Neigh& n = (it++)->second;
    if (n.state == NeighState::Static && !wanted.count(key_of(n.key))) remove(n);
  }
  if (started_)
    for (const Interface* i : announce_list) announce(*i);
}

void InterfacesCore::start(boost::asio::io_context& io) {
  io_ = &io;
  started_ = true;
  timer_ = std::make_unique<boost::asio::steady_timer>(io);
  if (wake_fd_ < 0) wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);  // open until the destructor
  if (wake_fd_ >= 0) {
    wake_ = std::make_unique<boost::asio::posix::stream_descriptor>(io, wake_fd_);
    arm_wake();
  } else {
    WEFT_LOG(Warning, "interfaces %s: no eventfd (%s): held and punted packets wait for the %.0f ms timer",
             name_.c_str(), std::strerror(errno), cfg_.poll_period * 1e3);
  }
  for (const Interface& i : table_->all()) announce(i);
  schedule();
  if (wake_) {  // idle until the timer or a worker
    asleep_.store(true, std::memory_order_seq_cst);
    if (rte_ring_count(punt_) || rte_ring_count(hold_)) wake();
  }
}

void InterfacesCore::schedule() {
  if (!timer_) return;
  timer_->expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(cfg_.poll_period)));
  timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    run_poll();
    schedule();
  });
}

void InterfacesCore::run_poll() {
  try {
    poll();
  } catch (const std::exception& e) {
    WEFT_LOG(Error, "interfaces %s: %s", name_.c_str(), e.what());
  }
  if (!wake_) return;
  // Asleep from here on: the next packet a worker hands over wakes us. One
  // that came after poll() drained the rings but before the flag was up saw
  // no sleeper: look again (both sides order their store before their load).
  asleep_.store(true, std::memory_order_seq_cst);
  if (rte_ring_count(punt_) || rte_ring_count(hold_)) wake();
}

void InterfacesCore::arm_wake() {
  wake_->async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
    if (ec) return;
    uint64_t v;
    while (::read(wake_fd_, &v, sizeof v) > 0) {
    }
    run_poll();
    arm_wake();
  });
}

void InterfacesCore::wake() const {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // the enqueue before the flag's load
  if (!asleep_.load(std::memory_order_relaxed) || !asleep_.exchange(false, std::memory_order_acq_rel)) return;
  rings_.wakeups.fetch_add(1, std::memory_order_relaxed);
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t w = ::write(wake_fd_, &one, sizeof one);  // full (2^64 - 2): already awake
}

void InterfacesCore::stop() {
  if (timer_) timer_->cancel();
  timer_.reset();
  // Workers may still hand packets over until they have let go of the
  // service: they find no sleeper, and the eventfd stays open (it is closed
  // by the destructor, so a late write never reaches another descriptor).
  asleep_.store(false);
  if (wake_) {
    boost::system::error_code ec;
    wake_->cancel(ec);
    wake_->release();
    wake_.reset();
  }
  started_ = false;
}

bool InterfacesCore::punt(rte_mbuf* m) const {
  if (rte_ring_mp_enqueue(punt_, m) != 0) {
    rings_.punt_full.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  rings_.punted.fetch_add(1, std::memory_order_relaxed);
  wake();
  return true;
}

bool InterfacesCore::hold(rte_mbuf* m) const {
  if (rte_ring_mp_enqueue(hold_, m) != 0) {
    rings_.hold_full.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  rings_.held.fetch_add(1, std::memory_order_relaxed);
  wake();
  return true;
}

InterfacesCore::Neigh* InterfacesCore::find(const NeighborKey& k) {
  auto it = neigh_.find(key_of(k));
  return it == neigh_.end() ? nullptr : &it->second;
}

InterfacesCore::Neigh* InterfacesCore::create(const NeighborKey& k) {
  if (neigh_.size() >= cfg_.max_neighbors) {
    c_.table_full++;
    return nullptr;
  }
  const int32_t pos = rte_hash_add_key(hash_, &k);
  if (pos < 0 || size_t(pos) >= entry_slots_) {
    if (pos >= 0) rte_hash_del_key(hash_, &k);
    c_.table_full++;
    return nullptr;
  }
  // A new generation for the position: workers' NeighborFront lines that
  // remember it for an earlier neighbour stop matching.
  const uint64_t gen = NeighborEntry::gen_of(entries_[pos].mac.load(std::memory_order_relaxed)) + 1;
  store_entry(pos, NeighborEntry::unusable(gen));
  entries_[pos].used.store(0, std::memory_order_relaxed);
  if (++created_ % NeighborCache::kEpochCreates == 0) cache_->next_epoch();
  Neigh& n = neigh_[key_of(k)];
  n.key = k;
  n.pos = pos;
  n.state = NeighState::Incomplete;
  n.changed = n.confirmed = now();
  return &n;
}

void InterfacesCore::remove(Neigh& n) {
  for (rte_mbuf* m : n.queue) rte_pktmbuf_free(m);
  unpublish(n);
  const int32_t pos = rte_hash_del_key(hash_, &n.key);
  if (pos >= 0) {
    // Readers may still hold the position: it is reused after a grace period.
    if (rcu_) deferred_.push_back({rte_rcu_qsbr_start(rcu_), pos});
    else rte_hash_free_key_with_position(hash_, pos);
  }
  neigh_.erase(key_of(n.key));
}

void InterfacesCore::reclaim() {
  while (!deferred_.empty() && rte_rcu_qsbr_check(rcu_, deferred_.front().token, false) == 1) {
    rte_hash_free_key_with_position(hash_, deferred_.front().pos);
    deferred_.pop_front();
  }
}

void InterfacesCore::publish(Neigh& n) {
  const uint64_t gen = NeighborEntry::gen_of(entries_[n.pos].mac.load(std::memory_order_relaxed));
  store_entry(n.pos, usable(n.state) ? NeighborEntry::pack(n.mac, gen) : NeighborEntry::unusable(gen));
}

void InterfacesCore::unpublish(Neigh& n) {
  const uint64_t gen = NeighborEntry::gen_of(entries_[n.pos].mac.load(std::memory_order_relaxed));
  store_entry(n.pos, NeighborEntry::unusable(gen));
}

void InterfacesCore::store_entry(int32_t pos, uint64_t v) {
  const uint64_t old = entries_[pos].mac.load(std::memory_order_relaxed);
  entries_[pos].mac.store(v, std::memory_order_release);
  // Workers' fronts copy usable MACs: one that is no longer right makes them forget.
  if ((old & NeighborEntry::kUsable) && old != v) cache_->invalidate();
}

void InterfacesCore::set_state(Neigh& n, NeighState s) {
  const double t = now();
  if (s != n.state) n.changed = t;
  n.state = s;
  n.probes = 0;
  switch (s) {
    case NeighState::Reachable: {
      n.confirmed = t;
      std::uniform_real_distribution<double> d(0.5, 1.5);
      n.deadline = t + cfg_.reachable_time * d(rng_);
      break;
    }
    case NeighState::Stale:
      n.used_seen = entries_[n.pos].used.load(std::memory_order_relaxed);
      n.deadline = t + cfg_.gc_stale_time;
      break;
    case NeighState::Delay: n.deadline = t + cfg_.delay_first_probe; break;
    case NeighState::Probe:
    case NeighState::Incomplete: n.deadline = t; break;  // probe at once
    case NeighState::Failed: n.deadline = t + cfg_.failed_time; break;
    case NeighState::Static: n.deadline = 0; break;
  }
  publish(n);
}

void InterfacesCore::confirm(Neigh& n, const Mac& mac) {
  if (n.state == NeighState::Static) return;
  if (n.state == NeighState::Incomplete) c_.resolved++;
  n.mac = mac;
  set_state(n, NeighState::Reachable);
  release_queue(n);
}

void InterfacesCore::release_queue(Neigh& n) {
  if (!usable(n.state)) return;
  const Interface* i = iface(n.key.iface);
  while (!n.queue.empty()) {
    rte_mbuf* m = n.queue.front();
    n.queue.pop_front();
    if (!i) {
      rte_pktmbuf_free(m);
      c_.failed_drops++;
      continue;
    }
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    std::memcpy(eth->dst_addr.addr_bytes, n.mac.data(), 6);
    std::memcpy(eth->src_addr.addr_bytes, i->mac.data(), 6);
    if (send(i->id, m)) c_.released++;
  }
}

void InterfacesCore::fail_queue(Neigh& n) {
  static const IngressSlot ingress = ingress_slot();
  while (!n.queue.empty()) {
    rte_mbuf* m = n.queue.front();
    n.queue.pop_front();
    c_.failed_drops++;
    if (const Interface* in = ingress_of(*table_, ingress, m)) send_unreachable(*in, m);
    rte_pktmbuf_free(m);
  }
}

bool InterfacesCore::send(uint16_t id, rte_mbuf* m) {
  if (id >= kMaxInterfaces || !tx_[id] || rte_ring_sp_enqueue(tx_[id], m) != 0) {
    rte_pktmbuf_free(m);
    c_.tx_full++;
    return false;
  }
  return true;
}

rte_mbuf* InterfacesCore::alloc(size_t len) {
  static const fields::LocalOrigin local_origin = fields::local_origin();
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (!m || !rte_pktmbuf_append(m, static_cast<uint16_t>(len))) {
    if (m) rte_pktmbuf_free(m);
    c_.alloc_failed++;
    return nullptr;
  }
  local_origin.set(m);  // requests and probes are ours
  return m;
}

bool InterfacesCore::take_request_token() {
  const double t = now();
  const double rate = cfg_.max_requests_per_s;
  // The bucket starts full: the Clock starts with DPDK, so its age would make
  // the first burst depend on how long ago the process started.
  tokens_ = tokens_at_ == 0 ? rate : std::min(rate, tokens_ + (t - tokens_at_) * rate);
  tokens_at_ = t;
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

bool InterfacesCore::send_probe(Neigh& n, bool unicast) {
  const Interface* i = iface(n.key.iface);
  if (!i) return true;
  if (!take_request_token()) return false;
  if (n.key.family == AF_INET) {
    uint32_t target;
    std::memcpy(&target, n.key.addr, 4);
    const IpAddr src = i->source_for(IpAddr(Ip4::of(n.key.addr)));
    if (!src.v4()) return true;  // no IPv4 address on the interface: nothing to ask with
    uint32_t sip;
    std::memcpy(&sip, src.data(), 4);
    rte_mbuf* m = alloc(nd::kArpFrame);
    if (!m) return true;
    const Mac bcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    nd::build_arp(rte_pktmbuf_mtod(m, uint8_t*), RTE_ARP_OP_REQUEST, i->mac, unicast ? n.mac : bcast, i->mac, sip, Mac{},
                  target);
    if (send(i->id, m)) c_.requests_sent++;
  } else {
    const Ip6 target = Ip6::of(n.key.addr);
    const IpAddr src = i->source_for(IpAddr(target));
    rte_mbuf* m = alloc(nd::kNdFrame);
    if (!m) return true;
    nd::build_ns(rte_pktmbuf_mtod(m, uint8_t*), i->mac, src.ip6(), target, unicast ? &n.mac : nullptr);
    if (send(i->id, m)) c_.requests_sent++;
  }
  return true;
}

void InterfacesCore::announce(const Interface& i) {
  const Mac bcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
  for (const Prefix& p : i.addresses) {
    if (!p.v4()) continue;
    uint32_t a;
    std::memcpy(&a, p.addr.data(), 4);
    if (rte_mbuf* m = alloc(nd::kArpFrame)) {
      nd::build_arp(rte_pktmbuf_mtod(m, uint8_t*), RTE_ARP_OP_REQUEST, i.mac, bcast, i.mac, a, Mac{}, a);
      if (send(i.id, m)) c_.gratuitous_sent++;
    }
  }
  std::vector<Ip6> v6{i.link_local};
  for (const Prefix& p : i.addresses)
    if (p.v6()) v6.push_back(p.addr.ip6());
  for (const Ip6& a : v6) {
    if (rte_mbuf* m = alloc(nd::kNdFrame)) {
      nd::build_na(rte_pktmbuf_mtod(m, uint8_t*), i.mac, a, nd::all_nodes(), nd::multicast_mac(nd::all_nodes()), a,
                   false, true, true);
      if (send(i.id, m)) c_.gratuitous_sent++;
    }
  }
}

void InterfacesCore::conflict(const Interface& i, const std::string& addr, const Mac& by) {
  c_.conflicts++;
  last_conflict_ = addr + " on " + i.name + " claimed by " + by.str();
  WEFT_LOG(Warning, "interfaces %s: address conflict: %s is ours, but %s claims it on %s", name_.c_str(), addr.c_str(),
           by.str().c_str(), i.name.c_str());
}

void InterfacesCore::poll() {
  void* ms[64];
  for (int round = 0; round < 8; round++) {
    unsigned n = rte_ring_sc_dequeue_burst(punt_, ms, 64, nullptr);
    for (unsigned k = 0; k < n; k++) {
      rte_mbuf* m = static_cast<rte_mbuf*>(ms[k]);
      handle_punted(m);
      rte_pktmbuf_free(m);
    }
    unsigned h = rte_ring_sc_dequeue_burst(hold_, ms, 64, nullptr);
    for (unsigned k = 0; k < h; k++) handle_held(static_cast<rte_mbuf*>(ms[k]));
    if (n < 64 && h < 64) break;
  }
  run_timers();
  if (rcu_) reclaim();
}

void InterfacesCore::handle_punted(rte_mbuf* m) {
  static const PendingSlot slot = pending_slot();
  const Interface* i = slot.has(m) ? iface(slot.get(m).iface) : nullptr;
  if (!i || m->nb_segs != 1) {
    c_.ignored++;
    return;
  }
  const uint8_t* f = rte_pktmbuf_mtod(m, const uint8_t*);
  nd::Arp a;
  if (nd::parse_arp(f, m->data_len, a) == nd::Verdict::Ok) {
    c_.arp_in++;
    handle_arp(*i, a);
    return;
  }
  nd::Nd n;
  if (nd::parse_nd(f, m->data_len, n) == nd::Verdict::Ok) {
    c_.nd_in++;
    handle_nd(*i, n);
    return;
  }
  c_.ignored++;
}

void InterfacesCore::handle_arp(const Interface& i, const nd::Arp& a) {
  const IpAddr sender(Ip4::of(reinterpret_cast<const uint8_t*>(&a.sender_ip)));
  const IpAddr target(Ip4::of(reinterpret_cast<const uint8_t*>(&a.target_ip)));
  if (a.sender_ip != 0 && i.owns(sender)) {
    if (!(a.sender_mac == i.mac)) conflict(i, sender.str(), a.sender_mac);
    return;
  }
  if (a.sender_ip == 0) return;  // an address probe (RFC 5227): nothing to learn
  NeighborKey k{};
  k.iface = i.id;
  k.family = AF_INET;
  std::memcpy(k.addr, &a.sender_ip, 4);
  Neigh* n = find(k);
  const bool for_us = i.owns(target);
  if (!n) {
    // Learn only who talks to us (RFC 826; as Linux without arp_accept).
    if (!for_us || a.op != RTE_ARP_OP_REQUEST) {
      c_.ignored++;
      return;
    }
    n = create(k);
    if (!n) return;
    n->mac = a.sender_mac;
    set_state(*n, NeighState::Stale);
    c_.learned++;
    return;
  }
  if (n->state == NeighState::Static) return;
  if (a.op == RTE_ARP_OP_REPLY && for_us) {
    confirm(*n, a.sender_mac);
    return;
  }
  // A request, or a gratuitous announcement: a new MAC makes it stale.
  if (n->state == NeighState::Incomplete || n->state == NeighState::Failed || !(n->mac == a.sender_mac)) {
    if (n->state == NeighState::Incomplete) c_.resolved++;
    n->mac = a.sender_mac;
    set_state(*n, NeighState::Stale);
    c_.updated++;
    release_queue(*n);
  }
}

void InterfacesCore::handle_nd(const Interface& i, const nd::Nd& m) {
  const bool unspecified = m.src == Ip6{};
  if (m.type == icmp6::kNeighborSolicit) {
    if (unspecified) {
      // Duplicate address detection by someone else for an address of ours.
      if (i.owns(IpAddr(m.target))) conflict(i, m.target.str(), Mac{});
      return;
    }
    if (!m.has_lladdr || !i.owns(IpAddr(m.target))) return;
    NeighborKey k{};
    k.iface = i.id;
    k.family = AF_INET6;
    std::memcpy(k.addr, m.src.data(), 16);
    Neigh* n = find(k);
    if (!n) {
      n = create(k);
      if (!n) return;
      n->mac = m.lladdr;
      set_state(*n, NeighState::Stale);
      c_.learned++;
      return;
    }
    if (n->state == NeighState::Static) return;
    if (n->state == NeighState::Incomplete || n->state == NeighState::Failed || !(n->mac == m.lladdr)) {
      if (n->state == NeighState::Incomplete) c_.resolved++;
      n->mac = m.lladdr;
      set_state(*n, NeighState::Stale);
      c_.updated++;
      release_queue(*n);
    }
    return;
  }
  if (m.type != icmp6::kNeighborAdvert) return;
  if (i.owns(IpAddr(m.target))) {
    if (!m.has_lladdr || !(m.lladdr == i.mac)) conflict(i, m.target.str(), m.has_lladdr ? m.lladdr : Mac{});
    return;
  }
  NeighborKey k{};
  k.iface = i.id;
  k.family = AF_INET6;
  std::memcpy(k.addr, m.target.data(), 16);
  Neigh* n = find(k);
  if (!n || n->state == NeighState::Static) {
    c_.ignored++;  // not asked about (RFC 4861 7.2.5: silently discard)
    return;
  }
  if (n->state == NeighState::Incomplete) {
    if (!m.has_lladdr) {
      c_.ignored++;
      return;
    }
    if (m.solicited) {
      confirm(*n, m.lladdr);
    } else {
      c_.resolved++;
      n->mac = m.lladdr;
      set_state(*n, NeighState::Stale);
      release_queue(*n);
    }
    return;
  }
  const bool same = !m.has_lladdr || m.lladdr == n->mac;
  if (!m.override_flag && !same) {
    if (n->state == NeighState::Reachable) set_state(*n, NeighState::Stale);
    return;
  }
  if (m.solicited) {
    confirm(*n, m.has_lladdr ? m.lladdr : n->mac);
  } else if (!same) {
    n->mac = m.lladdr;
    set_state(*n, NeighState::Stale);
    c_.updated++;
  }
}

void InterfacesCore::handle_held(rte_mbuf* m) {
  static const PendingSlot slot = pending_slot();
  if (!slot.has(m)) {
    rte_pktmbuf_free(m);
    c_.failed_drops++;
    return;
  }
  const PendingNeighbor& p = slot.get(m);
  const Interface* i = iface(p.iface);
  if (!i || (p.family != AF_INET && p.family != AF_INET6)) {
    rte_pktmbuf_free(m);
    c_.failed_drops++;
    return;
  }
  NeighborKey k{};
  k.iface = p.iface;
  k.family = p.family;
  std::memcpy(k.addr, p.addr, p.family == AF_INET ? 4 : 16);
  Neigh* n = find(k);
  const bool fresh = !n;
  if (!n) n = create(k);
  if (!n) {
    rte_pktmbuf_free(m);
    c_.failed_drops++;
    return;
  }
  c_.held++;
  if (n->queue.size() >= cfg_.queue) {  // the oldest goes, as the kernel's unres_qlen
    rte_pktmbuf_free(n->queue.front());
    n->queue.pop_front();
    c_.queue_full++;
  }
  n->queue.push_back(m);
  if (usable(n->state)) {
    release_queue(*n);
    return;
  }
  if (n->state == NeighState::Failed) {
    set_state(*n, NeighState::Incomplete);
  }
  if (fresh || n->probes == 0) {
    n->probes = send_probe(*n, false) ? 1 : 0;
    n->deadline = now() + cfg_.retrans_time;
  }
}

void InterfacesCore::run_timers() {
  const double t = now();
  for (auto it = neigh_.begin(); it != neigh_.end();) {
    Neigh& n = (it++)->second;
    switch (n.state) {
      case NeighState::Static: break;
      case NeighState::Incomplete:
        if (t < n.deadline) break;
        if (n.probes < cfg_.mcast_probes) {
          if (send_probe(n, false)) n.probes++;
          n.deadline = t + cfg_.retrans_time;
        } else {
          c_.failed++;
          WEFT_LOG(Info, "interfaces %s: neighbour %s on %s: no answer to %u requests (failed)", name_.c_str(),
                   addr_text(n.key).c_str(), iface(n.key.iface) ? iface(n.key.iface)->name.c_str() : "?", n.probes);
          set_state(n, NeighState::Failed);
          fail_queue(n);
        }
        break;
      case NeighState::Reachable:
        if (t >= n.deadline) set_state(n, NeighState::Stale);
        break;
      case NeighState::Stale:
        if (entries_[n.pos].used.load(std::memory_order_relaxed) != n.used_seen) set_state(n, NeighState::Delay);
        else if (t >= n.deadline && n.queue.empty()) remove(n);
        break;
      case NeighState::Delay:
        if (t >= n.deadline) {
          set_state(n, NeighState::Probe);
          n.probes = send_probe(n, true) ? 1 : 0;
          n.deadline = t + cfg_.retrans_time;
        }
        break;
      case NeighState::Probe:
        if (t < n.deadline) break;
        if (n.probes < cfg_.ucast_probes) {
          if (send_probe(n, true)) n.probes++;
          n.deadline = t + cfg_.retrans_time;
        } else {
          c_.failed++;
          set_state(n, NeighState::Failed);
          fail_queue(n);
        }
        break;
      case NeighState::Failed:
        if (t >= n.deadline && n.queue.empty()) remove(n);
        break;
    }
  }
}

void InterfacesCore::send_unreachable(const Interface& in, rte_mbuf* orig) {
  // ICMP host unreachable / address unreachable to the packet's source,
  // back through the interface it came in by, to the previous hop's MAC.
  if (orig->data_len < kEth) return;
  const Mac prev = Mac::of(rte_pktmbuf_mtod(orig, const rte_ether_hdr*)->src_addr.addr_bytes);
  if (prev.multicast()) return;
  const bool v4 = rte_pktmbuf_mtod(orig, const rte_ether_hdr*)->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  const uint8_t type = v4 ? icmp4::kUnreachable : icmp6::kUnreachable;
  const uint8_t code = v4 ? icmp4::kHostUnreachable : icmp6::kAddressUnreachable;
  icmp_errors::Offender o;
  if (icmp_errors::examine(orig, type, code, broadcast4_, o) != icmp_errors::Verdict::Ok) return;
  const IpAddr src = in.source_for(o.source);
  if (src.version != o.source.version) return;
  if (!take_request_token()) return;
  rte_mbuf* m = icmp_errors::build(pool_, orig, o, src, type, code, 0, ip_id_++);
  if (!m) {
    c_.alloc_failed++;
    return;
  }
  auto* e = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  std::memcpy(e->dst_addr.addr_bytes, prev.data(), 6);
  std::memcpy(e->src_addr.addr_bytes, in.mac.data(), 6);
  static const fields::LocalOrigin local_origin = fields::local_origin();
  local_origin.set(m);  // ours: never decremented on its way out (RFC 1812 4.2.2.9)
  if (send(in.id, m)) c_.unreachable_sent++;
}

std::map<std::string, size_t> InterfacesCore::neighbor_states() const {
  std::map<std::string, size_t> out;
  for (NeighState s : {NeighState::Incomplete, NeighState::Reachable, NeighState::Stale, NeighState::Delay,
                       NeighState::Probe, NeighState::Failed, NeighState::Static})
    out[to_string(s)] = 0;
  for (const auto& [k, n] : neigh_) out[to_string(n.state)]++;
  return out;
}

nlohmann::json InterfacesCore::status() const {
  nlohmann::json j;
  j["interfaces"] = table_->size();
  j["neighbors"] = neigh_.size();
  j["max_neighbors"] = cfg_.max_neighbors;
  j["states"] = neighbor_states();
  j["counters"] = {{"requests_sent", c_.requests_sent}, {"replies_sent", c_.replies_sent},
                   {"gratuitous_sent", c_.gratuitous_sent}, {"resolved", c_.resolved},
                   {"failed", c_.failed}, {"held", c_.held},
                   {"released", c_.released}, {"queue_full", c_.queue_full},
                   {"failed_drops", c_.failed_drops}, {"unreachable_sent", c_.unreachable_sent},
                   {"tx_full", c_.tx_full}, {"learned", c_.learned},
                   {"updated", c_.updated}, {"ignored", c_.ignored},
                   {"conflicts", c_.conflicts}, {"table_full", c_.table_full},
                   {"arp_in", c_.arp_in}, {"nd_in", c_.nd_in},
                   {"alloc_failed", c_.alloc_failed},
                   {"punted", rings_.punted.load()}, {"punt_full", rings_.punt_full.load()},
                   {"hold_ring", rings_.held.load()}, {"hold_ring_full", rings_.hold_full.load()},
                   {"wakeups", rings_.wakeups.load()}};
  j["last_conflict"] = last_conflict_;
  return j;
}

nlohmann::json InterfacesCore::interfaces_json() const {
  nlohmann::json out = nlohmann::json::array();
  for (const Interface& i : table_->all()) {
    nlohmann::json a = nlohmann::json::array();
    for (const Prefix& p : i.addresses) a.push_back(p.str());
    nlohmann::json j = {{"name", i.name},       {"id", i.id},     {"port", i.port}, {"mac", i.mac.str()},
                        {"mtu", i.mtu},         {"vlan", i.vlan}, {"addresses", a}, {"link_local", i.link_local.str()},
                        {"host", i.host_ifname}};
    if (i.port_id != 0xffff) {
      j["port_id"] = i.port_id;
      rte_eth_link l{};
      if (rte_eth_link_get_nowait(i.port_id, &l) == 0) {
        j["link"] = l.link_status ? "up" : "down";
        j["speed_mbps"] = l.link_speed;
      }
      rte_eth_stats s{};
      if (rte_eth_stats_get(i.port_id, &s) == 0)
        j["counters"] = {{"rx_packets", s.ipackets}, {"tx_packets", s.opackets}, {"rx_bytes", s.ibytes},
                         {"tx_bytes", s.obytes},     {"rx_missed", s.imissed},   {"rx_errors", s.ierrors},
                         {"tx_errors", s.oerrors}};
    } else {
      j["link"] = i.port.empty() ? "no port" : "no device";
    }
    out.push_back(j);
  }
  return out;
}

nlohmann::json InterfacesCore::neighbors_json(const nlohmann::json& args) const {
  std::string only;
  if (args.contains("interface")) only = args["interface"].get<std::string>();
  if (!only.empty() && !table_->by_name(only)) throw std::invalid_argument("no interface '" + only + "'");
  const double t = now();
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [k, n] : neigh_) {
    const Interface* i = table_->by_id(n.key.iface);
    if (!i || (!only.empty() && i->name != only)) continue;
    out.push_back({{"interface", i->name},
                   {"address", addr_text(n.key)},
                   {"family", n.key.family == AF_INET ? "ipv4" : "ipv6"},
                   {"mac", usable(n.state) ? n.mac.str() : ""},
                   {"state", to_string(n.state)},
                   {"age_s", std::round((t - n.changed) * 10) / 10},
                   {"probes", n.probes},
                   {"queued", n.queue.size()}});
  }
  return out;
}

void InterfacesCore::flush(const nlohmann::json& args) {
  std::string only;
  if (args.contains("interface")) only = args["interface"].get<std::string>();
  const Interface* i = only.empty() ? nullptr : table_->by_name(only);
  if (!only.empty() && !i) throw std::invalid_argument("no interface '" + only + "'");
  for (auto it = neigh_.begin(); it != neigh_.end();) {
    Neigh& n = (it++)->second;
    if (n.state == NeighState::Static || (i && n.key.iface != i->id)) continue;
    c_.failed_drops += n.queue.size();
    remove(n);
  }
}

}  // namespace weft::route
