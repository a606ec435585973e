// SessionTable — the NAT44 sessions of one Nat44 element, shared by all of
// its workers (InitContext::shared), and everything that must agree with
// them: the endpoint-independent mappings, the per-source session counts and
// the pool's ports.
//
// Fast path (lock-free): one rte_hash with RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF
// | MULTI_WRITER_ADD holds two 16-byte keys per session, the flow as it
// arrives from inside and as it arrives from outside (for a hairpinned flow:
// as it arrives from each of the two inside hosts). A key's data is the
// session's index in `sessions()` (and which of its two keys it is). Lookups
// take no lock; a removed session's slot is reused only after every worker
// has passed a quiescent state (rte_hash_rcu_qsbr_add on the runtime's RCU
// variable; without one, as in a test harness, the table is single-threaded
// and frees at once).
//
// Slow path (creating and ending sessions): serialised per inside address by
// 4096 striped spinlocks, which guard the mappings of that address, its
// session count, and the keys of its sessions; ports come from the calling
// worker's slice of the pool (PortPool) without any lock.
//
// Expiry: every worker calls expire() from its poll loop; a shared cursor
// hands out the next 128 slots, so the workers sweep the table together and
// each loop does a bounded amount of work.
//
// IPv6 hosts (Nat64, Config::max_hosts > 0): a session's inside address is
// then a 32-bit host id standing for an IPv6 address. A second lock-free
// rte_hash maps each IPv6 host that has sessions to its id (and an array the
// id back to the address). The id's lock stripe is a hash of the IPv6
// address, so finding or making the id, creating the host's sessions and
// removing the id with its last session all happen under one stripe lock;
// ids are freed under RCU like session slots, so a worker holding an id it
// just looked up never sees it given to another address.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <rte_hash.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_spinlock.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tables/flat_map.hpp"
#include "tables/port_pool.hpp"
#include "weft/counter.hpp"

namespace weft::nat {

inline constexpr uint32_t kNoMappingIndex = UINT32_MAX;
inline constexpr uint32_t kNoHost = UINT32_MAX;

enum KeyKind : uint8_t { kKeyFromInside = 1, kKeyFromOutside = 2 };

// A flow as a packet shows it (addresses and ports in network byte order;
// for ICMP queries the identifier is the source port of a request and the
// destination port of a reply, the other port 0).
// 8-byte aligned: rte_hash_crc reads keys 8 bytes at a time.
struct alignas(8) FlowKey {
  uint32_t src_ip = 0, dst_ip = 0;
  uint16_t src_port = 0, dst_port = 0;
  uint8_t proto = 0, kind = 0;
  uint16_t zero = 0;
};
static_assert(sizeof(FlowKey) == 16);

enum SessionKind : uint8_t {
  kInsideInitiated = 0,   // in ↔ ext ↔ rem
  kOutsideInitiated = 1,  // created by a static forward
  kHairpin = 2,           // inside ↔ inside through the external addresses (peer in HairpinPeer)
};

// One session. Written before its keys are published and never changed while
// it lives, except `tcp` (TCP flags seen; updated with atomics).
struct Session {
  uint32_t in_ip, ext_ip, rem_ip;      // network order
  uint16_t in_port, ext_port, rem_port;  // network order
  uint8_t proto, kind, tcp, pclass;
  uint32_t mapping;  // index of the dynamic mapping, or kNoMappingIndex (static)
  uint32_t created;  // table clock, seconds
};
static_assert(sizeof(Session) == 32);

// The inside host a hairpinned session delivers to (what rem_ip:rem_port
// stands for).
struct HairpinPeer {
  uint32_t ip;
  uint16_t port;
  uint16_t unused;
};

// What a new session looks like, decided by the element.
struct NewSession {
  uint8_t proto = 0;
  uint8_t kind = kInsideInitiated;
  uint32_t in_ip = 0, rem_ip = 0;
  uint16_t in_port = 0, rem_port = 0;
  bool ext_given = false;  // static forward or 1:1: the external endpoint is fixed
  uint32_t ext_ip = 0;
  uint16_t ext_port = 0;
  bool peer_static = false;  // hairpin to a static forward (no dynamic mapping to hold)
  uint32_t peer_ip = 0;      // hairpin: the inside host behind rem_ip:rem_port
  uint16_t peer_port = 0;
  uint32_t timeout = 0;      // seconds until it expires without traffic
};

enum class Created { kNew, kExists, kSourceLimit, kTableFull, kPoolExhausted, kNoMapping, kHostsFull };

// An IPv6 host address as a hash key (8-byte aligned for rte_hash_crc).
struct alignas(8) HostKey {
  uint8_t a[16];
};
static_assert(sizeof(HostKey) == 16);

// Key data: the session index and which of its keys this is.
inline void* key_data(uint32_t idx, bool second) { return reinterpret_cast<void*>((uintptr_t{idx} << 1) | second); }
inline uint32_t data_index(void* d) { return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(d) >> 1); }
inline bool data_second(void* d) { return (reinterpret_cast<uintptr_t>(d) & 1) != 0; }

