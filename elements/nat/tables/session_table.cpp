#include "tables/session_table.hpp"

#include <arpa/inet.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "weft/clock.hpp"
#include "weft/error.hpp"

namespace weft::nat {

namespace {

int pclass_of(uint8_t proto) { return proto == IPPROTO_TCP ? 0 : proto == IPPROTO_UDP ? 1 : 2; }

size_t dpdk_allocated(int socket) {
  rte_malloc_socket_stats st{};
  if (rte_malloc_get_socket_stats(socket, &st) != 0) return 0;
  return st.heap_allocsz_bytes;
}

rte_ring* index_ring(const std::string& name, uint32_t n, int socket) {
  rte_ring* r = rte_ring_create_elem(name.c_str(), sizeof(uint32_t), n, socket, RING_F_EXACT_SZ);
  if (!r) return nullptr;
  std::vector<uint32_t> all(n);
  for (uint32_t i = 0; i < n; i++) all[i] = i;
  rte_ring_enqueue_bulk_elem(r, all.data(), sizeof(uint32_t), n, nullptr);
  return r;
}

FlowKey first_key(const Session& s) {
  return FlowKey{s.in_ip, s.rem_ip, s.in_port, s.rem_port, s.proto, kKeyFromInside, 0};
}
FlowKey second_key(const Session& s, const HairpinPeer& p) {
  if (s.kind == kHairpin) return FlowKey{p.ip, s.ext_ip, p.port, s.ext_port, s.proto, kKeyFromInside, 0};
  return FlowKey{s.rem_ip, s.ext_ip, s.rem_port, s.ext_port, s.proto, kKeyFromOutside, 0};
}

}  // namespace

std::string SessionTable::compat(const Config& c) {
  std::string s = "max_sessions=" + std::to_string(c.max_sessions) + " workers=" + std::to_string(c.workers) +
                  " ports=" + std::to_string(c.port_lo) + "-" + std::to_string(c.port_hi) + " pool=";
  for (uint32_t a : c.pool) s += std::to_string(a) + ",";
  s += " reserved=";
  for (const auto& r : c.reserved) s += std::to_string(r.ip) + ":" + std::to_string(r.port) + "/" + std::to_string(r.pclass) + ",";
  if (c.max_hosts) s += " hosts=" + std::to_string(c.max_hosts);
  return s;
}

SessionTable::SessionTable(const Config& c, rte_rcu_qsbr* rcu)
    : max_sessions_(c.max_sessions),
      max_per_source_(c.max_per_source),
      workers_(c.workers ? c.workers : 1),
      rcu_(rcu),
      pool_(c.pool, c.port_lo, c.port_hi, c.workers ? c.workers : 1) {
  static std::atomic<unsigned> serial{0};
  const std::string name = "nat" + std::to_string(serial.fetch_add(1));
  const size_t before = dpdk_allocated(c.socket);
  const uint32_t n = max_sessions_;
  auto fail = [&](const std::string& what) {
    std::string msg = "session table for " + std::to_string(n) + " sessions: cannot allocate " + what +
                      " (out of DPDK memory?); about " + std::to_string((uint64_t{n} * 200 + uint64_t{c.max_hosts} * 100) >> 20) +
                      " MiB of DPDK memory are needed: raise eal.memory_mb or lower max_sessions" +
                      (c.max_hosts ? " (and max_hosts)" : "");
    release_dpdk();
    throw InitError(msg);
  };

  rte_hash_parameters hp{};
  hp.name = name.c_str();
  // Two keys per session; the slack keeps the cuckoo table below full when
  // 2 * max_sessions is a power of two (rte_hash sizes buckets by rounding up).
  hp.entries = 2 * n + 64;
  hp.key_len = sizeof(FlowKey);
  hp.hash_func = rte_hash_crc;
  hp.hash_func_init_val = 0;
  hp.socket_id = c.socket;
  hp.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD;
  hash_ = rte_hash_create(&hp);
  if (!hash_) fail("the rte_hash");
  if (rcu_) {
    rte_hash_rcu_config rc{};
    rc.v = rcu_;
    rc.mode = RTE_HASH_QSBR_MODE_DQ;
    // expire() waits for the previous grace period before ending more, so
    // at most a few sweeps' keys are ever queued.
    rc.dq_size = 8 * kExpiryChunk * workers_ + 1024;
    rc.trigger_reclaim_limit = 0;
    rc.max_reclaim_size = 2 * kExpiryChunk + 8;
    rc.free_key_data_func = &SessionTable::free_slot;
    rc.key_data_ptr = this;
    if (rte_hash_rcu_qsbr_add(hash_, &rc) != 0) fail("the RCU defer queue");
  }
  sessions_ = static_cast<Session*>(rte_zmalloc_socket("nat_sessions", sizeof(Session) * n, 64, c.socket));
  peers_ = static_cast<HairpinPeer*>(rte_zmalloc_socket("nat_peers", sizeof(HairpinPeer) * n, 64, c.socket));
  deadlines_ =
      static_cast<std::atomic<uint32_t>*>(rte_zmalloc_socket("nat_deadlines", sizeof(uint32_t) * n, 64, c.socket));
  mappings_ = static_cast<Mapping*>(rte_zmalloc_socket("nat_mappings", sizeof(Mapping) * n, 64, c.socket));
  if (!sessions_ || !peers_ || !deadlines_ || !mappings_) fail("the session arrays");
  for (uint32_t i = 0; i < n; i++) new (&deadlines_[i]) std::atomic<uint32_t>(0);
  free_sessions_ = index_ring(name + "s", n, c.socket);
  free_mappings_ = index_ring(name + "m", n, c.socket);
  if (!free_sessions_ || !free_mappings_) fail("the free-index rings");
  if (c.max_hosts) {
    max_hosts_ = c.max_hosts;
    const std::string hname = name + "h";
    rte_hash_parameters hh{};
    hh.name = hname.c_str();
    hh.entries = max_hosts_ + 64;  // slack, as for the sessions
    hh.key_len = sizeof(HostKey);
    hh.hash_func = rte_hash_crc;
    hh.hash_func_init_val = 0;
    hh.socket_id = c.socket;
    hh.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD;
    hosts_ = rte_hash_create(&hh);
    if (!hosts_) fail("the IPv6 host rte_hash");
    if (rcu_) {
      rte_hash_rcu_config rc{};
      rc.v = rcu_;
      rc.mode = RTE_HASH_QSBR_MODE_DQ;
      rc.dq_size = 8 * kExpiryChunk * workers_ + 1024;  // hosts end with sessions: the same bound
      rc.trigger_reclaim_limit = 0;
      rc.max_reclaim_size = 2 * kExpiryChunk + 8;
      rc.free_key_data_func = &SessionTable::free_host;
      rc.key_data_ptr = this;
      if (rte_hash_rcu_qsbr_add(hosts_, &rc) != 0) fail("the RCU defer queue of the IPv6 hosts");
    }
    host_addrs_ = static_cast<HostKey*>(rte_zmalloc_socket("nat_hosts", sizeof(HostKey) * max_hosts_, 64, c.socket));
    host_stripes_ =
        static_cast<uint16_t*>(rte_zmalloc_socket("nat_host_stripes", sizeof(uint16_t) * max_hosts_, 64, c.socket));
    if (!host_addrs_ || !host_stripes_) fail("the IPv6 host arrays");
    free_hosts_ = index_ring(name + "i", max_hosts_, c.socket);
    if (!free_hosts_) fail("the free host-id ring");
  }
  dpdk_bytes_ = dpdk_allocated(c.socket) - before;

  stripes_ = std::make_unique<Stripe[]>(kStripes);
  ext_stripes_ = std::make_unique<ExtStripe[]>(kStripes);
  for (unsigned i = 0; i < kStripes; i++) {
    rte_spinlock_init(&stripes_[i].lock);
    rte_spinlock_init(&ext_stripes_[i].lock);
  }
  stats_ = std::make_unique<TableStats[]>(workers_);
  for (const auto& r : c.reserved) {
    int a = pool_.index_of(r.ip);
    if (a >= 0) pool_.reserve(static_cast<size_t>(a), r.pclass, r.port);
  }
  epoch_ns_ = Clock::now_ns();
}

SessionTable::~SessionTable() {
  release_dpdk();
  for (unsigned i = 0; i < kStripes; i++)
    ext_stripes_[i].external.for_each([](uint64_t, uint64_t v) { std::free(block_of(v)); });
}

void SessionTable::release_dpdk() {
  // Whatever a worker may still hold from the last loop is released once
  // every worker has passed a quiescent state (they are offline when stopped).
  if (rcu_ && hash_) rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
  rte_hash_free(hash_);  // runs free_slot for what its defer queue held: the rings must still exist
  hash_ = nullptr;
  rte_hash_free(hosts_);
  hosts_ = nullptr;
  rte_ring_free(free_hosts_);
  free_hosts_ = nullptr;
  rte_free(host_addrs_);
  rte_free(host_stripes_);
  host_addrs_ = nullptr;
  host_stripes_ = nullptr;
  rte_ring_free(free_sessions_);
  rte_ring_free(free_mappings_);
  free_sessions_ = free_mappings_ = nullptr;
  rte_free(sessions_);
  rte_free(peers_);
  rte_free(deadlines_);
  rte_free(mappings_);
  sessions_ = nullptr;
  peers_ = nullptr;
  deadlines_ = nullptr;
  mappings_ = nullptr;
}

void SessionTable::free_slot(void* table, void* data) {
  auto* t = static_cast<SessionTable*>(table);
  if (data_second(data) || !t->free_sessions_) return;  // the inside key owns the slot
  uint32_t idx = data_index(data);
  rte_ring_mp_enqueue_elem(t->free_sessions_, &idx, sizeof idx);
}

void SessionTable::free_host(void* table, void* data) {
  auto* t = static_cast<SessionTable*>(table);
  const uintptr_t id = reinterpret_cast<uintptr_t>(data);
  if (id >= t->max_hosts_ || !t->free_hosts_) return;  // reclaim()'s own key
  uint32_t i = static_cast<uint32_t>(id);
  rte_ring_mp_enqueue_elem(t->free_hosts_, &i, sizeof i);
}

uint32_t SessionTable::now() const {
  return static_cast<uint32_t>((Clock::now_ns() - epoch_ns_) / Clock::kNsPerSecond +
                               static_cast<uint64_t>(offset_.load(std::memory_order_relaxed)) + 1);
}

void SessionTable::lock_pair(unsigned a, unsigned b) {
  if (a > b) std::swap(a, b);
  rte_spinlock_lock(&stripes_[a].lock);
  if (b != a) rte_spinlock_lock(&stripes_[b].lock);
}

void SessionTable::unlock_pair(unsigned a, unsigned b) {
  rte_spinlock_unlock(&stripes_[a].lock);
  if (b != a) rte_spinlock_unlock(&stripes_[b].lock);
}

bool SessionTable::take_index(WorkerCache&, rte_ring* ring, std::vector<uint32_t>& cache, uint32_t& out) {
  if (cache.empty()) {
    uint32_t buf[32];
    unsigned got = rte_ring_mc_dequeue_burst_elem(ring, buf, sizeof(uint32_t), 32, nullptr);
    if (got == 0) return false;
    cache.assign(buf, buf + got);
  }
  out = cache.back();
  cache.pop_back();
  return true;
}

void SessionTable::release_cache(WorkerCache& wc) {
  for (uint32_t i : wc.sessions) rte_ring_mp_enqueue_elem(free_sessions_, &i, sizeof i);
  for (uint32_t i : wc.mappings) rte_ring_mp_enqueue_elem(free_mappings_, &i, sizeof i);
  for (uint32_t i : wc.hosts) rte_ring_mp_enqueue_elem(free_hosts_, &i, sizeof i);
  wc.sessions.clear();
  wc.mappings.clear();
  wc.hosts.clear();
}

bool SessionTable::acquire_mapping(WorkerCache& wc, Stripe& st, uint8_t pclass, uint32_t in_ip, uint16_t in_port,
                                   uint32_t& m_out) {
  const uint64_t key = endpoint_key(in_ip, in_port, pclass);
  if (uint64_t* v = st.inside.find(key)) {
    m_out = static_cast<uint32_t>(*v);
    mappings_[m_out].refs++;
    return true;
  }
  uint32_t m;
  if (!take_index(wc, free_mappings_, wc.mappings, m)) return false;
  // Paired pooling (RFC 4787 REQ-2): one inside address, one external
  // address, unless that address's slice is exhausted.
  const size_t n = pool_.size();
  const size_t first = (ntohl(in_ip) * 2654435761u) % n;
  uint16_t port = 0;
  size_t a = first;
  for (size_t k = 0; k < n && !port; k++) {
    a = (first + k) % n;
    port = pool_.allocate(a, pclass, wc.worker, ntohs(in_port));
  }
  if (!port) {
    wc.mappings.push_back(m);
    return false;
  }
  Mapping& mp = mappings_[m];
  mp.in_ip = in_ip;
  mp.in_port = in_port;
  mp.ext_ip = htonl(pool_.address(a));
  mp.ext_port = htons(port);
  mp.refs = 1;
  mp.pclass = pclass;
  mp.pool_index = static_cast<uint16_t>(a);
  st.inside.put(key, m);
  ExtStripe& es = ext_stripes_[ext_stripe_of(mp.ext_ip, mp.ext_port, pclass)];
  rte_spinlock_lock(&es.lock);
  ext_put(es, mp.ext_ip, mp.ext_port, pclass, m);
  rte_spinlock_unlock(&es.lock);
  stats_[wc.worker].mappings_created.inc();
  m_out = m;
  return true;
}

void SessionTable::release_mapping(unsigned worker, uint32_t m) {
  Mapping& mp = mappings_[m];
  if (--mp.refs) return;
  stripes_[stripe(mp.in_ip)].inside.erase(endpoint_key(mp.in_ip, mp.in_port, mp.pclass));
  ExtStripe& es = ext_stripes_[ext_stripe_of(mp.ext_ip, mp.ext_port, mp.pclass)];
  rte_spinlock_lock(&es.lock);
  ext_erase(es, mp.ext_ip, mp.ext_port, mp.pclass);
  rte_spinlock_unlock(&es.lock);
  pool_.release(mp.pool_index, mp.pclass, ntohs(mp.ext_port));
  rte_ring_mp_enqueue_elem(free_mappings_, &m, sizeof m);
  stats_[worker].mappings_ended.inc();
}

bool SessionTable::resolve_external(uint8_t proto, uint32_t ext_ip, uint16_t ext_port, uint32_t& in_ip,
                                    uint16_t& in_port) {
  ExtStripe& es = ext_stripes_[ext_stripe_of(ext_ip, ext_port, pclass_of(proto))];
  rte_spinlock_lock(&es.lock);
  const uint32_t m = ext_find(es, ext_ip, ext_port, pclass_of(proto));
  // The mapping cannot end while its entry is there: release_mapping()
  // removes the entry under this lock first.
  if (m != kNoMappingIndex) {
    in_ip = mappings_[m].in_ip;
    in_port = mappings_[m].in_port;
  }
  rte_spinlock_unlock(&es.lock);
  return m != kNoMappingIndex;
}

void SessionTable::ext_put(ExtStripe& es, uint32_t ext_ip, uint16_t ext_port, int pclass, uint32_t mapping) {
  const uint64_t key = block_key(ext_ip, ext_port, pclass);
  uint64_t* v = es.external.find(key);
  if (!v) {
    void* p = std::aligned_alloc(64, sizeof(ExtBlock));
    if (!p || reinterpret_cast<uintptr_t>(p) >= kUsedOne) {
      std::free(p);
      throw std::bad_alloc();
    }
    std::memset(p, 0, sizeof(ExtBlock));
    es.external.put(key, reinterpret_cast<uintptr_t>(p));
    es.blocks++;
    v = es.external.find(key);
  }
  uint32_t& e = block_of(*v)->entry[ntohs(ext_port) % kExtBlockPorts];
  if (!e) *v += kUsedOne;
  e = mapping + 1;
}

void SessionTable::ext_erase(ExtStripe& es, uint32_t ext_ip, uint16_t ext_port, int pclass) {
  const uint64_t key = block_key(ext_ip, ext_port, pclass);
  uint64_t* v = es.external.find(key);
  if (!v) return;
  ExtBlock* b = block_of(*v);
  uint32_t& e = b->entry[ntohs(ext_port) % kExtBlockPorts];
  if (!e) return;
  e = 0;
  *v -= kUsedOne;
  if (*v >= kUsedOne) return;
  es.external.erase(key);
  es.blocks--;
  std::free(b);
}

uint32_t SessionTable::ext_find(ExtStripe& es, uint32_t ext_ip, uint16_t ext_port, int pclass) {
  uint64_t* v = es.external.find(block_key(ext_ip, ext_port, pclass));
  return v ? block_of(*v)->entry[ntohs(ext_port) % kExtBlockPorts] - 1 : kNoMappingIndex;
}

Created SessionTable::create(WorkerCache& wc, const NewSession& n, uint32_t now, uint32_t& idx) {
  const unsigned sa = stripe(n.in_ip), sb = n.kind == kHairpin ? stripe(n.peer_ip) : sa;
  lock_pair(sa, sb);
  Created r = create_locked(wc, n, now, idx, kNoHost, nullptr, 0);
  unlock_pair(sa, sb);
  if (wc.pending.size() >= kPendingMax) finish(wc);
  return r;
}

void SessionTable::finish(WorkerCache& wc) {
  const unsigned n = static_cast<unsigned>(wc.pending.size());
  if (n == 0) return;
  const void* keys[kPendingMax];
  hash_sig_t sigs[kPendingMax];
  void* data[kPendingMax];
  for (unsigned i = 0; i < n; i++) {
    keys[i] = &wc.pending[i].key;
    sigs[i] = wc.pending[i].sig;
  }
  // Not there (the keys are new): this only brings their buckets in, all at once.
  uint64_t hits = 0;
  rte_hash_lookup_with_hash_bulk_data(hash_, keys, sigs, n, &hits, data);
  for (unsigned i = 0; i < n; i++) {
    const PendingKey& p = wc.pending[i];
    if (rte_hash_add_key_with_hash_data(hash_, &p.key, p.sig, key_data(p.idx, true)) < 0) {
      // No room for it in the cuckoo table: the session cannot be found from
      // outside, so it goes. (Its slot cannot have been reused: this worker
      // has not passed a quiescent state since creating it.)
      stats_[wc.worker].allocation_failures.inc();
      end_if_due(wc, p.idx, 0, true);
      continue;
    }
    // Ended meanwhile (clear() on another worker) before its key was in?
    if (deadlines_[p.idx].load(std::memory_order_relaxed) == 0) {
      int32_t pos = rte_hash_del_key_with_hash(hash_, &p.key, p.sig);
      if (!rcu_ && pos >= 0) rte_hash_free_key_with_position(hash_, pos);
    }
  }
  wc.pending.clear();
}

Created SessionTable::create6(WorkerCache& wc, const HostKey& host, NewSession& n, uint32_t now, uint32_t& idx) {
  const hash_sig_t hh = rte_hash_hash(hosts_, &host);
  const unsigned sa = host_stripe_of(hh);
  rte_spinlock_lock(&stripes_[sa].lock);
  void* d = nullptr;
  Created r;
  if (rte_hash_lookup_with_hash_data(hosts_, &host, hh, &d) >= 0) {
    n.in_ip = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(d));
    r = create_locked(wc, n, now, idx, kNoHost, nullptr, 0);
  } else {
    // A new host: its id is published with its first session's keys, or
    // goes back to this worker's cache if the session cannot be made.
    uint32_t id;
    if (!take_index(wc, free_hosts_, wc.hosts, id)) {
      rte_spinlock_unlock(&stripes_[sa].lock);
      return Created::kHostsFull;
    }
    host_addrs_[id] = host;
    host_stripes_[id] = static_cast<uint16_t>(sa);
    n.in_ip = id;
    r = create_locked(wc, n, now, idx, id, &host, hh);
  }
  rte_spinlock_unlock(&stripes_[sa].lock);
  if (wc.pending.size() >= kPendingMax) finish(wc);
  return r;
}

