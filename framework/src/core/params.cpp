#include "weft/params.hpp"

#include <limits>

#include "core/param_node.hpp"
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
    case ParamType::Mac: return "mac";
    case ParamType::Ip: return "ip";
    case ParamType::Ip4: return "ipv4";
    case ParamType::Ip6: return "ipv6";
    case ParamType::Prefix: return "prefix";
    case ParamType::PortRange: return "port_range";
    case ParamType::Service: return "service";
  }
  return "?";
}

const char* expected_text(ParamType t) {
  switch (t) {
    case ParamType::Bool: return "true or false";
    case ParamType::Int: return "an integer";
    case ParamType::UInt: return "a non-negative integer";
    case ParamType::Double: return "a number";
    case ParamType::String: return "a string";
    case ParamType::Port: return "a port name";
    case ParamType::List: return "a list";
    case ParamType::Map: return "a mapping";
    case ParamType::Any: return "a value";
    case ParamType::Mac: return "a MAC address such as 02:00:00:00:00:01";
    case ParamType::Ip: return "an IPv4 or IPv6 address such as 192.0.2.1 or 2001:db8::1";
    case ParamType::Ip4: return "an IPv4 address such as 192.0.2.1";
    case ParamType::Ip6: return "an IPv6 address such as 2001:db8::1";
    case ParamType::Prefix: return "an address or prefix such as 10.0.0.0/8 or 2001:db8::/32";
    case ParamType::PortRange: return "a port (80) or a range of ports (1024-65535)";
    case ParamType::Service: return "the name of a service declared under services:";
  }
  return "a value";
}

Mark mark_of(const YAML::Node& node) {
  if (!node.IsDefined()) return {};
  const YAML::Mark m = node.Mark();
  if (m.line < 0) return {};
  return {m.line + 1, m.column + 1};
}

bool value_matches(const YAML::Node& n, ParamType t) {
  const bool s = n.IsScalar();
  const std::string& v = s ? n.Scalar() : std::string();
  switch (t) {
    case ParamType::Bool: return s && parse_bool(v).has_value();
    case ParamType::Int: return s && parse_int(v).has_value();
    case ParamType::UInt: return s && parse_uint(v).has_value();
    case ParamType::Double: return s && parse_double(v).has_value();
    case ParamType::String:
    case ParamType::Port:
    case ParamType::Service: return s;
    case ParamType::List: return n.IsSequence();
    case ParamType::Map: return n.IsMap();
    case ParamType::Any: return true;
    case ParamType::Mac: return s && Mac::parse(v).has_value();
    case ParamType::Ip: return s && IpAddr::parse(v).has_value();
    case ParamType::Ip4: return s && Ip4::parse(v).has_value();
    case ParamType::Ip6: return s && Ip6::parse(v).has_value();
    case ParamType::Prefix: return s && Prefix::parse(v).has_value();
    case ParamType::PortRange: return s && PortRange::parse(v).has_value();
  }
  return false;
}

// --- ParamValue ---------------------------------------------------------------

