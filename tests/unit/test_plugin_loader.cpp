// The plugin loader: manifests are checked before any factory runs, and each
// refusal says exactly why.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>

#include "core/plugin_loader.hpp"
#include "test_env.hpp"

using namespace weft;
namespace fs = std::filesystem;

namespace {
std::string refusal(const std::vector<std::string>& dirs, bool with_builtin = false) {
  PluginLoader l;
  std::vector<std::string> all = dirs;
  if (with_builtin) all.insert(all.begin(), test::builtin_plugin_dir());
  try {
    l.load_directories(all);
  } catch (const PluginError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("built-in plugin loads with its manifest and classes", "[loader]") {
  PluginLoader l;
  l.load_directories({test::builtin_plugin_dir()});
  auto it = std::find_if(l.plugins().begin(), l.plugins().end(), [](const PluginInfo& x) { return x.name == "basic"; });
  REQUIRE(it != l.plugins().end());
  const PluginInfo& p = *it;
  CHECK(p.name == "basic");
  CHECK(p.abi_major == WEFT_PLUGIN_ABI_MAJOR);
  CHECK(p.compiler_abi == kCompilerAbi);
  CHECK(p.dpdk_version == WEFT_DPDK_VERSION);
  for (const char* c : {"PortRx", "PortTx", "Classifier", "Merge", "Forward", "Counter", "Discard", "Tee", "Pass"})
    CHECK(l.find(c) != nullptr);
  CHECK(l.find("Classifier")->params.size() == 3);
}

TEST_CASE("a plugin's element and service classes are its exports", "[loader]") {
  PluginLoader l;
  l.load_directories({test::builtin_plugin_dir()});
  auto it = std::find_if(l.plugins().begin(), l.plugins().end(), [](const PluginInfo& x) { return x.name == "route"; });
  REQUIRE(it != l.plugins().end());
  CHECK(it->classes == std::vector<std::string>{"ArpNd", "IcmpEcho", "IcmpError", "IpLocal", "IpLookup"});
  CHECK(it->services == std::vector<std::string>{"Fib", "HostPath", "Interfaces"});
  REQUIRE(l.find_service("Fib") != nullptr);
  CHECK(l.find("Fib") == nullptr);  // a service class is not an element class
  CHECK(l.find_service("Fib")->find_handle("route.fib") != nullptr);
  CHECK(l.find_service("Fib")->find_command("routes") != nullptr);
  CHECK(l.plugin_of("Fib").find("weft_route.so") != std::string::npos);
}

TEST_CASE("a third-party plugin loads beside the built-ins", "[loader]") {
  PluginLoader l;
  l.load_directories({test::builtin_plugin_dir(), test::test_plugin_dir("good_extra")});
  REQUIRE(l.find("TestPassthrough"));
  CHECK(l.plugin_of("TestPassthrough").find("good_extra.so") != std::string::npos);
  CHECK(l.plugins().back().version == "1.2.3");  // loaded after the built-in directory
}

TEST_CASE("plugin refusals name the reason", "[loader]") {
  const std::string framework_abi = std::to_string(WEFT_PLUGIN_ABI_MAJOR) + "." + std::to_string(WEFT_PLUGIN_ABI_MINOR);
  CHECK_THAT(refusal({test::test_plugin_dir("bad_abi")}),
             Catch::Contains("plugin ABI 99.0 is not compatible with the framework's ABI " + framework_abi));
  // A plugin built against the previous SDK (ABI 1) is refused by its manifest, before any code runs.
  CHECK_THAT(refusal({test::test_plugin_dir("old_abi")}),
             Catch::Contains("plugin ABI 1.0 is not compatible with the framework's ABI " + framework_abi +
                             " (rebuild the plugin against Weft " WEFT_VERSION_STRING ")"));
  CHECK_THAT(refusal({test::test_plugin_dir("newer_minor")}),
             Catch::Contains("plugin ABI " + std::to_string(WEFT_PLUGIN_ABI_MAJOR) + "." +
                             std::to_string(WEFT_PLUGIN_ABI_MINOR + 1) + " is not compatible with the framework's ABI " +
                             framework_abi));
  CHECK_THAT(refusal({test::test_plugin_dir("bad_cxx_abi")}),
             Catch::Contains("C++ ABI mismatch: plugin built with itanium/libc++-1"));
  CHECK_THAT(refusal({test::test_plugin_dir("no_manifest")}), Catch::Contains("missing manifest"));
  CHECK_THAT(refusal({test::test_plugin_dir("dup_class")}, true),
             Catch::Contains("duplicate class 'Counter': already provided by") &&
                 Catch::Contains("weft_basic.so"));
  CHECK_THAT(refusal({test::test_plugin_dir("no_classes")}),
             Catch::Contains("exports no element or service class"));
  CHECK_THAT(refusal({test::test_plugin_dir("drop_bound_twice")}),
             Catch::Contains("class 'Twice' could not be described: class Twice: drop reason 'second' declared with a "
                             "handle bound elsewhere"));
  CHECK_THAT(refusal({test::test_plugin_dir("undefined_symbol")}),
             Catch::Contains("undefined symbol: weft_test_symbol_that_does_not_exist"));
  CHECK_THAT(refusal({"/nonexistent/weft/plugins"}), Catch::Contains("does not exist"));
}

TEST_CASE("world-writable plugin directories are refused", "[loader]") {
  fs::path dir = fs::temp_directory_path() / ("weft-ww-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(test::test_plugin_dir("good_extra") + "/good_extra.so", dir / "good_extra.so",
                fs::copy_options::overwrite_existing);
  ::chmod(dir.c_str(), 0777);
  std::string why = refusal({dir.string()});
  ::chmod(dir.c_str(), 0755);
  ::chmod((dir / "good_extra.so").c_str(), 0666);
  std::string why_file = refusal({dir.string()});
  fs::remove_all(dir);
  CHECK_THAT(why, Catch::Contains("world-writable"));
  CHECK_THAT(why_file, Catch::Contains("plugin file is world-writable"));
}

TEST_CASE("a refused directory leaves the loader as it was, and a corrected retry loads", "[loader]") {
  // As a running router's reload does: the built-ins are loaded, then a
  // graph names a directory holding a good plugin and a refused one.
  fs::path dir = fs::temp_directory_path() / ("weft-retry-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ::chmod(dir.c_str(), 0755);
  fs::copy_file(test::test_plugin_dir("good_extra") + "/good_extra.so", dir / "a_good_extra.so",
                fs::copy_options::overwrite_existing);
  fs::copy_file(test::test_plugin_dir("undefined_symbol") + "/undefined_symbol.so", dir / "b_undefined_symbol.so",
                fs::copy_options::overwrite_existing);
  PluginLoader l;
  l.load_directories({test::builtin_plugin_dir()});
  const size_t plugins = l.plugins().size(), classes = l.class_names().size(), dirs = l.directories().size();

  std::string why;
  try {
    l.load_directories({dir.string()});
  } catch (const PluginError& e) {
    why = e.what();
  }
  CHECK_THAT(why, Catch::Contains("b_undefined_symbol.so refused") &&
                      Catch::Contains("undefined symbol: weft_test_symbol_that_does_not_exist"));
  CHECK(l.plugins().size() == plugins);
  CHECK(l.class_names().size() == classes);
  CHECK(l.directories().size() == dirs);
  CHECK(l.find("TestPassthrough") == nullptr);  // loaded before the refusal, then forgotten

  fs::remove(dir / "b_undefined_symbol.so");
  l.load_directories({dir.string()});
  CHECK(l.find("TestPassthrough") != nullptr);
  CHECK(l.plugins().size() == plugins + 1);
  fs::remove_all(dir);
}