Created SessionTable::create_locked(WorkerCache& wc, const NewSession& n, uint32_t now, uint32_t& idx,
                                    uint32_t new_host, const HostKey* host_key, hash_sig_t host_hash) {
  const int pclass = pclass_of(n.proto);
  const bool hairpin = n.kind == kHairpin;
  const FlowKey k1{n.in_ip, n.rem_ip, n.in_port, n.rem_port, n.proto, kKeyFromInside, 0};
  const unsigned sa = stripe(n.in_ip), sb = hairpin ? stripe(n.peer_ip) : sa;
  // Whatever fails before the host is published gives its id back.
  auto give_back_host = [&] {
    if (new_host != kNoHost) wc.hosts.push_back(new_host);
  };

  const hash_sig_t h1 = rte_hash_hash(hash_, &k1);
  void* d = nullptr;
  if (new_host == kNoHost && rte_hash_lookup_with_hash_data(hash_, &k1, h1, &d) >= 0) {  // another worker was first
    idx = data_index(d);
    return Created::kExists;
  }
  Stripe& st = stripes_[sa];
  uint64_t* count = new_host == kNoHost ? st.sources.find(source_key(n.in_ip)) : nullptr;
  if (count && *count >= max_per_source_) return Created::kSourceLimit;
  uint32_t i;
  if (!take_index(wc, free_sessions_, wc.sessions, i)) {
    give_back_host();
    return Created::kTableFull;
  }

  Session s{};
  s.in_ip = n.in_ip;
  s.in_port = n.in_port;
  s.rem_ip = n.rem_ip;
  s.rem_port = n.rem_port;
  s.proto = n.proto;
  s.kind = n.kind;
  s.pclass = static_cast<uint8_t>(pclass);
  s.created = now;
  s.mapping = kNoMappingIndex;
  if (n.ext_given) {
    s.ext_ip = n.ext_ip;
    s.ext_port = n.ext_port;
  } else {
    if (!acquire_mapping(wc, st, static_cast<uint8_t>(pclass), n.in_ip, n.in_port, s.mapping)) {
      wc.sessions.push_back(i);
      give_back_host();
      stats_[wc.worker].allocation_failures.inc();
      return Created::kPoolExhausted;
    }
    s.ext_ip = mappings_[s.mapping].ext_ip;
    s.ext_port = mappings_[s.mapping].ext_port;
  }
  uint32_t peer_mapping = kNoMappingIndex;
  auto undo_mappings = [&] {
    if (s.mapping != kNoMappingIndex) release_mapping(wc.worker, s.mapping);
    if (peer_mapping != kNoMappingIndex) release_mapping(wc.worker, peer_mapping);
  };
  if (hairpin && !n.peer_static) {
    // The target's mapping must still be the one the packet addressed; the
    // session holds it (it lives as long as this session does).
    uint64_t* pm = stripes_[sb].inside.find(endpoint_key(n.peer_ip, n.peer_port, pclass));
    if (!pm || mappings_[*pm].ext_ip != n.rem_ip || mappings_[*pm].ext_port != n.rem_port) {
      undo_mappings();
      wc.sessions.push_back(i);
      return Created::kNoMapping;
    }
    peer_mapping = static_cast<uint32_t>(*pm);
    mappings_[peer_mapping].refs++;
  }
  const HairpinPeer peer{n.peer_ip, n.peer_port, 0};
  const FlowKey k2 = second_key(s, peer);
  if (hairpin && rte_hash_lookup(hash_, &k2) >= 0) {  // only a conflicting hairpin could hold it
    undo_mappings();
    wc.sessions.push_back(i);
    return Created::kNoMapping;
  }
  sessions_[i] = s;
  peers_[i] = peer;
  deadlines_[i].store(now + n.timeout, std::memory_order_relaxed);
  // Publish: rte_hash stores the data with release semantics, so a reader
  // that finds a key sees the session (and host address) written above.
  if (new_host != kNoHost &&
      rte_hash_add_key_with_hash_data(hosts_, host_key, host_hash, reinterpret_cast<void*>(uintptr_t{new_host})) < 0) {
    deadlines_[i].store(0, std::memory_order_relaxed);
    undo_mappings();
    wc.sessions.push_back(i);
    give_back_host();
    return Created::kHostsFull;
  }
  // From here a failure ends the host as it ends a session: through its key.
  auto undo_host = [&] {
    if (new_host == kNoHost) return;
    int32_t pos = rte_hash_del_key_with_hash(hosts_, host_key, host_hash);  // with RCU, reclamation frees the id
    if (!rcu_) {
      if (pos >= 0) rte_hash_free_key_with_position(hosts_, pos);
      wc.hosts.push_back(new_host);
    }
  };
  if (rte_hash_add_key_with_hash_data(hash_, &k1, h1, key_data(i, false)) < 0) {
    deadlines_[i].store(0, std::memory_order_relaxed);
    undo_mappings();
    undo_host();
    wc.sessions.push_back(i);
    return Created::kTableFull;
  }
  if (!hairpin) {
    wc.pending.push_back({k2, rte_hash_hash(hash_, &k2), i});
  } else if (rte_hash_add_key_data(hash_, &k2, key_data(i, true)) < 0) {
    // A hairpinned session's second key is an inside flow that must not
    // clash with another session's: added now, under the lock that checked it.
    deadlines_[i].store(0, std::memory_order_relaxed);
    int32_t pos = rte_hash_del_key_with_hash(hash_, &k1, h1);  // with RCU its reclamation frees slot i
    if (!rcu_) {
      if (pos >= 0) rte_hash_free_key_with_position(hash_, pos);
      wc.sessions.push_back(i);
    }
    undo_mappings();
    undo_host();
    return Created::kTableFull;
  }
  if (count) (*count)++;
  else st.sources.put(source_key(n.in_ip), 1);
  if (new_host != kNoHost) stats_[wc.worker].hosts_created.inc();
  stats_[wc.worker].created[pclass].inc();
  idx = i;
  return Created::kNew;
}

