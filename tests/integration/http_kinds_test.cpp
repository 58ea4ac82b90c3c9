// Config kinds with runner = "http": the real daemon calls a real HTTP
// endpoint served by this test process (cpp-httplib on a free port).
// Checks results, the attempt headers and configured headers (with ${NAME}
// from actorq's environment), Retry-After, permanent and retried statuses,
// refused connections, timeouts, cancel and start-up errors.
#include "kinds_support.hpp"

#include <set>

using namespace itest;
using namespace kt;

namespace {

/// The endpoint: records every call; its answer depends on the path.
class Hook {
 public:
  struct Call {
    std::string method;
    std::string path;
    std::string body;
    httplib::Headers headers;
    Clock::time_point at;
    std::string header(const std::string& k) const {
      auto it = headers.find(k);
      return it == headers.end() ? std::string() : it->second;
    }
  };

  Hook() {
    auto record = [this](const httplib::Request& req) {
      std::lock_guard<std::mutex> lk(mu_);
      calls_.push_back({req.method, req.path, req.body, req.headers, Clock::now()});
      cv_.notify_all();
      return count_locked(req.path);
    };
    auto json_reply = [](httplib::Response& res, const json& j) {
      res.set_content(j.dump(), "application/json");
    };
    svr_.Post("/ok", [=](const httplib::Request& req, httplib::Response& res) {
      auto n = record(req);
      json_reply(res, {{"received", json::parse(req.body, nullptr, false)},
                       {"attempt", req.get_header_value("X-Actorq-Attempt")},
                       {"call", n}});
    });
    svr_.Post("/flaky", [=](const httplib::Request& req, httplib::Response& res) {
      if (record(req) == 1) {
        res.status = 503;
        res.set_header("Retry-After", "1");
        res.set_content("busy, come back later", "text/plain");
        return;
      }
      json_reply(res, {{"ok", true}});
    });
    svr_.Post("/missing", [=](const httplib::Request& req, httplib::Response& res) {
      record(req);
      res.status = 404;
      res.set_content("no such hook here", "text/plain");
    });
    svr_.Post("/broken", [=](const httplib::Request& req, httplib::Response& res) {
      record(req);
      res.status = 500;
      res.set_content("kaboom", "text/plain");
    });
    svr_.Post("/empty", [=](const httplib::Request& req, httplib::Response& res) {
      record(req);
      res.status = 204;
    });
    svr_.Post("/text", [=](const httplib::Request& req, httplib::Response& res) {
      record(req);
      res.set_content("plain words, not json", "text/plain");
    });
    // Answers only when released (or after 20 s, or when the test ends).
    svr_.Post("/slow", [=](const httplib::Request& req, httplib::Response& res) {
      record(req);
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait_for(lk, 20s, [&] { return stopping_ || release_; });
      json_reply(res, {{"slow", true}});
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    REQUIRE(wait_until([&] { return svr_.is_running(); }, 5s));
  }
  ~Hook() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    svr_.stop();
    thread_.join();
  }

  int port() const { return port_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Call> calls(const std::string& path) const {
    std::lock_guard<std::mutex> lk(mu_);
    std::vector<Call> out;
    for (auto& c : calls_)
      if (c.path == path) out.push_back(c);
    return out;
  }
  int count(const std::string& path) const {
    std::lock_guard<std::mutex> lk(mu_);
    return count_locked(path);
  }
  bool wait_calls(const std::string& path, int n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return count_locked(path) >= n; });
  }
  void release() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      release_ = true;
    }
    cv_.notify_all();
  }

 private:
  int count_locked(const std::string& path) const {
    int n = 0;
    for (auto& c : calls_)
      if (c.path == path) ++n;
    return n;
  }

  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Call> calls_;
  bool stopping_ = false;
  bool release_ = false;
};

/// --kinds.NAME.* of an http kind on pool web calling `url`.
std::vector<std::string> http_kind(const std::string& name, const std::string& url,
                                   const std::vector<std::string>& extra = {}) {
  std::vector<std::string> a{"--kinds." + name + ".runner=http", "--kinds." + name + ".pool=web",
                             "--kinds." + name + ".url=" + url};
  for (auto& e : extra) a.push_back("--kinds." + name + "." + e);
  return a;
}

/// actorq with pool web (8) and one http kind per endpoint of `hook`.
std::vector<std::string> hook_args(const Hook& hook, int dead_port) {
  std::vector<std::string> args{"--pools.web.size=8"};
  auto add = [&](std::vector<std::string> more) { args.insert(args.end(), more.begin(), more.end()); };
  add(http_kind("hook", hook.url("/ok"),
                {R"(headers=["X-Source: actorq","Authorization: Bearer ${ITEST_HOOK_TOKEN}"])"}));
  add(http_kind("later", hook.url("/flaky")));
  add(http_kind("missing", hook.url("/missing")));
  add(http_kind("broken", hook.url("/broken")));
  add(http_kind("empty", hook.url("/empty")));
  add(http_kind("text", hook.url("/text"), {"max-retries=0"}));
  add(http_kind("slow", hook.url("/slow")));
  add(http_kind("down", "http://127.0.0.1:" + std::to_string(dead_port) + "/nobody"));
  return args;
}

