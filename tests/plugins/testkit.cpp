// Elements for framework tests: a stamp to detect graph mixes, an element
// that fails to initialize, and one that stalls its worker on demand.
#include <chrono>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "weft/metadata.hpp"
#include "weft/plugin.hpp"
#include <nlohmann/json.hpp>

#include "weft/service.hpp"

namespace {

// Writes `gen` into metadata slot `slot` (0 or 1) of every packet.
class Stamp final : public weft::Element {
 public:
  static const weft::ElementClass& klass() {
    static const weft::ElementClass k = weft::ElementClass::make<Stamp>("TestStamp")
                                            .describe("Stamps a generation number into packet metadata (tests).")
                                            .input("in")
                                            .output("out")
                                            .param("gen", weft::ParamType::UInt, "0", "generation to write")
                                            .param("slot", weft::ParamType::UInt, "0", "metadata slot, 0 or 1");
    return k;
  }
  void configure(weft::ConfigContext& ctx) override {
    gen_ = ctx.params().get<uint32_t>("gen");
    slot_ = ctx.params().get<uint32_t>("slot");
    if (slot_ > 1) throw weft::ConfigError(ctx.params().mark("slot"), "slot is 0 or 1");
  }
  void initialize(weft::InitContext&) override {
    field_ = weft::MetaField<uint32_t>(slot_ ? "weft_test_stamp1" : "weft_test_stamp0");
  }
  void push(uint16_t, weft::Batch& b) override {
    for (auto* m : b) field_(m) = gen_;
    output(0, b);
  }

 private:
  uint32_t gen_ = 0, slot_ = 0;
  weft::MetaField<uint32_t> field_;
};

class ThrowOnInit final : public weft::Element {
 public:
  static const weft::ElementClass& klass() {
    static const weft::ElementClass k = weft::ElementClass::make<ThrowOnInit>("TestThrowOnInit")
                                            .describe("Fails in initialize (tests).")
                                            .input("in")
                                            .output("out");
    return k;
  }
  void initialize(weft::InitContext&) override { throw weft::InitError("deliberate failure in initialize"); }
  void push(uint16_t, weft::Batch& b) override { output(0, b); }
};

// Passes packets; writing its `stall_ms` handler makes the next push sleep.
class Stall final : public weft::Element {
 public:
  static const weft::ElementClass& klass() {
    static const weft::ElementClass k = weft::ElementClass::make<Stall>("TestStall")
                                            .describe("Sleeps in push on demand (tests).")
                                            .input("in")
                                            .output("out")
                                            .write("stall_ms", "sleep this long in the next push",
                                                   [](Stall& e, const std::string& v) {
                                                     e.stall_ms_ = static_cast<unsigned>(std::stoul(v));
                                                   });
    return k;
  }
  void push(uint16_t, weft::Batch& b) override {
    if (unsigned ms = stall_ms_.exchange(0)) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    output(0, b);
  }
  // Tests set this directly too (the handler would run on the stalled worker).
  std::atomic<unsigned> stall_ms_{0};
};

// Holds an object shared by all its instances (InitContext::shared); the
// `object` handler shows which one.
class Shared final : public weft::Element {
 public:
  static const weft::ElementClass& klass() {
    static const weft::ElementClass k = weft::ElementClass::make<Shared>("TestShared")
                                            .describe("Holds a shared object (tests).")
                                            .input("in")
                                            .output("out")
                                            .param("compat", weft::ParamType::String, "a", "the object's compat string")
                                            .read("object", "address of the shared object", [](const Shared& e) {
                                              return std::to_string(reinterpret_cast<uintptr_t>(e.object_.get()));
                                            });
    return k;
  }
  void configure(weft::ConfigContext& ctx) override { compat_ = ctx.params().get<std::string>("compat"); }
  void initialize(weft::InitContext& ctx) override {
    object_ = ctx.shared<int>(id() + ":object", compat_, [] { return std::make_shared<int>(42); });
  }
  void push(uint16_t, weft::Batch& b) override { output(0, b); }

