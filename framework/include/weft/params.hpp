// Element parameters: a schema declared once per element class (used for
// validation, defaults and `routerctl elements --doc`) and a typed view of
// one element instance's values.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "weft/error.hpp"

namespace weft {

enum class ParamType {
  Bool,
  Int,     // signed 64-bit
  UInt,    // unsigned 64-bit
  Double,
  String,
  Port,    // name of a port declared in the graph's `ports:` section
  List,    // YAML sequence; the element checks its items
  Map,     // YAML mapping; the element checks its keys
  Any,     // scalar, sequence or mapping; the element checks it
};

const char* to_string(ParamType t);

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::String;
  bool required = false;
  std::string default_value;  // YAML text; empty with required == false means "no default"
  std::string doc;
};

// Converts a YAML node position to a 1-based Mark.
Mark mark_of(const YAML::Node& node);

// The parameters of one element instance, checked against its class schema
// before the element sees them: unknown keys, missing required values and
// type mismatches are reported by the framework, with their positions.
class Params {
 public:
  Params() = default;
  Params(YAML::Node values, const std::vector<ParamSpec>* schema, Mark element_mark);

  // True if the parameter was given or has a default.
  bool has(std::string_view name) const;
  // True only if the parameter was written in the graph file.
  bool given(std::string_view name) const;

  // The value (given or default) converted to T; throws ConfigError with the
  // value's position if it cannot be converted. T: bool, int64_t, uint64_t,
  // uint32_t, uint16_t, int, double, std::string.
  template <class T>
  T get(std::string_view name) const;

  // The raw node (given or default); an undefined node if neither.
  YAML::Node node(std::string_view name) const;
  // Where the value was written, or the element's own position.
  Mark mark(std::string_view name) const;
  Mark element_mark() const { return element_mark_; }

  // All values, defaults applied, as a YAML map (for the `config` handler).
  YAML::Node effective() const;

 private:
  const ParamSpec* spec(std::string_view name) const;
  YAML::Node values_;
  const std::vector<ParamSpec>* schema_ = nullptr;
  Mark element_mark_;
};

}  // namespace weft
