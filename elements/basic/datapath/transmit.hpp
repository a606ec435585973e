// Transmitting a burst on a port queue, retrying while the queue is full —
// shared by PortTx and Forward.
#pragma once

#include <rte_ethdev.h>

namespace weft::basic {

// Sends pkts[0..n) on (port, queue), retrying up to `retries` times while the
// queue accepts nothing more. Returns how many were sent: pkts[sent..n) are
// still the caller's.
inline uint16_t transmit(uint16_t port, uint16_t queue, rte_mbuf** pkts, uint16_t n, unsigned retries) {
  uint16_t sent = rte_eth_tx_burst(port, queue, pkts, n);
  for (unsigned tries = 0; sent < n && tries < retries; tries++)
    sent += rte_eth_tx_burst(port, queue, pkts + sent, static_cast<uint16_t>(n - sent));
  return sent;
}

}  // namespace weft::basic