struct Fixture {
  Hook hook;
  int dead_port = free_port();
  ScopedEnv env{{{"ITEST_HOOK_TOKEN", "hook-token-9d2e"}}};
  Server srv{hook_args(hook, dead_port)};
};

}  // namespace

TEST_CASE("http kinds: a 2xx JSON answer is the result and the attempt and configured headers arrive",
          "[http][kinds]") {
  Fixture f;
  json input{{"msg", "hello"}, {"n", 3}};
  auto id = submit(f.srv, {{"kind", "hook"}, {"input", input}});
  auto t = wait_terminal(f.srv, id, 15s);
  INFO(t.dump());
  CHECK(t["status"] == "succeeded");
  CHECK(t["kind"] == "hook");
  CHECK(t["pool"] == "web");
  CHECK(t["attempts"] == 1);
  CHECK(t["result"] == json{{"received", input}, {"attempt", "1"}, {"call", 1}});
  auto calls = f.hook.calls("/ok");
  REQUIRE(calls.size() == 1);
  auto& c = calls[0];
  CHECK(c.method == "POST");
  CHECK(json::parse(c.body, nullptr, false) == input);
  CHECK(c.header("X-Actorq-Task-Id") == id);
  CHECK(c.header("X-Actorq-Attempt") == "1");
  CHECK(!c.header("X-Actorq-Attempt-Id").empty());
  CHECK(c.header("X-Source") == "actorq");
  CHECK(c.header("Authorization") == "Bearer hook-token-9d2e");

  SECTION("batch items: no task id, an attempt id each") {
    auto r = f.srv.post("/v1/batches",
                        json{{"kind", "hook"}, {"items", json::array({json{{"i", 1}}, json{{"i", 2}}})}});
    REQUIRE_STATUS(r, 200);
    CHECK(r.j()["succeeded"] == 2);
    CHECK(r.j()["results"][0]["received"] == json{{"i", 1}});
    CHECK(r.j()["results"][1]["received"] == json{{"i", 2}});
    auto all = f.hook.calls("/ok");
    REQUIRE(all.size() == 3);
    std::set<std::string> attempt_ids;
    for (auto& x : all) attempt_ids.insert(x.header("X-Actorq-Attempt-Id"));
    CHECK(attempt_ids.size() == 3);
    CHECK(all[1].header("X-Actorq-Task-Id").empty());
    CHECK(all[2].header("X-Actorq-Task-Id").empty());
  }
  SECTION("an empty 2xx answer is null; one that is not JSON fails the attempt") {
    auto e = wait_terminal(f.srv, submit(f.srv, {{"kind", "empty"}}), 15s);
    CHECK(e["status"] == "succeeded");
    CHECK(e["result"].is_null());
    auto x = wait_terminal(f.srv, submit(f.srv, {{"kind", "text"}}), 15s);
    INFO(x.dump());
    CHECK(x["status"] == "failed");
    CHECK_THAT(error_of(x), Catch::Contains("not JSON"));
  }
}

TEST_CASE("http kinds: 503 with Retry-After: 1, then 200, succeeds after at least a second",
          "[http][kinds][retry]") {
  Fixture f;
  auto t0 = Clock::now();
  auto id = submit(f.srv, {{"kind", "later"}, {"max_retries", 3}, {"backoff_ms", 10}});
  auto t = wait_terminal(f.srv, id, 15s);
  auto took = ms_since(t0);
  INFO(t.dump());
  CHECK(t["status"] == "succeeded");
  CHECK(t["attempts"] == 2);
  CHECK(t["result"] == json{{"ok", true}});
  CHECK(took >= 950);
  auto calls = f.hook.calls("/flaky");
  REQUIRE(calls.size() == 2);
  auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(calls[1].at - calls[0].at);
  CHECK(gap.count() >= 950);
  CHECK(calls[0].header("X-Actorq-Attempt") == "1");
  CHECK(calls[1].header("X-Actorq-Attempt") == "2");
  CHECK(calls[0].header("X-Actorq-Attempt-Id") != calls[1].header("X-Actorq-Attempt-Id"));
  CHECK(calls[1].header("X-Actorq-Task-Id") == id);
}

TEST_CASE("http kinds: a 404 fails the task at once with the status and the body",
          "[http][kinds]") {
  Fixture f;
  auto id = submit(f.srv, {{"kind", "missing"}, {"max_retries", 3}, {"backoff_ms", 10}});
  auto t = wait_terminal(f.srv, id, 15s);
  INFO(t.dump());
  CHECK(t["status"] == "failed");
  CHECK(t["attempts"] == 1);
  CHECK_THAT(error_of(t), Catch::Contains("404"));
  CHECK_THAT(error_of(t), Catch::Contains("no such hook here"));
  std::this_thread::sleep_for(200ms);
  CHECK(f.hook.count("/missing") == 1);
}

