// Parameters of element and service classes: a schema declared once per
// class (used for validation, defaults and `routerctl elements --doc`) and a
// typed, read-only view of one instance's values.
//
// The framework checks every value against its declared type before the
// class's configure() sees it (unknown keys, missing required values, type
// mismatches, each at its FILE:LINE:COL). Structured values (lists, maps)
// are read through ParamValue, which carries positions so a class reports
// its own findings at the right place:
//
//   for (const ParamValue& r : p.value("rules").items()) {
//     r.only_keys({"output", "dst"}, "rules");
//     Prefix dst = r["dst"].as<Prefix>("dst");   // the one prefix parser
//   }
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "weft/error.hpp"
#include "weft/net.hpp"

namespace weft {

enum class ParamType {
  Bool,
  Int,        // signed 64-bit
  UInt,       // unsigned 64-bit
  Double,
  String,
  Port,       // name of a port declared in the graph's `ports:` section
  List,       // YAML sequence; the class checks its items
  Map,        // YAML mapping; the class checks its keys
  Any,        // scalar, sequence or mapping; the class checks it
  Mac,        // weft::Mac
  Ip,         // weft::IpAddr, either family
  Ip4,        // weft::Ip4
  Ip6,        // weft::Ip6
  Prefix,     // weft::Prefix, either family
  PortRange,  // weft::PortRange
  Service,    // name of a service declared in the graph's `services:` section
};

// The name of a type in docs and messages ("mac", "prefix", "port_range"...).
const char* to_string(ParamType t);
// What a value of the type looks like ("a MAC address such as 02:00:00:00:00:01").
const char* expected_text(ParamType t);

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::String;
  bool required = false;
  std::string default_value;  // YAML text; empty with required == false means "no default"
  std::string doc;
  // ParamType::Service: the handle type the named service must provide
  // (see weft/service.hpp), e.g. "route.fib".
  std::string handle;
};

namespace detail {
struct ParamNode;
struct ParamAccess;
}  // namespace detail

// One parameter value (or a part of one: a list item, a map entry) with its
// position in the graph file. Cheap to copy.
class ParamValue {
 public:
  ParamValue() = default;

  bool defined() const;  // false: absent
  bool is_null() const;
  bool is_scalar() const;
  bool is_list() const;
  bool is_map() const;
  Mark mark() const;

  // The scalar's text; throws ConfigError "WHAT: expected a single value" otherwise.
  const std::string& text(std::string_view what) const;
  // Items of a list (empty for anything else).
  std::vector<ParamValue> items() const;
  struct Entry;
  // Entries of a map, in file order (empty for anything else).
  std::vector<Entry> entries() const;
  // The value of `key` in a map; undefined if absent or not a map.
  ParamValue operator[](std::string_view key) const;
  size_t size() const;  // items of a list or entries of a map

  // The value converted to T: bool, int64_t, int, uint64_t, uint32_t,
  // uint16_t, uint8_t, double, std::string, Mac, Ip4, Ip6, IpAddr, Prefix,
  // PortRange. Throws ConfigError at this value's position, naming `what`.
  template <class T>
  T as(std::string_view what) const;

  // For a map: throws ConfigError at the first key not in `allowed`
  // ("WHAT: unknown key 'x' (keys: a, b)"); "WHAT: expected a mapping" if
  // it is not a map.
  void only_keys(std::initializer_list<std::string_view> allowed, std::string_view what) const;
  // The value as YAML text (flow style), e.g. for a `config` handler.
  std::string yaml() const;

 private:
  friend struct detail::ParamAccess;
  std::shared_ptr<const detail::ParamNode> node_;
};

struct ParamValue::Entry {
  std::string key;
  Mark key_mark;
  ParamValue value;
};

// The parameters of one element or service instance, checked against its
// class schema before the class sees them.
class Params {
 public:
  Params() = default;

  // True if the parameter was given or has a default.
  bool has(std::string_view name) const;
  // True only if the parameter was written in the graph file.
  bool given(std::string_view name) const;

  // The value (given or default) converted to T (see ParamValue::as);
  // throws ConfigError with the value's position if it cannot be converted,
  // or at the element's position if it is required and missing.
  template <class T>
  T get(std::string_view name) const;

  // The value (given or default); undefined if neither.
  ParamValue value(std::string_view name) const;
  // Where the value was written, or the element's own position.
  Mark mark(std::string_view name) const;
  Mark element_mark() const { return element_mark_; }

  // All values, defaults applied, as YAML text (flow style).
  std::string effective_yaml() const;

 private:
  friend struct detail::ParamAccess;
  const std::vector<ParamSpec>* schema_ = nullptr;
  std::shared_ptr<const detail::ParamNode> values_;
  Mark element_mark_;
};

}  // namespace weft
