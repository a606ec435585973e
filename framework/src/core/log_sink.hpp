// Where routerd's log lines go. Under systemd, with standard error connected
// to the journal ($JOURNAL_STREAM names it), every line carries its syslog
// priority as an sd-daemon "<N>" prefix, so `journalctl -p warning` shows
// Weft's and DPDK's warnings and errors; elsewhere lines go out unchanged.
#pragma once

#include "weft/log.hpp"

namespace weft {

// When standard error is the journal's stream, sends rte_log (Weft's and
// DPDK's lines) there with priority prefixes; call before DPDK starts, so its
// own stream (stdout and syslog: each line twice in the journal) is never
// used. True when it did.
bool log_to_journal_if_connected();

// "<N>" for a line routerd prints itself at this level when logging to the
// journal, "" otherwise.
const char* log_priority_prefix(LogLevel level);

// The syslog priority of an rte_log level (RTE_LOG_EMERG 1 .. RTE_LOG_DEBUG 8 -> 0 .. 7).
int syslog_priority(int rte_level);

}  // namespace weft
