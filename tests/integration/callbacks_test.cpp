// Completion callbacks against a real local receiver (an httplib::Server in
// this process) that checks every signature itself: delivery of the final
// view, retries until a 2xx, failure after callbacks.max-attempts, the
// allowed prefixes, a kill -9 while a callback is pending, and the secret
// kept out of the logs.
#include "server.hpp"

#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

using namespace itest;

namespace {

constexpr const char* secret = "cb-secret-7f3a9d";

/// HMAC-SHA256 in hex, computed here with OpenSSL (not with actorq's code).
std::string hmac_hex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
       &len);
  std::string out;
  char buf[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", mac[i]);
    out += buf;
  }
  return out;
}

/// One POST the receiver got.
struct received {
  std::string body;
  std::string signature;
  std::string task;
  std::string attempt;
  std::string content_type;
  bool signed_ok = false;
};

/// A callback receiver on 127.0.0.1: records every POST to /hook and answers
/// 500 to the first `failures` of them (all of them while `failing`), then 200.
class receiver {
public:
  explicit receiver(int failures = 0, int port = 0,
                    std::chrono::milliseconds delay = 0ms)
    : failures_(failures) {
    server_.Post("/hook", [this, delay](const httplib::Request& req,
                                        httplib::Response& res) {
      auto now = ++busy_;
      for (auto most = most_busy_.load();
           now > most && !most_busy_.compare_exchange_weak(most, now);) {
      }
      std::this_thread::sleep_for(delay);
      --busy_;
      received r{req.body,
                 req.get_header_value("X-Actorq-Signature"),
                 req.get_header_value("X-Actorq-Task"),
                 req.get_header_value("X-Actorq-Attempt"),
                 req.get_header_value("Content-Type")};
      r.signed_ok = r.signature == "sha256=" + hmac_hex(secret, req.body);
      std::lock_guard<std::mutex> guard{mutex_};
      got_.push_back(r);
      bool fail = failing_ || static_cast<int>(got_.size()) <= failures_;
      res.status = fail ? 500 : 200;
      res.set_content(fail ? "not now" : "ok", "text/plain");
    });
    port_ = port == 0 ? server_.bind_to_any_port("127.0.0.1")
                      : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
    REQUIRE(port_ > 0);
    thread_ = std::thread{[this] { server_.listen_after_bind(); }};
    while (!server_.is_running())
      std::this_thread::sleep_for(1ms);
  }

  ~receiver() {
    server_.stop();
    thread_.join();
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/hook";
  }

  int port() const {
    return port_;
  }

  void set_failing(bool on) {
    std::lock_guard<std::mutex> guard{mutex_};
    failing_ = on;
  }

  /// The most POSTs it was answering at once.
  int most_busy() const {
    return most_busy_.load();
  }

  std::vector<received> got() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return got_;
  }

private:
  httplib::Server server_;
  int port_ = 0;
  int failures_;
  bool failing_ = false;
  std::atomic<int> busy_{0};
  std::atomic<int> most_busy_{0};
  mutable std::mutex mutex_;
  std::vector<received> got_;
  std::thread thread_;
};

/// A config file with a [callbacks] section, removed at scope exit.
struct callbacks_ini {
  std::string path;
  explicit callbacks_ini(const std::string& prefixes, int max_attempts = 8,
                         const std::string& backoff = "50ms") {
    path = fresh_store_path() + ".ini";
    std::ofstream(path) << "[callbacks]\nsecret = \"" << secret
                        << "\"\nallowed-prefixes = [" << prefixes
                        << "]\nmax-attempts = " << max_attempts
                        << "\nbackoff = " << backoff
                        << "\nmax-backoff = 400ms\ntimeout = 2s\n";
  }
  ~callbacks_ini() {
    std::remove(path.c_str());
  }
};

std::string submit_with_callback(const Server& srv, const std::string& url,
                                 json input = {{"value", 21}},
                                 const std::string& kind = "double") {
  return submit(srv, {{"kind", kind}, {"input", input}, {"callback_url", url},
                      {"max_retries", 0}});
}

/// Waits until `srv` says it is ready (its recovered tasks and callbacks
/// taken over). A daemon stopped sooner may hang in its shutdown (a race of
/// main's start-up, not of callbacks): the tests give it that moment.
void ready(const Server& srv) {
  REQUIRE(wait_until([&] { return srv.get("/readyz").status == 200; }));
}

