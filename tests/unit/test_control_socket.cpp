// The control socket is owner-only: whoever can connect to it can reload the
// router (docs/security.md), so only routerd's user (and root, whom no mode
// stops) may.
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "control/control_server.hpp"

namespace fs = std::filesystem;

namespace {

// connect(2) to a Unix socket: 0, or the errno.
int connect_errno(const std::string& path) {
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  int rc = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
  ::close(s);
  return rc;
}

// connect_errno() from a child process running as uid/gid `uid`.
int connect_errno_as(uid_t uid, const std::string& path) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(uid) != 0 || ::setuid(uid) != 0) ::_exit(255);
    ::_exit(connect_errno(path));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("the control socket is owner-only, and so is the directory routerd makes for it", "[control]") {
  const fs::path top = fs::temp_directory_path() / ("weft-ctl-" + std::to_string(::getpid()));
  fs::remove_all(top);
  fs::create_directory(top);
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{top};
  REQUIRE(::chmod(top.c_str(), 0755) == 0);  // anyone may reach the socket: its own mode must stop them
  boost::asio::io_context io;
  auto handler = [](const nlohmann::json&) { return nlohmann::json{{"ok", true}}; };
  {
    const std::string sock = (top / "routerd.sock").string();
    weft::ControlServer server(io, sock, handler);
    struct stat st {};
    REQUIRE(::stat(sock.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 07777) == 0600);
    CHECK(st.st_uid == ::geteuid());
    CHECK(connect_errno(sock) == 0);                 // routerd's user
    CHECK(connect_errno_as(65534, sock) == EACCES);  // anyone else
  }
  {
    // A socket directory that does not exist yet is made owner-only too.
    const fs::path dir = top / "run" / "weft";
    const std::string sock = (dir / "routerd.sock").string();
    weft::ControlServer server(io, sock, handler);
    struct stat st {};
    REQUIRE(::stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0700);
    CHECK(st.st_uid == ::geteuid());
    REQUIRE(::stat(sock.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
  }
}
