// Plugin loading an attacker cannot steer: every directory from / to the
// plugin file, and the file, must be owned by root or the loading user and be
// writable by nobody else (core/trusted_files.hpp); the file checked is the
// file loaded; a graph from etcd names directories only under the roots.
//
// Real files, directories, modes and owners, made by the test under the
// temporary directory (the tests run as root; "another user" is uid 65534).
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <boost/dll/library_info.hpp>
#include <filesystem>

#include "core/plugin_loader.hpp"
#include "core/trusted_files.hpp"
#include "test_env.hpp"

using namespace weft;
namespace fs = std::filesystem;

namespace {

constexpr uid_t kOther = 65534;  // nobody
constexpr uid_t kThird = 65533;

// A fresh directory tree under the temporary directory, removed at the end.
// Every directory and file gets exactly the mode and owner asked for (not
// the umask's).
struct Tree {
  fs::path top;
  Tree() {
    static int n = 0;
    top = fs::temp_directory_path() / ("weft-trust-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(top);
    make(top, 0755, 0);
  }
  ~Tree() {
    std::error_code ec;
    fs::remove_all(top, ec);
  }
  static void make(const fs::path& p, mode_t mode, uid_t owner) {
    fs::create_directory(p);
    REQUIRE(::chmod(p.c_str(), mode) == 0);
    REQUIRE(::chown(p.c_str(), owner, owner) == 0);
  }
  // top/REL, each missing component made with `mode` and `owner`.
  fs::path dir(const std::string& rel, mode_t mode = 0755, uid_t owner = 0) {
    fs::path p = top;
    for (const auto& c : fs::path(rel)) {
      p /= c;
      if (!fs::exists(p)) make(p, mode, owner);
    }
    return p;
  }
  // A copy of a test plugin in `dir`.
  static fs::path plugin(const fs::path& dir, const std::string& name = "good_extra", mode_t mode = 0755,
                         uid_t owner = 0, const std::string& as = "") {
    fs::path to = dir / (as.empty() ? name + ".so" : as);
    fs::copy_file(test::test_plugin_dir(name) + "/" + name + ".so", to, fs::copy_options::overwrite_existing);
    REQUIRE(::chmod(to.c_str(), mode) == 0);
    REQUIRE(::chown(to.c_str(), owner, owner) == 0);
    return to;
  }
};

// "" when the directory loads, else the refusal.
std::string load_dir(const fs::path& dir) {
  PluginLoader l;
  try {
    l.load_directories({dir.string()});
  } catch (const PluginError& e) {
    return e.what();
  }
  return l.find("TestPassthrough") ? "" : "loaded, but TestPassthrough is missing";
}

std::string load_file(const fs::path& file) {
  PluginLoader l;
  try {
    l.load(file.string());
  } catch (const PluginError& e) {
    return e.what();
  }
  return "";
}

std::string confine(PluginLoader& l, const std::string& dir) {
  try {
    auto out = l.confine({dir});
    return out.size() == 1 ? "" : "confine returned " + std::to_string(out.size()) + " directories";
  } catch (const PluginError& e) {
    return e.what();
  }
}

}  // namespace

TEST_CASE("a plugin directory that others could write to or own is refused", "[loader][trust]") {
  Tree t;
  fs::path ok = t.dir("ok");
  Tree::plugin(ok);
  CHECK(load_dir(ok) == "");

  fs::path g = t.dir("group", 0775);
  Tree::plugin(g);
  CHECK_THAT(load_dir(g), Catch::StartsWith("plugin " + g.string() + " refused: plugin directory is group-writable "
                                            "(members of group 'root' could plant code in the router); chmod g-w it"));
  fs::path w = t.dir("world", 0777);
  Tree::plugin(w);
  CHECK_THAT(load_dir(w), Catch::StartsWith("plugin " + w.string() + " refused: plugin directory is world-writable "
                                            "(anyone could plant code in the router); chmod o-w it"));
  fs::path o = t.dir("owned", 0755, kOther);
  Tree::plugin(o);
  CHECK_THAT(load_dir(o), Catch::StartsWith("plugin " + o.string() + " refused: plugin directory is owned by uid "
                                            "65534 (nobody), neither root nor the user loading plugins (uid 0 (root)): "
                                            "its owner could plant code in the router; chown it"));
  // Not even /tmp's rule: the plugin directory itself may not be sticky and shared.
  fs::path s = t.dir("sticky", 01777);
  Tree::plugin(s);
  CHECK_THAT(load_dir(s), Catch::Contains("plugin directory is world-writable"));
}

TEST_CASE("every directory above a plugin directory is checked, up to /", "[loader][trust]") {
  Tree t;
  fs::path g = t.dir("g/plugins");
  REQUIRE(::chmod((t.top / "g").c_str(), 0775) == 0);
  Tree::plugin(g);
  CHECK_THAT(load_dir(g), Catch::StartsWith("plugin " + g.string() + " refused: directory " + (t.top / "g").string() +
                                            " above it is group-writable (members of group 'root' could plant code "
                                            "in the router); chmod g-w " + (t.top / "g").string()));
  fs::path w = t.dir("w/deeper/plugins");
  REQUIRE(::chmod((t.top / "w").c_str(), 0777) == 0);
  Tree::plugin(w);
  CHECK_THAT(load_dir(w), Catch::Contains("refused: directory " + (t.top / "w").string() +
                                          " above it is world-writable (anyone could plant code in the router); "
                                          "chmod o-w " + (t.top / "w").string()));
  fs::path o = t.dir("o/plugins");
  REQUIRE(::chown((t.top / "o").c_str(), kOther, kOther) == 0);
  Tree::plugin(o);
  CHECK_THAT(load_dir(o), Catch::Contains("refused: directory " + (t.top / "o").string() +
                                          " above it is owned by uid 65534 (nobody), neither root nor the user "
                                          "loading plugins"));
  // A sticky directory above (as /tmp is, which every case here is under):
  // others may add entries to it but not rename or remove ours.
  fs::path s = t.dir("s/plugins");
  REQUIRE(::chmod((t.top / "s").c_str(), 01777) == 0);
  Tree::plugin(s);
  CHECK(load_dir(s) == "");
  // ... as long as its owner is trusted.
  REQUIRE(::chown((t.top / "s").c_str(), kOther, kOther) == 0);
  CHECK_THAT(load_dir(s), Catch::Contains("directory " + (t.top / "s").string() + " above it is owned by uid 65534"));
  // A refusal on the way loads nothing, whichever file is asked for.
  CHECK_THAT(load_file(g / "good_extra.so"), Catch::StartsWith("plugin " + (g / "good_extra.so").string() +
                                                               " refused: directory " + (t.top / "g").string() +
                                                               " above it is group-writable"));
}

TEST_CASE("a plugin file that others could write to or own is refused", "[loader][trust]") {
  Tree t;
  fs::path g = t.dir("g");
  fs::path gf = Tree::plugin(g, "good_extra", 0775);
  CHECK(load_dir(g) == "plugin " + gf.string() + " refused: plugin file is group-writable (members of group 'root' "
                                                 "could plant code in the router); chmod g-w it");
  fs::path w = t.dir("w");
  fs::path wf = Tree::plugin(w, "good_extra", 0757);
  CHECK(load_dir(w) ==
        "plugin " + wf.string() + " refused: plugin file is world-writable (anyone could plant code in the router); "
                                  "chmod o-w it");
  fs::path o = t.dir("o");
  fs::path of = Tree::plugin(o, "good_extra", 0755, kOther);
  CHECK_THAT(load_dir(o), Catch::StartsWith("plugin " + of.string() + " refused: plugin file is owned by uid 65534 "
                                                                      "(nobody), neither root nor the user loading "
                                                                      "plugins (uid 0 (root))"));
  CHECK(load_file(of) == load_dir(o));

  // Not a regular file: a FIFO named like a plugin neither loads nor hangs the loader.
  fs::path fifo = t.dir("f") / "planted.so";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  CHECK(load_file(fifo) == "plugin " + fifo.string() + " refused: not a regular file");
}

TEST_CASE("symbolic links are followed, and where they lead is what is checked", "[loader][trust]") {
  Tree t;
  fs::path real = t.dir("real");
  Tree::plugin(real);
  fs::path link = t.top / "link";
  fs::create_directory_symlink(real, link);
  CHECK(load_dir(link) == "");

  // A trusted directory linking to a plugin in a directory others can write to.
  fs::path shared = t.dir("shared", 0777);
  Tree::plugin(shared);
  fs::path dir = t.dir("dir");
  fs::create_symlink(shared / "good_extra.so", dir / "linked.so");
  CHECK(load_dir(dir) == "plugin " + (dir / "linked.so").string() +
                             " refused: plugin directory is world-writable (anyone could plant code in the router); "
                             "chmod o-w it");
}

TEST_CASE("plugins owned by the user loading them load: run as another user", "[loader][trust]") {
  // A child process with effective uid 65534 (as a routerd run by that user):
  // its own files load, root's load, a third user's are refused. The child
  // is no longer dumpable once its uid changed, as a routerd with file
  // capabilities is not: /proc/self/fd still serves it.
  Tree t;
  fs::path mine = t.dir("mine", 0755, kOther);
  Tree::plugin(mine, "good_extra", 0755, kOther);
  fs::path roots = t.dir("roots");
  Tree::plugin(roots);
  fs::path third = t.dir("third", 0755, kThird);
  Tree::plugin(third, "good_extra", 0755, kThird);

  int p[2];
  REQUIRE(::pipe(p) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(p[0]);
    std::string out;
    if (::setegid(kOther) != 0 || ::seteuid(kOther) != 0) out = "seteuid failed\n";
    for (const auto& d : {mine, roots, third}) out += load_dir(d) + "\n";
    (void)!::write(p[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(p[1]);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(got.rfind("\n\nplugin " + third.string() + " refused: plugin directory is owned by uid 65533", 0) == 0);
  CHECK_THAT(got, Catch::Contains("neither root nor the user loading plugins (uid 65534 (nobody))"));
}

TEST_CASE("the descriptor checked is the file read and loaded, whatever happens to its name", "[loader][trust]") {
  Tree t;
  fs::path d = t.dir("d");
  Tree::plugin(d, "good_extra", 0755, 0, "a.so");
  fs::path other = Tree::plugin(d, "no_manifest");
  FileDescriptor dir = open_trusted_directory(d.string());
  TrustedFile f = open_trusted_file(dir.get(), "a.so");
  CHECK(f.proc_path == "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(f.fd.get()));
  // Someone swaps the name for another file after the checks...
  fs::rename(other, d / "a.so");
  // ...the ELF reader and the dynamic linker still get the file checked.
  auto sections = boost::dll::library_info(f.proc_path).sections();
  CHECK(std::find(sections.begin(), sections.end(), "weft_mf") != sections.end());
  auto swapped = boost::dll::library_info((d / "a.so").string()).sections();
  CHECK(std::find(swapped.begin(), swapped.end(), "weft_mf") == swapped.end());
  void* h = ::dlopen(f.proc_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  REQUIRE(h != nullptr);
  CHECK(::dlsym(h, "weft_plugin_manifest") != nullptr);
  ::dlclose(h);
  // The library may stay mapped under that name (dlclose need not unmap it):
  // as the loader does, never let the descriptor's number name another file.
  (void)f.fd.release();
}

TEST_CASE("a refusal to load names the file, not its descriptor", "[loader][trust]") {
  Tree t;
  fs::path d = t.dir("d");
  fs::path f = Tree::plugin(d, "undefined_symbol");
  std::string why = load_dir(d);
  CHECK_THAT(why, Catch::StartsWith("plugin " + f.string() + " refused: cannot be loaded: " + f.string() +
                                    ": undefined symbol: weft_test_symbol_that_does_not_exist"));
  CHECK_THAT(why, !Catch::Contains("/proc/"));
}

TEST_CASE("a graph from etcd names plugin directories only under the roots", "[loader][trust]") {
  Tree t;
  fs::path root = t.dir("root");
  fs::path sub = t.dir("root/sub");
  fs::path outside = t.dir("outside");
  fs::path sibling = t.dir("root-evil");
  fs::create_directory_symlink(outside, root / "escape");
  PluginLoader l;
  // Without roots: the built-in directory is the only one.
  REQUIRE(l.roots().size() == 1);
  CHECK(l.roots()[0] == fs::canonical(PluginLoader::default_dir()).string());
  CHECK_THAT(confine(l, sub.string()), Catch::Contains("only under routerd's plugin roots (" + l.roots()[0]));

  l.set_roots({root.string()});
  CHECK(confine(l, root.string()) == "");
  CHECK(confine(l, sub.string()) == "");
  CHECK(l.confine({(root / "sub/../sub").string()}) == std::vector<std::string>{sub.string()});
  CHECK(confine(l, outside.string()) == "plugin " + outside.string() +
                                            " refused: a graph from etcd may name plugin directories only under "
                                            "routerd's plugin roots (" + root.string() +
                                            "; add one with --plugin-root)");
  CHECK_THAT(confine(l, sibling.string()), Catch::Contains("only under routerd's plugin roots"));
  CHECK_THAT(confine(l, (root / "../outside").string()), Catch::Contains("only under routerd's plugin roots"));
  CHECK_THAT(confine(l, (root / "escape").string()),
             Catch::Contains("only under routerd's plugin roots") &&
                 Catch::EndsWith("; this one resolves to " + outside.string()));
  CHECK(confine(l, (root / "missing").string()) ==
        "plugin " + (root / "missing").string() + " refused: plugin directory does not exist or cannot be read");

  std::string why;
  try {
    l.set_roots({(t.top / "nowhere").string()});
  } catch (const PluginError& e) {
    why = e.what();
  }
  CHECK(why == "plugin " + (t.top / "nowhere").string() + " refused: plugin root does not exist or is not a directory");
}
