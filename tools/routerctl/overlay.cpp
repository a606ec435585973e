// routerctl overlay [cache|pending|status] [--kind vl2|vl3]: Portolan's
// overlay cache, the lookups waiting for an answer, and the SVP connection
// with its counters, for every service of class Svp.
#include <cstdio>
#include <iostream>

#include "routerctl.hpp"

namespace routerctl {
namespace {

void print_status(const json& s) {
  const json& p = s["portolan"];
  std::printf("  Portolan: %s", s["state"].get<std::string>().c_str());
  if (p.is_object()) {
    std::printf(" — server %s (of %zu), %.1f s in this state\n", p["server"].get<std::string>().c_str(),
                p["servers"].size(), p["for_seconds"].get<double>());
    if (p.contains("last_error")) std::printf("    last error: %s\n", p["last_error"].get<std::string>().c_str());
    const json& c = p["counters"];
    std::printf("    requests %llu, replies %llu (ok %llu, notfound %llu, other %llu), in flight %llu, queued %llu, "
                "timeouts %llu\n",
                c["requests"].get<unsigned long long>(), c["replies"].get<unsigned long long>(),
                c["status"]["ok"].get<unsigned long long>(), c["status"]["notfound"].get<unsigned long long>(),
                c["status"]["other"].get<unsigned long long>(), p["in_flight"].get<unsigned long long>(),
                p["queued"].get<unsigned long long>(), c["timeouts"].get<unsigned long long>());
    std::printf("    connects %llu, connect failures %llu, disconnects %llu, failovers %llu, shootdowns %llu\n",
                c["connects"].get<unsigned long long>(), c["connect_failures"].get<unsigned long long>(),
                c["disconnects"].get<unsigned long long>(), c["failovers"].get<unsigned long long>(),
                c["shootdowns"].get<unsigned long long>());
    std::string bad;
    for (const auto& [k, v] : c["malformed"].items())
      if (v.get<unsigned long long>()) bad += " " + k + " " + std::to_string(v.get<unsigned long long>());
    std::printf("    malformed replies:%s\n", bad.empty() ? " none" : bad.c_str());
  } else {
    std::printf("\n");
  }
  const json& cache = s["cache"];
  std::printf("  cache: %llu of %llu entries (vl2 %llu, vl3 %llu, negative %llu, expired %llu); ttl %g s, negative %g s\n",
              cache["entries"].get<unsigned long long>(), cache["capacity"].get<unsigned long long>(),
              cache["vl2"].get<unsigned long long>(), cache["vl3"].get<unsigned long long>(),
              cache["negative"].get<unsigned long long>(), cache["expired"].get<unsigned long long>(),
              cache["ttl_s"].get<double>(), cache["negative_ttl_s"].get<double>());
  const json& c = s["counters"];
  std::printf("  lookups: asked %llu (deduplicated %llu), resolved %llu, notfound %llu, failed %llu, pending %llu; "
              "invalidated %llu, evicted %llu\n",
              c["asked"].get<unsigned long long>(), c["deduplicated"].get<unsigned long long>(),
              c["resolved"].get<unsigned long long>(), c["notfound"].get<unsigned long long>(),
              c["failed"].get<unsigned long long>(), s["pending"].get<unsigned long long>(),
              c["invalidated"].get<unsigned long long>(), c["evicted"].get<unsigned long long>());
  const json& l = s["log"];
  if (l["enabled"].get<bool>())
    std::printf("  change log for %s: %llu polls, %llu records applied, %llu removed, %llu errors\n",
                l["ip"].get<std::string>().c_str(), l["polls"].get<unsigned long long>(),
                l["records"].get<unsigned long long>(), l["removed"].get<unsigned long long>(),
                l["errors"].get<unsigned long long>());
  else
    std::printf("  change log: not polled (no log_ip)\n");
  if (s.contains("bulk"))
    std::printf("  last BULK: %s\n", s["bulk"].dump().c_str());
}

void print_cache(const json& entries) {
  if (entries.empty()) {
    std::printf("  (cache empty)\n");
    return;
  }
  std::printf("  %-40s %-9s %-18s %-28s %8s %8s\n", "KEY", "STATE", "MAC", "UNDERLAY", "AGE", "TTL");
  for (const auto& e : entries)
    std::printf("  %-40s %-9s %-18s %-28s %7.1fs %7.1fs%s\n", e["key"].get<std::string>().c_str(),
                e["state"].get<std::string>().c_str(), e.value("mac", std::string("-")).c_str(),
                e.value("underlay", std::string("-")).c_str(), e["age_s"].get<double>(), e["ttl_left_s"].get<double>(),
                e["expired"].get<bool>() ? " (expired, in use until refreshed)" : "");
}

void print_pending(const json& pending) {
  if (pending.empty()) {
    std::printf("  (no lookup pending)\n");
    return;
  }
  for (const auto& p : pending)
    std::printf("  %-40s waiting %.3f s (%llu control-thread waiter(s))\n", p["key"].get<std::string>().c_str(),
                p["age_s"].get<double>(), p["waiters"].get<unsigned long long>());
}

Command overlay_command{[](CLI::App& app, Options& o) -> std::pair<CLI::App*, Runner> {
  auto what = std::make_shared<std::string>("all");
  auto kind = std::make_shared<std::string>();
  auto* sub = app.add_subcommand("overlay", "Portolan: the overlay cache, pending lookups, SVP connection and counters");
  sub->add_option("what", *what, "all (default), cache, pending or status")
      ->check(CLI::IsMember({"all", "cache", "pending", "status"}));
  sub->add_option("--kind", *kind, "only vl2 or vl3 cache entries")->check(CLI::IsMember({"vl2", "vl3"}));
  return {sub, [&o, what, kind] {
            bool any_svp = false;
            for (const auto& s : request(o, "services")) any_svp |= s.value("class", "") == "Svp";
            if (!any_svp) {
              if (o.json_out) std::cout << "[]\n";
              else std::printf("no SVP service (the graph has no service of class Svp)\n");
              return 0;
            }
            auto ask = [&](const char* cmd, json args = json::object()) {
              return request(o, "service", {{"class", "Svp"}, {"cmd", cmd}, {"args", args}});
            };
            json cache_args = json::object();
            if (!kind->empty()) cache_args["kind"] = *kind;
            json status, cache, pending;
            if (*what == "all" || *what == "status") status = ask("status");
            if (*what == "all" || *what == "cache") cache = ask("cache", cache_args);
            if (*what == "all" || *what == "pending") pending = ask("pending");
            if (o.json_out) {
              json out = json::array();
              const json& any = !status.is_null() ? status : !cache.is_null() ? cache : pending;
              for (size_t i = 0; i < any.size(); i++) {
                json one = {{"name", any[i]["name"]}};
                if (!status.is_null()) one["status"] = status[i]["result"];
                if (!cache.is_null()) one["cache"] = cache[i]["result"]["entries"];
                if (!pending.is_null()) one["pending"] = pending[i]["result"]["pending"];
                out.push_back(one);
              }
              std::cout << out.dump(2) << "\n";
              return 0;
            }
            const json& any = !status.is_null() ? status : !cache.is_null() ? cache : pending;
            for (size_t i = 0; i < any.size(); i++) {
              std::printf("SVP %s\n", any[i]["name"].get<std::string>().c_str());
              if (!status.is_null()) print_status(status[i]["result"]);
              if (!pending.is_null()) {
                std::printf(" pending lookups:\n");
                print_pending(pending[i]["result"]["pending"]);
              }
              if (!cache.is_null()) {
                std::printf(" cache:\n");
                print_cache(cache[i]["result"]["entries"]);
              }
            }
            return 0;
          }};
}};

}  // namespace
}  // namespace routerctl
