#include "weft/log.hpp"

#include <rte_log.h>

#include <cstdio>

namespace weft {

static int logtype() {
  static const int type = [] {
    int t = rte_log_register_type_and_pick_level("weft", RTE_LOG_INFO);
    return t < 0 ? RTE_LOGTYPE_USER1 : t;
  }();
  return type;
}

void log(LogLevel level, const char* fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  rte_log(static_cast<uint32_t>(level), static_cast<uint32_t>(logtype()), "weft: %s\n", line);
}

}  // namespace weft
