#include "runtime/link_watch.hpp"

namespace weft {

LinkWatch::LinkWatch(boost::asio::io_context& io, std::chrono::milliseconds period, std::function<void()> poll)
    : timer_(io), period_(period), poll_(std::move(poll)) {
  arm();
}

LinkWatch::~LinkWatch() { timer_.cancel(); }

void LinkWatch::arm() {
  timer_.expires_after(period_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // cancelled: the watch is gone
    poll_();
    arm();
  });
}

}  // namespace weft
