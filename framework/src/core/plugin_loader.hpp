// PluginLoader: finds plugin shared objects on the search path, checks each
// manifest before any of the plugin's code runs, and registers its element
// element and service classes. Libraries stay loaded for the life of the
// process.
#pragma once

#include <boost/dll/shared_library.hpp>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "weft/element.hpp"
#include "weft/plugin.hpp"

namespace weft {

class PluginError : public std::runtime_error {
 public:
  PluginError(const std::string& path, const std::string& reason)
      : std::runtime_error("plugin " + path + " refused: " + reason), path_(path), reason_(reason) {}
  const std::string& path() const { return path_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string path_, reason_;
};

struct PluginInfo {
  std::string path;
  std::string name, version, description;
  std::string framework_version, compiler_abi, dpdk_version;
  uint16_t abi_major = 0, abi_minor = 0;
  std::vector<std::string> classes;   // element classes (its weft_class_* exports)
  std::vector<std::string> services;  // service classes (its weft_service_* exports)
};

class PluginLoader {
 public:
  // The directory built-in plugins live in, relative to the running binary
  // (bin/../lib/weft/plugins), in the build tree and when installed.
  static std::string default_dir();
  // Directories from a colon-separated list (flag or WEFT_PLUGIN_PATH).
  static std::vector<std::string> split_path(const std::string& list);

  // Loads every *.so of every directory, in order. Throws PluginError for the
  // first plugin refused (directories that are world-writable are refused
  // too), and then keeps nothing this call loaded.
  void load_directories(const std::vector<std::string>& dirs);
  // Loads one plugin file.
  void load(const std::string& path);

  // Registers a class compiled into the running program (tests, harnesses).
  // Throws PluginError on a duplicate name.
  void add_class(const ElementClass& k, const std::string& origin);

  // Registers a service class compiled into the running program.
  void add_service_class(const ServiceClass& k, const std::string& origin);

  const ElementClass* find(const std::string& class_name) const;
  std::vector<std::string> class_names() const;
  const ServiceClass* find_service(const std::string& class_name) const;
  std::vector<std::string> service_class_names() const;
  const std::vector<PluginInfo>& plugins() const { return plugins_; }
  const std::vector<std::string>& directories() const { return dirs_; }
  // Plugin that provides a class ("" if none).
  std::string plugin_of(const std::string& class_name) const;

 private:
  void load_directories_or_throw(const std::vector<std::string>& dirs);
  // The metric families of every registered class (with the framework's labels).
  std::vector<MetricSpec> known_metrics() const;
  std::vector<std::string> dirs_;
  std::vector<PluginInfo> plugins_;
  std::vector<std::shared_ptr<boost::dll::shared_library>> libraries_;
  struct Registered {
    const ElementClass* klass;
    std::string plugin_path;
  };
  std::map<std::string, Registered> classes_;
  struct RegisteredService {
    const ServiceClass* klass;
    std::string plugin_path;
  };
  std::map<std::string, RegisteredService> services_;
};

}  // namespace weft