namespace {

YAML::Node node_of(const std::shared_ptr<const detail::ParamNode>& p) {
  return p ? p->node : YAML::Node(YAML::NodeType::Undefined);
}

template <class T>
T convert(const YAML::Node& n, std::string_view what, Mark mark) {
  const std::string w(what);
  const std::string text = n.IsScalar() ? n.Scalar() : std::string();
  auto fail = [&](ParamType t) -> ConfigError { return ConfigError(mark, w + ": expected " + expected_text(t)); };
  if constexpr (std::is_same_v<T, std::string>) {
    if (!n.IsScalar()) throw fail(ParamType::String);
    return text;
  } else if constexpr (std::is_same_v<T, bool>) {
    auto v = parse_bool(text);
    if (!n.IsScalar() || !v) throw fail(ParamType::Bool);
    return *v;
  } else if constexpr (std::is_same_v<T, double>) {
    auto v = parse_double(text);
    if (!n.IsScalar() || !v) throw fail(ParamType::Double);
    return *v;
  } else if constexpr (std::is_same_v<T, Mac>) {
    auto v = Mac::parse(text);
    if (!n.IsScalar() || !v) throw fail(ParamType::Mac);
    return *v;
  } else if constexpr (std::is_same_v<T, Ip4>) {
    auto v = Ip4::parse(text);
    if (!n.IsScalar() || !v) throw fail(ParamType::Ip4);
    return *v;
  } else if constexpr (std::is_same_v<T, Ip6>) {
    auto v = Ip6::parse(text);
    if (!n.IsScalar() || !v) throw fail(ParamType::Ip6);
    return *v;
  } else if constexpr (std::is_same_v<T, IpAddr>) {
    auto v = IpAddr::parse(text);
    if (!n.IsScalar() || !v) throw fail(ParamType::Ip);
    return *v;
  } else if constexpr (std::is_same_v<T, Prefix>) {
    auto v = Prefix::parse(text);
    if (!n.IsScalar()) throw fail(ParamType::Prefix);
    if (!v) {
      // Say which half is wrong: the address or the length.
      const size_t slash = text.find('/');
      auto addr = IpAddr::parse(std::string_view(text).substr(0, slash));
      if (addr && slash != std::string::npos)
        throw ConfigError(mark, w + ": bad " + (addr->v4() ? "IPv4" : "IPv6") + " prefix length in '" + text +
                                    "' (0-" + std::to_string(addr->v4() ? 32 : 128) + ")");
      throw ConfigError(mark, w + ": '" + text + "' is not an IPv4 or IPv6 address or prefix (such as 10.0.0.0/8)");
    }
    return *v;
  } else if constexpr (std::is_same_v<T, PortRange>) {
    auto v = PortRange::parse(text);
    if (!n.IsScalar() || !v) throw fail(ParamType::PortRange);
    return *v;
  } else if constexpr (std::is_signed_v<T>) {
    auto v = parse_int(text);
    if (!n.IsScalar() || !v) throw fail(ParamType::Int);
    if (*v < std::numeric_limits<T>::min() || *v > std::numeric_limits<T>::max())
      throw ConfigError(mark, w + ": " + std::to_string(*v) + " is out of range");
    return static_cast<T>(*v);
  } else {
    auto v = parse_uint(text);
    if (!n.IsScalar() || !v) throw fail(ParamType::UInt);
    if (*v > std::numeric_limits<T>::max())
      throw ConfigError(mark, w + ": " + std::to_string(*v) + " is out of range (max " +
                                  std::to_string(std::numeric_limits<T>::max()) + ")");
    return static_cast<T>(*v);
  }
}

std::string flow_text(const YAML::Node& n) {
  YAML::Emitter em;
  em << YAML::Flow << n;
  return em.c_str();
}

}  // namespace

bool ParamValue::defined() const { return node_ && node_->node.IsDefined(); }
bool ParamValue::is_null() const { return node_ && node_->node.IsNull(); }
bool ParamValue::is_scalar() const { return node_ && node_->node.IsScalar(); }
bool ParamValue::is_list() const { return node_ && node_->node.IsSequence(); }
bool ParamValue::is_map() const { return node_ && node_->node.IsMap(); }
Mark ParamValue::mark() const { return mark_of(node_of(node_)); }

const std::string& ParamValue::text(std::string_view what) const {
  if (!is_scalar()) throw ConfigError(mark(), std::string(what) + ": expected a single value");
  return node_->node.Scalar();
}

std::vector<ParamValue> ParamValue::items() const {
  std::vector<ParamValue> out;
  if (!is_list()) return out;
  for (const auto& item : node_->node) out.push_back(detail::ParamAccess::value(item));
  return out;
}

std::vector<ParamValue::Entry> ParamValue::entries() const {
  std::vector<Entry> out;
  if (!is_map()) return out;
  for (const auto& kv : node_->node)
    out.push_back({kv.first.IsScalar() ? kv.first.Scalar() : flow_text(kv.first), mark_of(kv.first),
                   detail::ParamAccess::value(kv.second)});
  return out;
}

