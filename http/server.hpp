// The HTTP bridge: cpp-httplib routes. Each handler parses (codec), sends one
// message to an actor, and renders the reply. Handler threads block on the
// reply through a per-thread scoped_actor; no thread is created per request.
#pragma once

#include "actors/actors.hpp"
#include "actors/config.hpp"
#include "actors/pool.hpp"
#include "actors/registry_reads.hpp"
#include "http/codec.hpp"
#include "http/late_answer.hpp"
#include "http/wait_budget.hpp"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace actorq {
class metrics;
} // namespace actorq

namespace actorq::http {

class socket_stream;

/// The actors the bridge talks to.
struct backend {
  registry_actor registry;
  // Task reads without the registry's mailbox (null: always ask it).
  std::shared_ptr<const registry_reads> reads;
  gateway_actor gateway; // knows the cluster's nodes
  std::vector<pool_ref> pools; // in the catalog's order
  lease_desk_actor leases; // lease kinds' HTTP workers (docs/leases.md)
  rate_sampler_actor rates; // jobs ended per second (GET /v1/stats)
  scheduler_actor scheduler; // periodic schedules (GET /v1/schedules)
  store_actor store; // task inputs for the dashboard; invalid with :memory:
  std::shared_ptr<metrics> meters; // GET /metrics; null: metrics.enabled=false
};

/// cpp-httplib's server with two changes: a larger listen backlog, and each
/// connection served by actorq's own keep-alive loop over a socket_stream
/// (http/socket_stream.hpp: a few system calls per request where httplib
/// makes a dozen, and no 10 ms wake-ups while a connection idles). Requests
/// are still parsed, routed and answered by httplib's process_request.
class http_server : public httplib::Server {
public:
  http_server();
  ~http_server() override;

  /// cpp-httplib 0.11.4 listens with a backlog of 5: a burst of connects
  /// loses SYNs and waits 1–3 s for the retry. Re-issues listen() on the
  /// bound socket with a larger backlog.
  bool set_backlog(int backlog);

  /// httplib's stop(), and ends every connection's keep-alive wait at once.
  void stop_serving();

  /// Called once each late answer is written (http/late_answer.hpp), as
  /// httplib's logger is for the others. Set before listening.
  late_observer on_late_answer;

private:
  /// Replaces httplib's (a private virtual: its accept loop calls this for
  /// every connection, on a thread of the task queue).
  bool process_and_close_socket(int sock) override;
  bool next_request(socket_stream& strm, late_answer& late);

  int stop_fd_; // an eventfd, readable once stop_serving() was called
};

/// One answered request, for the observers of finished requests (metrics,
/// the access log). `route` is the pattern the request matched (never the raw
/// path), "" when no route served it (404, refusals before routing).
struct request_record {
  const httplib::Request& req;
  const httplib::Response& res;
  const std::string& route;
  std::chrono::nanoseconds duration; // from routing to the answer's end
};
using request_observer = std::function<void(const request_record&)>;

class server {
public:
  server(caf::actor_system& sys, const actorq_config& cfg, backend actors);
  ~server();

  /// Binds the listening socket; returns the port (useful with port 0) or -1.
  int bind();

  /// Serves until stop() is called; returns after the worker threads ended.
  void run();

  /// Stops accepting and ends run(). Safe to call from any thread.
  void stop();

  /// From now on, requests that would start work get 503 shutting_down;
  /// reads go on. Safe to call from any thread.
  void drain();

  /// Start-up is over (the registry has recovered the stored tasks):
  /// GET /readyz answers 200 from now on unless draining or the store
  /// fails. Safe to call from any thread.
  void set_ready();

  /// Calls `f` on the handler thread after each answered request. Register
  /// before run(); keep `f` short (it runs on the request's thread).
  void observe(request_observer f);

private:
  void routes();

  caf::actor_system& sys_;
  const actorq_config& cfg_;
  backend actors_;
  codec_settings codec_;
  http_server http_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> ready_{false};
  // stop() may come before run() has started listening (a SIGTERM right
  // after start-up): httplib's stop() does nothing then, so stop() waits
  // until the server runs or run() has returned.
  std::atomic<bool> stopping_{false};
  std::atomic<bool> run_done_{false};
  wait_budget waits_; // http.max-waiting: long-polls waiting at once
  std::vector<request_observer> observers_;
};

} // namespace actorq::http
