// Diagnostics: every problem found in a graph file, with its position, so a
// user sees all of them at once as FILE:LINE:COL: error: message.
#pragma once

#include <string>
#include <vector>

#include "weft/error.hpp"

namespace weft {

struct Diagnostic {
  enum class Severity { Error, Warning };
  Severity severity = Severity::Error;
  std::string file;
  Mark mark;
  std::string message;
  std::string format() const;  // "FILE:LINE:COL: error: message"
};

class Diagnostics {
 public:
  explicit Diagnostics(std::string file = {}) : file_(std::move(file)) {}
  void error(Mark m, std::string msg) { items_.push_back({Diagnostic::Severity::Error, file_, m, std::move(msg)}); }
  void warning(Mark m, std::string msg) { items_.push_back({Diagnostic::Severity::Warning, file_, m, std::move(msg)}); }
  bool has_errors() const;
  const std::vector<Diagnostic>& items() const { return items_; }
  std::string format() const;  // one line per diagnostic, sorted by position
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<Diagnostic> items_;
};

}  // namespace weft
