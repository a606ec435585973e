#include "control/svp_lab_server.hpp"

#include "control/svp_client.hpp"

#include <yaml-cpp/yaml.h>

#include <boost/asio/write.hpp>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace weft::svp {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// --- mappings ------------------------------------------------------------------

namespace {

[[noreturn]] void bad(const std::string& name, const YAML::Node& n, const std::string& what) {
  const YAML::Mark m = n.Mark();
  throw std::runtime_error(name + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " + what);
}

std::string scalar(const std::string& name, const YAML::Node& item, const char* key, bool required) {
  YAML::Node v = item[key];
  if (!v) {
    if (required) bad(name, item, std::string("missing '") + key + "'");
    return "";
  }
  if (!v.IsScalar()) bad(name, v, std::string(key) + ": expected a single value");
  return v.Scalar();
}

uint64_t number(const std::string& name, const YAML::Node& item, const char* key, uint64_t max, uint64_t dflt,
                bool required) {
  YAML::Node v = item[key];
  if (!v) {
    if (required) bad(name, item, std::string("missing '") + key + "'");
    return dflt;
  }
  const std::string s = v.IsScalar() ? v.Scalar() : "";
  if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos || std::stoull(s) > max)
    bad(name, v, std::string(key) + ": expected a number 0.." + std::to_string(max));
  return std::stoull(s);
}

void only_keys(const std::string& name, const YAML::Node& item, std::initializer_list<const char*> keys) {
  if (!item.IsMap()) bad(name, item, "expected a mapping such as {mac: ..., vni: ...}");
  for (const auto& kv : item) {
    const std::string k = kv.first.as<std::string>();
    bool known = false;
    std::string list;
    for (const char* x : keys) {
      known |= k == x;
      list += (list.empty() ? "" : ", ") + std::string(x);
    }
    if (!known) bad(name, kv.first, "unknown key '" + k + "' (keys: " + list + ")");
  }
}

Mac mac_of(const std::string& name, const YAML::Node& item) {
  auto m = Mac::parse(scalar(name, item, "mac", true));
  if (!m) bad(name, item["mac"], "mac: expected a MAC such as 02:00:00:00:00:01");
  return *m;
}

Addr addr_of(const std::string& name, const YAML::Node& item, const char* key) {
  auto a = IpAddr::parse(scalar(name, item, key, true));
  if (!a) bad(name, item[key], std::string(key) + ": expected an IPv4 or IPv6 address");
  return to_wire(*a);
}

}  // namespace

std::optional<std::pair<Mac, LabMappings::Underlay>> LabMappings::resolve3(uint32_t vni, const Addr& ip) const {
  auto it = vl3.find({vni, ip});
  if (it == vl3.end()) return std::nullopt;
  if (it->second.underlay) return std::make_pair(it->second.mac, *it->second.underlay);
  auto u = vl2.find({vni, it->second.mac});
  if (u == vl2.end()) return std::nullopt;
  return std::make_pair(it->second.mac, u->second);
}

