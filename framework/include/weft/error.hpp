// The one error type for configuration problems: it carries the YAML position
// so every message can be printed as FILE:LINE:COL: error: message.
#pragma once

#include <stdexcept>
#include <string>

namespace weft {

// A position in a YAML document, 1-based. line == 0 means "unknown".
struct Mark {
  int line = 0;
  int column = 0;
};

class ConfigError : public std::runtime_error {
 public:
  ConfigError(Mark mark, const std::string& message) : std::runtime_error(message), mark_(mark) {}
  explicit ConfigError(const std::string& message) : std::runtime_error(message) {}
  const Mark& mark() const { return mark_; }

 private:
  Mark mark_;
};

// Raised by Element::initialize when per-lcore set-up fails (no memory, a
// DPDK call refused); the graph is not started.
class InitError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace weft