/// Polls the task until its callback has `status`; returns the task.
json wait_callback(const Server& srv, const std::string& id,
                   const std::string& status,
                   std::chrono::milliseconds timeout = 10s) {
  json task;
  bool ok = wait_until(
      [&] {
        task = get_task(srv, id);
        return task.contains("callback") && task["callback"]["status"] == status;
      },
      timeout, 20ms);
  INFO("task: " << task.dump());
  REQUIRE(ok);
  return task;
}

} // namespace

/// The value of one series in GET /metrics (e.g.
/// `actorq_callbacks_total{status="failed"}`), or -1 if it is not there.
static double metric(const Server& srv, const std::string& series) {
  auto body = srv.get("/metrics").body;
  auto at = body.find("\n" + series + " ");
  if (at == std::string::npos)
    return -1;
  return std::stod(body.substr(at + series.size() + 2));
}

TEST_CASE("callbacks: an ended task's final view is POSTed signed to its "
          "callback_url",
          "[callbacks]") {
  receiver hook;
  callbacks_ini ini{"\"http://127.0.0.1:" + std::to_string(hook.port()) + "/\""};
  Server srv{{"--config-file=" + ini.path, "--log.level=debug"}};
  ready(srv);
  auto id = submit_with_callback(srv, hook.url());
  auto queued = get_task(srv, id);
  REQUIRE(queued.contains("callback"));
  CHECK(queued["callback"]["url"] == hook.url());
  auto task = wait_callback(srv, id, "delivered");
  CHECK(task["status"] == "succeeded");
  CHECK(task["callback"]["attempts"] == 1);
  CHECK(task["callback"]["last_error"].is_null());
  auto got = hook.got();
  REQUIRE(got.size() == 1);
  CHECK(got[0].signed_ok);
  CHECK(got[0].task == id);
  CHECK(got[0].attempt == "1");
  CHECK(got[0].content_type == "application/json");
  // The body is the task's final view as GET shows it (the callback's own
  // state aside: it was still pending when the body was made).
  auto body = json::parse(got[0].body);
  CHECK(body["callback"]["status"] == "pending");
  body.erase("callback");
  task.erase("callback");
  CHECK(body == task);
  CHECK(body["result"] == json{{"result", 42}});

  SECTION("failed and cancelled tasks call back too") {
    auto failed = submit_with_callback(srv, hook.url(),
                                       {{"value", 1}, {"fail_times", 5}});
    wait_callback(srv, failed, "delivered");
    auto slow = submit_with_callback(srv, hook.url(), {{"ms", 30000}}, "sleep");
    wait_status(srv, slow, "running");
    auto cancel = srv.del("/v1/tasks/" + slow);
    CHECK((cancel.status == 200 || cancel.status == 202)); // running: 202
    wait_callback(srv, slow, "delivered");
    std::map<std::string, std::string> status_of;
    for (auto& r : hook.got()) {
      CHECK(r.signed_ok);
      status_of[r.task] = json::parse(r.body)["status"];
    }
    CHECK(status_of[failed] == "failed");
    CHECK(status_of[slow] == "cancelled");
    // An operator's retry of the failed task is a new end: a new callback.
    auto before = hook.got().size();
    CHECK_STATUS(srv.post("/v1/tasks/" + failed + "/retry", ""), 202);
    REQUIRE(wait_until([&] { return hook.got().size() == before + 1; }));
    auto again = wait_callback(srv, failed, "delivered");
    CHECK(again["callback"]["attempts"] == 1);
    CHECK(hook.got().back().task == failed);
    CHECK(hook.got().back().signed_ok);
  }
  // Debug logs name every callback attempt, never the secret.
  CHECK(srv.output().find(secret) == std::string::npos);
}

TEST_CASE("callbacks: a receiver answering 500 twice gets the third attempt",
          "[callbacks]") {
  receiver hook{2};
  callbacks_ini ini{"\"http://127.0.0.1:" + std::to_string(hook.port()) + "/\""};
  Server srv{{"--config-file=" + ini.path}};
  ready(srv);
  auto id = submit_with_callback(srv, hook.url());
  auto task = wait_callback(srv, id, "delivered");
  CHECK(task["callback"]["attempts"] == 3);
  CHECK(metric(srv, "actorq_callback_attempts_total{outcome=\"failed\"}") == 2);
  CHECK(metric(srv, "actorq_callback_attempts_total{outcome=\"ok\"}") == 1);
  CHECK(metric(srv, "actorq_callbacks_total{status=\"delivered\"}") == 1);
  CHECK(metric(srv, "actorq_callbacks_total{status=\"failed\"}") == 0);
  auto got = hook.got();
  REQUIRE(got.size() == 3);
  for (size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].signed_ok);
    CHECK(got[i].attempt == std::to_string(i + 1));
    CHECK(got[i].body == got[0].body); // the same bytes every time
  }
}

