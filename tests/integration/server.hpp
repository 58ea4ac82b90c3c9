// Integration-test harness: runs the real actorq binary as a child process and
// talks HTTP to it.
//
//   itest::Server srv({"--seed.delay-scale=0.05"});   // --http.port=0 is added
//   auto r = srv.get("/healthz");
//   REQUIRE_STATUS(r, 200);
//
// The child's stdout/stderr are drained by a background thread for the whole
// life of the child, so it never blocks on a full pipe. When a test case fails,
// the output of every daemon it started is printed (see server.cpp listener).
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <catch2/catch.hpp>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#ifndef ACTORQ_BIN
#error "ACTORQ_BIN must be defined (path of the actorq binary); see tests/CMakeLists.txt"
#endif

namespace itest {

using json = nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// How a child process ended.
struct ExitStatus {
  bool exited = false;     // terminated through exit()/return from main
  int code = -1;           // exit code if exited
  int signal = 0;          // terminating signal if killed by a signal
  bool timed_out = false;  // did not end within the allowed time
  std::string describe() const;
};
std::ostream& operator<<(std::ostream& os, const ExitStatus& st);

// One HTTP exchange, already parsed.
struct Reply {
  int status = 0;            // 0: no response (transport error, see `error`)
  std::string error;         // httplib error text when status == 0
  std::string method;
  std::string path;
  std::string body;
  httplib::Headers headers;
  json body_json;            // parsed body (discarded value when not JSON)
  bool is_json = false;
  std::chrono::milliseconds elapsed{0};

  const json& j() const { return body_json; }
  std::string header(const std::string& key) const;
};
std::ostream& operator<<(std::ostream& os, const Reply& r);

class Server {
 public:
  // Starts ACTORQ_BIN with `args`. "--http.port=0" is added when no
  // --http.port argument is given. Throws std::runtime_error (with the
  // child's output) when the daemon does not print its listening line
  // within `startup_timeout`.
  explicit Server(std::vector<std::string> args = {"--seed.delay-scale=0.05"},
                  std::chrono::milliseconds startup_timeout = 10s);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  const std::string& host() const { return host_; }          // as printed
  const std::string& connect_host() const { return connect_host_; }
  const std::string& listening_line() const { return listening_line_; }
  const std::vector<std::string>& args() const { return args_; }

  // A fresh client with generous timeouts (connection 10 s, read/write 30 s).
  httplib::Client client(std::chrono::seconds read_timeout = 30s) const;

  // HTTP helpers. POST/PUT/PATCH bodies are sent with Content-Type
  // application/json unless `content_type` says otherwise.
  Reply request(const std::string& method, const std::string& path,
                const std::string& body = "",
                const std::string& content_type = "application/json") const;
  Reply get(const std::string& path) const { return request("GET", path); }
  Reply del(const std::string& path) const { return request("DELETE", path); }
  Reply post(const std::string& path, const std::string& body) const {
    return request("POST", path, body);
  }
  Reply post(const std::string& path, const json& body) const {
    return request("POST", path, body.dump());
  }
  Reply post(const std::string& path, const char* body) const {
    return request("POST", path, std::string(body));
  }

  // Sends a signal to the child (no-op once it has been reaped).
  void kill(int sig);
  // Waits for the child to end; timed_out is set if it did not within timeout.
  ExitStatus wait_exit(std::chrono::milliseconds timeout = 10s);
  // True while the child has not been reaped and has not exited.
  bool running();

  std::string output() const;      // stdout and stderr, interleaved
  // Waits until `text` has appeared `occurrences` times in the output.
  bool wait_output(const std::string& text, std::chrono::milliseconds timeout = 10s,
                   size_t occurrences = 1);
  std::string stdout_text() const;
  std::string stderr_text() const;

 private:
  void drain_loop(int out_fd, int err_fd);
  bool try_reap(bool block);
  void stop_child();

