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
  Mark mark;  // within `file`
  std::string message;
  int source = 0;  // order of `file` among the sources (for sorting)
  std::string format() const;  // "FILE:LINE:COL: error: message"
};

// A graph may be composed of several sources (a file and the fragments it
// includes). They are numbered as one text: each source's lines follow the
// previous source's, so a Mark is unique across them; add_source() records
// where a source starts and the diagnostics name it with its own lines.
class Diagnostics {
 public:
  explicit Diagnostics(std::string file = {}) : file_(std::move(file)) {}
  void error(Mark m, std::string msg) { add(Diagnostic::Severity::Error, m, std::move(msg)); }
  void warning(Mark m, std::string msg) { add(Diagnostic::Severity::Warning, m, std::move(msg)); }
  // Lines after `lines_before` (of the combined text) belong to `name`.
  void add_source(std::string name, int lines_before) { sources_.push_back({std::move(name), lines_before}); }
  // "NAME:LINE" of a combined-text mark.
  std::string where(Mark m) const;
  bool has_errors() const;
  const std::vector<Diagnostic>& items() const { return items_; }
  std::string format() const;  // one line per diagnostic, sorted by position
  const std::string& file() const { return file_; }

 private:
  struct Source {
    std::string name;
    int lines_before;
  };
  void add(Diagnostic::Severity sev, Mark m, std::string msg);
  Diagnostic locate(Mark m) const;
  std::string file_;
  std::vector<Source> sources_;
  std::vector<Diagnostic> items_;
};

}  // namespace weft
