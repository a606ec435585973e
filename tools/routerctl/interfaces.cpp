// routerctl interfaces / neighbors: the L3 interfaces and the neighbour
// table of every Interfaces service.
#include <cstdio>
#include <iostream>

#include "routerctl.hpp"

namespace routerctl {
namespace {

std::string text(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "-";
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

Command interfaces_command{[](CLI::App& app, Options& o) -> std::pair<CLI::App*, Runner> {
  auto* sub = app.add_subcommand("interfaces", "the L3 interfaces: addresses, MAC, MTU, VLAN, link and counters");
  return {sub, [&o] {
            json r = request(o, "service", {{"class", "Interfaces"}, {"cmd", "interfaces"}, {"args", json::object()}});
            if (o.json_out) {
              std::cout << r.dump(2) << "\n";
              return 0;
            }
            for (const auto& svc : r) {
              std::printf("Interfaces %s\n", svc["name"].get<std::string>().c_str());
              for (const auto& i : svc["result"]) {
                std::printf("  %-12s port %-8s %s mtu %s%s  link %s%s\n", i["name"].get<std::string>().c_str(),
                            i["port"].get<std::string>().empty() ? "-" : i["port"].get<std::string>().c_str(),
                            i["mac"].get<std::string>().c_str(),
                            text(i, "mtu").c_str(),
                            i["vlan"].get<unsigned>() ? (" vlan " + text(i, "vlan")).c_str() : "",
                            text(i, "link").c_str(),
                            i["host"].get<std::string>().empty() ? "" : ("  host " + text(i, "host")).c_str());
                std::string addrs;
                for (const auto& a : i["addresses"]) addrs += " " + a.get<std::string>();
                std::printf("      addresses%s %s/64 (link-local)\n", addrs.c_str(), text(i, "link_local").c_str());
                if (i.contains("counters")) {
                  const auto& c = i["counters"];
                  std::printf("      rx %s packets %s bytes (missed %s, errors %s)  tx %s packets %s bytes (errors %s)\n",
                              text(c, "rx_packets").c_str(), text(c, "rx_bytes").c_str(), text(c, "rx_missed").c_str(),
                              text(c, "rx_errors").c_str(), text(c, "tx_packets").c_str(), text(c, "tx_bytes").c_str(),
                              text(c, "tx_errors").c_str());
                }
              }
            }
            return 0;
          }};
}};

Command neighbors_command{[](CLI::App& app, Options& o) -> std::pair<CLI::App*, Runner> {
  auto iface = std::make_shared<std::string>();
  auto* sub = app.add_subcommand("neighbors", "the neighbour table (ARP, ND, static): address, MAC, state, age");
  sub->add_option("--interface", *iface, "only this interface's neighbours");
  return {sub, [&o, iface] {
            json args = json::object();
            if (!iface->empty()) args["interface"] = *iface;
            json r = request(o, "service", {{"class", "Interfaces"}, {"cmd", "neighbors"}, {"args", args}});
            if (o.json_out) {
              std::cout << r.dump(2) << "\n";
              return 0;
            }
            for (const auto& svc : r) {
              std::printf("Interfaces %s\n", svc["name"].get<std::string>().c_str());
              std::printf("  %-12s %-28s %-17s %-10s %8s %6s %6s\n", "INTERFACE", "ADDRESS", "MAC", "STATE", "AGE(s)",
                          "PROBES", "QUEUED");
              for (const auto& n : svc["result"])
                std::printf("  %-12s %-28s %-17s %-10s %8.1f %6u %6u\n", n["interface"].get<std::string>().c_str(),
                            n["address"].get<std::string>().c_str(),
                            n["mac"].get<std::string>().empty() ? "-" : n["mac"].get<std::string>().c_str(),
                            n["state"].get<std::string>().c_str(), n["age_s"].get<double>(),
                            n["probes"].get<unsigned>(), n["queued"].get<unsigned>());
            }
            return 0;
          }};
}};

}  // namespace
}  // namespace routerctl
