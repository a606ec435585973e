#include "weft/log.hpp"

#include <rte_log.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/log_sink.hpp"

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

int syslog_priority(int rte_level) {
  if (rte_level < static_cast<int>(RTE_LOG_EMERG)) return 0;
  if (rte_level > static_cast<int>(RTE_LOG_DEBUG)) return 7;
  return rte_level - 1;
}

namespace {

bool g_journal = false;

// $JOURNAL_STREAM is "DEVICE:INODE" of the journal's stream; it is ours only
// if standard error still is that file (a child may have redirected it).
bool stderr_is_journal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (!js || !*js) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
  return dev == static_cast<unsigned long long>(st.st_dev) && ino == static_cast<unsigned long long>(st.st_ino);
}

// The rte_log stream: each line that starts gets "<N>" from the level of the
// message being written (rte_log_cur_msg_loglevel). Control thread and
// workers log through it; a write is one write(2) per line piece.
ssize_t journal_write(void*, const char* buf, size_t size) {
  static thread_local bool at_line_start = true;
  const int prio = syslog_priority(rte_log_cur_msg_loglevel());
  std::string out;
  out.reserve(size + 8);
  for (size_t i = 0; i < size; i++) {
    if (at_line_start) {
      out += '<';
      out += static_cast<char>('0' + prio);
      out += '>';
    }
    out += buf[i];
    at_line_start = buf[i] == '\n';
  }
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::write(STDERR_FILENO, out.data() + done, out.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(size);
}

}  // namespace

bool log_to_journal_if_connected() {
  if (!stderr_is_journal()) return false;
  cookie_io_functions_t io{};
  io.write = journal_write;
  FILE* f = ::fopencookie(nullptr, "w", io);
  if (!f) return false;
  std::setvbuf(f, nullptr, _IOLBF, 0);
  rte_openlog_stream(f);
  g_journal = true;
  return true;
}

const char* log_priority_prefix(LogLevel level) {
  if (!g_journal) return "";
  static const char* const prefixes[] = {"<0>", "<1>", "<2>", "<3>", "<4>", "<5>", "<6>", "<7>"};
  return prefixes[syslog_priority(static_cast<int>(level))];
}

}  // namespace weft
