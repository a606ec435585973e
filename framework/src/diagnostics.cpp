#include "diagnostics.hpp"

#include <algorithm>

namespace weft {

std::string Diagnostic::format() const {
  std::string s = file.empty() ? std::string("<graph>") : file;
  if (mark.line > 0) s += ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column);
  s += severity == Severity::Error ? ": error: " : ": warning: ";
  s += message;
  return s;
}

bool Diagnostics::has_errors() const {
  return std::any_of(items_.begin(), items_.end(),
                     [](const Diagnostic& d) { return d.severity == Diagnostic::Severity::Error; });
}

std::string Diagnostics::format() const {
  std::vector<Diagnostic> sorted = items_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return a.mark.line != b.mark.line ? a.mark.line < b.mark.line : a.mark.column < b.mark.column;
  });
  std::string out;
  for (const auto& d : sorted) out += d.format() + "\n";
  return out;
}

}  // namespace weft
