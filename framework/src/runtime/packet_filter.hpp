// PacketFilter: a tcpdump-style filter expression ("udp dst port 4789",
// "ip host 10.0.0.1 and tcp"), compiled by libpcap into classic BPF, converted
// and loaded by DPDK's BPF library (rte_bpf_convert, rte_bpf_load: JIT-compiled
// where DPDK can) — the way dpdk-dumpcap filters. Compiled on the control
// thread; match() runs on workers: no system call, no allocation.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "weft/batch.hpp"

struct rte_bpf;

namespace weft {

class PacketFilter {
 public:
  // Compiles `expression`; throws std::invalid_argument with libpcap's or
  // DPDK's message if it cannot.
  explicit PacketFilter(const std::string& expression);
  ~PacketFilter();
  PacketFilter(const PacketFilter&) = delete;
  PacketFilter& operator=(const PacketFilter&) = delete;

  const std::string& expression() const { return expression_; }
  // match[i] != 0 when packet i of `b` passes.
  void match(const Batch& b, uint64_t* match) const;

 private:
  std::string expression_;
  rte_bpf* bpf_ = nullptr;
  uint64_t (*jit_)(void*) = nullptr;
};

}  // namespace weft