LabMappings parse_lab_mappings(const std::string& text, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(name + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                             ": " + e.msg);
  }
  LabMappings m;
  if (!root || root.IsNull()) return m;
  only_keys(name, root, {"vl2", "vl3", "cns"});
  if (auto l2 = root["vl2"]) {
    if (!l2.IsSequence()) bad(name, l2, "vl2: expected a list");
    for (const auto& i : l2) {
      only_keys(name, i, {"mac", "vni", "ip", "port"});
      const Mac mac = mac_of(name, i);
      const uint32_t vni = static_cast<uint32_t>(number(name, i, "vni", 0xffffff, 0, true));
      LabMappings::Underlay u;
      u.ip = addr_of(name, i, "ip");
      u.port = static_cast<uint16_t>(number(name, i, "port", 65535, 4789, false));
      if (!m.vl2.emplace(std::make_pair(vni, mac), u).second) bad(name, i, "mac " + mac.str() + " vni " + std::to_string(vni) + " listed twice");
    }
  }
  if (auto l3 = root["vl3"]) {
    if (!l3.IsSequence()) bad(name, l3, "vl3: expected a list");
    for (const auto& i : l3) {
      only_keys(name, i, {"ip", "vni", "mac", "underlay", "port", "vlan"});
      const Addr ip = addr_of(name, i, "ip");
      const uint32_t vni = static_cast<uint32_t>(number(name, i, "vni", 0xffffff, 0, true));
      LabMappings::L3 e;
      e.mac = mac_of(name, i);
      e.vlan = static_cast<uint16_t>(number(name, i, "vlan", 4095, 0, false));
      if (i["underlay"]) {
        LabMappings::Underlay u;
        u.ip = addr_of(name, i, "underlay");
        u.port = static_cast<uint16_t>(number(name, i, "port", 65535, 4789, false));
        e.underlay = u;
      } else if (i["port"]) {
        bad(name, i["port"], "port: only with underlay (otherwise the vl2 entry's port is used)");
      }
      if (!m.vl3.emplace(std::make_pair(vni, ip), e).second) bad(name, i, "ip " + from_wire(ip).str() + " vni " + std::to_string(vni) + " listed twice");
    }
  }
  if (auto cns = root["cns"]) {
    if (!cns.IsSequence()) bad(name, cns, "cns: expected a list of underlay IP addresses");
    for (const auto& c : cns) {
      auto a = c.IsScalar() ? IpAddr::parse(c.Scalar()) : std::nullopt;
      if (!a) bad(name, c, "cns: expected an IPv4 or IPv6 address");
      m.cns.insert(to_wire(*a));
    }
  }
  return m;
}

LabMappings load_lab_mappings(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_lab_mappings(ss.str(), path);
}

// --- server ----------------------------------------------------------------------

struct LabServer::Session {
  explicit Session(tcp::socket s) : sock(std::move(s)) {}
  tcp::socket sock;
  StreamReader reader;
  std::vector<uint8_t> rbuf = std::vector<uint8_t>(1 << 16);
  std::vector<uint8_t> out;
  bool writing = false;
  bool closed = false;
  std::optional<Addr> cn;  // the underlay IP of its last LOG_REQ
  std::string peer;
};

LabServer::LabServer(asio::io_context& io, LabMappings m, LabOptions o) : io_(io), m_(std::move(m)), o_(std::move(o)) {
  std::random_device rd;
  next_uuid_ = (uint64_t{rd()} << 32) ^ rd();
  for (const auto& cn : m_.cns) logs_[cn];
}

LabServer::~LabServer() { stop(); }

void LabServer::start() {
  tcp::endpoint ep;
  std::string listen = o_.listen;
  // "ADDR:0" is allowed here (any free port); parse_server refuses port 0.
  bool any = listen.size() > 2 && listen.compare(listen.size() - 2, 2, ":0") == 0;
  if (!ClientConfig::parse_server(any ? listen.substr(0, listen.size() - 2) : listen, ep))
    throw std::runtime_error("bad listen address '" + listen + "'");
  if (any) ep.port(0);
  acceptor_.emplace(io_);
  acceptor_->open(ep.protocol());
  acceptor_->set_option(tcp::acceptor::reuse_address(true));
  acceptor_->bind(ep);
  acceptor_->listen(64);
  port_ = acceptor_->local_endpoint().port();
  do_accept();
}

void LabServer::stop() {
  boost::system::error_code ec;
  if (acceptor_) acceptor_->close(ec);
  acceptor_.reset();
  for (const auto& s : sessions_) {
    s->closed = true;
    s->sock.close(ec);
  }
  sessions_.clear();
}

void LabServer::do_accept() {
  auto self = weak_from_this();
  acceptor_->async_accept([self, this](boost::system::error_code ec, tcp::socket sock) {
    auto keep = self.lock();
    if (!keep || !acceptor_) return;
    if (!ec) {
      auto s = std::make_shared<Session>(std::move(sock));
      boost::system::error_code e2;
      s->sock.set_option(tcp::no_delay(true), e2);
      auto rep = s->sock.remote_endpoint(e2);
      s->peer = rep.address().to_string() + ":" + std::to_string(rep.port());
      sessions_.insert(s);
      c_.connections++;
      say("connection from " + s->peer);
      read(s);
    }
    do_accept();
  });
}

