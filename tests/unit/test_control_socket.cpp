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
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "control/control_server.hpp"

namespace fs = std::filesystem;

namespace {

// A fresh directory under the temporary directory, named by `prefix` and
// this process, removed with everything in it at the end of the test.
struct ScratchDir {
  fs::path path;
  explicit ScratchDir(const std::string& prefix)
      : path(fs::temp_directory_path() / (prefix + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directory(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

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
  const ScratchDir scratch("weft-ctl-");
  const fs::path& top = scratch.path;
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

namespace {

// One request line over the socket, the server's io_context run meanwhile:
// the reply line ("" when the connection closed without one).
std::string ask(boost::asio::io_context& io, const std::string& path, const std::string& line) {
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  REQUIRE(s >= 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  REQUIRE(::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::send(s, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size()));
  std::string got;
  for (int i = 0; i < 500 && (got.empty() || got.back() != '\n'); i++) {
    io.run_for(std::chrono::milliseconds(10));
    char buf[4096];
    ssize_t n = ::recv(s, buf, sizeof buf, 0);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
    if (n == 0) break;
  }
  ::close(s);
  return got;
}

}  // namespace

// The control fuzz target's finding: a request that was not JSON, ending in
// a byte that is not UTF-8, got an error quoting that byte, and writing the
// reply threw (nlohmann's type_error 316) out of the socket's handler:
// routerd aborted. Its input is in fuzz/corpus/control/bad_request_invalid_utf8.
TEST_CASE("the control socket answers requests with invalid UTF-8 or a command that throws, and keeps serving",
          "[control]") {
  const ScratchDir scratch("weft-ctl-utf8-");
  const fs::path& top = scratch.path;
  boost::asio::io_context io;
  auto handler = [](const nlohmann::json& r) -> nlohmann::json {
    const std::string cmd = r.value("cmd", "");
    if (cmd == "throw") throw std::runtime_error("no such thing");
    if (cmd == "echo") return {{"ok", false}, {"error", "unknown element '" + r.value("element", "").substr(0, 1) + "'"}};
    return {{"ok", true}};
  };
  const std::string sock = (top / "routerd.sock").string();
  weft::ControlServer server(io, sock, handler);

  auto reply = [](const std::string& line) { return nlohmann::json::parse(line); };  // throws if not JSON
  const auto bad = reply(ask(io, sock, "{\"cmd\": \"status\"}\xef\n"));
  CHECK(bad["ok"] == false);
  CHECK(bad["error"].get<std::string>().rfind("bad request: ", 0) == 0);
  CHECK(bad["error"].get<std::string>().find("\xef\xbf\xbd") != std::string::npos);  // U+FFFD in its place
  // A name cut inside a two-byte character (U+00E9) by the command's message.
  const auto cut = reply(ask(io, sock, "{\"cmd\": \"echo\", \"element\": \"\xc3\xa9t\xc3\xa9\"}\n"));
  CHECK(cut["error"] == "unknown element '\xef\xbf\xbd'");
  const auto threw = reply(ask(io, sock, "{\"cmd\": \"throw\"}\n"));
  CHECK(threw["ok"] == false);
  CHECK(threw["error"] == "request failed: no such thing");
  CHECK(reply(ask(io, sock, "{\"cmd\": \"status\"}\n"))["ok"] == true);  // still serving
}
