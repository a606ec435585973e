// fuzz_elements: every element class's packet path, through the test
// harness element authors use (weft/testing.hpp: the same validation and
// instantiation as a routerd worker, packets pushed by hand).
//
// One graph per class and documented example (docs/elements.md): the
// element under test, every output into a Capture. The input picks a case,
// then frames: each either raw bytes or a template (Ethernet with VLAN tags,
// ARP, IPv4/IPv6 with TCP, UDP, ICMP, VXLAN inside UDP, fragments) with
// input bytes written over it, so that parsing reaches every layer. After
// each batch, sources and polled elements run once and every readable
// handler is read (as `routerctl handler read` would). Graphs live for the
// whole run: state (NAT sessions, MAC tables, queues, token buckets) builds
// up across inputs. Checked: no crash, no sanitizer finding, every packet
// leaves (sent on or dropped and counted: the pool never runs dry).
#include <rte_mempool.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_env.hpp"
#include "weft/testing.hpp"

using namespace weft;
namespace wt = weft::testing;

namespace {

struct Case {
  const char* name;
  const char* graph;  // the element `e` and its connections to `cap`; `in` is e's input port
  unsigned inputs = 1;
  bool poll = false;
};

// Services shared by the cases that need one.
#define SERVICES "services:\n  fib: {class: Fib, listen: \"127.0.0.1:0\"}\n  svp: {class: Svp, servers: [\"127.0.0.1:9\"]}\n"

const Case kCases[] = {
    {"Classifier",
     "elements:\n  e:\n    class: Classifier\n    rules:\n      - {output: arp, ethertype: arp}\n"
     "      - {output: web, ip_proto: tcp, dst_port: 80}\n      - {output: lan, ip_src: 10.0.0.0/8}\n"
     "      - {output: vm1, vlan: 10, dst_mac: \"52:54:00:00:00:01\"}\n      - {output: tenant_a, vni: 100}\n"
     "      - {output: tenant_b_web, inner: {vni: 200, ip_proto: tcp, dst_port: 443}}\n"
     "      - {output: v6, ip_dst: \"2001:db8::/32\", src_port: 1000-2000}\n"
     "  cap: Capture\nconnections: [\"e[arp] -> cap\", \"e[web] -> cap\", \"e[lan] -> cap\", \"e[vm1] -> cap\","
     " \"e[tenant_a] -> cap\", \"e[tenant_b_web] -> cap\", \"e[v6] -> cap\", \"e[default] -> cap\"]\n"},
    {"Counter", "elements: {e: Counter, cap: Capture}\nconnections: [e -> cap]\n"},
    {"Discard", "elements: {e: Discard}\n"},
    {"EtherRewrite",
     "elements:\n  e: {class: EtherRewrite, src: \"02:00:00:00:00:01\", dst: \"52:54:00:12:34:56\"}\n  cap: Capture\n"
     "connections: [e -> cap]\n"},
    {"IpLookup",
     SERVICES "elements:\n  e: {class: IpLookup, fib: fib, outputs: [p1, p2], nexthop_metadata: true}\n  cap: Capture\n"
              "connections: [\"e[p1] -> cap\", \"e[p2] -> cap\"]\n"},
    {"L2Switch",
     "elements:\n  e:\n    class: L2Switch\n    vni: 100\n"
     "    ports: [{name: vm1}, {name: vm2}, {name: uplink, flood: false}, {name: router}]\n"
     "    static: [{mac: \"02:00:00:00:00:fe\", port: router}]\n  cap: Capture\n"
     "connections: [\"e[vm1] -> cap\", \"e[vm2] -> cap\", \"e[uplink] -> cap\", \"e[router] -> cap\",\n"
     "  \"e[unknown] -> cap\"]\n",
     4},
    {"Merge", "elements: {e: Merge, cap: Capture}\nconnections: [e -> cap]\n", 3},
    {"Nat44",
     "elements:\n  e:\n    class: Nat44\n    pool: [198.51.100.1, 203.0.113.0/30]\n    inside: [10.0.0.0/8]\n"
     "    static:\n      - {proto: tcp, external: \"198.51.100.1:8080\", internal: \"10.0.0.5:80\"}\n  cap: Capture\n"
     "connections: [\"e[to_outside] -> cap\", \"e[to_inside] -> cap\"]\n",
     2},
    {"Nat64",
     "elements:\n  e: {class: Nat64, pool: [198.51.100.1], prefix: \"64:ff9b::/96\", inside: [\"2001:db8:1::/64\"]}\n"
     "  cap: Capture\nconnections: [\"e[to_ipv4] -> cap\", \"e[to_ipv6] -> cap\"]\n",
     2},
    {"Nat66",
     "elements:\n  e: {class: Nat66, inside_prefix: \"fd01:203:405::/48\", outside_prefix: \"2001:db8:1::/48\"}\n"
     "  cap: Capture\nconnections: [\"e[to_outside] -> cap\", \"e[to_inside] -> cap\"]\n",
     2},
    {"Pass", "elements: {e: Pass, cap: Capture}\nconnections: [e -> cap]\n"},
    {"Queue", "elements:\n  e: {class: Queue, capacity: 64, burst: 8}\n  cap: Capture\nconnections: [e -> cap]\n", 1,
     true},
    {"RateLimiter police",
     "elements:\n  e: {class: RateLimiter, rate: 100M, burst: 125k, red: drop}\n  cap: Capture\n"
     "connections: [\"e[green] -> cap\", \"e[yellow] -> cap\"]\n"},
    {"RateLimiter per_flow",
     "elements:\n  e: {class: RateLimiter, unit: pps, rate: 10k, key: flow, action: mark}\n  cap: Capture\n"
     "connections: [e -> cap]\n"},
    {"RateLimiter two_rate",
     "elements:\n  e: {class: RateLimiter, mode: trtcm, rate: 10M, peak_rate: 20M}\n  cap: Capture\n"
     "connections: [\"e[green] -> cap\", \"e[yellow] -> cap\", \"e[red] -> cap\"]\n"},
    {"SvpResolver vl2",
     SERVICES "elements:\n  e: {class: SvpResolver, svp: svp, vni: 100, wait: 0.01}\n  cap: Capture\n"
              "connections: [e -> cap]\n",
     1, true},
    {"SvpResolver vl3",
     SERVICES "elements:\n  e: {class: SvpResolver, svp: svp, mode: vl3, queue: 2, max_pending: 4, wait: 0.01}\n"
              "  cap: Capture\nconnections: [e -> cap]\n",
     1, true},
    {"Tee", "elements:\n  e: {class: Tee, outputs: 3}\n  cap: Capture\nconnections: [\"e[out0] -> cap\", \"e[out1] -> cap\", "
            "\"e[out2] -> cap\"]\n"},
    {"VlanPop", "elements:\n  e: {class: VlanPop, count: 2, untagged: drop}\n  cap: Capture\nconnections: [e -> cap]\n"},
    {"VlanPush", "elements:\n  e: {class: VlanPush, vid: 100, pcp: 5}\n  cap: Capture\nconnections: [e -> cap]\n"},
    {"VlanPush qinq",
     "elements:\n  e: {class: VlanPush, vid: 20, tpid: 0x88a8}\n  cap: Capture\nconnections: [e -> cap]\n"},
    {"VxlanDecap",
     "elements:\n  e: {class: VxlanDecap, local_ip: 192.0.2.1, vnis: {tenant_a: 100, tenant_b: 200}}\n  cap: Capture\n"
     "connections: [\"e[tenant_a] -> cap\", \"e[tenant_b] -> cap\", \"e[default] -> cap\"]\n"},
    {"VxlanDecap any",
     "elements:\n  e: {class: VxlanDecap, local_ip: \"2001:db8::1\"}\n  cap: Capture\nconnections: [e -> cap]\n"},
    {"VxlanEncap",
     "elements:\n  e: {class: VxlanEncap, vni: 100, local_ip: 192.0.2.1, remote_ip: 192.0.2.2,\n"
     "      local_mac: \"02:00:00:00:00:01\", remote_mac: \"02:00:00:00:00:02\"}\n  cap: Capture\n"
     "connections: [e -> cap]\n"},
    {"VxlanEncap v6",
     "elements:\n  e: {class: VxlanEncap, vni: 7, local_ip: \"2001:db8::1\", remote_ip: \"2001:db8::2\",\n"
     "      local_mac: \"02:00:00:00:00:01\", remote_mac: \"02:00:00:00:00:02\"}\n  cap: Capture\n"
     "connections: [e -> cap]\n"},
};
constexpr size_t kCaseCount = sizeof kCases / sizeof kCases[0];

wt::Plugins* g_plugins;
std::vector<std::unique_ptr<wt::Graph>> g_graphs;
std::vector<std::vector<std::string>> g_handlers;  // readable handlers per case

// Frame templates: headers a parser walks through, for the input to overwrite.
std::vector<uint8_t> hex(const char* h) {
  std::vector<uint8_t> out;
  for (size_t i = 0; h[i] && h[i + 1]; i += 2) out.push_back(static_cast<uint8_t>(std::stoi(std::string(h + i, 2), nullptr, 16)));
  return out;
}
const char* const kEth = "525400000001" "020000000002";
std::vector<std::vector<uint8_t>> templates() {
  std::string ip4tcp = std::string(kEth) + "0800" "45000028000100004006" "0000" "0a000005" "c6336401" "04d20050" "00000001" "00000000" "50022000" "00000000";
  std::string ip4udp = std::string(kEth) + "0800" "4500001c000100004011" "0000" "0a000005" "c6336401" "04d20035" "00080000";
  std::string ip4icmp = std::string(kEth) + "0800" "4500001c000100004001" "0000" "0a000005" "c6336401" "0800f7ff00000000";
  std::string ip6udp = std::string(kEth) + "86dd" "6000000000081140" "20010db8000100000000000000000005" "0064ff9b0000000000000000c6336401" "04d2003500080000";
  std::string ip6tcp = std::string(kEth) + "86dd" "6000000000140640" "fd010203040500000000000000000005" "20010db8000200000000000000000001" "04d201bb0000000100000000500220000000000";
  std::string ip6icmp = std::string(kEth) + "86dd" "600000000008" "3a40" "20010db8000100000000000000000005" "0064ff9b0000000000000000c6336401" "8000000000000000";
  std::string vlan = "5254000000010200000000fe" "8100" "000a" "0800" "45000014000100004006" "0000" "0a000005" "c6336401";
  std::string qinq = std::string(kEth) + "88a8" "0014" "8100" "0064" "0800" "45000014000100004006" "0000" "0a000005" "c6336401";
  std::string arp = std::string("ffffffffffff020000000002") + "0806" "0001080006040001" "020000000002" "0a000005" "000000000000" "0a000001";
  std::string vxlan = std::string(kEth) + "0800" "45000046000100004011" "0000" "c0000202" "c0000201" "c00012b5" "00320000" "0800000000006400" +
                      "02000000000a" "02000000000b" "0800" "45000014000100004006" "0000" "0a000005" "0a000006";
  std::string frag = std::string(kEth) + "0800" "4500001c00012001" "4011" "0000" "0a000005" "c6336401" "04d2003500080000";
  return {hex(ip4tcp.c_str()), hex(ip4udp.c_str()), hex(ip4icmp.c_str()), hex(ip6udp.c_str()), hex(ip6tcp.c_str()),
          hex(ip6icmp.c_str()), hex(vlan.c_str()), hex(qinq.c_str()), hex(arp.c_str()), hex(vxlan.c_str()),
          hex(frag.c_str())};
}
std::vector<std::vector<uint8_t>> g_templates;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::start_dpdk();
  g_plugins = new wt::Plugins;
  g_plugins->load_builtin();
  g_templates = templates();
  for (const Case& c : kCases) {
    try {
      g_graphs.push_back(std::make_unique<wt::Graph>(c.graph, *g_plugins));
    } catch (const std::exception& e) {
      fuzz::fail(std::string("case ") + c.name + ": " + e.what());
    }
    std::vector<std::string> hs;
    const ElementClass* k = g_plugins->find(std::string(c.name).substr(0, std::string(c.name).find(' ')));
    if (!k) fuzz::fail(std::string("no class for case ") + c.name);
    for (const auto& h : k->handlers)
      if (h.read) hs.push_back(h.name);
    g_handlers.push_back(hs);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 32768) return -1;
  fuzz::Reader in(data, size);
  const size_t ci = in.u8() % kCaseCount;
  const Case& c = kCases[ci];
  wt::Graph& g = *g_graphs[ci];
  const unsigned input = in.u8() % c.inputs;
  std::vector<wt::Frame> frames;
  while (in.left() > 0 && frames.size() < 64) {
    const uint8_t form = in.u8();
    wt::Frame f;
    if (form < 0x40) {  // raw bytes
      std::string_view b = in.bytes(form < 0x20 ? form : in.u16() % 2048);
      f.assign(b.begin(), b.end());
    } else {  // a template, overwritten in places, cut or extended
      f = g_templates[form % g_templates.size()];
      for (unsigned i = 0, n = in.u8() % 8; i < n; i++) {
        const size_t at = in.u8();
        const uint8_t v = in.u8();
        if (at < f.size()) f[at] = v;
      }
      const uint8_t cut = in.u8();
      if (cut & 0x80) f.resize(cut & 0x7f ? f.size() * (cut & 0x7f) / 128 : 0);
      else if (cut & 0x40) f.resize(f.size() + (cut & 0x3f), 0x5a);
    }
    frames.push_back(std::move(f));
  }
  const unsigned before = rte_mempool_avail_count(wt::pool());
  g.push("e", frames, static_cast<uint16_t>(input));
  if (c.poll) g.run("e");
  for (const auto& h : g_handlers[ci]) g.read_handler("e", h);
  if (std::string(c.graph).find("cap") != std::string::npos) g.take("cap");
  // Whatever is still held must be held by the element (a queue, packets
  // waiting for Portolan), never lost: such cases release them in time.
  if (!c.poll && rte_mempool_avail_count(wt::pool()) < before)
    fuzz::fail(std::string(c.name) + ": packets neither sent on nor dropped");
  return 0;
}
