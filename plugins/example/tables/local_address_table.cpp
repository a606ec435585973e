#include "tables/local_address_table.hpp"

#include <rte_rcu_qsbr.h>

#include <utility>

namespace example {

LocalAddressTable::LocalAddressTable(rte_rcu_qsbr* rcu) : rcu_(rcu), current_(new Snapshot()) {}

LocalAddressTable::~LocalAddressTable() { delete current_.load(); }

void LocalAddressTable::publish(std::vector<weft::Ip4> addresses) {
  std::sort(addresses.begin(), addresses.end());
  addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
  const Snapshot* old = current_.exchange(new Snapshot{std::move(addresses)}, std::memory_order_acq_rel);
  // Waits, on the control thread, for one loop of each worker: microseconds,
  // or the idle sleep of a worker with no traffic.
  if (rcu_) rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
  delete old;
}

}  // namespace example
