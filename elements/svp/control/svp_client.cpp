#include "control/svp_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "weft/log.hpp"

namespace weft::svp {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::string endpoint_text(const tcp::endpoint& e) {
  std::string a = e.address().to_string();
  if (e.address().is_v6()) a = "[" + a + "]";
  return a + ":" + std::to_string(e.port());
}

template <class D>
D seconds(double s) {
  return std::chrono::duration_cast<D>(std::chrono::duration<double>(s));
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::Reply: return "reply";
    case Outcome::Timeout: return "timeout";
    case Outcome::Refused: return "refused";
  }
  return "?";
}

const char* to_string(SvpClient::State s) {
  switch (s) {
    case SvpClient::State::Stopped: return "stopped";
    case SvpClient::State::Connecting: return "connecting";
    case SvpClient::State::Handshake: return "handshake";
    case SvpClient::State::Up: return "up";
    case SvpClient::State::Backoff: return "backoff";
  }
  return "?";
}

bool ClientConfig::parse_server(const std::string& text, tcp::endpoint& out) {
  std::string host, port = std::to_string(kDefaultPort);
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) return false;
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return false;
      port = text.substr(close + 2);
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon != std::string::npos && text.find(':') == colon) {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
    } else {
      host = text;  // IPv4 without a port, or a bare IPv6 address
    }
  }
  const auto ip = IpAddr::parse(host);
  if (!ip) return false;
  asio::ip::address addr;
  if (ip->v4()) addr = asio::ip::address_v4(ip->ip4().host());
  else addr = asio::ip::address_v6(ip->ip6().bytes);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
  unsigned long p = std::stoul(port);
  if (p == 0 || p > 65535) return false;
  out = tcp::endpoint(addr, static_cast<uint16_t>(p));
  return true;
}

SvpClient::SvpClient(asio::io_context& io, ClientConfig cfg)
    : io_(io), cfg_(std::move(cfg)), tick_timer_(io), backoff_timer_(io), rbuf_(1 << 16) {
  for (const auto& s : cfg_.servers) {
    tcp::endpoint e;
    if (ClientConfig::parse_server(s, e)) endpoints_.push_back(e);
    else WEFT_LOG(Error, "SVP: bad server address '%s' ignored", s.c_str());
  }
  state_since_ = last_rx_ = last_tx_ = Clock::now();
}

SvpClient::~SvpClient() {
  gen_++;
  close_socket();
}

std::string SvpClient::server() const {
  if (endpoints_.empty()) return "";
  return endpoint_text(endpoints_[current_ % endpoints_.size()]);
}

void SvpClient::set_state(State s) {
  if (s == state_) return;
  const bool was_up = state_ == State::Up;
  state_ = s;
  state_since_ = Clock::now();
  if (was_up != (s == State::Up) && on_state) on_state(s == State::Up);
}

uint32_t SvpClient::next_id() {
  do {
    ++last_id_;
  } while (last_id_ == 0 || inflight_.count(last_id_));
  return last_id_;
}

void SvpClient::start() {
  if (state_ != State::Stopped) return;
  set_state(State::Connecting);
  connect();
  arm_tick();
}

void SvpClient::stop() {
  gen_++;
  close_socket();
  backoff_timer_.cancel();
  tick_timer_.cancel();
  ticking_ = false;
  set_state(State::Stopped);
  std::deque<Req> all;
  for (auto& [id, r] : inflight_) all.push_back(std::move(r));
  inflight_.clear();
  for (auto& r : waiting_) all.push_back(std::move(r));
  waiting_.clear();
  for (auto& r : all) {
    c_.refused++;
    complete(r, Outcome::Refused, nullptr, nullptr, 0);
  }
}

void SvpClient::reconfigure(const ClientConfig& cfg) {
  const bool servers_changed = cfg.servers != cfg_.servers;
  cfg_ = cfg;
  if (!servers_changed) return;
  endpoints_.clear();
  for (const auto& s : cfg_.servers) {
    tcp::endpoint e;
    if (ClientConfig::parse_server(s, e)) endpoints_.push_back(e);
  }
  current_ = 0;
  failed_in_round_ = 0;
  backoff_s_ = 0;
  if (state_ == State::Stopped) return;
  gen_++;
  close_socket();
  backoff_timer_.cancel();
  for (auto it = inflight_.rbegin(); it != inflight_.rend(); ++it) waiting_.push_front(std::move(it->second));
  inflight_.clear();
  set_state(State::Connecting);
  connect();
}

