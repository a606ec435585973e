// Incremental Internet checksum updates (RFC 1624, equation 3):
//
//   HC' = ~(~HC + ~m + m')
//
// where HC is the checksum field as found in the packet, m a 16-bit word of
// the checksummed data before the change and m' after it. Values are taken
// exactly as they lie in the packet (network byte order): one's-complement
// addition does not care about byte order as long as every operand is in the
// same one, so nothing is swapped on the fast path.
#pragma once

#include <cstdint>

namespace weft::nat {

// Folds a 32-bit one's-complement accumulator to 16 bits.
inline uint16_t csum_fold(uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// Accumulates the change of one 16-bit word from `from` to `to`.
inline uint32_t csum_delta16(uint16_t from, uint16_t to) { return static_cast<uint16_t>(~from) + uint32_t{to}; }

// Accumulates the change of a 32-bit field (an IPv4 address) from `from` to `to`.
inline uint32_t csum_delta32(uint32_t from, uint32_t to) {
  return csum_delta16(static_cast<uint16_t>(from), static_cast<uint16_t>(to)) +
         csum_delta16(static_cast<uint16_t>(from >> 16), static_cast<uint16_t>(to >> 16));
}

// Applies an accumulated delta to a checksum field.
inline uint16_t csum_apply(uint16_t check, uint32_t delta) {
  return static_cast<uint16_t>(~csum_fold(uint32_t{static_cast<uint16_t>(~check)} + csum_fold(delta)));
}

// UDP: a zero checksum means "none" and stays zero; a computed zero is sent
// as 0xffff (RFC 768).
inline uint16_t udp_csum_apply(uint16_t check, uint32_t delta) {
  if (check == 0) return 0;
  uint16_t c = csum_apply(check, delta);
  return c == 0 ? 0xffff : c;
}

}  // namespace weft::nat