ParamValue ParamValue::operator[](std::string_view key) const {
  if (!is_map()) return {};
  const YAML::Node& n = node_->node;
  for (const auto& kv : n)
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return detail::ParamAccess::value(kv.second);
  return {};
}

size_t ParamValue::size() const { return (is_list() || is_map()) ? node_->node.size() : 0; }

template <class T>
T ParamValue::as(std::string_view what) const {
  return convert<T>(node_of(node_), what, mark());
}

void ParamValue::only_keys(std::initializer_list<std::string_view> allowed, std::string_view what) const {
  if (!is_map()) throw ConfigError(mark(), std::string(what) + ": expected a mapping");
  std::string keys;
  for (auto k : allowed) keys += (keys.empty() ? "" : ", ") + std::string(k);
  for (const auto& kv : node_->node) {
    const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : flow_text(kv.first);
    bool ok = false;
    for (auto a : allowed) ok = ok || a == k;
    if (!ok) {
      std::vector<std::string> cands(allowed.begin(), allowed.end());
      throw ConfigError(mark_of(kv.first),
                        std::string(what) + ": unknown key '" + k + "'" + did_you_mean(k, cands) + " (keys: " + keys + ")");
    }
  }
}

std::string ParamValue::yaml() const { return defined() ? flow_text(node_->node) : std::string(); }

// --- Params -------------------------------------------------------------------

namespace {
const ParamSpec* find_spec(const std::vector<ParamSpec>* schema, std::string_view name) {
  if (!schema) return nullptr;
  for (const auto& p : *schema)
    if (p.name == name) return &p;
  return nullptr;
}
}  // namespace

bool Params::given(std::string_view name) const {
  YAML::Node v = node_of(values_);
  return v.IsMap() && v[std::string(name)].IsDefined() && !v[std::string(name)].IsNull();
}

ParamValue Params::value(std::string_view name) const {
  if (given(name)) return detail::ParamAccess::value(node_of(values_)[std::string(name)]);
  const ParamSpec* s = find_spec(schema_, name);
  if (s && !s->default_value.empty()) return detail::ParamAccess::value(YAML::Load(s->default_value));
  return {};
}

bool Params::has(std::string_view name) const { return value(name).defined(); }

Mark Params::mark(std::string_view name) const {
  if (given(name)) return mark_of(node_of(values_)[std::string(name)]);
  return element_mark_;
}

std::string Params::effective_yaml() const {
  YAML::Node out(YAML::NodeType::Map);
  if (schema_)
    for (const auto& p : *schema_) {
      ParamValue v = value(p.name);
      if (v.defined()) out[p.name] = YAML::Clone(detail::ParamAccess::node(v));
    }
  return flow_text(out);
}

template <class T>
T Params::get(std::string_view name) const {
  ParamValue v = value(name);
  if (!v.defined()) throw ConfigError(element_mark_, "parameter '" + std::string(name) + "' is required");
  return convert<T>(detail::ParamAccess::node(v), "parameter '" + std::string(name) + "'", mark(name));
}

#define WEFT_PARAM_TYPE(T)                                  \
  template T ParamValue::as<T>(std::string_view) const;     \
  template T Params::get<T>(std::string_view) const;
WEFT_PARAM_TYPE(bool)
WEFT_PARAM_TYPE(int64_t)
WEFT_PARAM_TYPE(int)
WEFT_PARAM_TYPE(uint64_t)
WEFT_PARAM_TYPE(uint32_t)
WEFT_PARAM_TYPE(uint16_t)
WEFT_PARAM_TYPE(uint8_t)
WEFT_PARAM_TYPE(double)
WEFT_PARAM_TYPE(std::string)
WEFT_PARAM_TYPE(Mac)
WEFT_PARAM_TYPE(Ip4)
WEFT_PARAM_TYPE(Ip6)
WEFT_PARAM_TYPE(IpAddr)
WEFT_PARAM_TYPE(Prefix)
WEFT_PARAM_TYPE(PortRange)
#undef WEFT_PARAM_TYPE

}  // namespace weft
