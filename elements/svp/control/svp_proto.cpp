#include "control/svp_proto.hpp"

#include <zlib.h>

#include <cstdio>
#include <cstring>

namespace weft::svp {

namespace {

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}
template <size_t N>
void put(std::vector<uint8_t>& b, const std::array<uint8_t, N>& a) {
  for (uint8_t x : a) b.push_back(x);
}
void put(std::vector<uint8_t>& b, const Mac& m) { put(b, m.bytes); }
void pad(std::vector<uint8_t>& b, size_t n) {
  for (size_t i = 0; i < n; i++) b.push_back(0);
}

uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t get32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
template <size_t N>
void get(const uint8_t* p, std::array<uint8_t, N>& a) {
  std::memcpy(a.data(), p, N);
}

void get(const uint8_t* p, Mac& m) { get(p, m.bytes); }

bool exact(size_t n, size_t want, const char* what, std::string& err) {
  if (n == want) return true;
  err = std::string(what) + ": " + std::to_string(n) + " payload bytes, expected " + std::to_string(want);
  return false;
}
bool at_least(size_t n, size_t want, const char* what, std::string& err) {
  if (n >= want) return true;
  err = std::string(what) + ": " + std::to_string(n) + " payload bytes, expected at least " + std::to_string(want);
  return false;
}

void encode_header(uint8_t* p, const Header& h) {
  p[0] = static_cast<uint8_t>(h.version >> 8);
  p[1] = static_cast<uint8_t>(h.version);
  p[2] = static_cast<uint8_t>(h.op >> 8);
  p[3] = static_cast<uint8_t>(h.op);
  for (int i = 0; i < 4; i++) {
    p[4 + i] = static_cast<uint8_t>(h.size >> (24 - 8 * i));
    p[8 + i] = static_cast<uint8_t>(h.id >> (24 - 8 * i));
    p[12 + i] = static_cast<uint8_t>(h.crc >> (24 - 8 * i));
  }
}

}  // namespace

const char* op_name(uint16_t op) {
  static const char* const names[] = {"UNKNOWN",  "PING",    "PONG",    "VL2_REQ", "VL2_ACK",
                                      "VL3_REQ",  "VL3_ACK", "BULK_REQ", "BULK_ACK", "LOG_REQ",
                                      "LOG_ACK",  "LOG_RM",  "LOG_RM_ACK", "SHOOTDOWN"};
  if (op < sizeof names / sizeof names[0]) return names[op];
  static thread_local char buf[16];
  std::snprintf(buf, sizeof buf, "op %u", op);
  return buf;
}

std::string status_name(uint32_t s) {
  switch (s) {
    case kOk: return "OK";
    case kFatal: return "FATAL";
    case kNotFound: return "NOTFOUND";
    case kBadL3Type: return "BADL3TYPE";
    case kBadBulk: return "BADBULK";
  }
  return "status " + std::to_string(s);
}

uint16_t reply_op(uint16_t op) {
  switch (op) {
    case kPing: return kPong;
    case kVl2Req: return kVl2Ack;
    case kVl3Req: return kVl3Ack;
    case kBulkReq: return kBulkAck;
    case kLogReq: return kLogAck;
    case kLogRm: return kLogRmAck;
  }
  return 0;
}

Addr mapped_v4(const uint8_t* v4) {
  Addr a{};
  a[10] = a[11] = 0xff;
  std::memcpy(&a[12], v4, 4);
  return a;
}

bool is_mapped_v4(const Addr& a) {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a.data(), prefix, 12) == 0;
}

Addr to_wire(const IpAddr& a) {
  if (a.v4()) return mapped_v4(a.data());
  Addr w{};
  std::memcpy(w.data(), a.data(), 16);
  return w;
}

IpAddr from_wire(const Addr& a) {
  if (is_mapped_v4(a)) return Ip4::of(&a[12]);
  return Ip6{a};
}

uint32_t message_crc(const Header& h, const uint8_t* payload, size_t n) {
  Header z = h;
  z.crc = 0;
  uint8_t hb[kHeaderSize];
  encode_header(hb, z);
  uLong c = crc32(0L, Z_NULL, 0);
  c = crc32(c, hb, kHeaderSize);
  if (n) c = crc32(c, payload, static_cast<uInt>(n));
  return static_cast<uint32_t>(c);
}

std::vector<uint8_t> encode(uint16_t op, uint32_t id, const std::vector<uint8_t>& payload) {
  Header h;
  h.op = op;
  h.size = static_cast<uint32_t>(payload.size());
  h.id = id;
  h.crc = message_crc(h, payload.data(), payload.size());
  std::vector<uint8_t> out(kHeaderSize + payload.size());
  encode_header(out.data(), h);
  if (!payload.empty()) std::memcpy(out.data() + kHeaderSize, payload.data(), payload.size());
  return out;
}

