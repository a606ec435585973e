// SvpClient: one SVP v1 session to Portolan at a time, over TCP, on a
// Boost.Asio io_context (the router's control thread). Never blocks.
//
//   servers    tried in order; a failed connection, a protocol error or a
//              silent server moves to the next one (failover); after a whole
//              round without success it waits `backoff` (doubling from
//              backoff_min up to backoff_max, reset by a good session)
//   handshake  with `ping_on_connect`, a connection is up once the server
//              answered a PING with a PONG (linux-cn-varpd does the same);
//              until then nothing else is sent
//   pipelining requests get increasing ids and are written back to back,
//              up to `window` awaiting their replies; replies may come in
//              any order and are matched by id
//   timeouts   a request not answered `timeout` seconds after it was asked
//              fails with Outcome::Timeout; if it was waiting on the
//              connection, the server is considered stuck and the connection
//              is reset (the others are sent again on the next one)
//   keepalive  an idle session sends a PING every `keepalive` seconds
//
// A reply that cannot be trusted — bad CRC, wrong version, a size that does
// not fit its op, an op that is not a reply to its request, an id nobody
// asked for, an oversized message — is counted by reason and resets the
// connection; the client reconnects (next server) and sends again what was
// in flight. SHOOTDOWN from the server (no id of ours) goes to on_shootdown;
// a PING from the server is answered with a PONG.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "control/svp_proto.hpp"

namespace weft::svp {

struct ClientConfig {
  std::vector<std::string> servers;  // "192.0.2.1:1296", "[2001:db8::1]:1296" (a missing port: 1296)
  double timeout_s = 2;
  double backoff_min_s = 0.25;
  double backoff_max_s = 16;
  double keepalive_s = 10;
  uint32_t window = 4096;      // requests awaiting a reply on the connection
  uint32_t max_queued = 1u << 20;  // requests waiting for a connection or the window
  bool ping_on_connect = true;
  bool operator==(const ClientConfig&) const = default;

  // Parses "ADDR[:PORT]" / "[V6]:PORT"; false if malformed.
  static bool parse_server(const std::string& text, boost::asio::ip::tcp::endpoint& out);
};

enum class Outcome {
  Reply,     // the server answered (look at the reply's status)
  Timeout,   // no answer within `timeout`
  Refused,   // the queue was full, or the client is stopped
};
const char* to_string(Outcome o);

struct ClientCounters {
  uint64_t connects = 0, connect_failures = 0, disconnects = 0, failovers = 0, handshakes = 0;
  uint64_t requests = 0, replies = 0, timeouts = 0, refused = 0, resent = 0, stalls = 0;
  uint64_t shootdowns = 0, server_pings = 0, keepalives = 0;
  uint64_t bytes_out = 0, bytes_in = 0;
  // Malformed input, each resetting the connection.
  uint64_t bad_crc = 0, bad_version = 0, bad_size = 0, unknown_op = 0, unsolicited_id = 0, too_large = 0;
  uint64_t truncated = 0;  // a message cut short by the end of its connection (dropped)
  uint64_t by_op_sent[16] = {}, by_op_received[16] = {};
  uint64_t status_ok = 0, status_notfound = 0, status_other = 0;
};

class SvpClient : public std::enable_shared_from_this<SvpClient> {
 public:
  enum class State { Stopped, Connecting, Handshake, Up, Backoff };
  // The reply's header and payload (valid only with Outcome::Reply, during the call).
  using Done = std::function<void(Outcome, const Header*, const uint8_t* payload, size_t n)>;

  SvpClient(boost::asio::io_context& io, ClientConfig cfg);
  ~SvpClient();

  void start();
  void stop();  // fails everything pending with Refused
  // New servers/timeouts apply at once; a changed server list restarts the session.
  void reconfigure(const ClientConfig& cfg);

  // Generic request: `op` with `payload`; `done` runs exactly once, on the io_context.
  void request(uint16_t op, std::vector<uint8_t> payload, Done done);

  // Typed helpers (status inside the reply; on Timeout/Refused the reply is default).
  void ping(std::function<void(Outcome)> done);
  void vl2(const Vl2Req& q, std::function<void(Outcome, const Vl2Ack&)> done);
  void vl3(const Vl3Req& q, std::function<void(Outcome, const Vl3Ack&)> done);
  void log(const LogReq& q, std::function<void(Outcome, const LogAck&)> done);
  void log_rm(const LogRm& q, std::function<void(Outcome, const LogRmAck&)> done);
  void bulk(const BulkReq& q, std::function<void(Outcome, const BulkAck&)> done);

  std::function<void(const Shootdown&)> on_shootdown;
  std::function<void(bool up)> on_state;  // the session came up / went down

  State state() const { return state_; }
  bool up() const { return state_ == State::Up; }
  const ClientCounters& counters() const { return c_; }
  size_t in_flight() const { return inflight_.size(); }
  size_t queued() const { return waiting_.size(); }
  std::string server() const;  // the server in use or being tried ("" if none)
  const std::string& last_error() const { return last_error_; }
  double state_seconds() const;  // in the current state
  nlohmann::json status() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Req {
    uint16_t op;
    std::vector<uint8_t> payload;
    Done done;
    Clock::time_point deadline;
  };

  void connect();
  void on_connected();
  void fail(const std::string& why, bool protocol_error);
  void close_socket();
  void schedule_reconnect();
  void pump();  // moves waiting requests into the window and writes them
  void send_now(uint32_t id, const Req& r);
  void write_more();
  void read_more();
  void on_bytes(const uint8_t* p, size_t n);
  void on_message(const Header& h, const uint8_t* p, size_t n);
  void tick();
  void arm_tick();
  void complete(Req& r, Outcome o, const Header* h, const uint8_t* p, size_t n);
  void set_state(State s);
  uint32_t next_id();

  boost::asio::io_context& io_;
  ClientConfig cfg_;
  std::vector<boost::asio::ip::tcp::endpoint> endpoints_;
  size_t current_ = 0;
  size_t failed_in_round_ = 0;
  double backoff_s_ = 0;
  State state_ = State::Stopped;
  std::optional<boost::asio::ip::tcp::socket> sock_;
  boost::asio::steady_timer tick_timer_, backoff_timer_;
  uint64_t gen_ = 0;  // connection generation: stale handlers find it changed
  Clock::time_point state_since_, last_rx_, last_tx_;
  std::string last_error_;
  uint32_t last_id_ = 0;
  uint32_t handshake_id_ = 0;

  std::deque<Req> waiting_;
  std::map<uint32_t, Req> inflight_;
  std::vector<uint8_t> wpending_, wbusy_;
  bool writing_ = false;
  std::vector<uint8_t> rbuf_;
  StreamReader reader_;
  ClientCounters c_;
  bool ticking_ = false;
};

const char* to_string(SvpClient::State s);

}  // namespace weft::svp