void LabServer::read(const std::shared_ptr<Session>& s) {
  auto self = weak_from_this();
  s->sock.async_read_some(asio::buffer(s->rbuf), [self, this, s](boost::system::error_code e, size_t n) {
    auto keep = self.lock();
    if (!keep || s->closed) return;
    if (e) {
      close(s, e == asio::error::eof ? "closed by the client" : e.message());
      return;
    }
    bool ok = s->reader.feed(s->rbuf.data(), n, [&](const Header& h, const uint8_t* p, size_t len) {
      if (!s->closed) handle(s, h, p, len);
    });
    if (s->closed) return;
    if (!ok) {
      c_.malformed++;
      close(s, std::string("malformed message: ") + to_string(s->reader.error()));
      return;
    }
    read(s);
  });
}

void LabServer::close(const std::shared_ptr<Session>& s, const std::string& why) {
  if (s->closed) return;
  s->closed = true;
  boost::system::error_code ec;
  s->sock.close(ec);
  sessions_.erase(s);
  say("connection from " + s->peer + " closed: " + why);
}

void LabServer::send(const std::shared_ptr<Session>& s, const std::vector<uint8_t>& msg) {
  s->out.insert(s->out.end(), msg.begin(), msg.end());
  if (s->writing) return;
  auto flush = std::make_shared<std::vector<uint8_t>>(std::move(s->out));
  s->out.clear();
  s->writing = true;
  auto self = weak_from_this();
  asio::async_write(s->sock, asio::buffer(*flush), [self, this, s, flush](boost::system::error_code e, size_t) {
    auto keep = self.lock();
    if (!keep || s->closed) return;
    s->writing = false;
    if (e) {
      close(s, "write failed: " + e.message());
      return;
    }
    if (!s->out.empty()) {
      std::vector<uint8_t> more = std::move(s->out);
      s->out.clear();
      send(s, more);
    }
  });
}

void LabServer::handle(const std::shared_ptr<Session>& s, const Header& h, const uint8_t* p, size_t n) {
  c_.requests++;
  c_.by_op[h.op & 15]++;
  std::string err;
  switch (h.op) {
    case kPing:
      send(s, encode(kPong, h.id, {}));
      return;
    case kVl2Req: {
      Vl2Req q;
      if (!decode(p, n, q, err)) break;
      Vl2Ack a;
      auto it = m_.vl2.find({q.vnetid, q.mac});
      if (it == m_.vl2.end()) {
        a.status = kNotFound;
        c_.notfound++;
      } else {
        a.status = kOk;
        a.port = it->second.port;
        a.addr = it->second.ip;
      }
      send(s, encode(kVl2Ack, h.id, payload(a)));
      return;
    }
    case kVl3Req: {
      Vl3Req q;
      if (!decode(p, n, q, err)) break;
      Vl3Ack a;
      if (q.type != kVl3Ip && q.type != kVl3Ipv6) {
        a.status = kBadL3Type;
      } else if (auto r = m_.resolve3(q.vnetid, q.ip)) {
        a.status = kOk;
        a.mac = r->first;
        a.port = r->second.port;
        a.addr = r->second.ip;
      } else {
        a.status = kNotFound;
        c_.notfound++;
      }
      send(s, encode(kVl3Ack, h.id, payload(a)));
      return;
    }
    case kBulkReq: {
      BulkReq q;
      if (!decode(p, n, q, err)) break;
      BulkAck a;
      a.type = q.type;
      a.status = (q.type == kBulkVl2 || q.type == kBulkVl3) ? kFatal : kBadBulk;  // not served here
      send(s, encode(kBulkAck, h.id, payload(a)));
      return;
    }
    case kLogReq: {
      LogReq q;
      if (!decode(p, n, q, err)) break;
      s->cn = q.ip;
      auto& log = logs_[q.ip];
      LogAck a;
      a.status = kOk;
      size_t room = q.count >= kLogAckMinSize ? q.count - kLogAckMinSize : 0;
      for (const auto& r : log) {
        const size_t sz = record_size(r);
        if (sz > room) break;
        room -= sz;
        a.records.push_back(r);
      }
      send(s, encode(kLogAck, h.id, payload(a)));
      return;
    }
    case kLogRm: {
      LogRm q;
      if (!decode(p, n, q, err)) break;
      std::set<Uuid> ids(q.ids.begin(), q.ids.end());
      for (auto& [cn, log] : logs_) {
        if (s->cn && cn != *s->cn) continue;
        std::erase_if(log, [&](const LogRecord& r) { return ids.count(r.id) != 0; });
      }
      send(s, encode(kLogRmAck, h.id, payload(LogRmAck{kOk})));
      return;
    }
    case kShootdown:
      return;  // another node's complaint: nothing to answer
    default:
      c_.malformed++;
      close(s, std::string("unexpected ") + op_name(h.op));
      return;
  }
  c_.malformed++;
  close(s, err);
}

