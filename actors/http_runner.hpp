// The http runner: one HTTP call per attempt. Calls run on threads of the
// runner's own (created on demand, idle ones exit), never on a CAF scheduler
// thread; each thread keeps one keep-alive connection per target. See
// README, Runners.
#pragma once

#include "actors/runner.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace actorq {

/// A config kind's endpoint, resolved at start-up.
struct http_spec {
  std::string url;      // as configured, e.g. https://jobs.example/v1/resize
  std::string scheme;   // "http" or "https"
  std::string host;
  int port = 0;
  std::string path;     // with the query, "/" if none
  std::string method = "POST";
  std::vector<std::pair<std::string, std::string>> headers; // ${NAME} resolved
  bool tls_verify = true; // https: verify against the system's CA store
};

class http_runner {
public:
  http_runner();
  /// Aborts every call in flight and joins the threads.
  ~http_runner();
  http_runner(const http_runner&) = delete;
  http_runner& operator=(const http_runner&) = delete;

  /// Starts one call: body = order.input, headers X-Actorq-Attempt-Id,
  /// X-Actorq-Attempt and (for tasks) X-Actorq-Task-Id. 2xx → ok with the
  /// body as JSON (empty → null; not JSON → failed); 408, 429, 5xx, refused
  /// or reset connections and timeouts → failed (retried; a Retry-After of a
  /// 429/503 sets retry_after_ms); other 4xx → failed, permanent. The
  /// attempt's timeout bounds the call. Returns a handle for cancel().
  uint64_t start(std::shared_ptr<const http_spec> spec, run_order order,
                 run_callbacks callbacks);

  /// Aborts the call; `done` follows with error "cancelled".
  void cancel(uint64_t handle);

  /// Calls in flight.
  size_t running() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Parses an http(s) URL into `spec` (scheme, host, port, path); "" or why not.
std::string parse_http_url(const std::string& url, http_spec& spec);

} // namespace actorq
