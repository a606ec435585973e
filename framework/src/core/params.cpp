#include "weft/params.hpp"

#include <charconv>
#include <limits>

#include "core/text.hpp"

namespace weft {

const char* to_string(ParamType t) {
  switch (t) {
    case ParamType::Bool: return "bool";
    case ParamType::Int: return "int";
    case ParamType::UInt: return "uint";
    case ParamType::Double: return "double";
    case ParamType::String: return "string";
    case ParamType::Port: return "port";
    case ParamType::List: return "list";
    case ParamType::Map: return "map";
    case ParamType::Any: return "any";
  }
  return "?";
}

Mark mark_of(const YAML::Node& node) {
  if (!node.IsDefined()) return {};
  const YAML::Mark m = node.Mark();
  if (m.line < 0) return {};
  return {m.line + 1, m.column + 1};
}

Params::Params(YAML::Node values, const std::vector<ParamSpec>* schema, Mark element_mark)
    : values_(std::move(values)), schema_(schema), element_mark_(element_mark) {}

const ParamSpec* Params::spec(std::string_view name) const {
  if (!schema_) return nullptr;
  for (const auto& p : *schema_)
    if (p.name == name) return &p;
  return nullptr;
}

bool Params::given(std::string_view name) const {
  return values_.IsMap() && values_[std::string(name)].IsDefined() && !values_[std::string(name)].IsNull();
}

YAML::Node Params::node(std::string_view name) const {
  if (given(name)) return values_[std::string(name)];
  const ParamSpec* s = spec(name);
  if (s && !s->default_value.empty()) return YAML::Load(s->default_value);
  return YAML::Node(YAML::NodeType::Undefined);
}

bool Params::has(std::string_view name) const { return node(name).IsDefined(); }

Mark Params::mark(std::string_view name) const {
  if (given(name)) return mark_of(values_[std::string(name)]);
  return element_mark_;
}

YAML::Node Params::effective() const {
  YAML::Node out(YAML::NodeType::Map);
  if (schema_)
    for (const auto& p : *schema_) {
      YAML::Node n = node(p.name);
      if (n.IsDefined()) out[p.name] = YAML::Clone(n);
    }
  return out;
}

namespace {

template <class T>
T convert(const YAML::Node& n, std::string_view name, Mark mark) {
  const std::string what = std::string("parameter '") + std::string(name) + "'";
  if constexpr (std::is_same_v<T, std::string>) {
    if (!n.IsScalar()) throw ConfigError(mark, what + ": expected a string");
    return n.Scalar();
  } else if constexpr (std::is_same_v<T, bool>) {
    auto v = parse_bool(n.IsScalar() ? n.Scalar() : "");
    if (!n.IsScalar() || !v) throw ConfigError(mark, what + ": expected true or false");
    return *v;
  } else if constexpr (std::is_same_v<T, double>) {
    auto v = parse_double(n.IsScalar() ? n.Scalar() : "");
    if (!n.IsScalar() || !v) throw ConfigError(mark, what + ": expected a number");
    return *v;
  } else if constexpr (std::is_signed_v<T>) {
    auto v = parse_int(n.IsScalar() ? n.Scalar() : "");
    if (!n.IsScalar() || !v) throw ConfigError(mark, what + ": expected an integer");
    if (*v < std::numeric_limits<T>::min() || *v > std::numeric_limits<T>::max())
      throw ConfigError(mark, what + ": " + std::to_string(*v) + " is out of range");
    return static_cast<T>(*v);
  } else {
    auto v = parse_uint(n.IsScalar() ? n.Scalar() : "");
    if (!n.IsScalar() || !v) throw ConfigError(mark, what + ": expected a non-negative integer");
    if (*v > std::numeric_limits<T>::max())
      throw ConfigError(mark, what + ": " + std::to_string(*v) + " is out of range (max " +
                                  std::to_string(std::numeric_limits<T>::max()) + ")");
    return static_cast<T>(*v);
  }
}

}  // namespace

template <class T>
T Params::get(std::string_view name) const {
  YAML::Node n = node(name);
  if (!n.IsDefined())
    throw ConfigError(element_mark_, "parameter '" + std::string(name) + "' is required");
  return convert<T>(n, name, mark(name));
}

template bool Params::get<bool>(std::string_view) const;
template int64_t Params::get<int64_t>(std::string_view) const;
template int Params::get<int>(std::string_view) const;
template uint64_t Params::get<uint64_t>(std::string_view) const;
template uint32_t Params::get<uint32_t>(std::string_view) const;
template uint16_t Params::get<uint16_t>(std::string_view) const;
template uint8_t Params::get<uint8_t>(std::string_view) const;
template double Params::get<double>(std::string_view) const;
template std::string Params::get<std::string>(std::string_view) const;

}  // namespace weft
