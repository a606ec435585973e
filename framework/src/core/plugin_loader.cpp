#include "core/plugin_loader.hpp"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>

#include <cstring>

#include <algorithm>
#include <boost/dll/library_info.hpp>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <set>
#include <sstream>

#include "core/metric_catalog.hpp"

#include "core/text.hpp"
#include "core/trusted_files.hpp"
#include "weft/log.hpp"

namespace fs = std::filesystem;

namespace weft {

namespace {
constexpr const char* kManifestSection = "weft_mf";
constexpr const char* kManifestSymbol = "weft_plugin_manifest";
constexpr const char* kFactoryPrefix = "weft_class_";
constexpr const char* kServicePrefix = "weft_service_";

std::string str_or(const char* s) { return s ? std::string(s) : std::string("(null)"); }

// A class description is built on its factory's first call: a mistake in it
// (a drop handle declared twice, say) refuses the plugin with the reason.
template <class F>
auto call_factory(const std::string& path, const std::string& name, F& factory) {
  try {
    return factory();
  } catch (const std::exception& e) {
    throw PluginError(path, "class '" + name + "' could not be described: " + e.what());
  }
}
}  // namespace

std::string PluginLoader::default_dir() {
  // The build tree (and an install with libdir "lib"): bin/../lib/weft/plugins;
  // else the installed layout, bin/../<libdir>/weft/plugins (Debian: lib/<multiarch>).
  const fs::path prefix = fs::path(boost::dll::program_location().string()).parent_path().parent_path();
  const fs::path build_tree = prefix / "lib" / "weft" / "plugins";
  const fs::path installed = prefix / WEFT_PLUGIN_INSTALL_DIR;
  std::error_code ec;
  if (fs::is_directory(build_tree, ec) || !fs::is_directory(installed, ec)) return build_tree.string();
  return installed.string();
}

void PluginLoader::set_roots(const std::vector<std::string>& roots) {
  std::vector<std::string> out;
  for (const auto& r : roots) {
    std::error_code ec;
    fs::path canon = fs::canonical(r, ec);
    if (ec || !fs::is_directory(canon, ec)) throw PluginError(r, "plugin root does not exist or is not a directory");
    out.push_back(canon.string());
  }
  roots_ = std::move(out);
}

const std::vector<std::string>& PluginLoader::roots() const {
  if (roots_.empty()) {
    std::error_code ec;
    fs::path canon = fs::canonical(default_dir(), ec);
    roots_.push_back(ec ? default_dir() : canon.string());
  }
  return roots_;
}

std::vector<std::string> PluginLoader::confine(const std::vector<std::string>& dirs) const {
  std::vector<std::string> out;
  for (const auto& d : dirs) {
    std::error_code ec;
    fs::path canon = fs::canonical(d, ec);
    if (ec) throw PluginError(d, "plugin directory does not exist or cannot be read");
    bool under = false;
    for (const auto& r : roots()) {
      // Component by component: /opt/weft-evil is not under /opt/weft.
      const fs::path root(r);
      if (std::mismatch(root.begin(), root.end(), canon.begin(), canon.end()).first == root.end()) under = true;
    }
    if (!under) {
      std::string list;
      for (const auto& r : roots()) list += (list.empty() ? "" : ", ") + r;
      throw PluginError(d, "a graph from etcd may name plugin directories only under routerd's plugin roots (" + list +
                               "; add one with --plugin-root)" +
                               (canon.string() != d ? "; this one resolves to " + canon.string() : ""));
    }
    out.push_back(canon.string());
  }
  return out;
}

std::vector<std::string> PluginLoader::split_path(const std::string& list) {
  std::vector<std::string> out;
  for (auto& p : split(list, ':'))
    if (!p.empty()) out.push_back(p);
  return out;
}

void PluginLoader::load_directories(const std::vector<std::string>& dirs) {
  // All or nothing: if one plugin is refused, forget every directory, plugin
  // and class this call added, so that the loader (and a running router
  // asked to reload) is exactly as before and a corrected retry can succeed.
  const size_t dirs_before = dirs_.size(), plugins_before = plugins_.size(), libs_before = libraries_.size();
  const auto classes_before = classes_;
  const auto services_before = services_;
  try {
    load_directories_or_throw(dirs);
  } catch (...) {
    classes_ = classes_before;
    services_ = services_before;
    plugins_.resize(plugins_before);
    dirs_.resize(dirs_before);
    libraries_.resize(libs_before);  // unloads what nothing refers to any more
    throw;
  }
}

void PluginLoader::load_directories_or_throw(const std::vector<std::string>& dirs) {
  std::set<std::string> seen;
  for (const auto& d : dirs) {
    std::error_code ec;
    fs::path canon = fs::canonical(d, ec);
    if (ec) throw PluginError(d, "plugin directory does not exist or cannot be read");
    if (!seen.insert(canon.string()).second) continue;
    // Already loaded (a reload naming the same directories): nothing new.
    if (std::find(dirs_.begin(), dirs_.end(), canon.string()) != dirs_.end()) continue;
    if (!fs::is_directory(canon, ec)) throw PluginError(d, "not a directory");
    FileDescriptor dir;
    try {
      dir = open_trusted_directory(canon.string());
    } catch (const TrustError& e) {
      throw PluginError(d, e.what());
    }
    dirs_.push_back(canon.string());
    // The listing is read through the checked descriptor, not the name.
    FileDescriptor listing(::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    DIR* dp = listing ? ::fdopendir(listing.get()) : nullptr;
    if (!dp) throw PluginError(d, std::string("cannot list the plugin directory: ") + std::strerror(errno));
    listing.release();  // closedir closes it
    std::vector<std::pair<std::string, bool>> files;  // name, is a symbolic link
    while (struct dirent* e = ::readdir(dp)) {
      const std::string name = e->d_name;
      if (fs::path(name).extension() != ".so") continue;
      struct stat st {};
      if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (S_ISREG(st.st_mode)) files.emplace_back(name, false);
      else if (S_ISLNK(st.st_mode) && ::fstatat(dir.get(), name.c_str(), &st, 0) == 0 && S_ISREG(st.st_mode))
        files.emplace_back(name, true);
    }
    ::closedir(dp);
    std::sort(files.begin(), files.end());
    for (const auto& [name, link] : files) {
      const std::string path = (canon / name).string();
      // A link's target is checked from / like any file named by path.
      if (link) load(path);
      else load_from(dir.get(), name, path);
    }
  }
}

void PluginLoader::load(const std::string& path) {
  std::error_code ec;
  fs::path real = fs::canonical(path, ec);
  if (ec) throw PluginError(path, "cannot stat the file");
  FileDescriptor dir;
  try {
    dir = open_trusted_directory(real.parent_path().string());
  } catch (const TrustError& e) {
    throw PluginError(path, e.what());
  }
  load_from(dir.get(), real.filename().string(), path);
}

// The library stays mapped under the /proc name of the descriptor it was
// loaded through, and the dynamic linker finds loaded libraries by that name
// first: the descriptor must not be closed (and its number reused for another
// file) while the library is still there.
struct PluginLoader::Library {
  boost::dll::shared_library lib;
  FileDescriptor fd;
  std::string proc_path;
  ~Library() {
    lib.unload();
    if (still_loaded()) (void)fd.release();  // kept open for the life of the process, on purpose
  }
  bool still_loaded() const {
    void* h = ::dlopen(proc_path.c_str(), RTLD_LAZY | RTLD_NOLOAD);
    if (!h) return false;
    link_map* lm = nullptr;
    bool ours = ::dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && proc_path == lm->l_name;
    ::dlclose(h);
    return ours;
  }
};

void PluginLoader::load_from(int dirfd, const std::string& name, const std::string& path) {
  TrustedFile file;
  try {
    file = open_trusted_file(dirfd, name);
  } catch (const TrustError& e) {
    throw PluginError(path, e.what());
  }
  // From here on the file is named by its descriptor only: what is read and
  // loaded is what was checked, whatever happens to the name meanwhile.
  const std::string& fdpath = file.proc_path;

  // 1. Look at the ELF file without loading it: manifest and factory symbols.
  std::vector<std::string> factories, service_factories;
  try {
    boost::dll::library_info info(fdpath);
    auto sections = info.sections();
    if (std::find(sections.begin(), sections.end(), kManifestSection) == sections.end())
      throw PluginError(path, "missing manifest (no '" + std::string(kManifestSection) +
                                  "' section; build the plugin with WEFT_PLUGIN(...))");
    auto msyms = info.symbols(kManifestSection);
    if (std::find(msyms.begin(), msyms.end(), kManifestSymbol) == msyms.end())
      throw PluginError(path, "missing manifest (no symbol '" + std::string(kManifestSymbol) + "')");
    for (const auto& s : info.symbols("boostdll"))
      if (s.rfind(kFactoryPrefix, 0) == 0) factories.push_back(s.substr(std::strlen(kFactoryPrefix)));
      else if (s.rfind(kServicePrefix, 0) == 0) service_factories.push_back(s.substr(std::strlen(kServicePrefix)));
  } catch (const PluginError&) {
    throw;
  } catch (const std::exception& e) {
    throw PluginError(path, std::string("not a loadable shared object: ") + e.what());
  }

  // 2. Load it (RTLD_NOW: an undefined symbol is reported now, by name) and
  //    check the manifest before calling anything in it.
  auto loaded = std::make_shared<Library>();
  loaded->proc_path = fdpath;
  loaded->fd = std::move(file.fd);
  boost::dll::shared_library* lib = &loaded->lib;
  boost::dll::fs::error_code ec;
  lib->load(fdpath, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec) {
    // Ask the dynamic linker again for its own words (they name a missing
    // symbol), and name the file rather than its descriptor.
    std::string why = ec.message();
    if (void* h = ::dlopen(fdpath.c_str(), RTLD_NOW | RTLD_LOCAL)) ::dlclose(h);
    else if (const char* e = ::dlerror()) why = e;
    for (size_t at; (at = why.find(fdpath)) != std::string::npos;) why.replace(at, fdpath.size(), path);
    throw PluginError(path, "cannot be loaded: " + why);
  }
  const PluginManifest& m = lib->get_alias<const PluginManifest>(kManifestSymbol);
  if (m.magic != kManifestMagic) throw PluginError(path, "manifest has a bad magic number (not a Weft plugin)");
  if (m.abi_major != kPluginAbiMajor || m.abi_minor > kPluginAbiMinor) {
    std::ostringstream os;
    os << "plugin ABI " << m.abi_major << "." << m.abi_minor << " is not compatible with the framework's ABI "
       << kPluginAbiMajor << "." << kPluginAbiMinor << " (rebuild the plugin against Weft " << kVersion << ")";
    throw PluginError(path, os.str());
  }
  if (str_or(m.compiler_abi) != kCompilerAbi)
    throw PluginError(path, "C++ ABI mismatch: plugin built with " + str_or(m.compiler_abi) + ", framework with " +
                                kCompilerAbi);
  if (str_or(m.dpdk_version) != WEFT_DPDK_VERSION)
    throw PluginError(path, "DPDK version mismatch: plugin built against DPDK " + str_or(m.dpdk_version) +
                                ", framework uses DPDK " + WEFT_DPDK_VERSION);

  PluginInfo info;
  info.path = path;
  info.name = str_or(m.name);
  info.version = str_or(m.version);
  info.description = str_or(m.description);
  info.framework_version = str_or(m.framework_version);
  info.compiler_abi = str_or(m.compiler_abi);
  info.dpdk_version = str_or(m.dpdk_version);
  info.abi_major = m.abi_major;
  info.abi_minor = m.abi_minor;
  // The plugin's classes are its exports (weft_class_NAME, weft_service_NAME).
  std::sort(factories.begin(), factories.end());
  std::sort(service_factories.begin(), service_factories.end());
  info.classes = factories;
  info.services = service_factories;
  if (factories.empty() && service_factories.empty())
    throw PluginError(path, "exports no element or service class (add WEFT_EXPORT_CLASS(Name, ...) or "
                            "WEFT_EXPORT_SERVICE(Name, ...))");
  auto taken = [&](const std::string& c) -> std::string {
    if (auto it = classes_.find(c); it != classes_.end()) return it->second.plugin_path;
    if (auto it = services_.find(c); it != services_.end()) return it->second.plugin_path;
    return {};
  };
  for (const auto& c : factories)
    if (auto by = taken(c); !by.empty()) throw PluginError(path, "duplicate class '" + c + "': already provided by " + by);
  for (const auto& c : service_factories) {
    if (auto by = taken(c); !by.empty()) throw PluginError(path, "duplicate class '" + c + "': already provided by " + by);
    if (std::find(factories.begin(), factories.end(), c) != factories.end())
      throw PluginError(path, "'" + c + "' is exported as both an element class and a service class");
  }

  // 3. Only now run the plugin's factories.
  std::vector<std::pair<std::string, const ElementClass*>> found;
  for (const auto& c : info.classes) {
    auto factory = lib->get_alias<ClassFactory>(kFactoryPrefix + c);
    const ElementClass* k = call_factory(path, c, factory);
    if (!k || k->name != c)
      throw PluginError(path, "factory '" + std::string(kFactoryPrefix) + c + "' returned class '" +
                                  (k ? k->name : std::string("(null)")) + "'");
    if (!k->create) throw PluginError(path, "class '" + c + "' has no create function");
    found.emplace_back(c, k);
  }
  std::vector<std::pair<std::string, const ServiceClass*>> found_services;
  for (const auto& c : info.services) {
    auto factory = lib->get_alias<ServiceFactory>(kServicePrefix + c);
    const ServiceClass* k = call_factory(path, c, factory);
    if (!k || k->name != c)
      throw PluginError(path, "factory '" + std::string(kServicePrefix) + c + "' returned service class '" +
                                  (k ? k->name : std::string("(null)")) + "'");
    if (!k->create) throw PluginError(path, "service class '" + c + "' has no create function");
    found_services.emplace_back(c, k);
  }
  std::vector<MetricSpec> known = known_metrics();
  auto check = [&](const std::string& c, std::vector<MetricSpec> families) {
    for (auto& f : families) {
      if (std::string why = metric_conflict(f, known); !why.empty()) throw PluginError(path, "class '" + c + "': " + why);
      known.push_back(std::move(f));
    }
  };
  for (auto& [cname, k] : found_services) check(cname, families_of(*k));
  for (auto& [cname, k] : found) check(cname, families_of(*k));
  for (auto& [cname, k] : found_services) services_[cname] = {k, path};
  for (auto& [cname, k] : found) classes_[cname] = {k, path};
  plugins_.push_back(std::move(info));
  libraries_.push_back(std::move(loaded));
}

std::vector<MetricSpec> PluginLoader::known_metrics() const {
  std::vector<MetricSpec> out;
  for (const auto& [n, r] : classes_)
    for (auto& m : families_of(*r.klass)) out.push_back(std::move(m));
  for (const auto& [n, r] : services_)
    for (auto& m : families_of(*r.klass)) out.push_back(std::move(m));
  return out;
}

void PluginLoader::add_service_class(const ServiceClass& k, const std::string& origin) {
  if (auto it = classes_.find(k.name); it != classes_.end())
    throw PluginError(origin, "duplicate class '" + k.name + "': already provided by " + it->second.plugin_path);
  if (auto it = services_.find(k.name); it != services_.end())
    throw PluginError(origin, "duplicate class '" + k.name + "': already provided by " + it->second.plugin_path);
  const std::vector<MetricSpec> known = known_metrics();
  for (const auto& m : families_of(k))
    if (std::string why = metric_conflict(m, known); !why.empty()) throw PluginError(origin, "class '" + k.name + "': " + why);
  services_[k.name] = {&k, origin};
}

const ServiceClass* PluginLoader::find_service(const std::string& class_name) const {
  auto it = services_.find(class_name);
  return it == services_.end() ? nullptr : it->second.klass;
}

std::vector<std::string> PluginLoader::service_class_names() const {
  std::vector<std::string> out;
  for (const auto& [n, r] : services_) out.push_back(n);
  return out;
}

void PluginLoader::add_class(const ElementClass& k, const std::string& origin) {
  if (auto it = classes_.find(k.name); it != classes_.end())
    throw PluginError(origin, "duplicate class '" + k.name + "': already provided by " + it->second.plugin_path);
  if (auto it = services_.find(k.name); it != services_.end())
    throw PluginError(origin, "duplicate class '" + k.name + "': already provided by " + it->second.plugin_path);
  const std::vector<MetricSpec> known = known_metrics();
  for (const auto& m : families_of(k))
    if (std::string why = metric_conflict(m, known); !why.empty()) throw PluginError(origin, "class '" + k.name + "': " + why);
  classes_[k.name] = {&k, origin};
}

const ElementClass* PluginLoader::find(const std::string& class_name) const {
  auto it = classes_.find(class_name);
  return it == classes_.end() ? nullptr : it->second.klass;
}

std::string PluginLoader::plugin_of(const std::string& class_name) const {
  if (auto it = classes_.find(class_name); it != classes_.end()) return it->second.plugin_path;
  if (auto it = services_.find(class_name); it != services_.end()) return it->second.plugin_path;
  return {};
}

std::vector<std::string> PluginLoader::class_names() const {
  std::vector<std::string> out;
  for (const auto& [n, r] : classes_) out.push_back(n);
  return out;
}

}  // namespace weft
