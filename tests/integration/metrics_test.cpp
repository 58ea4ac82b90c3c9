// GET /metrics against the real binary: the exposition parsed line by line,
// counters that move with real tasks and requests, auth and the two keys.
#include "server.hpp"

#include <map>
#include <sstream>

using namespace itest;

namespace {

/// A scrape parsed: "# TYPE name type" lines, and samples by their series
/// ("name{labels}" as written, labels in the serializer's order).
struct Exposition {
  std::map<std::string, std::string> types;
  std::map<std::string, double> samples;

  double at(const std::string& series) const {
    auto i = samples.find(series);
    return i == samples.end() ? -1 : i->second;
  }
  /// Samples whose series starts with `prefix`.
  std::vector<std::string> series(const std::string& prefix) const {
    std::vector<std::string> out;
    for (auto& [name, _] : samples)
      if (name.rfind(prefix, 0) == 0)
        out.push_back(name);
    return out;
  }
};

/// Parses the Prometheus text format: comments, `# TYPE` and sample lines
/// `name{label="value",...} value`; anything else fails the test.
Exposition parse(const std::string& text) {
  Exposition e;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty())
      continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words{line.substr(7)};
      std::string name, type;
      words >> name >> type;
      e.types[name] = type;
      continue;
    }
    if (line[0] == '#')
      continue;
    // The series ends at the space after the closing brace (label values
    // may hold spaces), or at the first space without labels.
    auto brace = line.find('{');
    auto end = brace == std::string::npos ? line.find(' ')
                                          : line.find("} ", brace) + 1;
    INFO("line: " << line);
    REQUIRE(end != std::string::npos);
    REQUIRE(end > 0);
    e.samples[line.substr(0, end)] = std::stod(line.substr(end + 1));
  }
  return e;
}

Exposition scrape(const Server& srv) {
  auto r = srv.get("/metrics");
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type").rfind("text/plain", 0) == 0);
  return parse(r.body);
}

int get_status(const Server& srv, const std::string& path,
               const std::string& token) {
  auto cli = srv.client();
  httplib::Headers headers;
  if (!token.empty())
    headers.emplace("Authorization", "Bearer " + token);
  auto res = cli.Get(path.c_str(), headers);
  REQUIRE(res);
  return res->status;
}

} // namespace

TEST_CASE("metrics: every family is there with its type", "[metrics]") {
  Server srv;
  auto sizes = pools(srv); // also a first request: its family has a series
  auto e = scrape(srv);
  const std::map<std::string, std::string> families = {
      {"actorq_tasks_total", "counter"},
      {"actorq_task_attempts_total", "counter"},
      {"actorq_task_duration_seconds", "histogram"},
      {"actorq_task_queue_wait_seconds", "histogram"},
      {"actorq_pool_workers", "gauge"},
      {"actorq_pool_busy", "gauge"},
      {"actorq_pool_queued", "gauge"},
      {"actorq_worker_restarts_total", "counter"},
      {"actorq_http_requests_total", "counter"},
      {"actorq_http_request_duration_seconds", "histogram"},
      {"actorq_store_commit_seconds", "histogram"},
      {"actorq_store_batch_rows", "histogram"},
      {"actorq_nodes", "gauge"},
      {"actorq_tasks_scheduled", "gauge"},
      {"process_resident_memory_bytes", "gauge"},
      {"process_cpu_seconds_total", "counter"},
      {"process_open_fds", "gauge"},
      {"process_start_time_seconds", "gauge"},
  };
  for (auto& [name, type] : families) {
    INFO("family " << name);
    CHECK(e.types[name] == type);
  }
  CHECK(e.at("process_resident_memory_bytes") > 1e6);
  CHECK(e.at("process_open_fds") > 0);
  CHECK(e.at("process_start_time_seconds") > now_epoch_ms() / 1000.0 - 600);
  CHECK(e.at("process_cpu_seconds_total") >= 0);
  CHECK(e.at(R"(actorq_nodes{state="up"})") == 1);
  // Pool gauges: sizes as GET /v1/pools tells them.
  for (auto& [name, pool] : sizes) {
    INFO("pool " << name);
    CHECK(e.at("actorq_pool_workers{pool=\"" + name + "\"}") == pool["size"].get<double>());
    CHECK(e.at("actorq_pool_busy{pool=\"" + name + "\"}") >= 0);
    CHECK(e.at("actorq_pool_queued{pool=\"" + name + "\"}") >= 0);
  }
}