  std::vector<std::string> args_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string host_;
  std::string connect_host_;
  std::string listening_line_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string out_, err_, all_;
  bool drain_done_ = false;
  std::atomic<bool> reaped_{false};
  std::atomic<bool> stop_drain_{false};
  ExitStatus status_;
  std::thread drain_;
};

// Runs the binary with `args` (adding --http.port=0 unless given), expecting
// it NOT to start. Returns how it ended and its output. If the daemon prints
// its listening line instead, it is killed at once and `started` is true.
struct FailedStart {
  ExitStatus status;
  bool started = false;
  std::string output;
};
FailedStart start_expect_failure(std::vector<std::string> args,
                                 std::chrono::milliseconds timeout = 10s);

// ----------------------------------------------------------------- helpers

// A TCP port on loopback nobody listens on right now (for gateways, worker
// programs and endpoints the tests start themselves).
int free_port();

// Polls `pred` every `interval` until it returns true or `timeout` passes.
bool wait_until(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = 10s,
                std::chrono::milliseconds interval = 10ms);

// Milliseconds elapsed since `t0`.
long long ms_since(Clock::time_point t0);

// A random, well-formed uuid4 (lower-case), for ids the server never issued.
std::string random_uuid4();
bool is_uuid4(const std::string& s);

// ISO-8601 UTC timestamp ending in "Z" (e.g. 2024-05-01T12:00:00.123Z).
bool is_iso8601_utc(const std::string& s);
// Milliseconds since the Unix epoch for such a timestamp, or -1.
long long iso8601_to_epoch_ms(const std::string& s);
long long now_epoch_ms();

// URL helpers.
std::string url_encode(const std::string& s);

// v1 task helpers (the assertions inside fail the calling test case).
// POST /v1/tasks, REQUIREs 202 and returns the id.
std::string submit(const Server& srv, const json& body);
// GET /v1/tasks/{id}?wait_ms=... , REQUIREs 200 and returns the task object.
json get_task(const Server& srv, const std::string& id, int wait_ms = -1);

// POST /v1/tasks with an Idempotency-Key; returns status and body.
std::pair<int, json> post_keyed(const Server& srv, const std::string& key,
                                const json& body);
// Long-polls (wait_ms) until the task is terminal, REQUIREs it within timeout.
json wait_terminal(const Server& srv, const std::string& id,
                   std::chrono::milliseconds timeout = 10s);
// Polls until the task has `status`, REQUIREs it within timeout.
json wait_status(const Server& srv, const std::string& id,
                 const std::string& status,
                 std::chrono::milliseconds timeout = 10s);
bool is_terminal(const std::string& status);

// GET /v1/pools as name -> pool object (REQUIREs 200 and an array).
std::map<std::string, json> pools(const Server& srv);

// Samples GET /v1/pools every `interval` on a background thread until
// stopped; records the maximum busy/queued value seen per pool.
class PoolSampler {
 public:
  explicit PoolSampler(const Server& srv, std::chrono::milliseconds interval = 5ms);
  ~PoolSampler();
  void stop();
  long long max_busy(const std::string& pool) const;
  long long max_queued(const std::string& pool) const;
  int samples() const;
  int errors() const;  // samples that were not a 200 JSON array
 private:
  const Server& srv_;
  std::chrono::milliseconds interval_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::map<std::string, long long> max_busy_, max_queued_;
  int samples_ = 0, errors_ = 0;
  std::thread th_;
};

// Sends raw bytes to host:port and returns whatever comes back before the
// peer closes or `timeout` passes (for protocol-abuse tests). With
// `half_close` the write side is shut down after sending.
std::string raw_exchange(const std::string& host, int port, const std::string& bytes,
                         std::chrono::milliseconds timeout = 3s, bool half_close = false);

// Checks one error reply: status, JSON object, string "detail" (non-empty)
// and string "code" (== code unless code is empty), Content-Type JSON, and
// that detail mentions `field` when given.
void check_error_reply(const Reply& r, int status, const std::string& code,
                       const std::string& field = "");
// Accepts any of `statuses` (each with its matching code from `codes`).
void check_error_reply_any(const Reply& r, const std::vector<int>& statuses,
                           const std::vector<std::string>& codes);
// GET /healthz answers 200 (after hostile input).
void check_alive(const Server& srv);

// A new, unused store path in a temporary folder removed when the test process
// ends. Every daemon gets one unless its args name --store.path.
std::string fresh_store_path();

// Source directory of the project (derived from this file's path).
std::string source_dir();

}  // namespace itest

// Assertion helpers that print the whole reply on failure. The reply
// expression is evaluated once.
#define CHECK_STATUS(r, s)                   \
  do {                                       \
    const ::itest::Reply& reply_ = (r);      \
    INFO("reply: " << reply_);               \
    CHECK(reply_.status == (s));             \
  } while (0)
#define REQUIRE_STATUS(r, s)                 \
  do {                                       \
    const ::itest::Reply& reply_ = (r);      \
    INFO("reply: " << reply_);               \
    REQUIRE(reply_.status == (s));           \
  } while (0)
#define CHECK_ERROR(r, s, code, field)                              \
  do {                                                              \
    const ::itest::Reply& reply_ = (r);                             \
    INFO("reply: " << reply_);                                      \
    ::itest::check_error_reply(reply_, (s), (code), (field));       \
  } while (0)