void SvpClient::close_socket() {
  if (sock_) {
    boost::system::error_code ec;
    sock_->close(ec);
    sock_.reset();
  }
  writing_ = false;
  wpending_.clear();
}

void SvpClient::connect() {
  if (endpoints_.empty()) {
    last_error_ = "no server configured";
    set_state(State::Backoff);
    return;
  }
  gen_++;
  close_socket();
  sock_.emplace(io_);
  set_state(State::Connecting);
  const tcp::endpoint ep = endpoints_[current_ % endpoints_.size()];
  auto self = weak_from_this();
  sock_->async_connect(ep, [self, this, gen = gen_, ep](boost::system::error_code ec) {
    auto keep = self.lock();
    if (!keep || gen != gen_) return;
    if (ec) {
      c_.connect_failures++;
      fail("cannot connect to " + endpoint_text(ep) + ": " + ec.message(), false);
      return;
    }
    on_connected();
  });
}

void SvpClient::on_connected() {
  c_.connects++;
  boost::system::error_code ec;
  sock_->set_option(tcp::no_delay(true), ec);
  reader_.reset();
  last_rx_ = last_tx_ = Clock::now();
  WEFT_LOG(Notice, "SVP: connected to %s", server().c_str());
  read_more();
  if (cfg_.ping_on_connect) {
    set_state(State::Handshake);
    handshake_id_ = next_id();
    const auto m = encode(kPing, handshake_id_, {});
    wpending_.insert(wpending_.end(), m.begin(), m.end());
    c_.by_op_sent[kPing]++;
    write_more();
  } else {
    set_state(State::Up);
    backoff_s_ = 0;
    failed_in_round_ = 0;
    pump();
  }
}

double SvpClient::state_seconds() const { return std::chrono::duration<double>(Clock::now() - state_since_).count(); }

void SvpClient::fail(const std::string& why, bool protocol_error) {
  const bool was_connected = state_ == State::Up || state_ == State::Handshake;
  if (was_connected) c_.disconnects++;
  last_error_ = why;
  if (!protocol_error) {  // (a protocol error comes from inside the reader: on_connected resets it)
    if (sock_ && reader_.buffered() && reader_.error() == StreamReader::Error::None) {
      c_.truncated++;  // the connection ended inside a message
      last_error_ += "; an incomplete message (" + std::to_string(reader_.buffered()) + " bytes) was dropped";
    }
    reader_.reset();
  }
  weft::log(protocol_error ? LogLevel::Warning : LogLevel::Notice, "SVP: %s%s", last_error_.c_str(),
           protocol_error ? " (connection reset)" : "");
  gen_++;
  close_socket();
  // What was in flight is sent again on the next connection, first.
  c_.resent += inflight_.size();
  for (auto it = inflight_.rbegin(); it != inflight_.rend(); ++it) waiting_.push_front(std::move(it->second));
  inflight_.clear();
  if (endpoints_.size() > 1) c_.failovers++;
  if (!endpoints_.empty()) current_ = (current_ + 1) % endpoints_.size();
  failed_in_round_++;
  schedule_reconnect();
}

void SvpClient::schedule_reconnect() {
  if (state_ == State::Stopped) return;
  if (failed_in_round_ < endpoints_.size()) {
    // Another server to try at once (posted: never recurse into connect).
    set_state(State::Connecting);
    auto self = weak_from_this();
    asio::post(io_, [self, this, gen = gen_] {
      auto keep = self.lock();
      if (!keep || gen != gen_ || state_ == State::Stopped) return;
      connect();
    });
    return;
  }
  failed_in_round_ = 0;
  backoff_s_ = backoff_s_ == 0 ? cfg_.backoff_min_s : std::min(backoff_s_ * 2, cfg_.backoff_max_s);
  set_state(State::Backoff);
  backoff_timer_.expires_after(seconds<Clock::duration>(backoff_s_));
  auto self = weak_from_this();
  backoff_timer_.async_wait([self, this, gen = gen_](boost::system::error_code e) {
    auto keep = self.lock();
    if (!keep || e || gen != gen_ || state_ != State::Backoff) return;
    connect();
  });
}

void SvpClient::request(uint16_t op, std::vector<uint8_t> payload, Done done) {
  if (state_ == State::Stopped || waiting_.size() >= cfg_.max_queued) {
    c_.refused++;
    if (done) done(Outcome::Refused, nullptr, nullptr, 0);
    return;
  }
  c_.requests++;
  waiting_.push_back({op, std::move(payload), std::move(done), Clock::now() + seconds<Clock::duration>(cfg_.timeout_s)});
  pump();
}