TEST_CASE("http kinds: a 500 is retried per max_retries", "[http][kinds][retry]") {
  Fixture f;
  auto id = submit(f.srv, {{"kind", "broken"}, {"max_retries", 2}, {"backoff_ms", 10}});
  auto t = wait_terminal(f.srv, id, 15s);
  INFO(t.dump());
  CHECK(t["status"] == "failed");
  CHECK(t["attempts"] == 3);
  CHECK_THAT(error_of(t), Catch::Contains("500"));
  CHECK_THAT(error_of(t), Catch::Contains("kaboom"));
  CHECK(f.hook.count("/broken") == 3);
}

TEST_CASE("http kinds: an endpoint that refuses connections fails attempts while actorq carries on",
          "[http][kinds]") {
  Fixture f;
  auto id = submit(f.srv, {{"kind", "down"}, {"max_retries", 1}, {"backoff_ms", 10}});
  auto t = wait_terminal(f.srv, id, 15s);
  INFO(t.dump());
  CHECK(t["status"] == "failed");
  CHECK(t["attempts"] == 2);
  CHECK(!error_of(t).empty());
  check_alive(f.srv);
  auto ok = wait_terminal(f.srv, submit(f.srv, {{"kind", "hook"}, {"input", {{"a", 1}}}}), 15s);
  CHECK(ok["status"] == "succeeded");
}

TEST_CASE("http kinds: a call that outlives its timeout fails with 'timed out'",
          "[http][kinds][timeout]") {
  Fixture f;
  auto t0 = Clock::now();
  auto id = submit(f.srv, {{"kind", "slow"}, {"timeout_ms", 500}, {"max_retries", 0}});
  auto t = wait_terminal(f.srv, id, 15s);
  INFO(t.dump());
  CHECK(t["status"] == "failed");
  CHECK_THAT(error_of(t), Catch::Contains("timed out"));
  CHECK(ms_since(t0) < 5000);
  f.hook.release();
}

TEST_CASE("http kinds: DELETE during a slow call cancels it promptly", "[http][kinds][cancel]") {
  Fixture f;
  auto id = submit(f.srv, {{"kind", "slow"}});
  REQUIRE(f.hook.wait_calls("/slow", 1));
  wait_status(f.srv, id, "running");
  auto t0 = Clock::now();
  CHECK_STATUS(f.srv.del("/v1/tasks/" + id), 202);
  auto t = wait_terminal(f.srv, id, 5s);
  INFO(t.dump());
  CHECK(t["status"] == "cancelled");
  CHECK(ms_since(t0) < 5000); // the endpoint holds the call for 20 s
  // actorq goes on calling while the first call's answer is still pending.
  auto next = submit(f.srv, {{"kind", "hook"}});
  CHECK(wait_terminal(f.srv, next, 10s)["status"] == "succeeded");
  f.hook.release();
}

TEST_CASE("http kinds: examples.ini's notify kind calls the url it is given",
          "[http][kinds][config]") {
  Hook hook;
  Server srv{examples_args({"--kinds.notify.url=" + hook.url("/ok")})};
  auto id = submit(srv, {{"kind", "notify"}, {"input", {{"event", "done"}}}});
  auto t = wait_terminal(srv, id, 15s);
  INFO(t.dump());
  CHECK(t["status"] == "succeeded");
  CHECK(t["pool"] == "web");
  CHECK(t["result"]["received"] == json{{"event", "done"}});
  auto calls = hook.calls("/ok");
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].header("X-Source") == "actorq");
}

TEST_CASE("http kinds: a bad ${NAME} or a bad url stops start-up with exit 2 naming the key",
          "[http][kinds][config]") {
  ScopedEnv env{{{"ITEST_SURELY_UNSET_7731", std::nullopt}}};
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> says;
  };
  const std::vector<Case> cases = {
      {http_kind("bad", "http://127.0.0.1:9/x", {R"(headers=["X-Token: ${ITEST_SURELY_UNSET_7731}"])"}),
       {"kinds.bad.headers", "ITEST_SURELY_UNSET_7731"}},
      {http_kind("bad", "http://127.0.0.1:9/x", {R"(headers=["X-Token: ${not a name"])"}),
       {"kinds.bad.headers"}},
      {http_kind("bad", "ftp://127.0.0.1/x"), {"kinds.bad.url"}},
      {http_kind("bad", "not a url"), {"kinds.bad.url"}},
      {{"--kinds.bad.runner=http", "--kinds.bad.pool=web"}, {"kinds.bad.url"}},
      {http_kind("bad", "http://127.0.0.1:9/x", {"method=FETCH"}), {"kinds.bad.method"}},
      {http_kind("bad", "http://127.0.0.1:9/x", {R"(command=["/bin/cat"])"}), {"kinds.bad.command"}},
  };
  for (auto& c : cases) {
    auto args = c.args;
    args.push_back("--pools.web.size=2");
    std::string shown;
    for (auto& a : args) shown += a + " ";
    INFO("args: " << shown);
    auto fs = start_expect_failure(args);
    INFO("output: " << fs.output);
    CHECK_FALSE(fs.started);
    CHECK(fs.status.exited);
    CHECK(fs.status.code == 2);
    for (auto& s : c.says) CHECK_THAT(fs.output, Catch::Contains(s));
  }
}