void SessionTable::end_host(unsigned worker, uint32_t id) {
  int32_t pos = rte_hash_del_key(hosts_, &host_addrs_[id]);
  if (!rcu_) {
    if (pos >= 0) rte_hash_free_key_with_position(hosts_, pos);
    rte_ring_mp_enqueue_elem(free_hosts_, &id, sizeof id);
  }
  stats_[worker].hosts_ended.inc();
}

void SessionTable::end_session(unsigned worker, uint32_t idx) {
  const Session s = sessions_[idx];
  const HairpinPeer p = peers_[idx];
  const FlowKey k1 = first_key(s), k2 = second_key(s, p);
  // The second key first: the first one's reclamation frees the slot, after
  // both grace periods.
  int32_t p2 = rte_hash_del_key(hash_, &k2);
  int32_t p1 = rte_hash_del_key(hash_, &k1);
  if (!rcu_) {
    if (p2 >= 0) rte_hash_free_key_with_position(hash_, p2);
    if (p1 >= 0) rte_hash_free_key_with_position(hash_, p1);
    rte_ring_mp_enqueue_elem(free_sessions_, &idx, sizeof idx);
  }
  if (s.mapping != kNoMappingIndex) release_mapping(worker, s.mapping);
  if (s.kind == kHairpin) {
    uint64_t* pm = stripes_[stripe(p.ip)].inside.find(endpoint_key(p.ip, p.port, s.pclass));
    if (pm) release_mapping(worker, static_cast<uint32_t>(*pm));
  }
  Stripe& st = stripes_[stripe(s.in_ip)];
  if (uint64_t* c = st.sources.find(source_key(s.in_ip))) {
    if (--*c == 0) {
      st.sources.erase(source_key(s.in_ip));
      if (hosts_) end_host(worker, s.in_ip);
    }
  }
  stats_[worker].ended[s.pclass].inc();
}