 private:
  std::string compat_;
  std::shared_ptr<int> object_;
};

// What a TestPing service publishes for elements (its whole state here):
// packets its users counted, pings answered, whether start() ran.
struct PingState {
  static constexpr std::string_view kServiceHandle = "test.ping";
  std::atomic<uint64_t> packets{0};
  uint64_t pings = 0;
  bool started = false;
};

// A control-thread service (tests): answers `ping`, carries its state across
// reloads; `fail_init` / `fail_take` make initialize() / take_state() fail.
class PingService final : public weft::Service {
 public:
  static const weft::ServiceClass& klass() {
    static const weft::ServiceClass k =
        weft::ServiceClass::make<PingService>("TestPing")
            .describe("Counts pings and its users' packets (tests).")
            .param("fail_init", weft::ParamType::Bool, "false", "initialize() throws")
            .param("fail_take", weft::ParamType::Bool, "false", "take_state() throws")
            .param("tag", weft::ParamType::String, "\"\"", "any text (a parameter change)")
            .provides<PingState>("the counters", [](PingService& s) { return s.state_; })
            .command("ping", "", "one more ping", [](PingService& s, const nlohmann::json&) {
              return nlohmann::json{{"pong", ++s.state_->pings}, {"started", s.state_->started}};
            });
    return k;
  }
  void configure(weft::ServiceConfigContext& ctx) override {
    fail_init_ = ctx.params().get<bool>("fail_init");
    fail_take_ = ctx.params().get<bool>("fail_take");
  }
  void initialize(weft::ServiceInitContext&) override {
    if (fail_init_) throw weft::InitError("deliberate failure in initialize");
    state_ = std::make_shared<PingState>();
  }
  weft::StateCarry take_state(weft::Service& old) override {
    if (fail_take_) throw std::runtime_error("deliberate failure in take_state");
    state_ = std::move(static_cast<PingService&>(old).state_);
    return weft::StateCarry::kept("pings kept");
  }
  void start(boost::asio::io_context& io) override {
    boost::asio::post(io, [s = state_] { s->started = true; });
  }
  void stop() override { stopped++; }
  nlohmann::json status() const override {
    if (!state_) return {{"state", "given away"}};
    return {{"pings", state_->pings}, {"packets", state_->packets.load()}, {"started", state_->started}};
  }
  static inline std::atomic<int> stopped{0};

 private:
  bool fail_init_ = false, fail_take_ = false;
  std::shared_ptr<PingState> state_;
};

// Counts the packets it passes into its TestPing service's state.
class ServiceUser final : public weft::Element {
 public:
  static const weft::ElementClass& klass() {
    static const weft::ElementClass k = weft::ElementClass::make<ServiceUser>("TestServiceUser")
                                            .describe("Uses a control-thread service (tests).")
                                            .input("in")
                                            .output("out")
                                            .uses<PingState>("ping", "the TestPing service to count packets in");
    return k;
  }
  void initialize(weft::InitContext& ctx) override { state_ = ctx.service<PingState>("ping"); }
  void push(uint16_t, weft::Batch& b) override {
    state_->packets.fetch_add(b.count, std::memory_order_relaxed);
    output(0, b);
  }

 private:
  std::shared_ptr<PingState> state_;
};

}  // namespace

WEFT_PLUGIN("testkit", "1.0", "elements for framework tests");
WEFT_EXPORT_CLASS(TestStamp, Stamp::klass())
WEFT_EXPORT_CLASS(TestThrowOnInit, ThrowOnInit::klass())
WEFT_EXPORT_CLASS(TestStall, Stall::klass())
WEFT_EXPORT_CLASS(TestShared, Shared::klass())
WEFT_EXPORT_CLASS(TestServiceUser, ServiceUser::klass())
WEFT_EXPORT_SERVICE(TestPing, PingService::klass())