// Per-worker counters (one writer each; summed for the handlers).
struct alignas(64) TableStats {
  Counter created[kProtoClasses];
  Counter ended[kProtoClasses];
  Counter expired;
  Counter allocation_failures;
  Counter mappings_created, mappings_ended;
  Counter hosts_created, hosts_ended;
};

struct TableTotals {
  uint64_t created[kProtoClasses] = {}, ended[kProtoClasses] = {};
  uint64_t expired = 0, allocation_failures = 0, mappings_created = 0, mappings_ended = 0;
  uint64_t hosts_created = 0, hosts_ended = 0;
};

// A session's second key, added later (SessionTable::finish).
struct PendingKey {
  FlowKey key;
  hash_sig_t sig;
  uint32_t idx;
};

// What a worker keeps for itself: a cache of free session and mapping
// indices, so it touches the shared free rings once per 32 sessions, and the
// second keys of the sessions it created in the current batch.
struct WorkerCache {
  unsigned worker = 0;
  std::vector<uint32_t> sessions, mappings, hosts;
  std::vector<PendingKey> pending;
  uint64_t expiry_token = 0;
  bool expiry_pending = false;
};

class SessionTable {
 public:
  struct Config {
    uint32_t max_sessions = 1u << 20;
    uint32_t max_per_source = 8192;
    unsigned workers = 1;
    std::vector<uint32_t> pool;  // host order
    uint16_t port_lo = 1024, port_hi = 65535;
    // External endpoints of static forwards inside the pool (host order):
    // never handed out dynamically.
    struct Reserved {
      uint32_t ip;
      uint16_t port;
      int pclass;
    };
    std::vector<Reserved> reserved;
    // IPv6 hosts (Nat64): at most this many inside hosts with sessions; 0
    // for IPv4 inside addresses (Nat44).
    uint32_t max_hosts = 0;
    int socket = 0;
  };
  // What the table's shape depends on; a reload keeps the table while this
  // string is unchanged.
  static std::string compat(const Config& c);

  // Throws InitError (with the memory it needed) if DPDK refuses.
  SessionTable(const Config& c, rte_rcu_qsbr* rcu);
  ~SessionTable();
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;

  // --- fast path ---------------------------------------------------------
  const rte_hash* hash() const { return hash_; }
  Session& session(uint32_t i) { return sessions_[i]; }
  const HairpinPeer& peer(uint32_t i) const { return peers_[i]; }
  // Keeps a session alive until `deadline` (seconds on the table clock); a
  // session being ended is left alone.
  void touch(uint32_t i, uint32_t deadline) {
    uint32_t d = deadlines_[i].load(std::memory_order_relaxed);
    if (d != deadline && d != 0) deadlines_[i].compare_exchange_strong(d, deadline, std::memory_order_relaxed);
  }
  uint32_t deadline(uint32_t i) const { return deadlines_[i].load(std::memory_order_relaxed); }
  // IPv6 hosts: the host table (key HostKey, data the id) and an id's address.
  const rte_hash* hosts() const { return hosts_; }
  const uint8_t* host_address(uint32_t id) const { return host_addrs_[id].a; }
  void prefetch_host(uint32_t id) const { __builtin_prefetch(&host_addrs_[id]); }
  void prefetch_deadline(uint32_t i) const { __builtin_prefetch(&deadlines_[i], 1); }
  // Seconds since the table was made (plus advance()), starting at 1.
  uint32_t now() const;
  // Moves the clock forward (tests: timeouts without waiting).
  void advance(uint32_t seconds) { offset_.fetch_add(seconds, std::memory_order_relaxed); }

