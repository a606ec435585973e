// Trusted files: opening a plugin so that nobody but root and the user
// loading it can have chosen what runs, and so that the file checked is the
// file loaded.
//
// A plugin is code the router runs as its own user. Whoever can write the
// file, its directory, or any directory above it (rename a parent, swap a
// subtree) decides that code. So every directory from / down, and the file,
// must be owned by root or by the loading user (the effective uid) and be
// writable by neither group nor others. One exception, for directories
// strictly above the plugin directory: a sticky directory (/tmp), where
// others may add entries but cannot rename or remove ours.
//
// Checks and use are one act, not check-then-use: each directory is opened
// relative to the one above it without following symbolic links and checked
// through its descriptor; the file is opened once, checked with fstat, and
// read and loaded through /proc/self/fd (the descriptor, not the name).
#pragma once

#include <sys/stat.h>

#include <stdexcept>
#include <string>

namespace weft {

// A refusal: the reason, ready to follow "plugin PATH refused: ".
class TrustError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An owned file descriptor (closed on destruction; movable).
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& o) noexcept : fd_(o.release()) {}
  FileDescriptor& operator=(FileDescriptor&& o) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor();
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// Opens directory `dir` (absolute, with no symbolic link: a canonical path)
// one component at a time from /, checking each; returns an O_PATH
// descriptor of it. Throws TrustError naming the directory at fault.
FileDescriptor open_trusted_directory(const std::string& dir);

// A plugin file opened for loading: its descriptor, what fstat said, and the
// path under /proc that names this descriptor (for dlopen and ELF readers).
struct TrustedFile {
  FileDescriptor fd;
  struct stat st {};
  std::string proc_path;
};

// Opens `name` in the directory `dirfd` (from open_trusted_directory),
// without following a symbolic link, and checks the open file. Throws
// TrustError.
TrustedFile open_trusted_file(int dirfd, const std::string& name);

// The path under /proc naming `fd` of this process: /proc/PID/fd/N when /proc
// is this process's PID namespace's (so debuggers and profilers can open it
// too), else /proc/self/fd/N.
std::string proc_fd_path(int fd);

}  // namespace weft
