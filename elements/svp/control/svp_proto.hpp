// SVP v1 (Triton Portolan's "SDC VXLAN Protocol"): message layouts, the
// CRC, encoders and decoders, and a stream reader that cuts a TCP byte
// stream into checked messages.
//
// Every message is a 16-byte header followed by `size` payload bytes, all
// integers big-endian:
//
//   header     {ver u16 = 1, op u16, size u32 (payload bytes), id u32, crc32 u32}
//   crc32      zlib's CRC-32 over the header with crc32 = 0, then the payload
//
//   PING 1 / PONG 2           no payload
//   VL2_REQ 3   (12 bytes)    {mac[6], pad[2], vnetid u32}
//   VL2_ACK 4   (20 bytes)    {status u16, port u16, addr[16]}
//   VL3_REQ 5   (24 bytes)    {ip[16], type u32 (1 IPv4, 2 IPv6), vnetid u32}
//   VL3_ACK 6   (28 bytes)    {status u32, mac[6], uport u16, uip[16]}
//   BULK_REQ 7  (4 bytes)     {type u32 (1 VL2, 2 VL3)}
//   BULK_ACK 8  (>= 8 bytes)  {status u32, type u32, data...} (format undefined)
//   LOG_REQ 9   (20 bytes)    {count u32 (bytes the client accepts), ip[16] (its underlay IP)}
//   LOG_ACK 10  (>= 4 bytes)  {status u32, records...}, each record
//                 VL2 (32):  {type u32 = 1, id[16], mac[6], pad[2], vnetid u32}
//                 VL3 (44):  {type u32 = 2, id[16], ip[16], pad[2], vlan u16, vnetid u32}
//   LOG_RM 11   (4 + 16n)     {count u32, ids[16 * count]}
//   LOG_RM_ACK 12 (4 bytes)   {status u32}
//   SHOOTDOWN 13 (12 bytes)   {mac[6], pad[2], vnetid u32}, no reply
//
// Addresses travel as 16 bytes; IPv4 as an IPv4-mapped IPv6 address
// (::ffff:a.b.c.d). Status: OK 0, FATAL 1, NOTFOUND 2, BADL3TYPE 3, BADBULK 4.
// Layouts from illumos' libvarpd_svp_prot.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "weft/net.hpp"

