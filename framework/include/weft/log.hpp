// One logging path: DPDK's rte_log, under the "weft" log type, so Weft's
// lines interleave correctly with DPDK's own and obey --log-level.
#pragma once

#include <cstdarg>

namespace weft {

enum class LogLevel { Error = 4, Warning = 5, Notice = 6, Info = 7, Debug = 8 };

void log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace weft

#define WEFT_LOG(LEVEL, ...) ::weft::log(::weft::LogLevel::LEVEL, __VA_ARGS__)
