// Elements for framework tests: a stamp to detect graph mixes, an element
// that fails to initialize, and one that stalls its worker on demand.
#include <chrono>
#include <thread>

#include <boost/asio/post.hpp>

#include "weft/metadata.hpp"
#include "weft/plugin.hpp"
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
                                            .handler("stall_ms", false, true, "sleep this long in the next push");
    return k;
  }
  void push(uint16_t, weft::Batch& b) override {
    if (unsigned ms = stall_ms_.exchange(0)) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    output(0, b);
  }
  void add_handlers(weft::HandlerSet& h) override {
    h.write("stall_ms", "sleep this long in the next push",
            [this](const std::string& v) { stall_ms_ = static_cast<unsigned>(std::stoul(v)); });
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
                                            .handler("object", true, false, "address of the shared object");
    return k;
  }
  void configure(weft::ConfigContext& ctx) override { compat_ = ctx.params().get<std::string>("compat"); }
  void initialize(weft::InitContext& ctx) override {
    object_ = ctx.shared<int>(id() + ":object", compat_, [] { return std::make_shared<int>(42); });
  }
  void push(uint16_t, weft::Batch& b) override { output(0, b); }
  void add_handlers(weft::HandlerSet& h) override {
    h.read("object", "address of the shared object",
           [this] { return std::to_string(reinterpret_cast<uintptr_t>(object_.get())); });
  }

 private:
  std::string compat_;
  std::shared_ptr<int> object_;
};

// A control-thread service: counts pings; started means its first posted
// handler ran on the control loop.
class PingService final : public weft::Service {
 public:
  std::string kind() const override { return "test"; }
  void start(boost::asio::io_context& io) override {
    boost::asio::post(io, [this] { started_ = true; });
  }
  nlohmann::json command(const std::string& cmd, const nlohmann::json&) override {
    if (cmd != "ping") throw std::invalid_argument("unknown command '" + cmd + "'");
    return {{"pong", ++pings_}, {"started", started_}};
  }
  nlohmann::json status() const override { return {{"pings", pings_}, {"started", started_}}; }
  ~PingService() override { destroyed++; }
  static inline std::atomic<int> destroyed{0};

 private:
  bool started_ = false;
  int pings_ = 0;
};

class ServiceUser final : public weft::Element {
 public:
  static const weft::ElementClass& klass() {
    static const weft::ElementClass k = weft::ElementClass::make<ServiceUser>("TestServiceUser")
                                            .describe("Uses a control-thread service (tests).")
                                            .input("in")
                                            .output("out");
    return k;
  }
  void initialize(weft::InitContext& ctx) override {
    svc_ = weft::service<PingService>(ctx, id() + ":ping", "", [] { return std::make_shared<PingService>(); });
  }
  void push(uint16_t, weft::Batch& b) override { output(0, b); }

 private:
  std::shared_ptr<PingService> svc_;
};

}  // namespace

WEFT_PLUGIN("testkit", "1.0", "elements for framework tests",
            "TestStamp TestThrowOnInit TestStall TestShared TestServiceUser");
WEFT_EXPORT_CLASS(TestStamp, Stamp::klass())
WEFT_EXPORT_CLASS(TestThrowOnInit, ThrowOnInit::klass())
WEFT_EXPORT_CLASS(TestStall, Stall::klass())
WEFT_EXPORT_CLASS(TestShared, Shared::klass())
WEFT_EXPORT_CLASS(TestServiceUser, ServiceUser::klass())
