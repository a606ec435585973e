// The lock of a DPDK port for threads that are not workers.
//
// Workers never lock: each transmits on its own queue, and the framework
// parks them before it stops, reconfigures or closes a port. A thread of a
// plugin's that is not a worker (PortTx's `deferred: true` transmitter, say)
// is not parked: it holds port_lock(port) around every call it makes on the
// port, and the framework holds the same lock while it stops, reconfigures
// (a reload) or closes (a reload removing it, routerd stopping) that port.
// Hold it for a burst, not longer; never on a worker.
#pragma once

#include <cstdint>
#include <mutex>

namespace weft {

std::mutex& port_lock(uint16_t port_id);

}  // namespace weft