bool decode_header(const uint8_t* p, Header& h) {
  h.version = get16(p);
  h.op = get16(p + 2);
  h.size = get32(p + 4);
  h.id = get32(p + 8);
  h.crc = get32(p + 12);
  return true;
}

// --- payloads ----------------------------------------------------------------

std::vector<uint8_t> payload(const Vl2Req& m) {
  std::vector<uint8_t> b;
  put(b, m.mac);
  pad(b, 2);
  put32(b, m.vnetid);
  return b;
}
std::vector<uint8_t> payload(const Vl2Ack& m) {
  std::vector<uint8_t> b;
  put16(b, m.status);
  put16(b, m.port);
  put(b, m.addr);
  return b;
}
std::vector<uint8_t> payload(const Vl3Req& m) {
  std::vector<uint8_t> b;
  put(b, m.ip);
  put32(b, m.type);
  put32(b, m.vnetid);
  return b;
}
std::vector<uint8_t> payload(const Vl3Ack& m) {
  std::vector<uint8_t> b;
  put32(b, m.status);
  put(b, m.mac);
  put16(b, m.port);
  put(b, m.addr);
  return b;
}
std::vector<uint8_t> payload(const BulkReq& m) {
  std::vector<uint8_t> b;
  put32(b, m.type);
  return b;
}
std::vector<uint8_t> payload(const BulkAck& m) {
  std::vector<uint8_t> b;
  put32(b, m.status);
  put32(b, m.type);
  b.insert(b.end(), m.data.begin(), m.data.end());
  return b;
}
std::vector<uint8_t> payload(const LogReq& m) {
  std::vector<uint8_t> b;
  put32(b, m.count);
  put(b, m.ip);
  return b;
}
size_t record_size(const LogRecord& r) { return r.type == kLogVl3 ? kLogVl3Size : kLogVl2Size; }
std::vector<uint8_t> payload(const LogAck& m) {
  std::vector<uint8_t> b;
  put32(b, m.status);
  for (const auto& r : m.records) {
    put32(b, r.type);
    put(b, r.id);
    if (r.type == kLogVl3) {
      put(b, r.ip);
      pad(b, 2);
      put16(b, r.vlan);
    } else {
      put(b, r.mac);
      pad(b, 2);
    }
    put32(b, r.vnetid);
  }
  return b;
}
std::vector<uint8_t> payload(const LogRm& m) {
  std::vector<uint8_t> b;
  put32(b, static_cast<uint32_t>(m.ids.size()));
  for (const auto& id : m.ids) put(b, id);
  return b;
}
std::vector<uint8_t> payload(const LogRmAck& m) {
  std::vector<uint8_t> b;
  put32(b, m.status);
  return b;
}
std::vector<uint8_t> payload(const Shootdown& m) {
  std::vector<uint8_t> b;
  put(b, m.mac);
  pad(b, 2);
  put32(b, m.vnetid);
  return b;
}

// --- decoders ------------------------------------------------------------------

