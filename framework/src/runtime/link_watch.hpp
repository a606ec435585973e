// The link watch: once a second, on the control thread, reads every running
// port's link and logs what changed (up, down, speed). Polling works for every
// device, with or without link-state interrupts, and never runs on a worker.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>

namespace weft {

class LinkWatch {
 public:
  // Calls `poll` every `period` on `io` until destroyed.
  LinkWatch(boost::asio::io_context& io, std::chrono::milliseconds period, std::function<void()> poll);
  ~LinkWatch();
  LinkWatch(const LinkWatch&) = delete;
  LinkWatch& operator=(const LinkWatch&) = delete;

 private:
  void arm();
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds period_;
  std::function<void()> poll_;
};

}  // namespace weft
