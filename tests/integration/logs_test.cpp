// Structured logs (log.format, log.level, log.access): the real daemon's
// stderr read back line by line as JSON — the start-up line, a failed task,
// a worker crash and its restart, task state changes at debug, the access
// log — no secrets anywhere in the output, text lines, and a bad log.level.
#include "kinds_support.hpp"

using namespace itest;

namespace {

/// Every stderr line of `srv` as JSON; a line that is not JSON fails the test.
std::vector<json> log_lines(const Server& srv) {
  std::vector<json> out;
  std::istringstream in{srv.stderr_text()};
  std::string line;
  while (std::getline(in, line)) {
    INFO("stderr line: " << line);
    auto j = json::parse(line, nullptr, false);
    CHECK((j.is_object() && j.contains("ts") && j.contains("level")
           && j.contains("event")));
    if (j.is_object())
      out.push_back(std::move(j));
  }
  return out;
}

/// The lines of `event` (and, if given, with field == value).
std::vector<json> events(const Server& srv, const std::string& event,
                         const std::string& field = "",
                         const json& value = nullptr) {
  std::vector<json> out;
  for (auto& j : log_lines(srv))
    if (j.value("event", "") == event
        && (field.empty() || (j.contains(field) && j[field] == value)))
      out.push_back(j);
  return out;
}

/// Waits until a line of `event` (with field == value) has been logged.
bool wait_event(Server& srv, const std::string& event,
                const std::string& field = "", const json& value = nullptr) {
  return wait_until([&] { return !events(srv, event, field, value).empty(); },
                    10s, 20ms);
}

}  // namespace

TEST_CASE("logs: the start-up line says where actorq listens and what it runs",
          "[logs]") {
  auto store = fresh_store_path();
  Server srv({"--store.path=" + store});
  REQUIRE(wait_event(srv, "started"));
  auto started = events(srv, "started").at(0);
  INFO(started.dump());
  CHECK(is_iso8601_utc(started["ts"]));
  CHECK(started["level"] == "info");
  CHECK(started["http"] == srv.host() + ":" + std::to_string(srv.port()));
  CHECK(started["store"] == store);
  CHECK(started["recovered"] == 0);
  CHECK(started["gateway"] == "");
  CHECK(started["auth"] == false);
  std::set<std::string> pools, kinds;
  for (auto& p : started["pools"]) {
    pools.insert(p["name"].get<std::string>());
    CHECK(p["size"].is_number());
  }
  for (auto& k : started["kinds"])
    kinds.insert(k.get<std::string>());
  CHECK(pools.count("io") == 1);
  CHECK(pools.count("cpu") == 1);
  CHECK(kinds.count("echo") == 1);
  CHECK(kinds.count("crash") == 1);
  // The access log is off by default, and so are state changes.
  for (int i = 0; i < 3; ++i)
    CHECK(srv.get("/v1/pools").status == 200);
  wait_terminal(srv, submit(srv, json{{"kind", "echo"}, {"input", {{"x", 1}}}}));
  srv.kill(SIGTERM);
  CHECK(srv.wait_exit(10s).code == 0);
  CHECK(events(srv, "request").empty());
  CHECK(events(srv, "task_state").empty());
  auto stopping = events(srv, "stopping");
  REQUIRE(stopping.size() == 1);
  CHECK(stopping[0]["signal"] == "SIGTERM");
  auto stopped = events(srv, "stopped");
  REQUIRE(stopped.size() == 1);
  CHECK(stopped[0]["drained"] == true);
  CHECK(stopped[0]["running"] == 0);
}

