// OverlayResolver: what an Svp service publishes for other services on the
// control thread (NeighborSink): look a key up — the overlay cache first,
// then Portolan — and hear of the keys Portolan invalidates (SHOOTDOWN, the
// change log). Callbacks run on the control thread. Nothing of the SVP
// protocol: a user of this handle needs neither the client nor the codec.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "tables/overlay_cache.hpp"
#include "weft/fields.hpp"
#include "weft/net.hpp"

namespace weft::svp {

// The answer to a lookup.
struct Resolution {
  enum Kind { Resolved, NotFound, Failed } kind = Failed;
  std::string why;  // Failed: "timeout", "status FATAL", ...
  Mac mac{};        // VL3: the overlay MAC
  fields::Underlay underlay{};
};

class OverlayResolver {
 public:
  static constexpr std::string_view kServiceHandle = "svp.resolver";
  virtual ~OverlayResolver() = default;

  // Calls `done` (maybe at once, from the cache) with the answer for `k`; one
  // question per key is on the wire however many ask. `done` may be empty.
  virtual void resolve(const CacheKey& k, std::function<void(const Resolution&)> done) = 0;
  // `f` hears of every key dropped by SHOOTDOWN or the change log; returns
  // a number for unsubscribe().
  virtual uint64_t subscribe(std::function<void(const CacheKey&)> f) = 0;
  virtual void unsubscribe(uint64_t subscription) = 0;
};

}  // namespace weft::svp
