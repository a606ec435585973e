// DeferredTx — a port transmitted on by a thread that is not a worker.
// The ring is shared by both sides (workers enqueue, hand_over() below);
// the thread that drains it is control-side code (control/deferred_tx.cpp).
//
// Some ports cost the worker more than a packet's worth: a `net_tap` port's
// rte_eth_tx_burst is a write() per packet, and the kernel's receive path
// runs inside that system call (~5 us a packet). DeferredTx takes that off
// the workers, as grout's control_output node does: workers hand packets to a
// multi-producer single-consumer rte_ring (no system call, no lock, no
// allocation; what finds the ring full is the caller's to drop and count),
// and one thread of its own drains the ring into the port's TX queue 0.
//
// The thread is cheaply polled: while the ring is empty it sleeps, from
// kMinSleep doubling up to kMaxSleep; finding packets brings the sleep back
// to kMinSleep. It stops in the destructor, which then transmits what is
// still in the ring: a DeferredTx is destroyed with its last user (the last
// PortTx holding it, when a reload drops them or routerd stops), before its
// port is closed, so nothing in the ring is lost.
//
// Counters (relaxed atomics, written by the draining thread only): what it
// took from the ring, sent, and dropped because the port's queue stayed full.
// What workers handed over = taken + in the ring.
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace weft::basic {

class DeferredTx {
 public:
  static constexpr std::chrono::microseconds kMinSleep{20};
  static constexpr std::chrono::microseconds kMaxSleep{1000};
  static constexpr unsigned kBurst = 32;
  // Attempts at a burst the port's queue does not take whole, with a short
  // sleep between them, before the rest is dropped (tx_full).
  static constexpr unsigned kTxAttempts = 16;

  // A ring holding `ring_size` packets for port `port_id`, queue
  // `queue`; starts the draining thread, named `thread_name` (15 characters
  // at most are kept). Throws std::runtime_error when the ring cannot be made.
  DeferredTx(uint16_t port_id, uint16_t queue, unsigned ring_size, const std::string& thread_name);
  ~DeferredTx();
  DeferredTx(const DeferredTx&) = delete;
  DeferredTx& operator=(const DeferredTx&) = delete;

  // Worker side: hands pkts[0..n) over; returns how many the ring took
  // (pkts[taken..n) are still the caller's). Lock-free, no system call.
  uint16_t hand_over(rte_mbuf** pkts, uint16_t n) {
    return static_cast<uint16_t>(rte_ring_mp_enqueue_burst(ring_, reinterpret_cast<void**>(pkts), n, nullptr));
  }

  uint16_t port_id() const { return port_id_; }
  uint16_t queue() const { return queue_; }
  unsigned capacity() const { return rte_ring_get_capacity(ring_); }
  unsigned in_ring() const { return rte_ring_count(ring_); }
  uint64_t taken() const { return taken_.load(std::memory_order_relaxed); }
  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  uint64_t tx_full() const { return tx_full_.load(std::memory_order_relaxed); }
  uint64_t wakeups() const { return wakeups_.load(std::memory_order_relaxed); }
  // The draining thread's CPU time so far, in nanoseconds (0 if unknown).
  uint64_t thread_cpu_ns() const;

  // Stops the thread from taking more (tests: lets the ring fill). resume()
  // starts it again.
  void pause();
  void resume();

 private:
  void run();
  // Takes up to kBurst packets and transmits them; returns how many it took.
  unsigned drain_once();

  uint16_t port_id_;
  uint16_t queue_;
  rte_ring* ring_ = nullptr;
  std::atomic<bool> stop_{false};
  std::atomic<bool> paused_{false};
  std::atomic<uint64_t> taken_{0}, sent_{0}, tx_full_{0}, wakeups_{0};
  std::atomic<clockid_t> cpu_clock_{0};
  std::atomic<bool> has_cpu_clock_{false};
  std::thread thread_;
};

}  // namespace weft::basic
