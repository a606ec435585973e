#include "yaml_mutator.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstring>
#include <random>

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace weft::fuzz {

namespace {

std::vector<std::string>& words() {
  static std::vector<std::string> w = {
      // class and section words
      "class", "ports", "elements", "services", "connections", "workers", "lcores", "mempool", "eal", "stats",
      "device", "args", "rx_queues", "tx_queues", "rx_desc", "tx_desc", "promiscuous", "burst", "idle_sleep_us",
      "idle_polls", "size", "cache", "packed", "bytes", "include", "name", "port", "output", "outputs", "rules",
      "default", "auto", "drop",
      // devices
      "net_null0", "net_null1", "net_null2", "net_ring0", "net_ring1", "net_null0,size=64",
      // values at the edges of their types
      "", " ", "0", "1", "-1", "2", "3", "255", "256", "4095", "4096", "65535", "65536", "2147483647", "2147483648",
      "4294967295", "4294967296", "9223372036854775807", "9223372036854775808", "18446744073709551615",
      "18446744073709551616", "99999999999999999999999", "-9223372036854775808", "0x", "0x0", "0xffffffff",
      "0x10000000000000000", "1e308", "1e309", "-1e309", ".nan", ".inf", "-.inf", "nan", "0.0", "-0", "1.5", "1/0",
      "true", "false", "yes", "off", "null", "~", "Null",
      // network values
      "0.0.0.0", "255.255.255.255", "0.0.0.0/0", "10.0.0.0/8", "10.0.0.1/32", "10.0.0.0/33", "10.0.0.0/-1",
      "1.2.3.4/", "::", "::/0", "::1", "2001:db8::/32", "2001:db8::1/128", "2001:db8::/129", "::ffff:10.0.0.1",
      "fe80::1%lo", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", "02:00", "0-65535", "65535-0",
      "1-", "-", "80", "127.0.0.1:0", "127.0.0.1:2620", "[::1]:0", ":", "[]", "{}", "a -> b", "->", "[0]", "x[99]",
      "rx -> [7]tx", "tcp", "udp", "icmp", "icmpv6", "arp", "ipv4", "ipv6", "vlan", "qinq",
  };
  return w;
}

struct Rng {
  std::minstd_rand r;
  explicit Rng(unsigned s) : r(s) {}
  size_t below(size_t n) { return n ? r() % n : 0; }
  bool chance(unsigned in) { return below(in) == 0; }
};

// Every node of the document, with its parent (null: the root) and, for map
// entries, its key.
struct Place {
  YAML::Node node, parent;
  YAML::Node key;
};

void collect(const YAML::Node& n, const YAML::Node& parent, const YAML::Node& key, std::vector<Place>& out,
             int depth) {
  out.push_back({n, parent, key});
  if (depth > 12) return;
  if (n.IsMap()) {
    for (auto it = n.begin(); it != n.end(); ++it) collect(it->second, n, it->first, out, depth + 1);
  } else if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); i++) collect(n[i], n, YAML::Node(i), out, depth + 1);
  }
}

std::string value(Rng& rng, const std::vector<Place>& places) {
  switch (rng.below(6)) {
    case 0: {  // a scalar of this file
      std::vector<std::string> s;
      for (const auto& p : places)
        if (p.node.IsScalar()) s.push_back(p.node.Scalar());
      if (!s.empty()) return s[rng.below(s.size())];
      [[fallthrough]];
    }
    case 1:
      return std::string(rng.below(2) ? 300 : 70000, "Aa0:/.-"[rng.below(7)]);
    default:
      return words()[rng.below(words().size())];
  }
}

