// weft::Batch — the unit of work passed between elements.
//
// A batch is a fixed-capacity array of rte_mbuf pointers. Elements receive a
// batch on an input port and either hand the whole batch to one output
// (Element::output) or sort packets one by one into per-output staging batches
// (Element::emit), which the framework flushes downstream.
#pragma once

#include <cstdint>

struct rte_mbuf;

namespace weft {

inline constexpr uint16_t kBatchCapacity = 256;

struct Batch {
  uint16_t count = 0;
  rte_mbuf* pkts[kBatchCapacity];

  bool empty() const { return count == 0; }
  bool full() const { return count == kBatchCapacity; }
  void clear() { count = 0; }
  void add(rte_mbuf* m) { pkts[count++] = m; }
  rte_mbuf** begin() { return pkts; }
  rte_mbuf** end() { return pkts + count; }
};

}  // namespace weft