namespace weft::svp {

inline constexpr uint16_t kVersion = 1;
inline constexpr uint16_t kDefaultPort = 1296;
inline constexpr size_t kHeaderSize = 16;
// Largest payload a reader accepts (a LOG_ACK is bounded by the count the
// client asked for; BULK data is undefined and refused beyond this).
inline constexpr uint32_t kMaxPayload = 1u << 20;

enum Op : uint16_t {
  kPing = 1,
  kPong = 2,
  kVl2Req = 3,
  kVl2Ack = 4,
  kVl3Req = 5,
  kVl3Ack = 6,
  kBulkReq = 7,
  kBulkAck = 8,
  kLogReq = 9,
  kLogAck = 10,
  kLogRm = 11,
  kLogRmAck = 12,
  kShootdown = 13,
};

enum Status : uint32_t {
  kOk = 0,
  kFatal = 1,
  kNotFound = 2,
  kBadL3Type = 3,
  kBadBulk = 4,
};

enum Vl3Type : uint32_t { kVl3Ip = 1, kVl3Ipv6 = 2 };
enum BulkType : uint32_t { kBulkVl2 = 1, kBulkVl3 = 2 };
enum LogType : uint32_t { kLogVl2 = 1, kLogVl3 = 2 };

inline constexpr size_t kVl2ReqSize = 12, kVl2AckSize = 20, kVl3ReqSize = 24, kVl3AckSize = 28;
inline constexpr size_t kBulkReqSize = 4, kBulkAckMinSize = 8, kLogReqSize = 20, kLogAckMinSize = 4;
inline constexpr size_t kLogVl2Size = 32, kLogVl3Size = 44, kLogRmMinSize = 4, kLogRmAckSize = 4;
inline constexpr size_t kShootdownSize = 12;

const char* op_name(uint16_t op);          // "VL2_REQ", ... or "op 99"
std::string status_name(uint32_t status);  // "OK", "NOTFOUND", ... or "status 9"
// The reply op a request op expects (0: none, e.g. SHOOTDOWN).
uint16_t reply_op(uint16_t request_op);

// MACs are weft::Mac; an address travels as 16 bytes, IPv6 or IPv4-mapped.
using Addr = std::array<uint8_t, 16>;
using Uuid = std::array<uint8_t, 16>;

// IPv4 (4 bytes, network order) <-> IPv4-mapped IPv6.
Addr mapped_v4(const uint8_t* v4);
bool is_mapped_v4(const Addr& a);
// An address to and from its wire form (a mapped address is IPv4).
Addr to_wire(const IpAddr& a);
IpAddr from_wire(const Addr& a);

struct Header {
  uint16_t version = kVersion;
  uint16_t op = 0;
  uint32_t size = 0;
  uint32_t id = 0;
  uint32_t crc = 0;
};

struct Vl2Req {
  Mac mac{};
  uint32_t vnetid = 0;
};
struct Vl2Ack {
  uint16_t status = 0;
  uint16_t port = 0;
  Addr addr{};
};
struct Vl3Req {
  Addr ip{};
  uint32_t type = kVl3Ip;
  uint32_t vnetid = 0;
};
struct Vl3Ack {
  uint32_t status = 0;
  Mac mac{};
  uint16_t port = 0;
  Addr addr{};
};
struct BulkReq {
  uint32_t type = kBulkVl2;
};
struct BulkAck {
  uint32_t status = 0;
  uint32_t type = 0;
  std::vector<uint8_t> data;
};
struct LogReq {
  uint32_t count = 0;
  Addr ip{};
};
// One change-log record: VL2 uses mac, VL3 uses ip and vlan.
struct LogRecord {
  uint32_t type = kLogVl2;
  Uuid id{};
  Mac mac{};
  Addr ip{};
  uint16_t vlan = 0;
  uint32_t vnetid = 0;
  bool operator==(const LogRecord&) const = default;
};
struct LogAck {
  uint32_t status = 0;
  std::vector<LogRecord> records;
};
struct LogRm {
  std::vector<Uuid> ids;
};
struct LogRmAck {
  uint32_t status = 0;
};
struct Shootdown {
  Mac mac{};
  uint32_t vnetid = 0;
};

// CRC-32 (zlib) of a header (its crc field taken as zero) and a payload.
uint32_t message_crc(const Header& h, const uint8_t* payload, size_t n);

// A whole message: header (size and crc filled in) + payload.
std::vector<uint8_t> encode(uint16_t op, uint32_t id, const std::vector<uint8_t>& payload);

// Payloads.
std::vector<uint8_t> payload(const Vl2Req& m);
std::vector<uint8_t> payload(const Vl2Ack& m);
std::vector<uint8_t> payload(const Vl3Req& m);
std::vector<uint8_t> payload(const Vl3Ack& m);
std::vector<uint8_t> payload(const BulkReq& m);
std::vector<uint8_t> payload(const BulkAck& m);
std::vector<uint8_t> payload(const LogReq& m);
std::vector<uint8_t> payload(const LogAck& m);
std::vector<uint8_t> payload(const LogRm& m);
std::vector<uint8_t> payload(const LogRmAck& m);
std::vector<uint8_t> payload(const Shootdown& m);
size_t record_size(const LogRecord& r);  // 32 or 44

// Decoders: false (and `err` says why) if the payload has the wrong size or
// malformed content.
bool decode(const uint8_t* p, size_t n, Vl2Req& out, std::string& err);
bool decode(const uint8_t* p, size_t n, Vl2Ack& out, std::string& err);
bool decode(const uint8_t* p, size_t n, Vl3Req& out, std::string& err);
bool decode(const uint8_t* p, size_t n, Vl3Ack& out, std::string& err);
bool decode(const uint8_t* p, size_t n, BulkReq& out, std::string& err);
bool decode(const uint8_t* p, size_t n, BulkAck& out, std::string& err);
bool decode(const uint8_t* p, size_t n, LogReq& out, std::string& err);
bool decode(const uint8_t* p, size_t n, LogAck& out, std::string& err);
bool decode(const uint8_t* p, size_t n, LogRm& out, std::string& err);
bool decode(const uint8_t* p, size_t n, LogRmAck& out, std::string& err);
bool decode(const uint8_t* p, size_t n, Shootdown& out, std::string& err);
bool decode_header(const uint8_t* p, Header& out);  // 16 bytes; always succeeds

// Cuts a byte stream into messages. feed() calls `on_message` for every
// complete message whose version and CRC are right, and stops at the first
// bad one (the stream cannot be trusted after it): the reader then stays
// failed until reset().
class StreamReader {
 public:
  enum class Error { None, BadVersion, TooLarge, BadCrc };
  using OnMessage = std::function<void(const Header&, const uint8_t* payload, size_t n)>;

  explicit StreamReader(uint32_t max_payload = kMaxPayload) : max_payload_(max_payload) {}
  // False once an error was found (error() says which).
  bool feed(const uint8_t* data, size_t n, const OnMessage& on_message);
  Error error() const { return error_; }
  const Header& bad_header() const { return bad_; }
  void reset();
  size_t buffered() const { return buf_.size(); }

 private:
  bool check_header(const Header& h);
  std::vector<uint8_t> buf_;
  uint32_t max_payload_;
  Error error_ = Error::None;
  Header bad_;
};
const char* to_string(StreamReader::Error e);

}  // namespace weft::svp