bool SessionTable::end_if_due(WorkerCache& wc, uint32_t idx, uint32_t now, bool force) {
  // The slot cannot be reused under us: this worker has not passed a
  // quiescent state since it saw the session alive.
  const Session s = sessions_[idx];
  const unsigned sa = stripe(s.in_ip), sb = s.kind == kHairpin ? stripe(peers_[idx].ip) : sa;
  lock_pair(sa, sb);
  uint32_t d = deadlines_[idx].load(std::memory_order_relaxed);
  bool due = d != 0 && (force || d <= now) && deadlines_[idx].compare_exchange_strong(d, 0, std::memory_order_relaxed);
  if (due) end_session(wc.worker, idx);
  unlock_pair(sa, sb);
  return due;
}

unsigned SessionTable::expire(WorkerCache& wc, uint32_t now) {
  if (rcu_ && wc.expiry_pending) {
    // Do not queue more removals while the last ones are still in their
    // grace period (a stalled worker must not fill the defer queue).
    if (rte_rcu_qsbr_check(rcu_, wc.expiry_token, false) != 1) return 0;
    wc.expiry_pending = false;
    reclaim(wc.worker);
  }
  uint32_t i = static_cast<uint32_t>(cursor_.fetch_add(kExpiryChunk, std::memory_order_relaxed) % max_sessions_);
  unsigned ended = 0;
  for (unsigned k = 0; k < kExpiryChunk && k < max_sessions_; k++) {
    uint32_t d = deadlines_[i].load(std::memory_order_relaxed);
    if (d != 0 && d <= now && end_if_due(wc, i, now, false)) ended++;
    if (++i == max_sessions_) i = 0;
  }
  if (ended) {
    stats_[wc.worker].expired.add(ended);
    if (rcu_) {
      wc.expiry_token = rte_rcu_qsbr_start(rcu_);
      wc.expiry_pending = true;
    }
  }
  return ended;
}