YAML::Node fresh(Rng& rng, const std::vector<Place>& places) {
  switch (rng.below(5)) {
    case 0: return YAML::Node(YAML::NodeType::Sequence);
    case 1: return YAML::Node(YAML::NodeType::Map);
    case 2: {
      YAML::Node s(YAML::NodeType::Sequence);
      for (size_t i = 0, n = 1 + rng.below(4); i < n; i++) s.push_back(value(rng, places));
      return s;
    }
    case 3: {
      YAML::Node m(YAML::NodeType::Map);
      m[value(rng, places)] = value(rng, places);
      return m;
    }
    default: return YAML::Node(value(rng, places));
  }
}

// Replaces `p` in its parent by `v` (the root cannot be replaced).
void put(const Place& p, const YAML::Node& v) {
  if (!p.parent) return;
  YAML::Node parent = p.parent;
  if (parent.IsMap()) parent[p.key] = v;
  else if (parent.IsSequence()) parent[p.key.as<size_t>()] = v;
}

bool mutate(YAML::Node& root, Rng& rng) {
  std::vector<Place> places;
  collect(root, YAML::Node(), YAML::Node(), places, 0);
  if (places.empty()) return false;
  const Place& p = places[rng.below(places.size())];
  switch (rng.below(8)) {
    case 0:
    case 1:  // a new scalar value
      put(p, YAML::Node(value(rng, places)));
      return true;
    case 2:  // a node of another kind
      put(p, fresh(rng, places));
      return true;
    case 3: {  // remove a map key or a list item
      if (!p.parent) return false;
      YAML::Node parent = p.parent;
      if (parent.IsMap()) return parent.remove(p.key);
      YAML::Node s(YAML::NodeType::Sequence);
      for (size_t i = 0; i < parent.size(); i++)
        if (i != p.key.as<size_t>()) s.push_back(parent[i]);
      for (const auto& q : places)
        if (q.node.is(parent) && q.parent) {
          put(q, s);
          return true;
        }
      return false;
    }
    case 4: {  // duplicate an item or an entry (under a new key)
      if (!p.parent) return false;
      YAML::Node parent = p.parent;
      if (parent.IsSequence()) parent.push_back(YAML::Clone(p.node));
      else parent[p.key.Scalar() + (rng.chance(2) ? "" : "2")] = YAML::Clone(p.node);
      return true;
    }
    case 5: {  // add a key to a map
      for (size_t tries = 0; tries < 8; tries++) {
        YAML::Node m = places[rng.below(places.size())].node;
        if (!m.IsMap()) continue;
        m[words()[rng.below(words().size())]] = value(rng, places);
        return true;
      }
      return false;
    }
    case 6: {  // a copy of another subtree
      const Place& q = places[rng.below(places.size())];
      put(p, YAML::Clone(q.node));
      return true;
    }
    default: {  // an item added to a list
      for (size_t tries = 0; tries < 8; tries++) {
        YAML::Node s = places[rng.below(places.size())].node;
        if (!s.IsSequence()) continue;
        s.push_back(s.size() && rng.chance(2) ? YAML::Clone(s[rng.below(s.size())]) : fresh(rng, places));
        return true;
      }
      return false;
    }
  }
}

}  // namespace

void add_yaml_words(const std::vector<std::string>& w) {
  auto& all = words();
  for (const auto& x : w)
    if (std::find(all.begin(), all.end(), x) == all.end()) all.push_back(x);
}

size_t mutate_yaml(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  Rng rng(seed);
  if (!rng.chance(8)) {
    try {
      YAML::Node root = YAML::Load(std::string(reinterpret_cast<const char*>(data), size));
      if (root.IsMap()) {
        bool changed = false;
        for (size_t i = 0, n = 1 + rng.below(3); i < n; i++) changed |= mutate(root, rng);
        if (changed) {
          YAML::Emitter out;
          out << root;
          if (out.good() && out.size() <= max_size) {
            std::memcpy(data, out.c_str(), out.size());
            return out.size();
          }
        }
      }
    } catch (const std::exception&) {
      // not YAML (any more): bytes, below
    }
  }
  return LLVMFuzzerMutate(data, size, max_size);
}

}  // namespace weft::fuzz
