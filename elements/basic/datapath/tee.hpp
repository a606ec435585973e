// Tee — send a copy of every packet to each output. Its class declaration
// (tee.cpp) is its manual: `routerctl elements --doc Tee`.
//
// out0 receives the original packets; every other output receives deep
// copies (rte_pktmbuf_copy, metadata copied too), so downstream elements may
// rewrite them freely. Copies are pushed first, the originals last.
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
  static inline Drop kCopyFailed;

  unsigned n_ = 2;
  rte_mempool* pool_ = nullptr;
  Batch copies_;
};

}  // namespace weft::basic