TEST_CASE("logs: a crashing worker, its restart and the task that failed",
          "[logs]") {
  Server srv({"--supervisor.min-backoff=20ms"});
  auto id = submit(srv, json{{"kind", "crash"}, {"input", json::object()},
                             {"max_retries", 1}, {"backoff_ms", 10}});
  auto task = wait_terminal(srv, id);
  REQUIRE(task["status"] == "failed");
  REQUIRE(wait_event(srv, "task_failed", "id", id));
  auto failed = events(srv, "task_failed", "id", id).at(0);
  INFO(failed.dump());
  CHECK(failed["level"] == "warn");
  CHECK(failed["kind"] == "crash");
  CHECK(failed["pool"] == "io");
  CHECK(failed["attempts"] == 2);
  CHECK(failed["error"] == task["error"]);
  CHECK_THAT(failed["error"].get<std::string>(), Catch::Contains("injected crash"));
  // One crash per attempt, each with the pool and the backoff before the
  // restart; then the restarts themselves.
  REQUIRE(wait_until([&] { return events(srv, "worker_restarted").size() >= 2; }));
  auto crashes = events(srv, "worker_crashed");
  REQUIRE(crashes.size() == 2);
  for (auto& c : crashes) {
    INFO(c.dump());
    CHECK(c["pool"] == "io");
    CHECK(c["backoff_ms"].get<int64_t>() >= 20);
    CHECK(c["backoff_ms"].get<int64_t>() <= 5000);
    CHECK_THAT(c["reason"].get<std::string>(), Catch::Contains("injected crash"));
  }
  CHECK(crashes[1]["restarts"] == 2);
  CHECK(events(srv, "worker_restarted")[0]["pool"] == "io");
}

TEST_CASE("logs: a pool turning degraded and recovering is logged", "[logs]") {
  // Any restart within a 1 s window degrades the pool; a quiet second ends it.
  Server srv({"--supervisor.max-restarts=0", "--supervisor.window=1s"});
  auto id = submit(srv, json{{"kind", "crash"}, {"input", json::object()},
                             {"max_retries", 0}});
  wait_terminal(srv, id);
  REQUIRE(wait_event(srv, "pool_degraded", "pool", "io"));
  CHECK(events(srv, "pool_degraded").at(0)["level"] == "error");
  REQUIRE(wait_event(srv, "pool_recovered", "pool", "io"));
  CHECK(events(srv, "pool_degraded").size() == 1);
  CHECK(events(srv, "pool_recovered").size() == 1);
}

TEST_CASE("logs: at debug every state change of a task is logged", "[logs]") {
  Server srv({"--log.level=debug"});
  auto id = submit(srv, json{{"kind", "flaky"},
                             {"input", {{"fail_times", 1}}},
                             {"backoff_ms", 10}});
  auto task = wait_terminal(srv, id);
  INFO(task.dump());
  REQUIRE(wait_event(srv, "task_state", "status", task["status"]));
  std::vector<std::string> seen;
  for (auto& j : events(srv, "task_state", "id", id)) {
    CHECK(j["level"] == "debug");
    CHECK(j["kind"] == "flaky");
    seen.push_back(j["status"]);
  }
  std::vector<std::string> expected{"queued", "running", "retrying", "running",
                                    task["status"]};
  CHECK(seen == expected);
}

TEST_CASE("logs: the access log has method, route pattern, status, duration, bytes and client",
          "[logs]") {
  Server srv({"--log.access"});
  auto id = submit(srv, json{{"kind", "echo"}, {"input", {{"x", 1}}}});
  auto got = srv.get("/v1/tasks/" + id + "?wait_ms=2000");
  REQUIRE(got.status == 200);
  CHECK(srv.get("/no/such/route").status == 404);
  REQUIRE(wait_until([&] { return events(srv, "request").size() >= 3; }));
  auto requests = events(srv, "request");
  for (auto& r : requests) {
    INFO(r.dump());
    CHECK(r["level"] == "info");
    CHECK(r["duration_ms"].get<double>() >= 0);
    CHECK(r["bytes"].is_number_unsigned());
    CHECK(r["client"] == "127.0.0.1");
    CHECK(r["client_port"].get<int>() > 0);
    CHECK(r.dump().find(id) == std::string::npos); // the pattern, not the path
  }
  // Each line is written after its answer went out, so the 404's line may
  // come before the GET's: find each by what it must be.
  auto get = events(srv, "request", "route", "/v1/tasks/([^/]+)").at(0);
  INFO(get.dump());
  CHECK(get["method"] == "GET");
  CHECK(get["status"] == 200);
  CHECK(get["bytes"] == got.body.size());
  auto post = events(srv, "request", "method", "POST").at(0);
  CHECK(post["route"] == "/v1/tasks");
  CHECK(post["status"] == 202);
  auto unmatched = events(srv, "request", "status", 404).at(0);
  CHECK(unmatched["route"] == "");
}

