// LocalAddressTable — the router's own IPv4 addresses as workers see them:
// what a LocalAddresses service publishes (its handle) and
// IcmpEchoResponder reads.
//
// One writer, the service on the control thread; readers on every worker,
// without locks. The addresses are an immutable snapshot behind an atomic
// pointer: the writer publishes a new snapshot, then frees the old one once
// no worker can still be reading it. Workers report an RCU quiescent state
// once per loop (weft::InitContext::rcu()), so a reader may keep the
// snapshot it loaded for a whole batch.
//
// This header is the fence between the two sides: elements include it, never
// the service's code (control/).
#pragma once

#include <weft/net.hpp>

#include <algorithm>
#include <atomic>
#include <string_view>
#include <vector>

struct rte_rcu_qsbr;

namespace example {

class LocalAddressTable {
 public:
  // The handle type elements name in ClassBuilder::uses<LocalAddressTable>.
  static constexpr std::string_view kServiceHandle = "example.local_addresses";

  // A set of addresses, sorted; never changed once published.
  struct Snapshot {
    std::vector<weft::Ip4> addresses;
    bool contains(const weft::Ip4& a) const { return std::binary_search(addresses.begin(), addresses.end(), a); }
  };

  // rcu: the workers' RCU variable; null when no worker reads the table
  // (routerctl validate, the test harness).
  explicit LocalAddressTable(rte_rcu_qsbr* rcu);
  ~LocalAddressTable();
  LocalAddressTable(const LocalAddressTable&) = delete;
  LocalAddressTable& operator=(const LocalAddressTable&) = delete;

  // Readers: the current addresses, valid until the worker's next loop.
  const Snapshot& snapshot() const { return *current_.load(std::memory_order_acquire); }

  // The writer (control thread only): makes `addresses` the table's content,
  // then waits until every worker has finished the batch it may be reading
  // the old snapshot in (one loop of each worker) and frees it.
  void publish(std::vector<weft::Ip4> addresses);

 private:
  rte_rcu_qsbr* rcu_;
  std::atomic<const Snapshot*> current_;
};

}  // namespace example
