// L2Switch — a learning Ethernet switch with one MAC table per VNI.
// Its class declaration (l2_switch.cpp) is its manual: `routerctl elements
// --doc L2Switch`.
//
// The table (tables/mac_table.hpp) is one rte_hash shared by every worker:
// lock-free lookups, writes (learning) serialised by rte_hash's writer lock,
// aged entries swept by worker 0 and freed after an RCU grace period. A batch
// is handled in chunks of RTE_HASH_LOOKUP_BULK_MAX: one bulk lookup of the
// sources (learning, one write per run of equal sources), one of the
// destinations. Flooded copies are rte_pktmbuf_copy'd from the worker's pool,
// the original going to the last port. Every frame leaves with the VNI
// metadata set, so trunk outputs know its domain.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tables/mac_table.hpp"
#include "weft/element.hpp"
#include "weft/fields.hpp"

namespace weft::sw {

class L2Switch final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t input, Batch& b) override;
  bool run() override;
  StateCarry take_state(Element& old) override;

  struct Port {
    std::string name;
    int64_t vni = -1;  // -1: trunk
    bool flood = true;
    bool learn = true;
  };

 private:
  static inline Drop kRunt, kBadSource, kNoVni, kHairpin, kNoFloodPort, kCopyFailed, kNoSuchPort;

  void flood(uint16_t in_port, uint32_t vni, rte_mbuf* m);
  int port_index(const std::string& name) const;
  // Handlers (control socket, between two batches).
  std::string table_text() const;
  std::string stats_text() const;
  std::string ports_text() const;
  void flush_handler(const std::string& v);
  void add_handler(const std::string& v);
  void remove_handler(const std::string& v);

  std::vector<Port> ports_;
  int64_t vni_ = -1;
  uint32_t aging_ = 300;
  uint32_t size_ = 65536;
  bool flood_unknown_ = false;
  std::vector<std::pair<MacKey, uint16_t>> statics_;
  std::string compat_;

  std::shared_ptr<MacTable> table_;
  fields::Vni vni_meta_;
  rte_mempool* pool_ = nullptr;
  bool sweeper_ = false;
  static constexpr uint64_t kSweepEveryNs = 1'000'000'000;  // the sweeper ages entries once a second
  uint64_t next_sweep_ns_ = 0;
};

}  // namespace weft::sw
