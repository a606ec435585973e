// IcmpEchoResponder — answers ICMP echo requests (ping) sent to the router's
// addresses. Its class declaration (klass() below) is its manual: `routerctl
// elements --doc IcmpEchoResponder`.
//
// The addresses are a LocalAddresses service's table, read without locks
// (tables/local_address_table.hpp): once per batch, so a change made with
// `routerctl service NAME add|remove` applies from the next batch on. The
// request becomes the reply in place, so the fast path allocates nothing.
#include <rte_ip.h>
#include <weft/packet.hpp>
#include <weft/plugin.hpp>

#include <cstring>
#include <memory>

#include "datapath/ip_header.hpp"
#include "tables/local_address_table.hpp"

namespace example {

class IcmpEchoResponder final : public weft::Element {
 public:
  enum : uint16_t { kReply = 0, kOther };  // outputs

  static const weft::ElementClass& klass() {
    static const weft::ElementClass k =
        weft::ElementClass::make<IcmpEchoResponder>("IcmpEchoResponder")
            .describe("Answers ICMP echo requests (ping) sent to the router's IPv4 addresses.",
                      "A request (after up to two VLAN tags) to an address of the LocalAddresses service\n"
                      "`addresses`, from a source in `from`, becomes its reply in place: MAC and IP addresses\n"
                      "swapped, TTL reset, ICMP type 0, IP and ICMP checksums right. Requests with a bad ICMP\n"
                      "checksum are dropped; fragments and all other packets leave on `other`.")
            .input("in")
            .output("reply")
            .output("other")
            .uses<LocalAddressTable>("addresses", "the LocalAddresses service whose addresses it answers for")
            .param("from", weft::ParamType::Prefix, "0.0.0.0/0", "answer only requests from this IPv4 prefix")
            .param("ttl", weft::ParamType::UInt, "64", "TTL of the replies (1-255)")
            .drop(kBadChecksum, "bad_checksum", "an echo request whose ICMP checksum is wrong")
            .drop(kTruncated, "truncated", "an echo request shorter than its IP total length says")
            .read("answered", "echo requests answered",
                  [](const IcmpEchoResponder& e) { return std::to_string(e.answered_); });
    return k;
  }

  void configure(weft::ConfigContext& ctx) override {
    const weft::Params& p = ctx.params();
    from_ = p.get<weft::Prefix>("from");
    if (!from_.v4()) throw weft::ConfigError(p.mark("from"), "from: expected an IPv4 prefix (ICMP is IPv4 only)");
    const uint64_t ttl = p.get<uint64_t>("ttl");
    if (ttl < 1 || ttl > 255) throw weft::ConfigError(p.mark("ttl"), "ttl: expected 1-255");
    ttl_ = static_cast<uint8_t>(ttl);
  }

  void initialize(weft::InitContext& ctx) override { table_ = ctx.service<const LocalAddressTable>("addresses"); }

  void push(uint16_t, weft::Batch& b) override {
    const LocalAddressTable::Snapshot& local = table_->snapshot();
    for (rte_mbuf* m : b) {
      switch (answer(m, local)) {
        case Verdict::Reply: emit(kReply, m); break;
        case Verdict::Other: emit(kOther, m); break;
        case Verdict::BadChecksum: drop(m, kBadChecksum); break;
        case Verdict::Truncated: drop(m, kTruncated); break;
      }
    }
    b.clear();
  }

  weft::StateCarry take_state(weft::Element& old) override {
    answered_ = static_cast<IcmpEchoResponder&>(old).answered_;
    return weft::StateCarry::kept("answered carried over");
  }

 private:
  static inline weft::Drop kBadChecksum, kTruncated;
  enum class Verdict { Reply, Other, BadChecksum, Truncated };

  // Turns an echo request to one of our addresses into its reply.
  Verdict answer(rte_mbuf* m, const LocalAddressTable::Snapshot& local) {
    const L3 l3 = find_l3(m);
    if (l3.version != 4) return Verdict::Other;
    // Ethernet + tags + the IPv4 header (up to 60 bytes) + ICMP type, code, checksum.
    uint8_t buf[18 + 8 + 60 + 4];
    const uint32_t ip = l3.offset;
    uint8_t ipb[20];
    const auto* h = static_cast<const uint8_t*>(rte_pktmbuf_read(m, ip, 20, ipb));
    if (!h || h[0] >> 4 != 4 || h[9] != IPPROTO_ICMP) return Verdict::Other;
    const uint32_t ihl = (h[0] & 0x0fu) * 4;
    const uint16_t total = static_cast<uint16_t>(h[2] << 8 | h[3]);
    const uint16_t frag = static_cast<uint16_t>(h[6] << 8 | h[7]);
    if (ihl < 20 || (frag & 0x3fff) != 0 ||  // more fragments or an offset: not ours to answer
        !local.contains(weft::Ip4::of(h + 16)) || !from_.contains(weft::Ip4::of(h + 12)))
      return Verdict::Other;
    const uint32_t head = ip + ihl + 4;
    auto* p = static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, head, buf));
    if (!p) return Verdict::Truncated;
    if (p[ip + ihl] != 8 || p[ip + ihl + 1] != 0) return Verdict::Other;  // not an echo request
    if (total < ihl + 8 || ip + total > m->pkt_len) return Verdict::Truncated;
    // The ICMP checksum covers the whole ICMP message: its sum must be 0xffff.
    uint16_t sum = 0;
    if (rte_raw_cksum_mbuf(m, ip + ihl, total - ihl, &sum) != 0 || sum != 0xffff) return Verdict::BadChecksum;

    uint8_t r[sizeof buf];
    std::memcpy(r, p, head);
    std::memcpy(r, p + 6, 6);  // destination MAC <- the request's source
    std::memcpy(r + 6, p, 6);  // source MAC <- the address the request was sent to
    std::memcpy(r + ip + 12, p + ip + 16, 4);
    std::memcpy(r + ip + 16, p + ip + 12, 4);
    r[ip + 8] = ttl_;
    r[ip + 10] = r[ip + 11] = 0;
    const uint16_t ip_sum = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(r + ip));
    std::memcpy(r + ip + 10, &ip_sum, 2);  // rte_ipv4_cksum's result is already in network order
    const uint32_t icmp = ip + ihl;
    r[icmp] = 0;  // echo reply: the word (type, code) goes from 0x0800 to 0x0000
    const uint16_t old_sum = static_cast<uint16_t>(p[icmp + 2] << 8 | p[icmp + 3]);
    const uint16_t new_sum = checksum_update(old_sum, 0x0800, 0x0000);
    r[icmp + 2] = static_cast<uint8_t>(new_sum >> 8);
    r[icmp + 3] = static_cast<uint8_t>(new_sum);
    weft::write_bytes(m, 0, r, head);
    answered_++;
    return Verdict::Reply;
  }

  std::shared_ptr<const LocalAddressTable> table_;
  weft::Prefix from_;
  uint8_t ttl_ = 64;
  uint64_t answered_ = 0;
};

}  // namespace example

WEFT_EXPORT_CLASS(IcmpEchoResponder, example::IcmpEchoResponder::klass())
