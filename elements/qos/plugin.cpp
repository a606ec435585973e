// The "qos" element family: policing and marking.
#include "datapath/rate_limiter.hpp"
#include "weft/plugin.hpp"

WEFT_PLUGIN("qos", WEFT_VERSION_STRING, "Policing and marking: srTCM/trTCM rate limiter");

WEFT_EXPORT_CLASS(RateLimiter, weft::qos::RateLimiter::klass())
