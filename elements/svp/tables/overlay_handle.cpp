#include "tables/overlay_handle.hpp"

#include <rte_errno.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace weft::svp {

namespace {
constexpr unsigned kRingSize = 4096;
}

OverlayHandle::OverlayHandle(int socket) {
  static std::atomic<unsigned> serial{0};
  char name[RTE_RING_NAMESIZE];
  std::snprintf(name, sizeof name, "svpq%d_%u", static_cast<int>(getpid() % 100000), serial++);
  requests_ = rte_ring_create_elem(name, sizeof(CacheKey), kRingSize, socket < 0 ? SOCKET_ID_ANY : socket,
                                   RING_F_SC_DEQ);
  if (!requests_) throw std::runtime_error(std::string("cannot create the SVP request ring: ") + rte_strerror(rte_errno));
}

OverlayHandle::~OverlayHandle() { rte_ring_free(requests_); }

bool OverlayHandle::ask(const CacheKey& k) {
  return rte_ring_mp_enqueue_elem(requests_, const_cast<CacheKey*>(&k), sizeof k) == 0;
}

unsigned OverlayHandle::take_requests(CacheKey* out, unsigned max) {
  return rte_ring_sc_dequeue_burst_elem(requests_, out, sizeof(CacheKey), max, nullptr);
}

uint64_t OverlayHandle::hits() const {
  uint64_t n = 0;
  for (unsigned w = 0; w < kMaxWorkers; w++) n += lookups_[w].hits.get();
  return n;
}

uint64_t OverlayHandle::misses() const {
  uint64_t n = 0;
  for (unsigned w = 0; w < kMaxWorkers; w++) n += lookups_[w].misses.get();
  return n;
}

}  // namespace weft::svp
