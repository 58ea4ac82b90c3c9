// actorq-cli's commands, apart from how they reach actorq: over HTTP
// (--url, cli_http.cpp) or over CAF to the gateway (--connect, cli_caf.cpp).
// Both print what the HTTP API answers, as JSON on stdout.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace actorq::cli {

using json = nlohmann::json;

/// Exit statuses: 0 done, 1 actorq answered an error or could not be
/// reached, 2 the command line is wrong.
constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

/// What a task may say for itself. Numbers stay -1 unless given, so that
/// the server applies the kind's, the pool's or [retry]'s default
/// (check_task), the same as for an HTTP body that leaves them out.
struct task_options {
  std::string pool;
  int64_t max_retries = -1;
  int64_t backoff_ms = -1;
  int64_t timeout_ms = -1;
  int64_t priority = -1; // -1: the default (5)
  std::string idempotency_key;
  // A delayed task (submit only): RFC 3339 as given, or ms after creation.
  std::string run_at;      // empty: none
  int64_t countdown_ms = -1; // -1: none
  // Chains (submit only): ids of tasks that must end first.
  std::vector<std::string> after;
  std::string after_policy; // "" = the server's default (succeeded)
  bool pass_results = false;
};

/// GET /v1/tasks filters and paging.
struct list_options {
  std::string status;
  std::string kind;
  int64_t limit = -1; // -1: the server's default
  std::string cursor;
  bool all = false; // follow "next" until the last page
};

/// One way to reach actorq. Each command prints its JSON answer and returns
/// an exit status.
class backend {
public:
  virtual ~backend() = default;

  /// Submits a task; with `wait` > 0 seconds, prints it once it has ended
  /// (or when `wait` has passed) instead of as submitted.
  virtual int submit(const std::string& kind, const json& input,
                     const task_options& task, std::chrono::seconds wait)
      = 0;
  virtual int status(const std::string& id) = 0;
  /// The task once it has ended, or as it is after `timeout`.
  virtual int wait(const std::string& id, std::chrono::seconds timeout) = 0;
  virtual int cancel(const std::string& id) = 0;
  /// Cancels every unfinished task of this status and/or kind (one may
  /// be empty); prints {"cancelled": n}.
  virtual int cancel_many(const std::string& status, const std::string& kind)
      = 0;
  /// Runs a failed or cancelled task again (same id, attempts go on).
  virtual int retry(const std::string& id) = 0;
  /// Pauses (true) or resumes (false) a pool; prints the pool.
  virtual int pause(const std::string& pool, bool paused) = 0;
  /// Runs `inputs` as one batch, sent in chunks of `chunk` items (a
  /// progress bar on a terminal); results in input order.
  virtual int batch(const std::string& kind, std::vector<json> inputs,
                    const task_options& task, size_t chunk)
      = 0;
  virtual int nodes() = 0;
  virtual int list(const list_options& filter) = 0;
  /// GET /v1/kinds, /v1/pools or /v1/workers (`what` = "kinds", ...).
  virtual int info(const std::string& what) = 0;
};

/// Where and how to reach actorq, from the command line.
struct connection {
  std::string url;     // --url / ACTORQ_URL: HTTP
  std::string url_from = "--url"; // where url came from, for messages
  std::string connect; // --connect HOST:PORT: CAF (the gateway)
  std::string token;   // --token / ACTORQ_AUTH_TOKEN (HTTP only)
  std::string tls_certificate, tls_key, tls_ca_file; // CAF over TLS
  std::chrono::seconds timeout{600}; // longest any one call may take
};

/// The HTTP backend; "" and `out` set, or why `c.url` is not usable.
std::string make_http_backend(const connection& c,
                              std::unique_ptr<backend>& out);

/// The CAF backend, connected to the gateway; "" and `out` set, or a
/// usage problem (exit 2). Exits with status 1 itself when the gateway
/// cannot be reached (CAF 0.17 may crash tearing down after a refused TLS
/// handshake).
std::string make_caf_backend(const connection& c,
                             std::unique_ptr<backend>& out);

/// Draws "[####    ] done/total" on stderr (batches on a terminal).
void draw_progress(size_t done, size_t total);

/// Prints an error as the HTTP API would ({"detail", "code"}) on stdout
/// and returns exit_failed.
int print_error(const std::string& detail, const std::string& code);

} // namespace actorq::cli