void SessionTable::reclaim(unsigned worker) {
  // rte_hash (DPDK 22.11) reclaims its defer queue only when a key is
  // deleted (or it runs out of key slots), and has no call to ask for it:
  // deleting a key of our own makes it reclaim whatever has passed its
  // grace period, which frees those sessions' slots (free_slot()).
  const FlowKey nudge{0, 0, static_cast<uint16_t>(worker), 0, 0, 0xff, 0};
  if (rte_hash_add_key_data(hash_, &nudge, key_data(0, true)) >= 0) rte_hash_del_key(hash_, &nudge);
  if (hosts_) {
    // A multicast address is never an inside host; its data is no id.
    HostKey h{};
    h.a[0] = 0xff;
    h.a[15] = static_cast<uint8_t>(worker);
    h.a[14] = static_cast<uint8_t>(worker >> 8);
    if (rte_hash_add_key_data(hosts_, &h, reinterpret_cast<void*>(uintptr_t{UINT32_MAX})) >= 0)
      rte_hash_del_key(hosts_, &h);
  }
}

unsigned SessionTable::clear(WorkerCache& wc) {
  unsigned ended = 0;
  for (uint32_t i = 0; i < max_sessions_; i++) {
    if (deadlines_[i].load(std::memory_order_relaxed) && end_if_due(wc, i, 0, true)) ended++;
    if (rcu_ && ended && ended % kExpiryChunk == 0) {
      // Keep the defer queue short: wait for the other workers, then reclaim.
      rte_rcu_qsbr_synchronize(rcu_, wc.worker);
      reclaim(wc.worker);
    }
  }
  if (rcu_ && ended) {
    rte_rcu_qsbr_synchronize(rcu_, wc.worker);
    reclaim(wc.worker);
  }
  return ended;
}

