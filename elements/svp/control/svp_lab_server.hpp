// LabServer: a Portolan-compatible SVP v1 server for labs and tests (the
// tools/svp-server program, and in-process in unit tests and benchmarks).
//
// It answers PING, VL2_REQ, VL3_REQ, LOG_REQ and LOG_RM from a set of
// mappings, reports BULK_REQ as unsupported (BULK_ACK with status FATAL for
// the two bulk types, BADBULK for others) and keeps a change log per compute
// node: when the mappings are replaced (set_mappings, e.g. on SIGHUP), every
// VL2 entry (MAC, VNI) and VL3 entry (IP, VNI) that changed or went away
// becomes a record in the log of every known compute node — those listed
// under `cns`, and every underlay IP that sent a LOG_REQ — until that node
// removes it with LOG_RM. With `shootdown`, a changed VL2 entry is also sent
// as SHOOTDOWN to every connected client.
//
// A client sending a message it cannot trust (bad CRC, version, size, op) is
// disconnected and counted.
//
// Mappings file (YAML):
//   vl2:  [{mac: MAC, vni: N, ip: UNDERLAY_IP, port: UDP_PORT (default 4789)}]
//   vl3:  [{ip: OVERLAY_IP, vni: N, mac: MAC, underlay: IP (default: the vl2
//          entry of mac+vni), port: N (default: that entry's), vlan: N (default 0)}]
//   cns:  [UNDERLAY_IP]   compute nodes whose change log starts with the file
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "control/svp_proto.hpp"

namespace weft::svp {

struct LabMappings {
  struct Underlay {
    Addr ip{};
    uint16_t port = 4789;
    bool operator==(const Underlay&) const = default;
  };
  struct L3 {
    Mac mac{};
    std::optional<Underlay> underlay;  // absent: the vl2 entry of mac+vni
    uint16_t vlan = 0;
    bool operator==(const L3&) const = default;
  };
  std::map<std::pair<uint32_t, Mac>, Underlay> vl2;  // (vni, mac)
  std::map<std::pair<uint32_t, Addr>, L3> vl3;       // (vni, ip)
  std::set<Addr> cns;

  // The answer to a VL3 lookup: MAC and underlay, or nullopt (NOTFOUND).
  std::optional<std::pair<Mac, Underlay>> resolve3(uint32_t vni, const Addr& ip) const;
};

// Parses a mappings file; throws std::runtime_error("FILE:LINE:COL: what").
LabMappings load_lab_mappings(const std::string& path);
LabMappings parse_lab_mappings(const std::string& yaml_text, const std::string& name);

struct LabOptions {
  std::string listen = "127.0.0.1:1296";  // port 0: any free port
  bool shootdown = false;
};

class LabServer : public std::enable_shared_from_this<LabServer> {
 public:
  LabServer(boost::asio::io_context& io, LabMappings m, LabOptions o);
  ~LabServer();
  // Listens; throws std::runtime_error if it cannot.
  void start();
  void stop();
  uint16_t port() const { return port_; }

  // Replaces the mappings; returns the number of change-log records added
  // (per compute node) and sends shootdowns if configured.
  size_t set_mappings(LabMappings m);
  const LabMappings& mappings() const { return m_; }
  // Records waiting in the log of compute node `cn` (its underlay IP).
  size_t log_size(const Addr& cn) const;

  std::function<void(const std::string&)> on_log;  // one line per event (default: none)
  nlohmann::json status() const;
  size_t sessions() const { return sessions_.size(); }

 private:
  struct Session;
  void do_accept();
  void read(const std::shared_ptr<Session>& s);
  void send(const std::shared_ptr<Session>& s, const std::vector<uint8_t>& msg);
  void handle(const std::shared_ptr<Session>& s, const Header& h, const uint8_t* p, size_t n);
  void close(const std::shared_ptr<Session>& s, const std::string& why);
  void say(const std::string& line) const {
    if (on_log) on_log(line);
  }

  boost::asio::io_context& io_;
  LabMappings m_;
  LabOptions o_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  uint16_t port_ = 0;
  std::set<std::shared_ptr<Session>> sessions_;
  std::map<Addr, std::vector<LogRecord>> logs_;  // per compute node
  uint64_t next_uuid_ = 1;
  struct Counters {
    uint64_t connections = 0, requests = 0, malformed = 0, reloads = 0, records = 0, shootdowns = 0;
    uint64_t by_op[16] = {};
    uint64_t notfound = 0;
  } c_;
};

}  // namespace weft::svp
