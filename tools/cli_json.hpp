// A program's command line as JSON, from its own CLI11 definitions: the
// manual pages (tools/gen-man.py) and routerctl's shell completion
// (tools/gen-completion.py) are generated from it, so a new command or flag
// appears in both without a hand edit.
//
//   weft::cli::add_json_dump(app);   // after the last option, before parse
//   routerctl --cli-json             // prints the tree and exits 0
//
// Hidden flags (empty group) are left out, this one included.
#pragma once

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

namespace weft::cli {

inline nlohmann::json app_json(const CLI::App& app) {
  nlohmann::json j{{"name", app.get_name()}, {"description", app.get_description()}};
  j["options"] = nlohmann::json::array();
  j["positionals"] = nlohmann::json::array();
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_group().empty()) continue;
    if (o->get_positional() && o->get_snames().empty() && o->get_lnames().empty()) {
      j["positionals"].push_back({{"name", o->get_name(true)},
                                  {"description", o->get_description()},
                                  {"required", o->get_required()},
                                  {"repeatable", o->get_items_expected_max() > 1}});
      continue;
    }
    nlohmann::json names = nlohmann::json::array();
    for (const auto& s : o->get_snames()) names.push_back("-" + s);
    for (const auto& l : o->get_lnames()) names.push_back("--" + l);
    j["options"].push_back({{"names", names},
                            {"value", o->get_items_expected_max() > 0 ? o->get_type_name() : ""},
                            {"description", o->get_description()}});
  }
  j["subcommands"] = nlohmann::json::array();
  for (const CLI::App* s : app.get_subcommands([](const CLI::App*) { return true; }))
    j["subcommands"].push_back(app_json(*s));
  return j;
}

// Adds the hidden --cli-json flag to `app` (call it last: it prints what was defined by then and after).
inline void add_json_dump(CLI::App& app) {
  app.add_flag_callback(
         "--cli-json",
         [&app] {
           std::cout << app_json(app).dump(2) << "\n";
           throw CLI::Success();
         },
         "print this program's commands and options as JSON (for manual pages and completion)")
      ->group("");
}

}  // namespace weft::cli