TEST_CASE("metrics: tasks, attempts and durations move with real tasks",
          "[metrics]") {
  Server srv;
  auto before = scrape(srv);
  const std::string ok_task = R"(actorq_tasks_total{kind="double",status="succeeded"})";
  const std::string failed_task = R"(actorq_tasks_total{kind="flaky",status="failed"})";
  const std::string flaky_ok = R"(actorq_tasks_total{kind="flaky",status="succeeded"})";
  const std::string failed_attempt =
      R"(actorq_task_attempts_total{kind="flaky",outcome="failed"})";
  const std::string ok_attempt =
      R"(actorq_task_attempts_total{kind="flaky",outcome="succeeded"})";
  const std::string flaky_count = R"(actorq_task_duration_seconds_count{kind="flaky"})";
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(submit(srv, {{"kind", "double"}, {"input", {{"value", i}}}}));
  // Fails its only attempt; then one that fails once and succeeds on retry.
  ids.push_back(submit(srv, {{"kind", "flaky"}, {"input", {{"fail_times", 1}}},
                             {"max_retries", 0}}));
  ids.push_back(submit(srv, {{"kind", "flaky"}, {"input", {{"fail_times", 1}}},
                             {"max_retries", 1}, {"backoff_ms", 10}}));
  // Kills its worker: the supervisor restarts it.
  ids.push_back(submit(srv, {{"kind", "crash"}, {"input", json::object()},
                             {"max_retries", 0}}));
  for (auto& id : ids)
    wait_terminal(srv, id);
  auto after = scrape(srv);
  auto moved = [&](const std::string& s) { return after.at(s) - before.at(s); };
  CHECK(moved(ok_task) == 3);
  CHECK(moved(failed_task) == 1);
  CHECK(moved(flaky_ok) == 1);
  CHECK(moved(failed_attempt) == 2);
  CHECK(moved(ok_attempt) == 1);
  CHECK(moved(flaky_count) == 3);
  CHECK(moved(R"(actorq_task_duration_seconds_count{kind="double"})") == 3);
  CHECK(moved(R"(actorq_task_queue_wait_seconds_count{pool="io"})") >= 6);
  CHECK(moved(R"(actorq_tasks_total{kind="crash",status="failed"})") == 1);
  CHECK(moved(R"(actorq_worker_restarts_total{pool="io"})") == 1);
  // Every task was written to the store (group commit: batches of rows).
  CHECK(moved("actorq_store_batch_rows_sum") >= 5);
  CHECK(moved("actorq_store_commit_seconds_count") >= 1);
}

TEST_CASE("metrics: requests are counted by route pattern, never by raw path",
          "[metrics]") {
  Server srv;
  auto id = submit(srv, {{"kind", "double"}, {"input", {{"value", 1}}}});
  wait_terminal(srv, id);
  for (int i = 0; i < 4; ++i)
    REQUIRE(srv.get("/v1/tasks/" + id).status == 200);
  REQUIRE(srv.get("/v1/tasks/not-an-id").status == 404);
  REQUIRE(srv.get("/no/such/route").status == 404);
  auto e = scrape(srv);
  const std::string route = R"x(route="/v1/tasks/([^/]+)")x";
  // wait_terminal's long-polls count too: at least the four GETs.
  CHECK(e.at(R"(actorq_http_requests_total{code="200",)" + route + "}") >= 4);
  CHECK(e.at(R"(actorq_http_requests_total{code="404",)" + route + "}") == 1);
  CHECK(e.at(R"(actorq_http_requests_total{code="202",route="/v1/tasks"})") == 1);
  CHECK(e.at(R"(actorq_http_requests_total{code="404",route="none"})") == 1);
  CHECK(e.at(R"(actorq_http_request_duration_seconds_count{)" + route + "}") >= 5);
  for (auto& s : e.series("actorq_http_")) {
    INFO("series " << s);
    CHECK(s.find(id) == std::string::npos);
    CHECK(s.find("not-an-id") == std::string::npos);
    CHECK(s.find("/no/such/route") == std::string::npos);
  }
}

TEST_CASE("metrics: the token is needed unless metrics.public is set",
          "[metrics][auth]") {
  {
    Server srv{{"--http.auth-token=tok-9"}};
    CHECK(get_status(srv, "/metrics", "") == 401);
    CHECK(get_status(srv, "/metrics", "wrong") == 401);
    CHECK(get_status(srv, "/metrics", "tok-9") == 200);
  }
  {
    Server srv{{"--http.auth-token=tok-9", "--metrics.public=true"}};
    CHECK(get_status(srv, "/metrics", "") == 200);
    CHECK(get_status(srv, "/v1/pools", "") == 401); // only /metrics is public
  }
}

TEST_CASE("metrics: metrics.enabled=false answers 404 and counts nothing",
          "[metrics]") {
  Server srv{{"--metrics.enabled=false"}};
  auto r = srv.get("/metrics");
  CHECK(r.status == 404);
  REQUIRE(r.is_json);
  CHECK(r.j()["code"] == "not_found");
  CHECK(r.j()["detail"].get<std::string>().find("metrics.enabled") != std::string::npos);
  // Tasks still run.
  auto id = submit(srv, {{"kind", "double"}, {"input", {{"value", 2}}}});
  CHECK(wait_terminal(srv, id)["status"] == "succeeded");
}
