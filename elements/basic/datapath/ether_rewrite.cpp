#include "datapath/ether_rewrite.hpp"

#include <rte_ether.h>

#include <cstring>

namespace weft::basic {

enum : uint16_t { kDropRunt = 0 };

const ElementClass& EtherRewrite::klass() {
  static const ElementClass k =
      ElementClass::make<EtherRewrite>("EtherRewrite")
          .describe("Sets the Ethernet source and/or destination address.",
                    "For graphs that address a neighbour statically: `dst` is the next hop's MAC, `src` the "
                    "sending port's. The rest of the frame is unchanged.\n"
                    "Example:\n"
                    "  to_server: {class: EtherRewrite, src: \"02:00:00:00:00:01\", dst: \"52:54:00:12:34:56\"}")
          .input("in")
          .output("out")
          .param("src", ParamType::String, "", "source MAC address to write (empty: leave it)")
          .param("dst", ParamType::String, "", "destination MAC address to write (empty: leave it)")
          .drop("runt", "shorter than an Ethernet header");
  return k;
}

void EtherRewrite::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  auto mac = [&](const char* name, std::array<uint8_t, 6>& out) {
    if (!p.has(name)) return false;
    const std::string s = p.get<std::string>(name);
    if (s.empty()) return false;
    rte_ether_addr a{};
    if (rte_ether_unformat_addr(s.c_str(), &a) != 0)
      throw ConfigError(p.mark(name), std::string(name) + ": '" + s + "' is not a MAC address such as 02:00:00:00:00:01");
    std::memcpy(out.data(), a.addr_bytes, 6);
    return true;
  };
  set_src_ = mac("src", src_);
  set_dst_ = mac("dst", dst_);
  if (!set_src_ && !set_dst_)
    throw ConfigError(p.element_mark(), "EtherRewrite needs `src`, `dst` or both");
}

void EtherRewrite::push(uint16_t, Batch& b) {
  uint16_t kept = 0;
  for (uint16_t i = 0; i < b.count; i++) {
    rte_mbuf* m = b.pkts[i];
    if (rte_pktmbuf_data_len(m) < RTE_ETHER_HDR_LEN) {  // the addresses must be in the first segment
      drop(m, kDropRunt);
      continue;
    }
    auto* eth = rte_pktmbuf_mtod(m, uint8_t*);
    if (set_dst_) std::memcpy(eth, dst_.data(), 6);
    if (set_src_) std::memcpy(eth + 6, src_.data(), 6);
    b.pkts[kept++] = m;
  }
  b.count = kept;
  if (kept) output(0, b);
}

}  // namespace weft::basic
