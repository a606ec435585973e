// The framework's own metric families, declared once in one table (the
// collector fills them, docs/telemetry.md lists them), and the rule that
// keeps every metric name one family: a class may not declare a framework
// name, and two classes declaring one name must agree on its type and labels.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "weft/element.hpp"
#include "weft/metrics.hpp"
#include "weft/service.hpp"

namespace weft {

// A framework family, with the section of docs/telemetry.md it is listed under.
struct FrameworkMetric {
  const char* section;
  MetricSpec spec;
};
const std::vector<FrameworkMetric>& framework_metrics();
// One of them by name; throws std::out_of_range.
const MetricSpec& framework_metric(std::string_view name);

// A class's metrics with the labels the framework adds (`element`, `class`;
// `service`) in front: the families they make.
std::vector<MetricSpec> families_of(const ElementClass& k);
std::vector<MetricSpec> families_of(const ServiceClass& k);

// "" if `mine` can join `known` (a framework name is never free; the same
// name must have the same type and labels), else why not.
std::string metric_conflict(const MetricSpec& mine, const std::vector<MetricSpec>& known);

}  // namespace weft