void SvpClient::pump() {
  if (state_ != State::Up || !sock_) return;
  bool wrote = false;
  while (!waiting_.empty() && inflight_.size() < cfg_.window) {
    Req r = std::move(waiting_.front());
    waiting_.pop_front();
    const uint32_t id = next_id();
    send_now(id, r);
    inflight_.emplace(id, std::move(r));
    wrote = true;
  }
  if (wrote) write_more();
}

void SvpClient::send_now(uint32_t id, const Req& r) {
  const auto m = encode(r.op, id, r.payload);
  wpending_.insert(wpending_.end(), m.begin(), m.end());
  c_.by_op_sent[r.op & 15]++;
}

void SvpClient::write_more() {
  if (writing_ || wpending_.empty() || !sock_) return;
  auto buf = std::make_shared<std::vector<uint8_t>>(std::move(wpending_));
  wpending_.clear();
  writing_ = true;
  last_tx_ = Clock::now();
  auto self = weak_from_this();
  asio::async_write(*sock_, asio::buffer(*buf), [self, this, buf, gen = gen_](boost::system::error_code ec, size_t n) {
    auto keep = self.lock();
    if (!keep || gen != gen_) return;
    writing_ = false;
    if (ec) {
      fail("write to " + server() + " failed: " + ec.message(), false);
      return;
    }
    c_.bytes_out += n;
    write_more();
  });
}

void SvpClient::read_more() {
  auto self = weak_from_this();
  sock_->async_read_some(asio::buffer(rbuf_), [self, this, gen = gen_](boost::system::error_code ec, size_t n) {
    auto keep = self.lock();
    if (!keep || gen != gen_) return;
    if (ec) {
      fail(ec == asio::error::eof ? server() + " closed the connection" : "read from " + server() + ": " + ec.message(),
           false);
      return;
    }
    c_.bytes_in += n;
    last_rx_ = Clock::now();
    on_bytes(rbuf_.data(), n);
    if (gen == gen_ && sock_) read_more();
  });
}

void SvpClient::on_bytes(const uint8_t* p, size_t n) {
  const uint64_t g = gen_;
  bool ok = reader_.feed(p, n, [&](const Header& h, const uint8_t* q, size_t len) {
    if (g == gen_) on_message(h, q, len);
  });
  if (ok || g != gen_) return;
  const Header& h = reader_.bad_header();
  switch (reader_.error()) {
    case StreamReader::Error::BadCrc: c_.bad_crc++; break;
    case StreamReader::Error::BadVersion: c_.bad_version++; break;
    case StreamReader::Error::TooLarge: c_.too_large++; break;
    case StreamReader::Error::None: break;
  }
  fail(std::string("malformed message from ") + server() + ": " + to_string(reader_.error()) + " (version " +
           std::to_string(h.version) + ", " + op_name(h.op) + ", size " + std::to_string(h.size) + ", id " +
           std::to_string(h.id) + ")",
       true);
}

