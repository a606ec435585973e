// LocalAddresses — a service keeping the router's own IPv4 addresses, which
// elements answering for the router read (IcmpEchoResponder). Its class
// declaration (klass() below) is its manual: `routerctl elements --doc
// LocalAddresses`.
//
// The state is the published table itself (tables/local_address_table.hpp):
// the running table moves to the new service on reload, so elements of the
// old and the new graph read the same object. `add` and `remove` change it
// without a reload; a reload keeps those changes unless it changes the
// `addresses` parameter, which then becomes the table again.
#include <nlohmann/json.hpp>
#include <weft/plugin.hpp>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tables/local_address_table.hpp"

namespace example {

namespace {

// The `address=A` argument of a command.
weft::Ip4 address_arg(const nlohmann::json& args) {
  const auto it = args.find("address");
  if (it == args.end() || !it->is_string()) throw std::invalid_argument("expected address=A, an IPv4 address");
  const auto a = weft::Ip4::parse(it->get<std::string>());
  if (!a) throw std::invalid_argument("address: expected an IPv4 address such as 192.0.2.1, got '" +
                                      it->get<std::string>() + "'");
  return *a;
}

nlohmann::json to_json(const std::vector<weft::Ip4>& addresses) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : addresses) out.push_back(a.str());
  return out;
}

}  // namespace

class LocalAddresses final : public weft::Service {
 public:
  static const weft::ServiceClass& klass() {
    static const weft::ServiceClass k =
        weft::ServiceClass::make<LocalAddresses>("LocalAddresses")
            .describe("The router's own IPv4 addresses, for the elements that answer for them; changed live.",
                      "Keeps a table of addresses that elements such as IcmpEchoResponder read on every worker\n"
                      "without locks. It starts with `addresses`; `add` and `remove` change it at run time. A\n"
                      "reload keeps the table as the commands left it, unless it changes `addresses`.")
            .param("addresses", weft::ParamType::List, "[]", "IPv4 addresses it starts with, e.g. [192.0.2.1]")
            .provides<LocalAddressTable>("the addresses, read by workers without locks",
                                         [](LocalAddresses& s) { return s.table_; })
            .command("add", "address=A", "add address A to the table",
                     [](LocalAddresses& s, const nlohmann::json& a) { return s.add(address_arg(a)); })
            .command("remove", "address=A", "remove address A from the table",
                     [](LocalAddresses& s, const nlohmann::json& a) { return s.remove(address_arg(a)); });
    return k;
  }

  void configure(weft::ServiceConfigContext& ctx) override {
    for (const weft::ParamValue& item : ctx.params().value("addresses").items()) {
      const auto a = item.as<weft::Ip4>("addresses");  // "addresses: expected an IPv4 address..." at the item
      if (std::find(configured_.begin(), configured_.end(), a) != configured_.end())
        throw weft::ConfigError(item.mark(), "addresses: " + a.str() + " is listed twice");
      configured_.push_back(a);
    }
    std::sort(configured_.begin(), configured_.end());
  }

  void initialize(weft::ServiceInitContext& ctx) override {
    table_ = std::make_shared<LocalAddressTable>(ctx.rcu());
    table_->publish(configured_);
  }

  // Also runs the other way (old.take_state(*this)) when a reload is rolled
  // back, so it must leave `old` untouched if it throws.
  weft::StateCarry take_state(weft::Service& old) override {
    auto& from = static_cast<LocalAddresses&>(old);
    const bool same = from.configured_ == configured_;
    if (!same) from.table_->publish(configured_);  // may throw: nothing moved yet
    table_ = std::move(from.table_);
    return same ? weft::StateCarry::kept("addresses kept, with the changes made by commands")
                : weft::StateCarry::reset("addresses changed: the table holds the new list");
  }

  nlohmann::json status() const override {
    if (!table_) return {{"state", "given to its successor"}};
    const auto& now = table_->snapshot().addresses;
    return {{"state", std::to_string(now.size()) + (now.size() == 1 ? " address" : " addresses")},
            {"addresses", to_json(now)}};
  }

 private:
  nlohmann::json add(const weft::Ip4& a) {
    std::vector<weft::Ip4> next = table_->snapshot().addresses;
    if (std::find(next.begin(), next.end(), a) != next.end())
      throw std::invalid_argument(a.str() + " is in the table already");
    next.push_back(a);
    table_->publish(std::move(next));
    return {{"addresses", to_json(table_->snapshot().addresses)}};
  }

  nlohmann::json remove(const weft::Ip4& a) {
    std::vector<weft::Ip4> next = table_->snapshot().addresses;
    const auto it = std::find(next.begin(), next.end(), a);
    if (it == next.end()) throw std::invalid_argument(a.str() + " is not in the table");
    next.erase(it);
    table_->publish(std::move(next));
    return {{"addresses", to_json(table_->snapshot().addresses)}};
  }

  std::vector<weft::Ip4> configured_;  // the `addresses` parameter, sorted
  std::shared_ptr<LocalAddressTable> table_;
};

}  // namespace example

WEFT_EXPORT_SERVICE(LocalAddresses, example::LocalAddresses::klass())
