// A plugin that throws where it is told to, in every lifecycle call of an
// element and of a service (tests/e2e/test_faults_plugin.py): the framework
// must refuse what it cannot run, contain what it runs, and report both.
//
//   TestFaulty (element)   throw_in: configure, initialize, take_state,
//                          cleanup, push, run (push and run also armed at
//                          run time by writing its `throw_next` and
//                          `throw_next_run` handlers; it is polled, so the
//                          worker calls its run() every loop, as a source's)
//   TestFaultyService      throw_in: configure, initialize, take_state,
//                          start, stop, status, health, command (`poke`)
//
// Push throws a std::runtime_error; cleanup throws a value that is not a
// std::exception (a plugin may throw anything).
#include <atomic>
#include <stdexcept>
#include <string>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "weft/plugin.hpp"
#include "weft/service.hpp"

namespace {

// Whether `call` is in the comma-separated list `list`.
bool listed(const std::string& list, const std::string& call) {
  size_t b = 0;
  while (b <= list.size()) {
    size_t e = list.find(',', b);
    if (e == std::string::npos) e = list.size();
    size_t s = b, t = e;
    while (s < t && list[s] == ' ') s++;
    while (t > s && list[t - 1] == ' ') t--;
    if (list.compare(s, t - s, call) == 0) return true;
    b = e + 1;
  }
  return false;
}

struct NotAStdException {
  int code = 7;
};

class Faulty final : public weft::Element {
 public:
  static const weft::ElementClass& klass() {
    static const weft::ElementClass k =
        weft::ElementClass::make<Faulty>("TestFaulty")
            .describe("Passes packets; throws in the calls its throw_in lists (tests).")
            .input("in")
            .poll()
            .output("out")
            .param("throw_in", weft::ParamType::String, "\"\"",
                   "comma-separated: configure, initialize, take_state, cleanup, push, run")
            .param("tag", weft::ParamType::String, "\"\"", "any text (a parameter change)")
            .write("throw_next", "the next push throws", [](Faulty& e, const std::string&) { e.throw_next_ = true; })
            .write("throw_next_run", "the next run (every worker loop) throws",
                   [](Faulty& e, const std::string&) { e.throw_next_run_ = true; });
    return k;
  }
  void configure(weft::ConfigContext& ctx) override {
    throw_in_ = ctx.params().get<std::string>("throw_in");
    if (listed(throw_in_, "configure")) throw std::runtime_error("TestFaulty: deliberate failure in configure");
  }
  void initialize(weft::InitContext&) override {
    if (listed(throw_in_, "initialize")) throw std::runtime_error("TestFaulty: deliberate failure in initialize");
    throw_next_ = listed(throw_in_, "push");
    throw_next_run_ = listed(throw_in_, "run");
  }
  weft::StateCarry take_state(weft::Element&) override {
    if (listed(throw_in_, "take_state")) throw std::runtime_error("TestFaulty: deliberate failure in take_state");
    return weft::StateCarry::kept("nothing to carry");
  }
  void cleanup() override {
    if (listed(throw_in_, "cleanup")) throw NotAStdException{};
  }
  void push(uint16_t, weft::Batch& b) override {
    if (throw_next_.exchange(false)) throw std::runtime_error("TestFaulty: deliberate failure in push");
    output(0, b);
  }
  bool run() override {
    if (throw_next_run_.load(std::memory_order_relaxed) && throw_next_run_.exchange(false)) throw std::runtime_error("TestFaulty: deliberate failure in run");
    return false;
  }

 private:
  std::string throw_in_;
  std::atomic<bool> throw_next_{false};
  std::atomic<bool> throw_next_run_{false};
};

class FaultyService final : public weft::Service {
 public:
  static const weft::ServiceClass& klass() {
    static const weft::ServiceClass k =
        weft::ServiceClass::make<FaultyService>("TestFaultyService")
            .describe("Throws in the calls its throw_in lists (tests).")
            .param("throw_in", weft::ParamType::String, "\"\"",
                   "comma-separated: configure, initialize, take_state, start, stop, status, health, command")
            .param("tag", weft::ParamType::String, "\"\"", "any text (a parameter change)")
            .command("poke", "", "answers, or throws", [](FaultyService& s, const nlohmann::json&) {
              if (s.has("command")) throw std::runtime_error("TestFaultyService: deliberate failure in poke");
              return nlohmann::json{{"pokes", ++s.pokes_}};
            });
    return k;
  }
  void configure(weft::ServiceConfigContext& ctx) override {
    throw_in_ = ctx.params().get<std::string>("throw_in");
    if (has("configure")) throw std::runtime_error("TestFaultyService: deliberate failure in configure");
  }
  void initialize(weft::ServiceInitContext&) override {
    if (has("initialize")) throw std::runtime_error("TestFaultyService: deliberate failure in initialize");
  }
  weft::StateCarry take_state(weft::Service& old) override {
    if (has("take_state")) throw std::runtime_error("TestFaultyService: deliberate failure in take_state");
    pokes_ = static_cast<FaultyService&>(old).pokes_;
    return weft::StateCarry::kept("pokes kept");
  }
  void start(boost::asio::io_context&) override {
    if (has("start")) throw std::runtime_error("TestFaultyService: deliberate failure in start");
  }
  void stop() override {
    if (has("stop")) throw std::runtime_error("TestFaultyService: deliberate failure in stop");
  }
  nlohmann::json status() const override {
    if (has("status")) throw std::runtime_error("TestFaultyService: deliberate failure in status");
    return {{"pokes", pokes_}};
  }
  weft::ServiceHealth health() const override {
    if (has("health")) throw std::runtime_error("TestFaultyService: deliberate failure in health");
    return {};
  }

 private:
  bool has(const char* call) const { return listed(throw_in_, call); }
  std::string throw_in_;
  uint64_t pokes_ = 0;
};

}  // namespace

WEFT_PLUGIN("faulty", "1.0", "elements and services that throw (tests)");
WEFT_EXPORT_CLASS(TestFaulty, Faulty::klass())
WEFT_EXPORT_SERVICE(TestFaultyService, FaultyService::klass())
