// TCP state of a NAT session, shared by Nat44 and Nat64: which side has sent
// SYN, ACK, FIN and RST, updated with atomics by whichever worker sees the
// packet, and the idle timeout that state calls for.
#pragma once

#include <cstdint>

#include "tables/session_table.hpp"

namespace weft::nat {

inline constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpAck = 0x10;

// Session::tcp bits: what each side (relative to the session's inside host)
// has sent.
inline constexpr uint8_t kSynIn = 1, kSynOut = 2, kAckIn = 4, kAckOut = 8, kFinIn = 16, kFinOut = 32, kRst = 64,
                         kEstablished = 128;

// SYN both ways then an ACK: established; a flow picked up mid-stream (ACKs
// both ways, no SYN seen) too. FIN both ways or RST: closing. A SYN without
// ACK on a closed or closing session reopens it (port reuse).
inline void update_tcp(Session& s, bool from_in_host, uint8_t flags) {
  uint8_t old = __atomic_load_n(&s.tcp, __ATOMIC_RELAXED);
  while (true) {
    uint8_t n = old;
    if (flags & kTcpRst) n |= kRst;
    if (flags & kTcpSyn) {
      if ((old & (kFinIn | kFinOut | kRst)) && !(flags & kTcpAck)) n = 0;
      n |= from_in_host ? kSynIn : kSynOut;
    } else if (flags & kTcpAck) {
      n |= from_in_host ? kAckIn : kAckOut;
      bool handshake = (n & kSynIn) && (n & kSynOut);
      bool picked_up = !(n & (kSynIn | kSynOut)) && (n & kAckIn) && (n & kAckOut);
      if (handshake || picked_up) n |= kEstablished;
    }
    if (flags & kTcpFin) n |= from_in_host ? kFinIn : kFinOut;
    if (n == old) return;
    if (__atomic_compare_exchange_n(&s.tcp, &old, n, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return;
  }
}

inline bool tcp_closing(uint8_t t) { return (t & kRst) || ((t & kFinIn) && (t & kFinOut)); }

// The name `sessions` listings show for a TCP state.
inline const char* tcp_state_name(uint8_t t) {
  return (t & kRst) ? "reset" : ((t & kFinIn) && (t & kFinOut)) ? "closing" : (t & kEstablished) ? "established" : "opening";
}

// Idle timeouts of a NAT element, in seconds.
struct Timeouts {
  uint32_t tcp_established = 7440, tcp_transitory = 240, udp = 300, icmp = 60;

  uint32_t of(const Session& s) const {
    if (s.proto == 17) return udp;
    if (s.proto != 6) return icmp;
    uint8_t t = __atomic_load_n(&s.tcp, __ATOMIC_RELAXED);
    return (t & kEstablished) && !tcp_closing(t) ? tcp_established : tcp_transitory;
  }
  uint32_t initial(uint8_t proto) const { return proto == 6 ? tcp_transitory : proto == 17 ? udp : icmp; }
};

}  // namespace weft::nat
