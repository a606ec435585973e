// Tee — send a copy of every packet to each output.
//
// Ports:       input `in`; outputs out0 .. out(N-1)
// Parameters:  outputs (default 2) number of outputs
// Drops:       copy_failed — no buffer for a copy (that copy only is lost)
//
// out0 receives the original packets; every other output receives deep
// copies (rte_pktmbuf_copy), so downstream elements may rewrite them freely.
// Copies are pushed first, the originals last.
#pragma once

#include "weft/element.hpp"

namespace weft::basic {

class Tee final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override { pool_ = ctx.mempool(); }
  void push(uint16_t, Batch& b) override;

 private:
  unsigned n_ = 2;
  rte_mempool* pool_ = nullptr;
  Batch copies_;
};

}  // namespace weft::basic
