#include "core/diagnostics.hpp"

#include <algorithm>

namespace weft {

std::string Diagnostic::format() const {
  std::string s = file.empty() ? std::string("<graph>") : file;
  if (mark.line > 0) s += ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column);
  s += severity == Severity::Error ? ": error: " : ": warning: ";
  s += message;
  return s;
}

Diagnostic Diagnostics::locate(Mark m) const {
  Diagnostic d;
  d.file = file_;
  d.mark = m;
  for (size_t i = 0; i < sources_.size(); i++)
    if (m.line > sources_[i].lines_before) {
      d.file = sources_[i].name;
      d.mark.line = m.line - sources_[i].lines_before;
      d.source = static_cast<int>(i) + 1;
    }
  return d;
}

void Diagnostics::add(Diagnostic::Severity sev, Mark m, std::string msg) {
  Diagnostic d = locate(m);
  d.severity = sev;
  d.message = std::move(msg);
  items_.push_back(std::move(d));
}

std::string Diagnostics::where(Mark m) const {
  Diagnostic d = locate(m);
  return (d.file.empty() ? std::string("<graph>") : d.file) + ":" + std::to_string(d.mark.line);
}

bool Diagnostics::has_errors() const {
  return std::any_of(items_.begin(), items_.end(),
                     [](const Diagnostic& d) { return d.severity == Diagnostic::Severity::Error; });
}

std::string Diagnostics::format() const {
  std::vector<Diagnostic> sorted = items_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (a.source != b.source) return a.source < b.source;
    return a.mark.line != b.mark.line ? a.mark.line < b.mark.line : a.mark.column < b.mark.column;
  });
  std::string out;
  for (const auto& d : sorted) out += d.format() + "\n";
  return out;
}

}  // namespace weft
