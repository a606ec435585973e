#include "datapath/ether_rewrite.hpp"

#include <rte_ether.h>

#include <cstring>

namespace weft::basic {

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
          .param("src", ParamType::Mac, "", "source MAC address to write (absent: leave it)")
          .param("dst", ParamType::Mac, "", "destination MAC address to write (absent: leave it)")
          .drop(kRunt, "runt", "shorter than an Ethernet header");
  return k;
}

void EtherRewrite::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  set_src_ = p.has("src");
  set_dst_ = p.has("dst");
  if (set_src_) src_ = p.get<Mac>("src");
  if (set_dst_) dst_ = p.get<Mac>("dst");
  if (!set_src_ && !set_dst_)
    throw ConfigError(p.element_mark(), "EtherRewrite needs `src`, `dst` or both");
}

void EtherRewrite::push(uint16_t, Batch& b) {
  uint16_t kept = 0;
  for (uint16_t i = 0; i < b.count; i++) {
    rte_mbuf* m = b.pkts[i];
    if (rte_pktmbuf_data_len(m) < RTE_ETHER_HDR_LEN) {  // the addresses must be in the first segment
      drop(m, kRunt);
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
