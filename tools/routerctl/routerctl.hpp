// routerctl's shared pieces: options, the request helper, errors, and the
// registry through which each command file adds its subcommand.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <stdexcept>
#include <string>

#include "control/control_api.hpp"
#include "core/graph_spec.hpp"
#include "core/plugin_loader.hpp"

namespace routerctl {

using weft::json;

struct Options {
  std::string socket;
  std::string plugin_path;
  bool json_out = false;
};

// routerd is not listening (exit status 2).
struct NoDaemon : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// The request failed; the message (if any) is printed (exit status 1).
struct Failed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Sends {cmd, args} to routerd; returns the reply's data or throws.
json request(const Options& o, const std::string& cmd, const json& args = json::object());
// True when a routerd answers on o.socket.
bool daemon_up(const Options& o);

// Loads the plugins routerctl sees: --plugin-path, $WEFT_PLUGIN_PATH, the
// graph's plugins.path (if given), the built-in directory. Throws Failed.
void load_plugins(weft::PluginLoader& loader, const Options& o, const weft::GraphSpec* spec);

// The `fleet` part of a status reply (fleet.cpp).
void print_fleet_status(const json& fleet);

// A command defined in its own file registers itself with a static
//   routerctl::Command my_command{[](CLI::App& app, Options& o) { ...; return run; }};
// `add` adds the subcommand (and its options) to app and returns the function
// that runs it when it was chosen; that function returns the exit status.
using Runner = std::function<int()>;
struct Command {
  using Adder = std::function<std::pair<CLI::App*, Runner>(CLI::App&, Options&)>;
  explicit Command(Adder add);
};

}  // namespace routerctl