size_t LabServer::set_mappings(LabMappings m) {
  c_.reloads++;
  std::vector<LogRecord> changes;
  auto uuid = [&] {
    Uuid u{};
    const uint64_t v = next_uuid_++;
    for (int i = 0; i < 8; i++) u[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
    u[8] = 0x80;  // RFC 4122 variant; the rest stays 0 apart from the counter
    return u;
  };
  std::vector<Shootdown> shoot;
  for (const auto& [k, v] : m_.vl2) {
    auto it = m.vl2.find(k);
    if (it == m.vl2.end() || !(it->second == v)) {
      LogRecord r;
      r.type = kLogVl2;
      r.id = uuid();
      r.vnetid = k.first;
      r.mac = k.second;
      changes.push_back(r);
      shoot.push_back({k.second, k.first});
    }
  }
  // VL3 answers change with their own entry or with the vl2 entry they use.
  for (const auto& [k, v] : m_.vl3) {
    auto before = m_.resolve3(k.first, k.second);
    auto after = m.resolve3(k.first, k.second);
    auto it = m.vl3.find(k);
    const bool same = it != m.vl3.end() && it->second.vlan == v.vlan && before == after;
    if (!same) {
      LogRecord r;
      r.type = kLogVl3;
      r.id = uuid();
      r.vnetid = k.first;
      r.ip = k.second;
      r.vlan = v.vlan;
      changes.push_back(r);
    }
  }
  for (const auto& cn : m.cns) logs_[cn];
  m_ = std::move(m);
  for (auto& [cn, log] : logs_)
    for (const auto& r : changes) {
      LogRecord x = r;
      x.id = uuid();  // ids are per log entry
      log.push_back(x);
    }
  c_.records += changes.size();
  if (o_.shootdown) {
    for (const auto& sd : shoot)
      for (const auto& s : std::set<std::shared_ptr<Session>>(sessions_)) {
        c_.shootdowns++;
        send(s, encode(kShootdown, 0, payload(sd)));
      }
  }
  say("mappings replaced: " + std::to_string(m_.vl2.size()) + " vl2, " + std::to_string(m_.vl3.size()) + " vl3; " +
      std::to_string(changes.size()) + " change(s) logged for " + std::to_string(logs_.size()) + " compute node(s)");
  return changes.size();
}

size_t LabServer::log_size(const Addr& cn) const {
  auto it = logs_.find(cn);
  return it == logs_.end() ? 0 : it->second.size();
}

nlohmann::json LabServer::status() const {
  nlohmann::json logs = nlohmann::json::object();
  for (const auto& [cn, log] : logs_) logs[from_wire(cn).str()] = log.size();
  nlohmann::json ops = nlohmann::json::object();
  for (uint16_t op = 1; op <= kShootdown; op++)
    if (c_.by_op[op]) ops[op_name(op)] = c_.by_op[op];
  return {{"port", port_},
          {"sessions", sessions_.size()},
          {"vl2", m_.vl2.size()},
          {"vl3", m_.vl3.size()},
          {"logs", logs},
          {"counters",
           {{"connections", c_.connections},
            {"requests", c_.requests},
            {"by_op", ops},
            {"notfound", c_.notfound},
            {"malformed", c_.malformed},
            {"reloads", c_.reloads},
            {"records", c_.records},
            {"shootdowns", c_.shootdowns}}}};
}

}  // namespace weft::svp
