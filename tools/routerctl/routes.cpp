// routerctl routes [PREFIX]: the routes of every FIB service.
#include <cstdio>
#include <iostream>

#include "routerctl.hpp"

namespace routerctl {
namespace {

Command routes_command{[](CLI::App& app, Options& o) -> std::pair<CLI::App*, Runner> {
  auto prefix = std::make_shared<std::string>();
  auto* sub = app.add_subcommand("routes", "the FIB's routes (every FIB service), optionally within PREFIX");
  sub->add_option("prefix", *prefix, "only routes within this prefix, e.g. 10.0.0.0/8");
  return {sub, [&o, prefix] {
            json args = json::object();
            if (!prefix->empty()) args["prefix"] = *prefix;
            json r = request(o, "service", {{"class", "Fib"}, {"cmd", "routes"}, {"args", args}});
            if (o.json_out) {
              std::cout << r.dump(2) << "\n";
              return 0;
            }
            for (const auto& fib : r) {
              std::printf("FIB %s\n", fib["name"].get<std::string>().c_str());
              for (const auto& rt : fib["result"]["routes"]) {
                std::string nhs;
                for (const auto& nh : rt["nexthops"]) nhs += " [" + nh.get<std::string>() + "]";
                std::printf("  table %-5u %-24s %-11s%s\n", rt["table"].get<unsigned>(),
                            rt["prefix"].get<std::string>().c_str(), rt["type"].get<std::string>().c_str(),
                            nhs.c_str());
              }
            }
            return 0;
          }};
}};

}  // namespace
}  // namespace routerctl