TEST_CASE("logs: neither the auth token nor a header's secret from the environment appear",
          "[logs]") {
  const std::string token = "tok-3f9a1c77e2";
  const std::string secret = "sekrit-5b0e94d1";
  // An endpoint that checks the configured header and fails the task
  // without echoing it.
  httplib::Server hook;
  std::atomic<int> authorized{0};
  hook.Post("/fail", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("X-Api-Key") == secret)
      ++authorized;
    res.status = 500;
    res.set_content("endpoint says no", "text/plain");
  });
  int hook_port = hook.bind_to_any_port("127.0.0.1");
  REQUIRE(hook_port > 0);
  std::thread serving{[&] { hook.listen_after_bind(); }};
  kt::ScopedEnv env{{{"ITEST_LOG_SECRET", secret}}};
  {
    Server srv({"--http.auth-token=" + token, "--log.level=trace", "--log.access",
                "--kinds.hook.runner=http", "--kinds.hook.pool=io",
                "--kinds.hook.max-retries=0",
                "--kinds.hook.url=http://127.0.0.1:" + std::to_string(hook_port) + "/fail",
                R"(--kinds.hook.headers=["X-Api-Key: ${ITEST_LOG_SECRET}"])"});
    auto cli = srv.client();
    httplib::Headers auth{{"Authorization", "Bearer " + token}};
    auto res = cli.Post("/v1/tasks", auth, R"({"kind":"hook","input":{"a":1}})",
                        "application/json");
    REQUIRE(res);
    REQUIRE(res->status == 202);
    auto id = json::parse(res->body)["id"].get<std::string>();
    // A wrong token is refused (and logged as a request, not as a token).
    httplib::Headers wrong{{"Authorization", "Bearer " + secret}};
    auto refused = cli.Get("/v1/pools", wrong);
    REQUIRE(refused);
    CHECK(refused->status == 401);
    REQUIRE(wait_event(srv, "task_failed", "id", id));
    CHECK(authorized == 1);
    srv.kill(SIGTERM);
    srv.wait_exit(10s);
    auto all = srv.output();
    INFO(all);
    CHECK(all.find(token) == std::string::npos);
    CHECK(all.find(secret) == std::string::npos);
    CHECK(events(srv, "started").at(0)["auth"] == true);
    CHECK(events(srv, "request").size() >= 2);
  }
  hook.stop();
  serving.join();
}

TEST_CASE("logs: log.format=text writes readable lines with the event names",
          "[logs]") {
  Server srv({"--log.format=text"});
  auto id = submit(srv, json{{"kind", "crash"}, {"input", json::object()},
                             {"max_retries", 0}});
  wait_terminal(srv, id);
  REQUIRE(srv.wait_output(" WARN task_failed id=" + id));
  std::istringstream in{srv.stderr_text()};
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    INFO(line);
    ++lines;
    CHECK(json::parse(line, nullptr, false).is_discarded());
    CHECK(is_iso8601_utc(line.substr(0, line.find(' '))));
  }
  CHECK(lines >= 3);
  auto err = srv.stderr_text();
  CHECK_THAT(err, Catch::Contains(" INFO started msg=\"actorq started, HTTP on "));
  CHECK_THAT(err, Catch::Contains(" WARN worker_crashed pool=io "));
  CHECK_THAT(err, Catch::Contains("kind=crash pool=io attempts=1 error="));
}

TEST_CASE("logs: a bad log.level or log.format stops start-up naming the key",
          "[logs]") {
  auto level = start_expect_failure({"--log.level=loud"});
  INFO(level.output);
  CHECK_FALSE(level.started);
  CHECK(level.status.exited);
  CHECK(level.status.code != 0);
  CHECK_THAT(level.output, Catch::Contains("log.level"));
  CHECK_THAT(level.output, Catch::Contains("trace, debug, info, warn, error, off"));
  auto format = start_expect_failure({"--log.format=xml"});
  INFO(format.output);
  CHECK(format.status.code != 0);
  CHECK_THAT(format.output, Catch::Contains("log.format"));
}