bool decode(const uint8_t* p, size_t n, Vl2Req& m, std::string& err) {
  if (!exact(n, kVl2ReqSize, "VL2_REQ", err)) return false;
  get(p, m.mac);
  m.vnetid = get32(p + 8);
  return true;
}
bool decode(const uint8_t* p, size_t n, Vl2Ack& m, std::string& err) {
  if (!exact(n, kVl2AckSize, "VL2_ACK", err)) return false;
  m.status = get16(p);
  m.port = get16(p + 2);
  get(p + 4, m.addr);
  return true;
}
bool decode(const uint8_t* p, size_t n, Vl3Req& m, std::string& err) {
  if (!exact(n, kVl3ReqSize, "VL3_REQ", err)) return false;
  get(p, m.ip);
  m.type = get32(p + 16);
  m.vnetid = get32(p + 20);
  return true;
}
bool decode(const uint8_t* p, size_t n, Vl3Ack& m, std::string& err) {
  if (!exact(n, kVl3AckSize, "VL3_ACK", err)) return false;
  m.status = get32(p);
  get(p + 4, m.mac);
  m.port = get16(p + 10);
  get(p + 12, m.addr);
  return true;
}
bool decode(const uint8_t* p, size_t n, BulkReq& m, std::string& err) {
  if (!exact(n, kBulkReqSize, "BULK_REQ", err)) return false;
  m.type = get32(p);
  return true;
}
bool decode(const uint8_t* p, size_t n, BulkAck& m, std::string& err) {
  if (!at_least(n, kBulkAckMinSize, "BULK_ACK", err)) return false;
  m.status = get32(p);
  m.type = get32(p + 4);
  m.data.assign(p + 8, p + n);
  return true;
}
bool decode(const uint8_t* p, size_t n, LogReq& m, std::string& err) {
  if (!exact(n, kLogReqSize, "LOG_REQ", err)) return false;
  m.count = get32(p);
  get(p + 4, m.ip);
  return true;
}
bool decode(const uint8_t* p, size_t n, LogAck& m, std::string& err) {
  if (!at_least(n, kLogAckMinSize, "LOG_ACK", err)) return false;
  m.status = get32(p);
  m.records.clear();
  size_t off = 4;
  while (off < n) {
    if (n - off < 4) {
      err = "LOG_ACK: " + std::to_string(n - off) + " trailing bytes, too short for a record type";
      return false;
    }
    LogRecord r;
    r.type = get32(p + off);
    const size_t sz = r.type == kLogVl2 ? kLogVl2Size : r.type == kLogVl3 ? kLogVl3Size : 0;
    if (!sz) {
      err = "LOG_ACK: unknown record type " + std::to_string(r.type) + " at offset " + std::to_string(off);
      return false;
    }
    if (n - off < sz) {
      err = "LOG_ACK: a " + std::string(r.type == kLogVl2 ? "VL2" : "VL3") + " record needs " + std::to_string(sz) +
            " bytes, " + std::to_string(n - off) + " left";
      return false;
    }
    const uint8_t* q = p + off + 4;
    get(q, r.id);
    if (r.type == kLogVl2) {
      get(q + 16, r.mac);
      r.vnetid = get32(q + 24);
    } else {
      get(q + 16, r.ip);
      r.vlan = get16(q + 34);
      r.vnetid = get32(q + 36);
    }
    m.records.push_back(r);
    off += sz;
  }
  return true;
}
bool decode(const uint8_t* p, size_t n, LogRm& m, std::string& err) {
  if (!at_least(n, kLogRmMinSize, "LOG_RM", err)) return false;
  const uint32_t count = get32(p);
  if ((n - 4) != size_t{count} * 16) {
    err = "LOG_RM: count " + std::to_string(count) + " but " + std::to_string(n - 4) + " id bytes";
    return false;
  }
  m.ids.resize(count);
  for (uint32_t i = 0; i < count; i++) get(p + 4 + 16 * i, m.ids[i]);
  return true;
}
bool decode(const uint8_t* p, size_t n, LogRmAck& m, std::string& err) {
  if (!exact(n, kLogRmAckSize, "LOG_RM_ACK", err)) return false;
  m.status = get32(p);
  return true;
}
bool decode(const uint8_t* p, size_t n, Shootdown& m, std::string& err) {
  if (!exact(n, kShootdownSize, "SHOOTDOWN", err)) return false;
  get(p, m.mac);
  m.vnetid = get32(p + 8);
  return true;
}

// --- stream --------------------------------------------------------------------

const char* to_string(StreamReader::Error e) {
  switch (e) {
    case StreamReader::Error::None: return "none";
    case StreamReader::Error::BadVersion: return "bad_version";
    case StreamReader::Error::TooLarge: return "too_large";
    case StreamReader::Error::BadCrc: return "bad_crc";
  }
  return "?";
}

void StreamReader::reset() {
  buf_.clear();
  error_ = Error::None;
}

bool StreamReader::check_header(const Header& h) {
  if (h.version != kVersion) error_ = Error::BadVersion;
  else if (h.size > max_payload_) error_ = Error::TooLarge;
  else return true;
  bad_ = h;
  return false;
}

bool StreamReader::feed(const uint8_t* data, size_t n, const OnMessage& on_message) {
  if (error_ != Error::None) return false;
  // Messages whole in `data` are handled in place; only a partial tail is
  // copied (and completed from the next read).
  auto one = [&](const uint8_t* p, size_t avail, size_t& used) -> bool {
    used = 0;
    if (avail < kHeaderSize) return true;
    Header h;
    decode_header(p, h);
    if (!check_header(h)) return false;
    if (avail - kHeaderSize < h.size) return true;
    if (message_crc(h, p + kHeaderSize, h.size) != h.crc) {
      error_ = Error::BadCrc;
      bad_ = h;
      return false;
    }
    used = kHeaderSize + h.size;
    on_message(h, p + kHeaderSize, h.size);
    return true;
  };
  size_t used;
  if (!buf_.empty()) {
    // Complete the buffered message first, a header's worth at a time.
    while (n) {
      size_t want = kHeaderSize;
      if (buf_.size() >= kHeaderSize) {
        Header h;
        decode_header(buf_.data(), h);
        want = kHeaderSize + h.size;
      }
      size_t take = std::min(n, want - buf_.size());
      buf_.insert(buf_.end(), data, data + take);
      data += take;
      n -= take;
      if (!one(buf_.data(), buf_.size(), used)) return false;
      if (used) {
        buf_.clear();
        break;
      }
      if (buf_.size() == kHeaderSize) continue;  // header checked; now the payload
    }
    if (!buf_.empty()) return true;
  }
  while (n) {
    if (!one(data, n, used)) return false;
    if (!used) break;
    data += used;
    n -= used;
  }
  if (n) buf_.assign(data, data + n);
  return true;
}

}  // namespace weft::svp
