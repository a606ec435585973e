// The YAML behind weft::Params and weft::ParamValue (kept out of the public
// headers, so element code never depends on yaml-cpp).
#pragma once

#include <yaml-cpp/yaml.h>

#include <memory>

#include "weft/params.hpp"

namespace weft {

// Converts a YAML node position to a 1-based Mark.
Mark mark_of(const YAML::Node& node);

namespace detail {

struct ParamNode {
  YAML::Node node;
};

struct ParamAccess {
  static ParamValue value(YAML::Node n) {
    ParamValue v;
    v.node_ = std::make_shared<const ParamNode>(ParamNode{std::move(n)});
    return v;
  }
  static YAML::Node node(const ParamValue& v) { return v.node_ ? v.node_->node : YAML::Node(YAML::NodeType::Undefined); }
  static Params params(YAML::Node values, const std::vector<ParamSpec>* schema, Mark element_mark) {
    Params p;
    p.schema_ = schema;
    p.values_ = std::make_shared<const ParamNode>(ParamNode{std::move(values)});
    p.element_mark_ = element_mark;
    return p;
  }
};

}  // namespace detail

// The Params view of a YAML map of values against a schema.
inline Params make_params(YAML::Node values, const std::vector<ParamSpec>* schema, Mark element_mark) {
  return detail::ParamAccess::params(std::move(values), schema, element_mark);
}

// True if `n` is a well-formed value of type `t` (the validator's check).
bool value_matches(const YAML::Node& n, ParamType t);

}  // namespace weft