void SvpClient::on_message(const Header& h, const uint8_t* p, size_t n) {
  if (h.op == 0 || h.op > kShootdown) {
    c_.unknown_op++;
    fail("unknown op " + std::to_string(h.op) + " from " + server(), true);
    return;
  }
  c_.by_op_received[h.op]++;
  std::string err;
  if (h.op == kShootdown) {
    Shootdown sd;
    if (!decode(p, n, sd, err)) {
      c_.bad_size++;
      fail(err, true);
      return;
    }
    c_.shootdowns++;
    if (on_shootdown) on_shootdown(sd);
    return;
  }
  if (h.op == kPing) {  // the server checks on us
    c_.server_pings++;
    const auto m = encode(kPong, h.id, {});
    wpending_.insert(wpending_.end(), m.begin(), m.end());
    c_.by_op_sent[kPong]++;
    write_more();
    return;
  }
  if (state_ == State::Handshake) {
    if (h.op != kPong || h.id != handshake_id_ || n != 0) {
      c_.unsolicited_id++;
      fail(std::string("expected the PONG to our PING, got ") + op_name(h.op) + " id " + std::to_string(h.id), true);
      return;
    }
    c_.handshakes++;
    backoff_s_ = 0;
    failed_in_round_ = 0;
    set_state(State::Up);
    WEFT_LOG(Info, "SVP: %s answered PING: session up", server().c_str());
    pump();
    return;
  }
  auto it = inflight_.find(h.id);
  if (it == inflight_.end()) {
    c_.unsolicited_id++;
    fail(std::string(op_name(h.op)) + " id " + std::to_string(h.id) + " from " + server() + " answers no request of ours",
         true);
    return;
  }
  const uint16_t want = reply_op(it->second.op);
  if (h.op != want) {
    c_.unknown_op++;
    fail(std::string(op_name(h.op)) + " id " + std::to_string(h.id) + " does not answer " + op_name(it->second.op), true);
    return;
  }
  bool size_ok = true;
  switch (h.op) {
    case kPong: size_ok = n == 0; break;
    case kVl2Ack: size_ok = n == kVl2AckSize; break;
    case kVl3Ack: size_ok = n == kVl3AckSize; break;
    case kLogRmAck: size_ok = n == kLogRmAckSize; break;
    case kBulkAck: size_ok = n >= kBulkAckMinSize; break;
    case kLogAck: {
      // At least the status, at most the bytes we said we accept.
      const auto& q = it->second.payload;
      size_ok = n >= kLogAckMinSize && q.size() >= 4 && n <= be32(q.data());
      break;
    }
  }
  if (!size_ok) {
    c_.bad_size++;
    fail(std::string(op_name(h.op)) + " id " + std::to_string(h.id) + " from " + server() + " has " + std::to_string(n) +
             " payload bytes",
         true);
    return;
  }
  if (h.op != kPong && n >= 4) {
    const uint32_t status = h.op == kVl2Ack ? static_cast<uint32_t>((p[0] << 8) | p[1]) : be32(p);
    (status == kOk ? c_.status_ok : status == kNotFound ? c_.status_notfound : c_.status_other)++;
  }
  Req r = std::move(it->second);
  inflight_.erase(it);
  c_.replies++;
  complete(r, Outcome::Reply, &h, p, n);
  pump();
}

void SvpClient::complete(Req& r, Outcome o, const Header* h, const uint8_t* p, size_t n) {
  Done d = std::move(r.done);
  if (!d) return;
  try {
    d(o, h, p, n);
  } catch (const std::exception& e) {
    WEFT_LOG(Error, "SVP: a reply handler failed: %s", e.what());
  }
}

void SvpClient::arm_tick() {
  if (ticking_) return;
  ticking_ = true;
  const double step = std::clamp(cfg_.timeout_s / 8, 0.01, 0.1);
  tick_timer_.expires_after(seconds<Clock::duration>(step));
  auto self = weak_from_this();
  tick_timer_.async_wait([self, this](boost::system::error_code e) {
    auto keep = self.lock();
    if (!keep) return;
    ticking_ = false;
    if (e || state_ == State::Stopped) return;
    tick();
    arm_tick();
  });
}

void SvpClient::tick() {
  const auto now = Clock::now();
  const auto timeout = seconds<Clock::duration>(cfg_.timeout_s);
  if ((state_ == State::Connecting || state_ == State::Handshake) && sock_ && now - state_since_ > timeout) {
    if (state_ == State::Connecting) c_.connect_failures++;
    fail(std::string(state_ == State::Connecting ? "connecting to " : "no PONG from ") + server() + " within " +
             std::to_string(cfg_.timeout_s) + " s",
         false);
  }
  // Waiting requests are in deadline order.
  while (!waiting_.empty() && waiting_.front().deadline <= now) {
    Req r = std::move(waiting_.front());
    waiting_.pop_front();
    c_.timeouts++;
    complete(r, Outcome::Timeout, nullptr, nullptr, 0);
  }
  bool stalled = false;
  for (auto it = inflight_.begin(); it != inflight_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    Req r = std::move(it->second);
    it = inflight_.erase(it);
    c_.timeouts++;
    stalled = true;
    complete(r, Outcome::Timeout, nullptr, nullptr, 0);
  }
  if (stalled && state_ == State::Up) {
    c_.stalls++;
    fail(server() + " left a request unanswered for " + std::to_string(cfg_.timeout_s) + " s", false);
    return;
  }
  if (state_ == State::Up && inflight_.empty() && waiting_.empty() && cfg_.keepalive_s > 0) {
    const auto idle = seconds<Clock::duration>(cfg_.keepalive_s);
    if (now - last_rx_ > idle && now - last_tx_ > idle) {
      c_.keepalives++;
      request(kPing, {}, nullptr);
    }
  }
}

// --- typed helpers -------------------------------------------------------------

