// The control API's probe commands: `runtime`, `trace` and `capture`
// (docs/control-protocol.md), on the Runtime's ProbeControl.
#include <stdexcept>

#include "control/control_api.hpp"

namespace weft {

namespace {

// A field of a request, checked: absent gives `fallback`, a wrong type a
// message naming the field.
std::string text_arg(const json& args, const char* cmd, const char* key, const std::string& fallback = {}) {
  if (!args.contains(key) || args[key].is_null()) return fallback;
  if (!args[key].is_string()) throw std::invalid_argument(std::string(cmd) + ": '" + key + "' must be a string");
  return args[key].get<std::string>();
}

uint64_t number_arg(const json& args, const char* cmd, const char* key, uint64_t fallback) {
  if (!args.contains(key) || args[key].is_null()) return fallback;
  if (!args[key].is_number_unsigned())
    throw std::invalid_argument(std::string(cmd) + ": '" + key + "' must be a number (0 or more)");
  return args[key].get<uint64_t>();
}

}  // namespace

json ControlApi::runtime(const json& args) {
  ProbeControl& p = rt_.probes();
  const std::string action = text_arg(args, "runtime", "action", "show");
  if (action == "on") p.set_timing(true);
  else if (action == "off") p.set_timing(false);
  else if (action == "clear") p.clear_figures();
  else if (action != "show")
    throw std::invalid_argument("runtime: unknown action '" + action + "' (show, on, off, clear)");
  return p.figures();
}

json ControlApi::trace(const json& args) {
  ProbeControl& p = rt_.probes();
  const std::string action = text_arg(args, "trace", "action", "show");
  if (action == "start") {
    const uint64_t count = number_arg(args, "trace", "count", 10);
    if (count == 0 || count > ProbeControl::kMaxTrace)
      throw std::invalid_argument("trace: count must be between 1 and " + std::to_string(ProbeControl::kMaxTrace));
    return p.start_trace(static_cast<uint32_t>(count), text_arg(args, "trace", "filter"));
  }
  if (action == "stop") return p.stop_trace();
  if (action == "show") return p.trace();
  throw std::invalid_argument("trace: unknown action '" + action + "' (start, show, stop)");
}

json ControlApi::capture(const json& args) {
  ProbeControl& p = rt_.probes();
  const std::string action = text_arg(args, "capture", "action", "list");
  if (action == "list") return p.captures();
  if (action == "stop") {
    if (!args.contains("id")) throw std::invalid_argument("capture: stop needs the capture's 'id'");
    return p.stop_capture(static_cast<unsigned>(number_arg(args, "capture", "id", 0)));
  }
  if (action != "start") throw std::invalid_argument("capture: unknown action '" + action + "' (start, list, stop)");
  CaptureOptions o;
  if (args.contains("points")) {
    if (!args["points"].is_array()) throw std::invalid_argument("capture: 'points' must be a list");
    for (const auto& pt : args["points"]) {
      if (!pt.is_object()) throw std::invalid_argument("capture: each point is {element, output} or {port, dir}");
      CapturePoint cp{text_arg(pt, "capture", "element"), text_arg(pt, "capture", "output"),
                      text_arg(pt, "capture", "port"), text_arg(pt, "capture", "dir")};
      if (cp.element.empty() == cp.port.empty())
        throw std::invalid_argument("capture: a point names an element or a port (not both)");
      o.points.push_back(cp);
    }
  }
  o.count = number_arg(args, "capture", "count", o.count);
  o.snaplen = static_cast<uint32_t>(std::min<uint64_t>(number_arg(args, "capture", "snaplen", o.snaplen), UINT32_MAX));
  o.filter = text_arg(args, "capture", "filter");
  o.file = text_arg(args, "capture", "file");
  return p.start_capture(o);
}

}  // namespace weft