TableTotals SessionTable::totals() const {
  TableTotals t;
  for (unsigned w = 0; w < workers_; w++) {
    const TableStats& s = stats_[w];
    for (int p = 0; p < kProtoClasses; p++) {
      t.created[p] += s.created[p].get();
      t.ended[p] += s.ended[p].get();
    }
    t.expired += s.expired.get();
    t.allocation_failures += s.allocation_failures.get();
    t.mappings_created += s.mappings_created.get();
    t.mappings_ended += s.mappings_ended.get();
    t.hosts_created += s.hosts_created.get();
    t.hosts_ended += s.hosts_ended.get();
  }
  return t;
}

uint64_t SessionTable::live(int pclass) const {
  TableTotals t = totals();
  uint64_t n = 0;
  for (int p = 0; p < kProtoClasses; p++)
    if (pclass < 0 || pclass == p) n += t.created[p] - t.ended[p];
  return n;
}

uint64_t SessionTable::mappings() const {
  TableTotals t = totals();
  return t.mappings_created - t.mappings_ended;
}

uint64_t SessionTable::live_hosts() const {
  TableTotals t = totals();
  return t.hosts_created - t.hosts_ended;
}

uint32_t SessionTable::source_sessions(uint32_t in_ip) {
  Stripe& st = stripes_[stripe(in_ip)];
  rte_spinlock_lock(&st.lock);
  uint64_t* c = st.sources.find(source_key(in_ip));
  uint32_t n = c ? static_cast<uint32_t>(*c) : 0;
  rte_spinlock_unlock(&st.lock);
  return n;
}

size_t SessionTable::heap_memory() {
  size_t n = pool_.memory() + kStripes * (sizeof(Stripe) + sizeof(ExtStripe));
  for (unsigned i = 0; i < kStripes; i++) {
    rte_spinlock_lock(&stripes_[i].lock);
    n += stripes_[i].inside.memory() + stripes_[i].sources.memory();
    rte_spinlock_unlock(&stripes_[i].lock);
    rte_spinlock_lock(&ext_stripes_[i].lock);
    n += ext_stripes_[i].external.memory() + ext_stripes_[i].blocks * sizeof(ExtBlock);
    rte_spinlock_unlock(&ext_stripes_[i].lock);
  }
  return n;
}

}  // namespace weft::nat
