// DscpMark — sets the DSCP of IPv4 and IPv6 packets. Its class declaration
// (klass() below) is its manual: `routerctl elements --doc DscpMark`.
//
// Packets are rewritten in place with weft::write_bytes (segmented mbufs
// too); the IPv4 checksum is adjusted for the one 16-bit word that changes
// (RFC 1624) instead of being recomputed over the header and its options.
#include <weft/packet.hpp>
#include <weft/plugin.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <stdexcept>

#include "datapath/ip_header.hpp"

namespace example {

// Parses "46", "ef", "AF41", ...; -1 if it is none of them.
int parse_dscp(std::string s) {
  static const std::map<std::string, int> names = {
      {"be", 0},    {"cs0", 0},   {"cs1", 8},   {"af11", 10}, {"af12", 12}, {"af13", 14}, {"cs2", 16},
      {"af21", 18}, {"af22", 20}, {"af23", 22}, {"cs3", 24},  {"af31", 26}, {"af32", 28}, {"af33", 30},
      {"cs4", 32},  {"af41", 34}, {"af42", 36}, {"af43", 38}, {"cs5", 40},  {"ef", 46},   {"cs6", 48},
      {"cs7", 56}};
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (auto it = names.find(s); it != names.end()) return it->second;
  if (s.empty() || s.size() > 2 || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) return -1;
  int v = std::stoi(s);
  return v <= 63 ? v : -1;
}

class DscpMark final : public weft::Element {
 public:
  static const weft::ElementClass& klass() {
    static const weft::ElementClass k =
        weft::ElementClass::make<DscpMark>("DscpMark")
            .describe("Sets the DSCP of IPv4 and IPv6 packets.",
                      "Rewrites the 6 DSCP bits of the IPv4 TOS byte or the IPv6 traffic class, after up to two\n"
                      "VLAN tags, keeping the ECN bits; the IPv4 header checksum is updated (RFC 1624).\n"
                      "Put it behind a Classifier output to mark the traffic a rule selects.")
            .input("in")
            .output("out")
            .required("dscp", weft::ParamType::String, "0-63 or a name: be, ef, af11..af43, cs0..cs7")
            .drop(kNotIp, "not_ip", "neither IPv4 nor IPv6")
            .drop(kTruncated, "truncated", "the frame ends inside its Ethernet, VLAN or IP header")
            .read_write(
                "dscp", "the DSCP set (write: 0-63 or a name, applies to the next packet)",
                [](const DscpMark& e) { return std::to_string(e.dscp_); },
                [](DscpMark& e, const std::string& v) {
                  const int d = parse_dscp(v);
                  if (d < 0) throw std::invalid_argument("expected 0-63, be, ef, af11..af43 or cs0..cs7");
                  e.dscp_ = d;
                })
            .read("marked", "packets marked", [](const DscpMark& e) { return std::to_string(e.marked_); });
    return k;
  }

  void configure(weft::ConfigContext& ctx) override {
    const weft::Params& p = ctx.params();
    dscp_ = parse_dscp(p.get<std::string>("dscp"));
    if (dscp_ < 0) throw weft::ConfigError(p.mark("dscp"), "dscp: expected 0-63, be, ef, af11..af43 or cs0..cs7");
  }

  void push(uint16_t, weft::Batch& b) override {
    for (rte_mbuf* m : b) {
      const L3 l3 = find_l3(m);
      uint8_t buf[12];
      const auto* h = l3.version ? static_cast<const uint8_t*>(rte_pktmbuf_read(m, l3.offset, 12, buf)) : nullptr;
      if (l3.version == 0) {
        drop(m, l3.truncated ? kTruncated : kNotIp);
      } else if (!h || (h[0] >> 4) != l3.version) {
        drop(m, h ? kNotIp : kTruncated);
      } else {
        mark(m, l3, h);
        emit(0, m);
      }
    }
    b.clear();
  }

  weft::StateCarry take_state(weft::Element& old) override {
    marked_ = static_cast<DscpMark&>(old).marked_;
    return weft::StateCarry::kept("marked carried over");
  }

 private:
  static inline weft::Drop kNotIp, kTruncated;

  // h: the first 12 bytes of the IP header.
  void mark(rte_mbuf* m, const L3& l3, const uint8_t* h) {
    marked_++;
    if (l3.version == 4) {
      // Byte 1 is the TOS: DSCP in its upper 6 bits. The checksum covers the
      // 16-bit word made of bytes 0 and 1.
      const uint8_t tos = static_cast<uint8_t>(dscp_ << 2 | (h[1] & 0x03));
      const uint16_t old_word = static_cast<uint16_t>(h[0] << 8 | h[1]);
      const uint16_t new_word = static_cast<uint16_t>(h[0] << 8 | tos);
      const uint16_t sum = checksum_update(static_cast<uint16_t>(h[10] << 8 | h[11]), old_word, new_word);
      const uint8_t sum_bytes[2] = {static_cast<uint8_t>(sum >> 8), static_cast<uint8_t>(sum)};
      weft::write_bytes(m, l3.offset + 1, &tos, 1);
      weft::write_bytes(m, l3.offset + 10, sum_bytes, 2);
    } else {
      // Traffic class: the low 4 bits of byte 0 and the high 4 of byte 1
      // (DSCP is its upper 6 bits, ECN its lower 2).
      const uint8_t b01[2] = {static_cast<uint8_t>(0x60 | dscp_ >> 2),
                              static_cast<uint8_t>((dscp_ & 0x3) << 6 | (h[1] & 0x3f))};
      weft::write_bytes(m, l3.offset, b01, 2);
    }
  }

  int dscp_ = 0;
  uint64_t marked_ = 0;
};

}  // namespace example

WEFT_EXPORT_CLASS(DscpMark, example::DscpMark::klass())
