#include "tables/deferred_tx.hpp"

#include <pthread.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <time.h>

#include "weft/port_lock.hpp"

namespace weft::basic {

namespace {

// rte_ring names are global to the DPDK process and at most RTE_RING_NAMESIZE-1 long.
std::string ring_name(uint16_t port, uint16_t queue) {
  static std::atomic<unsigned> serial{0};
  return "wdtx" + std::to_string(port) + "q" + std::to_string(queue) + "_" + std::to_string(serial++);
}

}  // namespace

DeferredTx::DeferredTx(uint16_t port_id, uint16_t queue, unsigned ring_size, const std::string& thread_name)
    : port_id_(port_id), queue_(queue) {
  const std::string name = ring_name(port_id, queue);
  // Many producers (the workers), one consumer (the thread below).
  ring_ = rte_ring_create(name.c_str(), ring_size, SOCKET_ID_ANY, RING_F_SC_DEQ | RING_F_EXACT_SZ);
  if (!ring_)
    throw std::runtime_error("cannot create the ring of " + std::to_string(ring_size) +
                             " packets for deferred transmission: " + rte_strerror(rte_errno));
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), thread_name.substr(0, 15).c_str());
}

DeferredTx::~DeferredTx() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
  // Nobody hands anything over now (the last user is gone): send what is left.
  while (drain_once() > 0) {
  }
  rte_ring_free(ring_);
}

void DeferredTx::pause() { paused_.store(true, std::memory_order_release); }
void DeferredTx::resume() { paused_.store(false, std::memory_order_release); }

uint64_t DeferredTx::thread_cpu_ns() const {
  if (!has_cpu_clock_.load(std::memory_order_acquire)) return 0;
  timespec ts{};
  if (clock_gettime(cpu_clock_.load(std::memory_order_relaxed), &ts) != 0) return 0;
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

unsigned DeferredTx::drain_once() {
  rte_mbuf* pkts[kBurst];
  const unsigned n = rte_ring_sc_dequeue_burst(ring_, reinterpret_cast<void**>(pkts), kBurst, nullptr);
  if (n == 0) return 0;
  taken_.fetch_add(n, std::memory_order_relaxed);
  // The framework takes the same lock to stop, reconfigure or close the port
  // (weft/port_lock.hpp); two DeferredTx of one port (a reload changing the
  // ring's size builds the new one before the old graph goes) take turns.
  std::lock_guard<std::mutex> hold(weft::port_lock(port_id_));
  uint16_t sent = rte_eth_tx_burst(port_id_, queue_, pkts, static_cast<uint16_t>(n));
  // This thread may wait for the port; the workers never do.
  for (unsigned a = 1; sent < n && a < kTxAttempts && !stop_.load(std::memory_order_relaxed); a++) {
    std::this_thread::sleep_for(std::chrono::microseconds(10));
    sent += rte_eth_tx_burst(port_id_, queue_, pkts + sent, static_cast<uint16_t>(n - sent));
  }
  sent_.fetch_add(sent, std::memory_order_relaxed);
  if (sent < n) {
    tx_full_.fetch_add(n - sent, std::memory_order_relaxed);
    rte_pktmbuf_free_bulk(pkts + sent, n - sent);
  }
  return n;
}

void DeferredTx::run() {
  clockid_t cid;
  if (pthread_getcpuclockid(pthread_self(), &cid) == 0) {
    cpu_clock_.store(cid, std::memory_order_relaxed);
    has_cpu_clock_.store(true, std::memory_order_release);
  }
  auto sleep = kMinSleep;
  while (!stop_.load(std::memory_order_acquire)) {
    unsigned got = paused_.load(std::memory_order_acquire) ? 0 : drain_once();
    if (got == kBurst) continue;  // more may be waiting
    if (got > 0) {
      sleep = kMinSleep;
      continue;
    }
    std::this_thread::sleep_for(sleep);
    wakeups_.fetch_add(1, std::memory_order_relaxed);
    sleep = std::min(sleep * 2, kMaxSleep);
  }
}

}  // namespace weft::basic
