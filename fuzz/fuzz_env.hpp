// What every fuzz target shares: DPDK started once per process (no
// hugepages, no PCI, lcores 0-3 on one CPU, warnings only), the built-in
// plugins loaded by the loader routerd uses, and the sandbox a fuzzed graph
// runs in (ports limited to DPDK's null and ring devices).
//
// A fuzz target is a libFuzzer program (fuzz/CMakeLists.txt): it defines
// LLVMFuzzerTestOneInput, and fails (aborts, with a sanitizer report) on a
// crash, an ASan/UBSan finding or a broken invariant it checks itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/graph_spec.hpp"
#include "core/plugin_loader.hpp"

namespace weft::fuzz {

// Starts DPDK for this process if it is not running (idempotent).
void start_dpdk();
// Weft's built-in plugins, loaded once.
const PluginLoader& builtin_plugins();
// Rewrites a parsed graph so that it touches nothing outside the process:
// every port becomes a DPDK null or ring device (any other device, a PCI
// address, a pcap file or a tap interface, becomes net_nullN), and eal,
// plugins, control and fleet settings are ignored. Returns false if the
// graph cannot be made safe.
bool sandbox(GraphSpec& g);
// Makes sure every port's device of `g` exists in DPDK (creating null and
// ring devices that an earlier run closed), as routerd's EAL would have.
void attach_devices(const GraphSpec& g);

// A broken invariant: prints and aborts, so libFuzzer records the input.
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Reads a fuzz input field by field; past the end every read gives 0.
class Reader {
 public:
  Reader(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  size_t left() const { return n_ - i_; }
  uint8_t u8() { return i_ < n_ ? d_[i_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | u8() << 8); }
  uint32_t u32() { return u16() | static_cast<uint32_t>(u16()) << 16; }
  // Up to `max` bytes (fewer at the end).
  std::string_view bytes(size_t max) {
    size_t k = std::min(max, left());
    std::string_view v(reinterpret_cast<const char*>(d_ + i_), k);
    i_ += k;
    return v;
  }
  std::string_view rest() { return bytes(left()); }

 private:
  const uint8_t* d_;
  size_t n_, i_ = 0;
};

}  // namespace weft::fuzz
