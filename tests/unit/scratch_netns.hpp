// Unit tests that make links and kernel state: a shell command whose failure
// fails the test, and a network namespace of the calling thread's own.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

namespace weft::test {

// Runs `cmd` (stderr with stdout); REQUIREs exit status 0; returns the output.
inline std::string sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = ::pclose(p);
  INFO(cmd << ": " << out);
  REQUIRE(rc == 0);
  return out;
}

// A network namespace for the life of the object: the calling thread enters
// a new one (its loopback up) and goes back to where it was.
class ScratchNetns {
 public:
  ScratchNetns() {
    home_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    REQUIRE(home_ >= 0);
    REQUIRE(::unshare(CLONE_NEWNET) == 0);
    sh("ip link set lo up");
  }
  ~ScratchNetns() {
    if (::setns(home_, CLONE_NEWNET) != 0) std::perror("setns");
    ::close(home_);
  }
  ScratchNetns(const ScratchNetns&) = delete;
  ScratchNetns& operator=(const ScratchNetns&) = delete;

 private:
  int home_ = -1;
};

}  // namespace weft::test
