#include "runtime/packet_filter.hpp"

#include <pcap/pcap.h>
#include <rte_bpf.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include <stdexcept>

namespace weft {

PacketFilter::PacketFilter(const std::string& expression) : expression_(expression) {
  // A dead handle: libpcap only compiles, for Ethernet frames.
  std::unique_ptr<pcap_t, void (*)(pcap_t*)> pcap(pcap_open_dead(DLT_EN10MB, 65535), pcap_close);
  if (!pcap) throw std::runtime_error("filter: libpcap cannot open a handle to compile with");
  bpf_program prog{};
  if (pcap_compile(pcap.get(), &prog, expression.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
    throw std::invalid_argument("filter '" + expression + "': " + pcap_geterr(pcap.get()));
  rte_bpf_prm* prm = rte_bpf_convert(&prog);
  pcap_freecode(&prog);
  if (!prm) throw std::invalid_argument("filter '" + expression + "': DPDK cannot convert it: " + rte_strerror(rte_errno));
  bpf_ = rte_bpf_load(prm);
  rte_free(prm);
  if (!bpf_) throw std::invalid_argument("filter '" + expression + "': DPDK cannot load it: " + rte_strerror(rte_errno));
  rte_bpf_jit jit{};
  if (rte_bpf_get_jit(bpf_, &jit) == 0) jit_ = jit.func;
}

PacketFilter::~PacketFilter() { rte_bpf_destroy(bpf_); }

void PacketFilter::match(const Batch& b, uint64_t* match) const {
  if (jit_) {
    for (uint16_t i = 0; i < b.count; i++) match[i] = jit_(b.pkts[i]);
    return;
  }
  rte_bpf_exec_burst(bpf_, reinterpret_cast<void**>(const_cast<rte_mbuf**>(b.pkts)), match, b.count);
}

}  // namespace weft
