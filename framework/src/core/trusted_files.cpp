#include "core/trusted_files.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace fs = std::filesystem;

namespace weft {

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

std::string user_name(uid_t uid) {
  std::vector<char> buf(4096);
  struct passwd pw {};
  struct passwd* out = nullptr;
  std::string s = "uid " + std::to_string(uid);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &out) == 0 && out) s += " (" + std::string(out->pw_name) + ")";
  return s;
}

std::string group_name(gid_t gid) {
  std::vector<char> buf(4096);
  struct group gr {};
  struct group* out = nullptr;
  if (::getgrgid_r(gid, &gr, buf.data(), buf.size(), &out) == 0 && out) return "'" + std::string(out->gr_name) + "'";
  return std::to_string(gid);
}

enum class Role { Above, PluginDirectory, PluginFile };

// Who may change what `st` describes: root and the loading user only. `path`
// is the directory's path (Above), or unused: the reason then says "it".
void check_owner_and_mode(const struct stat& st, Role role, const std::string& path) {
  const std::string subject = role == Role::Above ? "directory " + path + " above it"
                              : role == Role::PluginDirectory ? "plugin directory"
                                                              : "plugin file";
  const std::string it = role == Role::Above ? path : "it";
  const uid_t me = ::geteuid();
  if (st.st_uid != 0 && st.st_uid != me)
    throw TrustError(subject + " is owned by " + user_name(st.st_uid) + ", neither root nor the user loading plugins (" +
                     user_name(me) + "): its owner could plant code in the router; chown " + it);
  // A sticky directory above the plugin directory (/tmp): others may add
  // entries to it, but not rename or remove ours.
  if (role == Role::Above && S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX)) return;
  if (st.st_mode & S_IWOTH)
    throw TrustError(subject + " is world-writable (anyone could plant code in the router); chmod o-w " + it);
  if (st.st_mode & S_IWGRP)
    throw TrustError(subject + " is group-writable (members of group " + group_name(st.st_gid) +
                     " could plant code in the router); chmod g-w " + it);
}

std::string errno_text(int e) { return std::strerror(e); }

}  // namespace

FileDescriptor open_trusted_directory(const std::string& dir) {
  fs::path p(dir);
  if (!p.is_absolute()) throw TrustError("not an absolute path");
  FileDescriptor cur(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!cur) throw TrustError("cannot open /: " + errno_text(errno));
  std::vector<fs::path> parts;
  for (const auto& c : p.relative_path())
    if (!c.empty()) parts.push_back(c);
  fs::path sofar = "/";
  struct stat st {};
  if (::fstat(cur.get(), &st) != 0) throw TrustError("cannot stat /: " + errno_text(errno));
  check_owner_and_mode(st, parts.empty() ? Role::PluginDirectory : Role::Above, "/");
  for (size_t i = 0; i < parts.size(); i++) {
    sofar /= parts[i];
    // O_NOFOLLOW: a component that is (or became) a symbolic link is refused,
    // so what was checked above is what this is opened through.
    FileDescriptor next(::openat(cur.get(), parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) {
      int e = errno;
      if (e == ENOTDIR || e == ELOOP)
        throw TrustError(sofar.string() + " is not a directory (a symbolic link appeared in the path while it was "
                                          "opened?)");
      throw TrustError("cannot open " + sofar.string() + ": " + errno_text(e));
    }
    if (::fstat(next.get(), &st) != 0) throw TrustError("cannot stat " + sofar.string() + ": " + errno_text(errno));
    check_owner_and_mode(st, i + 1 == parts.size() ? Role::PluginDirectory : Role::Above, sofar.string());
    cur = std::move(next);
  }
  return cur;
}

std::string proc_fd_path(int fd) {
  // /proc/self names this process whatever /proc's PID namespace; /proc/PID
  // also means something to a debugger attached from outside (the loader
  // records this name), but only if /proc counts PIDs as this process does.
  char self[64] = {};
  ssize_t n = ::readlink("/proc/self", self, sizeof self - 1);
  const std::string pid = std::to_string(::getpid());
  if (n > 0 && std::string(self, static_cast<size_t>(n)) == pid) return "/proc/" + pid + "/fd/" + std::to_string(fd);
  return "/proc/self/fd/" + std::to_string(fd);
}

TrustedFile open_trusted_file(int dirfd, const std::string& name) {
  TrustedFile f;
  // O_NONBLOCK: a FIFO planted under the name must not hang the loader.
  f.fd = FileDescriptor(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
  if (!f.fd) {
    int e = errno;
    if (e == ELOOP) throw TrustError("is a symbolic link (it changed while being opened?)");
    throw TrustError("cannot open the file: " + errno_text(e));
  }
  if (::fstat(f.fd.get(), &f.st) != 0) throw TrustError("cannot stat the file: " + errno_text(errno));
  if (!S_ISREG(f.st.st_mode)) throw TrustError("not a regular file");
  check_owner_and_mode(f.st, Role::PluginFile, "");
  // The name under /proc must lead to this very file (dlopen and the ELF
  // reader open it by that name).
  f.proc_path = proc_fd_path(f.fd.get());
  struct stat via {};
  if (::stat(f.proc_path.c_str(), &via) != 0 || via.st_dev != f.st.st_dev || via.st_ino != f.st.st_ino)
    throw TrustError("cannot be opened through " + f.proc_path +
                     " (is /proc mounted? plugins are loaded through their descriptor)");
  return f;
}

}  // namespace weft