void SvpClient::ping(std::function<void(Outcome)> done) {
  request(kPing, {}, [done](Outcome o, const Header*, const uint8_t*, size_t) {
    if (done) done(o);
  });
}

namespace {
template <class Ack>
SvpClient::Done typed(std::function<void(Outcome, const Ack&)> done) {
  return [done = std::move(done)](Outcome o, const Header*, const uint8_t* p, size_t n) {
    Ack a{};
    if (o == Outcome::Reply) {
      std::string err;
      decode(p, n, a, err);  // sizes were checked before
    }
    if (done) done(o, a);
  };
}
}  // namespace

void SvpClient::vl2(const Vl2Req& q, std::function<void(Outcome, const Vl2Ack&)> done) {
  request(kVl2Req, payload(q), typed<Vl2Ack>(std::move(done)));
}
void SvpClient::vl3(const Vl3Req& q, std::function<void(Outcome, const Vl3Ack&)> done) {
  request(kVl3Req, payload(q), typed<Vl3Ack>(std::move(done)));
}
void SvpClient::log(const LogReq& q, std::function<void(Outcome, const LogAck&)> done) {
  // A LOG_ACK whose records do not parse is a protocol error like a bad size.
  auto self = weak_from_this();
  request(kLogReq, payload(q), [self, this, done = std::move(done)](Outcome o, const Header* h, const uint8_t* p, size_t n) {
    LogAck a{};
    if (o == Outcome::Reply) {
      std::string err;
      if (!decode(p, n, a, err)) {
        auto keep = self.lock();
        if (keep) {
          c_.bad_size++;
          fail("LOG_ACK id " + std::to_string(h->id) + ": " + err, true);
        }
        if (done) done(Outcome::Timeout, LogAck{});
        return;
      }
    }
    if (done) done(o, a);
  });
}
void SvpClient::log_rm(const LogRm& q, std::function<void(Outcome, const LogRmAck&)> done) {
  request(kLogRm, payload(q), typed<LogRmAck>(std::move(done)));
}
void SvpClient::bulk(const BulkReq& q, std::function<void(Outcome, const BulkAck&)> done) {
  request(kBulkReq, payload(q), typed<BulkAck>(std::move(done)));
}

nlohmann::json SvpClient::status() const {
  nlohmann::json s;
  s["state"] = to_string(state_);
  s["server"] = server();
  nlohmann::json servers = nlohmann::json::array();
  for (const auto& e : endpoints_) servers.push_back(endpoint_text(e));
  s["servers"] = servers;
  s["for_seconds"] = std::chrono::duration<double>(Clock::now() - state_since_).count();
  if (!last_error_.empty()) s["last_error"] = last_error_;
  if (state_ == State::Backoff) s["backoff_seconds"] = backoff_s_;
  s["in_flight"] = inflight_.size();
  s["queued"] = waiting_.size();
  nlohmann::json sent = nlohmann::json::object(), recv = nlohmann::json::object();
  for (uint16_t op = 1; op <= kShootdown; op++) {
    if (c_.by_op_sent[op]) sent[op_name(op)] = c_.by_op_sent[op];
    if (c_.by_op_received[op]) recv[op_name(op)] = c_.by_op_received[op];
  }
  s["counters"] = {{"connects", c_.connects},
                   {"connect_failures", c_.connect_failures},
                   {"disconnects", c_.disconnects},
                   {"failovers", c_.failovers},
                   {"handshakes", c_.handshakes},
                   {"requests", c_.requests},
                   {"replies", c_.replies},
                   {"timeouts", c_.timeouts},
                   {"refused", c_.refused},
                   {"resent", c_.resent},
                   {"stalls", c_.stalls},
                   {"shootdowns", c_.shootdowns},
                   {"server_pings", c_.server_pings},
                   {"keepalives", c_.keepalives},
                   {"bytes_out", c_.bytes_out},
                   {"bytes_in", c_.bytes_in},
                   {"status", {{"ok", c_.status_ok}, {"notfound", c_.status_notfound}, {"other", c_.status_other}}},
                   {"sent", sent},
                   {"received", recv},
                   {"malformed",
                    {{"bad_crc", c_.bad_crc},
                     {"bad_version", c_.bad_version},
                     {"bad_size", c_.bad_size},
                     {"unknown_op", c_.unknown_op},
                     {"unsolicited_id", c_.unsolicited_id},
                     {"too_large", c_.too_large},
                     {"truncated", c_.truncated}}}};
  return s;
}

}  // namespace weft::svp
