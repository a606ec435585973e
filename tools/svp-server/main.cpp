// svp-server: a Portolan-compatible SVP v1 server for labs and tests.
//
//   svp-server -c mappings.yaml [-l 127.0.0.1:1296] [--shootdown] [--port-file F]
//
// Serves the VL2/VL3 mappings of a YAML file (format: see
// elements/svp/control/svp_lab_server.hpp and docs/overlay.md). SIGHUP reloads
// the file: what changed goes into every compute node's change log (LOG_REQ /
// LOG_RM) and, with --shootdown, out as SHOOTDOWN to connected clients; a
// file with errors is refused and the old mappings stay. SIGUSR1 prints the
// status as JSON on stdout. SIGTERM/SIGINT stop it (exit status 0).
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>

#include "cli_json.hpp"

#include "control/svp_lab_server.hpp"

namespace {

void say(const std::string& line) {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char t[32];
  std::strftime(t, sizeof t, "%H:%M:%S", std::localtime(&now));
  std::fprintf(stderr, "%s svp-server: %s\n", t, line.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Portolan-compatible SVP v1 server for labs and tests"};
  std::string file, listen = "127.0.0.1:1296", port_file;
  bool shootdown = false;
  app.add_option("-c,--config", file, "mappings file (YAML)")->required();
  app.add_option("-l,--listen", listen, "address:port to listen on (port 0: any free port)");
  app.add_flag("--shootdown", shootdown, "send SHOOTDOWN to connected clients for VL2 entries a reload changed");
  app.add_option("--port-file", port_file, "write the port listened on to this file once listening");
  weft::cli::add_json_dump(app);  // for the manual page
  CLI11_PARSE(app, argc, argv);

  weft::svp::LabMappings m;
  try {
    m = weft::svp::load_lab_mappings(file);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "svp-server: %s\n", e.what());
    return 1;
  }
  boost::asio::io_context io;
  auto server = std::make_shared<weft::svp::LabServer>(io, std::move(m), weft::svp::LabOptions{listen, shootdown});
  server->on_log = say;
  try {
    server->start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "svp-server: cannot listen on %s: %s\n", listen.c_str(), e.what());
    return 1;
  }
  say("listening on port " + std::to_string(server->port()) + ", " + std::to_string(server->mappings().vl2.size()) +
      " vl2 and " + std::to_string(server->mappings().vl3.size()) + " vl3 mappings from " + file);
  if (!port_file.empty()) {
    // Written whole then renamed: a reader never sees half a number.
    const std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << server->port() << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }

  boost::asio::signal_set stop(io, SIGTERM, SIGINT);
  stop.async_wait([&](boost::system::error_code, int sig) {
    say(std::string("stopping (") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ")");
    server->stop();
    io.stop();
  });
  boost::asio::signal_set hup(io, SIGHUP, SIGUSR1);
  std::function<void()> wait_hup = [&] {
    hup.async_wait([&](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGUSR1) {
        std::cout << server->status().dump() << std::endl;
      } else {
        try {
          auto fresh = weft::svp::load_lab_mappings(file);
          server->set_mappings(std::move(fresh));
        } catch (const std::exception& e) {
          say(std::string("reload refused, the old mappings stay: ") + e.what());
        }
      }
      wait_hup();
    });
  };
  wait_hup();
  io.run();
  return 0;
}