TEST_CASE("callbacks: a receiver that is down fails the callback after "
          "callbacks.max-attempts",
          "[callbacks]") {
  auto port = free_port(); // nobody listens there
  callbacks_ini ini{"\"http://127.0.0.1:" + std::to_string(port) + "/\"", 3};
  Server srv{{"--config-file=" + ini.path, "--log.level=debug"}};
  ready(srv);
  auto url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  auto id = submit_with_callback(srv, url);
  auto task = wait_callback(srv, id, "failed");
  CHECK(task["status"] == "succeeded"); // the task itself is not affected
  CHECK(task["callback"]["attempts"] == 3);
  CHECK(metric(srv, "actorq_callback_attempts_total{outcome=\"failed\"}") == 3);
  CHECK(metric(srv, "actorq_callbacks_total{status=\"failed\"}") == 1);
  CHECK(metric(srv, "actorq_callbacks_total{status=\"delivered\"}") == 0);
  REQUIRE(task["callback"]["last_error"].is_string());
  CHECK_THAT(task["callback"]["last_error"].get<std::string>(),
             Catch::Contains("cannot POST to http://127.0.0.1:"));
  CHECK(srv.wait_output("callback_failed"));
  CHECK(srv.output().find(secret) == std::string::npos);
}

TEST_CASE("callbacks: a callback_url outside callbacks.allowed-prefixes is 422",
          "[callbacks]") {
  SECTION("no prefixes configured: no callback_url at all") {
    Server srv;
    ready(srv);
    auto r = srv.post("/v1/tasks", json{{"kind", "double"},
                                        {"input", {{"value", 1}}},
                                        {"callback_url", "http://127.0.0.1:9/h"}});
    check_error_reply(r, 422, "invalid", "callbacks.allowed-prefixes");
  }
  SECTION("a URL that starts with none of them") {
    callbacks_ini ini{"\"http://127.0.0.1:9/hooks/\", \"https://hooks.example/\""};
    Server srv{{"--config-file=" + ini.path}};
    ready(srv);
    for (auto url : {"http://169.254.169.254/latest/meta-data",
                     "http://127.0.0.1:9/other", "https://hooks.example.evil/"}) {
      auto r = srv.post("/v1/tasks", json{{"kind", "double"},
                                          {"input", {{"value", 1}}},
                                          {"callback_url", url}});
      check_error_reply(r, 422, "invalid", "callbacks.allowed-prefixes");
    }
    auto bad = srv.post("/v1/tasks", json{{"kind", "double"},
                                          {"input", {{"value", 1}}},
                                          {"callback_url", 7}});
    check_error_reply(bad, 422, "invalid", "callback_url");
    auto batch = srv.post("/v1/batches",
                          json{{"kind", "double"},
                               {"items", json::array({{{"value", 1}}})},
                               {"callback_url", "http://127.0.0.1:9/hooks/a"}});
    check_error_reply(batch, 422, "invalid", "callback_url");
    auto ok = srv.post("/v1/tasks", json{{"kind", "double"},
                                         {"input", {{"value", 1}}},
                                         {"callback_url",
                                          "http://127.0.0.1:9/hooks/a"}});
    CHECK_STATUS(ok, 202);
  }
}

TEST_CASE("callbacks: a callback pending when actorq is killed is delivered "
          "after the restart",
          "[callbacks][kill]") {
  auto store = fresh_store_path();
  auto hook = std::make_unique<receiver>();
  auto port = hook->port();
  hook->set_failing(true);
  callbacks_ini ini{"\"http://127.0.0.1:" + std::to_string(port) + "/\"", 50,
                    "100ms"};
  std::vector<std::string> args{"--config-file=" + ini.path,
                                "--store.path=" + store};
  std::string id;
  int attempts_before = 0;
  {
    Server srv{args};
    ready(srv);
    id = submit_with_callback(srv, hook->url());
    // Two failed attempts, stored: the task ended long before.
    json task;
    REQUIRE(wait_until([&] {
      task = get_task(srv, id);
      return task["callback"]["attempts"].get<int>() >= 2;
    }));
    std::this_thread::sleep_for(100ms); // the store batch follows the view
    attempts_before = task["callback"]["attempts"];
    CHECK(task["callback"]["status"] == "pending");
    CHECK(task["callback"]["last_error"] == "the receiver answered HTTP 500");
    srv.kill(SIGKILL);
    CHECK(srv.wait_exit().signal == SIGKILL);
  }
  hook->set_failing(false);
  Server again{args};
  ready(again);
  auto task = wait_callback(again, id, "delivered");
  CHECK(task["status"] == "succeeded");
  CHECK(task["callback"]["attempts"].get<int>() > attempts_before);
  auto got = hook->got();
  REQUIRE(!got.empty());
  CHECK(got.back().signed_ok);
  CHECK(json::parse(got.back().body)["id"] == id);
  CHECK(again.wait_output("callbacks_resumed"));
}