  // --- slow path ---------------------------------------------------------
  // Prefetches for a packet about to open a session from inside endpoint
  // (in_ip, in_port): stage 1 the lock stripe, stage 2 (a little later, once
  // the stripe has arrived) the slots its source count and mapping lookups
  // will probe. Callable without any lock.
  void prefetch_stripe(uint32_t in_ip) const { __builtin_prefetch(&stripes_[stripe(in_ip)], 1); }
  void prefetch_maps(uint32_t in_ip, uint16_t in_port, uint8_t proto) const {
    const Stripe& st = stripes_[stripe(in_ip)];
    st.sources.prefetch(source_key(in_ip));
    st.inside.prefetch(endpoint_key(in_ip, in_port, proto == IPPROTO_TCP ? 0 : proto == IPPROTO_UDP ? 1 : 2));
  }
  // Creates the session `n` describes (or finds the one another worker just
  // created: kExists). `idx` receives its index. The session is found from
  // inside at once; its second key (the flow as it arrives from outside) is
  // added by finish(), which the caller runs after the batch (create() runs
  // it too when 64 are pending): the keys of a batch's new sessions are
  // looked up together first, which loads their hash buckets in parallel
  // instead of one cache miss after another. No reply can arrive before the
  // packet that opened the session has left, after the batch.
  Created create(WorkerCache& wc, const NewSession& n, uint32_t now, uint32_t& idx);
  // Adds the pending second keys of this worker's new sessions.
  void finish(WorkerCache& wc);
  // The same for an IPv6 host (max_hosts > 0): finds or makes the host's id
  // and stores it in n.in_ip, then creates the session as create() does.
  Created create6(WorkerCache& wc, const HostKey& host, NewSession& n, uint32_t now, uint32_t& idx);
  // The inside endpoint behind a dynamic mapping's external endpoint (network
  // order in and out); false if no mapping uses it.
  bool resolve_external(uint8_t proto, uint32_t ext_ip, uint16_t ext_port, uint32_t& in_ip, uint16_t& in_port);
  // Ends sessions whose deadline has passed, in the next slots of the shared
  // sweep; returns how many it ended. Bounded work per call.
  unsigned expire(WorkerCache& wc, uint32_t now);
  // Ends every session (tests).
  unsigned clear(WorkerCache& wc);
  // Gives a worker's cached indices back (its instance is going away).
  void release_cache(WorkerCache& wc);

  // --- observability -----------------------------------------------------
  uint32_t capacity() const { return max_sessions_; }
  TableStats& stats(unsigned worker) { return stats_[worker]; }
  TableTotals totals() const;
  uint64_t live(int pclass = -1) const;
  uint64_t mappings() const;
  uint64_t live_hosts() const;
  uint32_t host_capacity() const { return max_hosts_; }
  const PortPool& pool() const { return pool_; }
  // Bytes this table holds: DPDK memory (hash, arrays, rings) and heap (indexes).
  size_t dpdk_memory() const { return dpdk_bytes_; }
  size_t heap_memory();
  bool uses_rcu() const { return rcu_ != nullptr; }
  unsigned workers() const { return workers_; }
  // Sessions of the source address `in_ip` (network order) now.
  uint32_t source_sessions(uint32_t in_ip);

  static constexpr unsigned kExpiryChunk = 128;
  static constexpr unsigned kPendingMax = RTE_HASH_LOOKUP_BULK_MAX;
  static constexpr unsigned kStripes = 4096;

 private:
  struct Mapping {
    uint32_t in_ip, ext_ip;      // network order
    uint16_t in_port, ext_port;  // network order
    uint32_t refs;               // sessions using it
    uint8_t pclass;
    uint16_t pool_index;
  };
  struct alignas(64) Stripe {
    rte_spinlock_t lock;
    FlatMap inside;   // (in_ip, in_port, pclass) → mapping index
    FlatMap sources;  // in_ip → sessions
  };
  static_assert(sizeof(Stripe) == 64, "a stripe's lock and maps share one cache line");
  // The external endpoints of one block of 64 consecutive ports of an
  // address and protocol class: entry[port & 63] is the index + 1 of the
  // mapping using the port, 0 if none. Ports are handed out in order, so a
  // worker making sessions fills one block a cache line after another. (The
  // count of entries in use lives in the map's value, above the pointer:
  // a block is exactly 4 cache lines, and a long-lived mapping alone in its
  // block holds 256 bytes.)
  static constexpr unsigned kExtBlockPorts = 64;
  struct alignas(64) ExtBlock {
    uint32_t entry[kExtBlockPorts];
  };
  static_assert(sizeof(ExtBlock) == 256);
  static constexpr uint64_t kUsedOne = 1ULL << 48;  // user-space pointers fit below
  static ExtBlock* block_of(uint64_t v) { return reinterpret_cast<ExtBlock*>(v & (kUsedOne - 1)); }
  struct alignas(64) ExtStripe {
    rte_spinlock_t lock;
    uint32_t blocks = 0;
    FlatMap external;  // block_key(ext_ip, ext_port, pclass) → ExtBlock* | entries in use << 48
  };

