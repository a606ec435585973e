// PluginLoader: finds plugin shared objects on the search path, checks each
// manifest before any of the plugin's code runs, and registers its element
// and service classes. Libraries stay loaded for the life of the process.
//
// Only root and the user loading plugins may be able to change a plugin file
// or any directory above it, and each file is opened once and loaded through
// that descriptor (core/trusted_files.hpp). A graph from etcd may name plugin
// directories only under the loader's roots (routerd --plugin-root).
#pragma once

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
  // The directory built-in plugins live in, relative to the running binary:
  // bin/../lib/weft/plugins (the build tree, a default install) or
  // bin/../<libdir>/weft/plugins (an install with WEFT_INSTALL_LIBDIR, such as
  // Debian's packages: /usr/bin/routerd, /usr/lib/<multiarch>/weft/plugins).
  static std::string default_dir();
  // Directories from a colon-separated list (flag or WEFT_PLUGIN_PATH).
  static std::vector<std::string> split_path(const std::string& list);

  // Loads every *.so of every directory, in order. Throws PluginError for the
  // first plugin refused (directories that others could write to are refused
  // too: see core/trusted_files.hpp), and then keeps nothing this call loaded.
  void load_directories(const std::vector<std::string>& dirs);
  // Loads one plugin file.
  void load(const std::string& path);

  // Where a graph from etcd may name plugin directories: each must be one of
  // these or below one, symbolic links resolved. Without a call: the
  // built-in directory (default_dir()). Throws PluginError for a root that
  // does not exist.
  void set_roots(const std::vector<std::string>& roots);
  const std::vector<std::string>& roots() const;
  // `dirs`, resolved (canonical), if each lies under a root; throws
  // PluginError naming the first that does not.
  std::vector<std::string> confine(const std::vector<std::string>& dirs) const;

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
  void load_from(int dirfd, const std::string& name, const std::string& path);
  std::vector<std::string> dirs_;
  mutable std::vector<std::string> roots_;
  std::vector<PluginInfo> plugins_;
  struct Library;  // a loaded library and the descriptor it was loaded through
  std::vector<std::shared_ptr<Library>> libraries_;
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