namespace {

/// Runs actorq-cli with `args` and returns its stdout (the task as JSON).
json cli_submit(const std::string& args) {
  std::string cmd = "env -u ACTORQ_URL -u ACTORQ_AUTH_TOKEN timeout 60 "
                    ACTORQ_CLI_BIN " " + args + " </dev/null";
  std::string out;
  if (auto pipe = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0)
      out.append(buf, n);
    ::pclose(pipe);
  }
  INFO("actorq-cli " << args << "\nstdout: " << out);
  auto j = json::parse(out, nullptr, false);
  REQUIRE(j.is_object());
  return j;
}

} // namespace

TEST_CASE("callbacks: actorq-cli --callback-url over HTTP and over the gateway",
          "[callbacks][cli]") {
  receiver hook;
  callbacks_ini ini{"\"http://127.0.0.1:" + std::to_string(hook.port()) + "/\""};
  auto gateway = free_port();
  Server srv{{"--config-file=" + ini.path,
              "--cluster.port=" + std::to_string(gateway)}};
  ready(srv);
  auto http = cli_submit("--url=http://127.0.0.1:" + std::to_string(srv.port())
                         + " submit double '{\"value\": 1}' --callback-url "
                         + hook.url());
  auto caf = cli_submit("--connect=127.0.0.1:" + std::to_string(gateway)
                        + " submit double '{\"value\": 2}' --callback-url "
                        + hook.url());
  for (auto& t : {http, caf}) {
    auto id = t["id"].get<std::string>();
    wait_callback(srv, id, "delivered");
  }
  auto got = hook.got();
  REQUIRE(got.size() == 2);
  for (auto& r : got)
    CHECK(r.signed_ok);
}

TEST_CASE("callbacks: bad callbacks.* keys stop startup naming the key, never "
          "the secret",
          "[callbacks][config]") {
  auto refused = [](std::vector<std::string> args, const std::string& text) {
    auto fs = start_expect_failure(args);
    INFO(fs.status << "\noutput:\n" << fs.output);
    CHECK_FALSE(fs.started);
    CHECK(fs.status.code == 2);
    CHECK_THAT(fs.output, Catch::Contains(text));
    CHECK(fs.output.find(secret) == std::string::npos);
  };
  auto prefixes = std::string{"--callbacks.allowed-prefixes=[\"http://127.0.0.1:9/\"]"};
  refused({prefixes}, "'callbacks.secret': must be set");
  refused({prefixes, "--callbacks.secret=" + std::string{secret},
           "--callbacks.max-attempts=0"},
          "'callbacks.max-attempts'");
  refused({"--callbacks.allowed-prefixes=[\"ftp://x/\"]",
           "--callbacks.secret=" + std::string{secret}},
          "'callbacks.allowed-prefixes'");
  refused({prefixes, "--callbacks.secret=${ACTORQ_TEST_UNSET_SECRET_X}"},
          "ACTORQ_TEST_UNSET_SECRET_X} is not set");
  // ${NAME} reads the secret from the environment.
  ::setenv("ACTORQ_TEST_CALLBACK_SECRET", secret, 1);
  receiver hook;
  Server srv{{"--callbacks.allowed-prefixes=[\"" + hook.url() + "\"]",
              "--callbacks.secret=${ACTORQ_TEST_CALLBACK_SECRET}"}};
  ready(srv);
  ::unsetenv("ACTORQ_TEST_CALLBACK_SECRET");
  auto id = submit_with_callback(srv, hook.url());
  wait_callback(srv, id, "delivered");
  REQUIRE(hook.got().size() == 1);
  CHECK(hook.got()[0].signed_ok);
}

TEST_CASE("callbacks: at most callbacks.concurrency POSTs at once",
          "[callbacks]") {
  receiver hook{0, 0, 150ms};
  callbacks_ini ini{"\"http://127.0.0.1:" + std::to_string(hook.port()) + "/\""};
  Server srv{{"--config-file=" + ini.path, "--callbacks.concurrency=2"}};
  ready(srv);
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i)
    ids.push_back(submit_with_callback(srv, hook.url(), {{"value", i}}));
  for (auto& id : ids)
    wait_callback(srv, id, "delivered");
  CHECK(hook.got().size() == 6);
  CHECK(hook.most_busy() == 2); // six callbacks, two at a time
}