  static uint64_t endpoint_key(uint32_t ip, uint16_t port, int pclass) {
    return (uint64_t{ip} << 24) | (uint64_t{port} << 8) | static_cast<uint64_t>(pclass + 1);
  }
  static uint64_t block_key(uint32_t ext_ip, uint16_t ext_port, int pclass) {
    return (uint64_t{ext_ip} << 24) | (uint64_t{ntohs(ext_port)} / kExtBlockPorts << 8) | static_cast<uint64_t>(pclass + 1);
  }
  // The external-endpoint index (its stripe's lock held).
  void ext_put(ExtStripe& es, uint32_t ext_ip, uint16_t ext_port, int pclass, uint32_t mapping);
  void ext_erase(ExtStripe& es, uint32_t ext_ip, uint16_t ext_port, int pclass);
  // The mapping using an external endpoint, or kNoMappingIndex.
  static uint32_t ext_find(ExtStripe& es, uint32_t ext_ip, uint16_t ext_port, int pclass);
  static uint64_t source_key(uint32_t ip) { return uint64_t{ip} | (1ULL << 40); }
  static unsigned stripe_of(uint32_t ip) { return (ip * 2654435761u) >> 20; }
  static unsigned host_stripe_of(hash_sig_t h) { return (h * 2654435761u) >> 20; }
  // The lock stripe of an inside address (IPv4) or host id (IPv6).
  unsigned stripe(uint32_t in_ip) const { return host_stripes_ ? host_stripes_[in_ip] : stripe_of(in_ip); }
  // The stripe of an external endpoint: ports are handed out in order, so
  // 256 consecutive ports of an address share a stripe, and a worker making
  // sessions keeps using one lock and map (warm in its cache) rather than a
  // random one per session.
  static unsigned ext_stripe_of(uint32_t ext_ip, uint16_t ext_port, int pclass) {
    const uint64_t block = (uint64_t{ext_ip} << 10) | (uint64_t{ntohs(ext_port)} >> 8 << 2) | static_cast<uint64_t>(pclass);
    return static_cast<unsigned>((block * 0x9E3779B97F4A7C15ULL) >> 52);
  }
  void lock_pair(unsigned a, unsigned b);
  void unlock_pair(unsigned a, unsigned b);

  bool take_index(WorkerCache& wc, rte_ring* ring, std::vector<uint32_t>& cache, uint32_t& out);
  // Mapping for (in_ip, in_port): an existing one (ref taken) or a new one
  // from the worker's slice. Stripe lock of in_ip held.
  bool acquire_mapping(WorkerCache& wc, Stripe& st, uint8_t pclass, uint32_t in_ip, uint16_t in_port,
                       uint32_t& m_out);
  void release_mapping(unsigned worker, uint32_t m);
  // create() with the stripe lock(s) held; `new_host` (kNoHost if none) is
  // an IPv6 host id to publish with the session's keys.
  Created create_locked(WorkerCache& wc, const NewSession& n, uint32_t now, uint32_t& idx, uint32_t new_host,
                        const HostKey* host_key, hash_sig_t host_hash);
  void end_session(unsigned worker, uint32_t idx);  // stripe lock(s) held, deadline already 0
  void end_host(unsigned worker, uint32_t id);      // its stripe lock held; its last session ended
  bool end_if_due(WorkerCache& wc, uint32_t idx, uint32_t now, bool force);

  static void free_slot(void* table, void* data);
  static void free_host(void* table, void* data);
  void release_dpdk();  // frees what the constructor took from DPDK
  void reclaim(unsigned worker);  // makes rte_hash reclaim removed keys whose grace period is over

  uint32_t max_sessions_;
  uint32_t max_per_source_;
  unsigned workers_;
  rte_rcu_qsbr* rcu_;
  rte_hash* hash_ = nullptr;
  Session* sessions_ = nullptr;
  HairpinPeer* peers_ = nullptr;
  std::atomic<uint32_t>* deadlines_ = nullptr;
  Mapping* mappings_ = nullptr;
  rte_ring* free_sessions_ = nullptr;
  rte_ring* free_mappings_ = nullptr;
  // IPv6 hosts (max_hosts_ > 0).
  uint32_t max_hosts_ = 0;
  rte_hash* hosts_ = nullptr;
  HostKey* host_addrs_ = nullptr;
  uint16_t* host_stripes_ = nullptr;
  rte_ring* free_hosts_ = nullptr;
  std::unique_ptr<Stripe[]> stripes_;
  std::unique_ptr<ExtStripe[]> ext_stripes_;
  std::unique_ptr<TableStats[]> stats_;
  PortPool pool_;
  size_t dpdk_bytes_ = 0;
  uint64_t epoch_ns_ = 0;  // weft::Clock when the table was made
  alignas(64) std::atomic<int64_t> offset_{0};
  alignas(64) std::atomic<uint64_t> cursor_{0};
};

}  // namespace weft::nat
