#include "datapath/tee.hpp"

#include "weft/metadata.hpp"

namespace weft::basic {

const ElementClass& Tee::klass() {
  static const ElementClass k =
      ElementClass::make<Tee>("Tee")
          .describe("Sends a copy of every packet to each output.",
                    "out0 receives the original packets, the other outputs deep copies.")
          .input("in")
          .outputs_from_config("out0 .. out<N-1> for `outputs: N`")
          .param("outputs", ParamType::UInt, "2", "number of outputs (1-16)")
          .drop(kCopyFailed, "copy_failed", "no packet buffer was free for a copy");
  return k;
}

void Tee::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  n_ = p.get<uint32_t>("outputs");
  if (n_ < 1 || n_ > 16) throw ConfigError(p.mark("outputs"), "outputs must be between 1 and 16");
  std::vector<std::string> names;
  for (unsigned i = 0; i < n_; i++) names.push_back("out" + std::to_string(i));
  ctx.set_outputs(std::move(names));
}

void Tee::push(uint16_t, Batch& b) {
  for (unsigned o = 1; o < n_; o++) {
    copies_.clear();
    for (uint16_t i = 0; i < b.count; i++) {
      rte_mbuf* c = rte_pktmbuf_copy(b.pkts[i], pool_, 0, UINT32_MAX);
      if (c) {
        copy_metadata(c, b.pkts[i]);
        copies_.add(c);
      } else {
        count_drop(kCopyFailed);
      }
    }
    if (!copies_.empty()) output(static_cast<uint16_t>(o), copies_);
  }
  output(0, b);
}

}  // namespace weft::basic
