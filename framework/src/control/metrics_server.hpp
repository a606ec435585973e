// MetricsServer: routerd's Prometheus/OpenMetrics endpoint, GET /metrics
// over HTTP/1.1 (Boost.Beast), served on the control thread's event loop. A
// request is answered from a collection made there and then (the way
// `routerctl stats` reads counters); workers never see it.
//
// Whatever a client does, it holds at most one of `max_connections` slots
// for at most `timeout` per request (to send the request, then to take the
// reply): a connection that sends garbage gets 400 and is closed, one that
// never sends a request or never reads its reply is closed at its deadline,
// and when every slot is taken a new connection evicts the oldest one still
// waiting for its request (or is refused if every slot is busy answering).
// Nothing blocks: the control socket and the services share the loop.
#pragma once

#include <utility>  // Boost 1.74 asio uses std::exchange without including it
#include <boost/asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "control/metrics.hpp"
#include "core/graph_spec.hpp"

namespace weft {

struct MetricsServerOptions {
  ListenAddress listen{"127.0.0.1", TelemetrySpec::kDefaultMetricsPort};
  unsigned max_connections = 16;
  std::chrono::milliseconds timeout{10000};
};

class MetricsServer {
 public:
  // Renders the metrics in a format (called for each GET /metrics).
  using Render = std::function<std::string(ExpositionFormat)>;
  // Throws std::runtime_error if it cannot listen.
  MetricsServer(boost::asio::io_context& io, MetricsServerOptions opts, Render render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The address it listens on (the port chosen when the option's is 0).
  const ListenAddress& address() const { return bound_; }
  std::string url() const { return "http://" + bound_.str() + "/metrics"; }
  // Its own figures (weft_metrics_http_*).
  void add_metrics(MetricSet& set) const;

  struct Shared;  // what connections share with the server (metrics_server.cpp)

 private:
  void accept();
  boost::asio::ip::tcp::acceptor acceptor_;
  ListenAddress bound_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace weft
