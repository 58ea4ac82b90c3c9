// Seed-compatible routes: same paths and JSON shapes as the Python service.
#include <regex>
#include "server.hpp"

using namespace itest;

namespace {

json values_body(const std::vector<long long>& vs) {
  json a = json::array();
  for (auto v : vs) a.push_back({{"value", v}});
  return a;
}

// GET `path` until the body differs from `pending`; returns the last reply.
Reply poll_until_not(const Server& srv, const std::string& path, const json& pending,
                     std::chrono::milliseconds timeout = 10s) {
  Reply r;
  bool changed = wait_until(
      [&] {
        r = srv.get(path);
        return !(r.status == 200 && r.is_json && r.j() == pending);
      },
      timeout, 10ms);
  INFO("last reply: " << r);
  REQUIRE(changed);
  return r;
}

void check_seed_not_found(const Reply& r) {
  INFO("reply: " << r);
  CHECK(r.status == 404);
  REQUIRE(r.is_json);
  CHECK(r.j() == json({{"detail", "Task not found"}, {"code", "not_found"}}));
  CHECK(r.header("Content-Type").rfind("application/json", 0) == 0);
}

std::string submit_seed(const Server& srv, const std::string& path, const json& body) {
  auto r = srv.post(path, body);
  INFO("reply: " << r);
  REQUIRE(r.status == 200);
  REQUIRE(r.is_json);
  REQUIRE(r.j().is_object());
  REQUIRE(r.j().size() == 1);
  REQUIRE(r.j().contains("task_id"));
  REQUIRE(r.j()["task_id"].is_string());
  auto id = r.j()["task_id"].get<std::string>();
  CHECK(is_uuid4(id));
  return id;
}

}  // namespace

TEST_CASE("seed: POST /process-multiple doubles every item, in input order", "[seed]") {
  Server srv({"--seed.delay-scale=0.05"});

  std::vector<long long> vs;
  for (long long i = -5; i < 15; ++i) vs.push_back(i);
  vs.push_back(1LL << 40);
  vs.push_back(-(1LL << 40));
  json expected = json::array();
  for (auto v : vs) expected.push_back({{"result", 2 * v}});

  auto t0 = Clock::now();
  auto r = srv.post("/process-multiple", values_body(vs));
  auto ms = ms_since(t0);
  REQUIRE_STATUS(r, 200);
  CHECK(r.header("Content-Type").rfind("application/json", 0) == 0);
  REQUIRE(r.is_json);
  CHECK(r.j() == expected);
  // Each item sleeps 1000 ms x 0.05 = 50 ms; they run concurrently.
  CHECK(ms >= 45);
  CHECK(ms < 5000);

  SECTION("an empty list gives an empty list") {
    auto e = srv.post("/process-multiple", json::array());
    REQUIRE_STATUS(e, 200);
    CHECK(e.j() == json::array());
  }
  check_alive(srv);
}

TEST_CASE("seed: POST /process-multiple with 2000 items answers all results in order",
          "[seed][fanout]") {
  Server srv({"--seed.delay-scale=0.05"});
  std::vector<long long> vs;
  for (long long i = 0; i < 2000; ++i) vs.push_back(i * 7 - 3000);
  auto t0 = Clock::now();
  auto r = srv.post("/process-multiple", values_body(vs));
  auto ms = ms_since(t0);
  REQUIRE_STATUS(r, 200);
  REQUIRE(r.is_json);
  REQUIRE(r.j().is_array());
  REQUIRE(r.j().size() == 2000);
  for (size_t i = 0; i < vs.size(); ++i) {
    INFO("item " << i);
    REQUIRE(r.j()[i] == json({{"result", 2 * vs[i]}}));
  }
  INFO("2000 items took " << ms << " ms");
  CHECK(ms >= 45);
  CHECK(ms < 5000);  // generous: the benchmark measures this properly
}

TEST_CASE("seed: POST /submit-task then GET /get-result", "[seed]") {
  // 2000 ms x 0.1 = 200 ms per task.
  Server srv({"--seed.delay-scale=0.1"});
  auto t0 = Clock::now();
  auto id = submit_seed(srv, "/submit-task", {{"value", 21}});
  auto id2 = submit_seed(srv, "/submit-task", {{"value", -4}});
  CHECK(id != id2);

  auto first = srv.get("/get-result/" + id);
  REQUIRE_STATUS(first, 200);
  CHECK(first.j() == json({{"status", "processing"}}));

  auto done = poll_until_not(srv, "/get-result/" + id, {{"status", "processing"}});
  auto ms = ms_since(t0);
  REQUIRE_STATUS(done, 200);
  CHECK(done.j() == json({{"result", 42}}));
  CHECK(ms >= 180);

  auto done2 = poll_until_not(srv, "/get-result/" + id2, {{"status", "processing"}});
  REQUIRE_STATUS(done2, 200);
  CHECK(done2.j() == json({{"result", -8}}));

  // The result stays available.
  auto again = srv.get("/get-result/" + id);
  REQUIRE_STATUS(again, 200);
  CHECK(again.j() == json({{"result", 42}}));
}

TEST_CASE("seed: POST /submit-heavy-task then GET /check-task", "[seed]") {
  // 5000 ms x 0.04 = 200 ms per task, pool heavy has 2 workers.
  Server srv({"--seed.delay-scale=0.04"});
  auto t0 = Clock::now();
  std::vector<std::string> ids;
  for (int v : {7, 8, 9, 10}) ids.push_back(submit_seed(srv, "/submit-heavy-task", {{"value", v}}));

  auto first = srv.get("/check-task/" + ids[0]);
  REQUIRE_STATUS(first, 200);
  CHECK(first.j() == json({{"status", "processing"}}));

  for (size_t i = 0; i < ids.size(); ++i) {
    auto done = poll_until_not(srv, "/check-task/" + ids[i], {{"status", "processing"}});
    REQUIRE_STATUS(done, 200);
    long long v = 7 + static_cast<long long>(i);
    CHECK(done.j() == json({{"status", "completed"}, {"result", {{"result", 2 * v}}}}));
  }
  // 4 tasks on 2 heavy workers: at least two waves of 200 ms.
  CHECK(ms_since(t0) >= 380);
}

TEST_CASE("seed: POST /process-with-limit runs at most 5 at once, in three waves for 12",
          "[seed][limited]") {
  // 2000 ms x 0.05 = 100 ms per item.
  Server srv({"--seed.delay-scale=0.05"});
  std::vector<long long> vs;
  for (long long i = 1; i <= 12; ++i) vs.push_back(i * 11);
  json expected = json::array();
  for (auto v : vs) expected.push_back({{"processed", v}});

  PoolSampler sampler(srv);
  auto t0 = Clock::now();
  auto r = srv.post("/process-with-limit", values_body(vs));
  auto ms = ms_since(t0);
  sampler.stop();

  REQUIRE_STATUS(r, 200);
  CHECK(r.j() == expected);
  INFO("12 items took " << ms << " ms; max busy seen " << sampler.max_busy("limited")
                        << " over " << sampler.samples() << " samples");
  CHECK(ms >= 300);   // 3 waves of 100 ms
  CHECK(ms < 5000);
  CHECK(sampler.samples() > 0);
  CHECK(sampler.errors() == 0);
  CHECK(sampler.max_busy("limited") <= 5);
  CHECK(sampler.max_busy("limited") >= 1);
}

TEST_CASE("seed: POST /process-cpu-bound squares every item, in input order", "[seed]") {
  Server srv({"--seed.delay-scale=0.05"});
  auto r = srv.post("/process-cpu-bound",
                    values_body({3, -4, 0, 1, 3037000499LL, -3037000499LL, 100000}));
  REQUIRE_STATUS(r, 200);
  CHECK(r.j() == json::parse(R"([{"result":9},{"result":16},{"result":0},{"result":1},
                                 {"result":9223372030926249001},{"result":9223372030926249001},
                                 {"result":10000000000}])"));

  SECTION("int64 overflow of the square is rejected with 422") {
    auto bad = srv.post("/process-cpu-bound", values_body({2, 3037000500LL}));
    CHECK_ERROR(bad, 422, "invalid", "value");
    check_alive(srv);
  }
}

namespace {

/// started_at as Python's datetime.isoformat() of an aware UTC time
/// (2026-11-25T20:46:06.712000+00:00), which fromisoformat parses on every
/// Python 3.7+.
bool is_python_isoformat(const std::string& s) {
  static const std::regex re{R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$)"};
  return std::regex_match(s, re);
}

long long python_isoformat_ms(const std::string& s) {
  return iso8601_to_epoch_ms(s.substr(0, 23) + "Z");
}

} // namespace

TEST_CASE("seed: POST /start-task retries failures and GET /task-status reports it", "[seed]") {
  // attempt 1000 ms x 0.05 = 50 ms, retry backoff 50/100/200 ms.
  Server srv({"--seed.delay-scale=0.05"});
  auto before_ms = now_epoch_ms();
  auto id = submit_seed(srv, "/start-task", {{"value", 5}, {"fail_times", 2}});
  auto t0 = Clock::now();

  auto first = srv.get("/task-status/" + id);
  REQUIRE_STATUS(first, 200);
  REQUIRE(first.j().is_object());
  CHECK(first.j().size() == 4);
  CHECK(first.j()["status"] == "processing");
  CHECK(first.j()["result"].is_null());
  CHECK(first.j()["error"].is_null());
  REQUIRE(first.j()["started_at"].is_string());
  auto started_at = first.j()["started_at"].get<std::string>();
  CHECK(is_python_isoformat(started_at));
  auto started_ms = python_isoformat_ms(started_at);
  INFO("started_at " << started_at << " vs test clock " << before_ms);
  CHECK(started_ms >= before_ms - 2000);
  CHECK(started_ms <= now_epoch_ms() + 2000);

  Reply done;
  bool finished = wait_until(
      [&] {
        done = srv.get("/task-status/" + id);
        return !(done.status == 200 && done.is_json && done.j().value("status", "") == "processing");
      },
      10s, 10ms);
  INFO("last reply: " << done);
  REQUIRE(finished);
  REQUIRE_STATUS(done, 200);
  CHECK(done.j().size() == 4);
  CHECK(done.j()["status"] == "completed");
  CHECK(done.j()["result"] == json({{"result", 10}}));
  CHECK(done.j()["error"].is_null());
  {
    INFO("started_at must not change over the life of the task");
    CHECK(done.j()["started_at"] == started_at);
  }
  // Three attempts of 50 ms at least.
  CHECK(ms_since(t0) >= 140);

  SECTION("without fail_times the first attempt succeeds") {
    auto id2 = submit_seed(srv, "/start-task", {{"value", -21}});
    Reply d2;
    REQUIRE(wait_until(
        [&] {
          d2 = srv.get("/task-status/" + id2);
          return d2.is_json && d2.j().value("status", "") != "processing";
        },
        10s, 10ms));
    REQUIRE_STATUS(d2, 200);
    CHECK(d2.j()["status"] == "completed");
    CHECK(d2.j()["result"] == json({{"result", -42}}));
    CHECK(d2.j()["error"].is_null());
    CHECK(is_python_isoformat(d2.j().value("started_at", "")));
  }
}

TEST_CASE("seed: /start-task with fail_times >= 4 ends failed with Max retries exceeded",
          "[seed]") {
  Server srv({"--seed.delay-scale=0.05"});
  for (int ft : {4, 10}) {
    INFO("fail_times " << ft);
    auto t0 = Clock::now();
    auto id = submit_seed(srv, "/start-task", {{"value", 3}, {"fail_times", ft}});
    Reply done;
    bool finished = wait_until(
        [&] {
          done = srv.get("/task-status/" + id);
          return done.is_json && done.j().value("status", "") != "processing";
        },
        10s, 10ms);
    INFO("last reply: " << done);
    REQUIRE(finished);
    REQUIRE_STATUS(done, 200);
    CHECK(done.j().size() == 4);
    CHECK(done.j()["status"] == "failed");
    CHECK(done.j()["error"] == "Max retries exceeded");
    CHECK(done.j()["result"].is_null());
    CHECK(is_python_isoformat(done.j().value("started_at", "")));
    // 4 attempts + backoffs of 1, 2, 4 s, all x 0.05: about 0.55 s (11 s unscaled).
    auto ms = ms_since(t0);
    CHECK(ms >= 400);
    CHECK(ms < 5000);
  }
}

TEST_CASE("seed: unknown and malformed task ids give 404 Task not found", "[seed][errors]") {
  Server srv({"--seed.delay-scale=0.05"});
  const std::vector<std::string> routes = {"/get-result/", "/check-task/", "/task-status/"};

  SECTION("well-formed ids the server never issued") {
    for (auto& route : routes) {
      for (int i = 0; i < 3; ++i) check_seed_not_found(srv.get(route + random_uuid4()));
    }
    check_alive(srv);
  }

  SECTION("malformed ids: 404 (or 422) JSON, never a crash") {
    const std::vector<std::string> ids = {
        "not-a-uuid",
        "..%2F..%2Fetc%2Fpasswd",
        "%2E%2E",
        "%00",
        "abc%00def",
        "%ff%fe",
        "%20",
        "'%3B%20DROP%20TABLE%20tasks%3B--",
        "00000000-0000-0000-0000-000000000000",
        std::string(1000, 'a'),
        std::string(10000, 'a'),
        "-1",
    };
    for (auto& route : routes) {
      for (auto& id : ids) {
        auto r = srv.get(route + id);
        INFO("reply: " << r);
        // Past cpp-httplib's 8 KiB URI limit the answer is 414 too_large.
        if (id.size() > 8192)
          check_error_reply_any(r, {414}, {"too_large"});
        else
          check_error_reply_any(r, {404, 422}, {"not_found", "invalid"});
      }
      // Path traversal with real slashes: an unknown path, still JSON 404.
      auto r = srv.get(route + "../etc/passwd");
      INFO("reply: " << r);
      check_error_reply_any(r, {404, 422}, {"not_found", "invalid"});
    }
    check_alive(srv);
  }

  SECTION("an upper-cased version of an issued id is not a different task") {
    auto id = submit_seed(srv, "/submit-task", {{"value", 1}});
    std::string upper = id;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    auto r = srv.get("/get-result/" + upper);
    INFO("reply: " << r);
    // Either the same task (ids are case-insensitive) or not found / invalid.
    if (r.status == 200) {
      CHECK(r.is_json);
    } else {
      check_error_reply_any(r, {404, 422}, {"not_found", "invalid"});
    }
    check_alive(srv);
  }
}

TEST_CASE("seed: invalid bodies on seed routes give 422 naming the field", "[seed][errors]") {
  Server srv({"--seed.delay-scale=0.05"});
  struct Case {
    std::string path;
    std::string body;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"/submit-task", R"({"value":"x"})", "value"},
      {"/submit-task", R"({})", "value"},
      {"/submit-task", R"({"value":1e301})", "value"},
      {"/submit-heavy-task", R"({"value":null})", "value"},
      {"/submit-heavy-task", R"({})", "value"},
      {"/start-task", R"({"value":1,"fail_times":-1})", "fail_times"},
      {"/start-task", R"({"value":1,"fail_times":"2"})", "fail_times"},
      {"/start-task", R"({"fail_times":1})", "value"},
      {"/process-multiple", R"({"value":1})", ""},
      {"/process-multiple", R"([{"value":1},{"value":"x"}])", "value"},
      {"/process-multiple", R"([{"value":1},{"v":2}])", "value"},
      {"/process-with-limit", R"([{"value":true}])", "value"},
      {"/process-with-limit", R"("nope")", ""},
      {"/process-cpu-bound", R"([{"value":[1]}])", "value"},
      {"/process-cpu-bound", R"([{"value":-3037000500}])", "value"},
  };
  for (auto& c : cases) {
    auto r = srv.post(c.path, c.body);
    INFO("POST " << c.path << " " << c.body);
    CHECK_ERROR(r, 422, "invalid", c.field);
  }
  check_alive(srv);
}

TEST_CASE("seed: value may be any JSON number on the doubling and squaring routes, as the "
          "article's value times 2 allows",
          "[seed]") {
  Server srv({"--seed.delay-scale=0.01"});
  auto r = srv.post("/process-multiple", R"([{"value":1.5},{"value":2},{"value":-0.25}])");
  REQUIRE_STATUS(r, 200);
  CHECK(r.j() == json::parse(R"([{"result":3.0},{"result":4},{"result":-0.5}])"));
  CHECK(r.body.find("3.0") != std::string::npos); // a float stays a float
  r = srv.post("/process-cpu-bound", R"([{"value":1.5},{"value":3}])");
  REQUIRE_STATUS(r, 200);
  CHECK(r.j() == json::parse(R"([{"result":2.25},{"result":9}])"));
  // Integers out of range stay 422.
  CHECK(srv.post("/process-cpu-bound", R"([{"value":3037000500}])").status == 422);
  CHECK(srv.post("/process-multiple", R"([{"value":9223372036854775807}])").status == 422);
}

TEST_CASE("seed: validation errors have FastAPI's shape (detail: a list of loc, msg, type) beside "
          "code, the v1 routes keep theirs",
          "[seed][errors]") {
  Server srv({"--seed.delay-scale=0.01"});
  auto entry = [](const Reply& r) {
    INFO("reply: " << r);
    REQUIRE(r.status == 422);
    REQUIRE(r.j()["detail"].is_array());
    REQUIRE(r.j()["detail"].size() == 1);
    auto& e = r.j()["detail"][0];
    CHECK(e["loc"].is_array());
    CHECK(e["msg"].is_string());
    CHECK(e["type"].is_string());
    CHECK(r.j()["code"].is_string());
    return e;
  };
  auto e = entry(srv.post("/process-multiple", R"([{"value":1},{"value":"x"}])"));
  CHECK(e["loc"] == json::parse(R"(["body",1,"value"])"));
  CHECK(e["msg"].get<std::string>().find("value") != std::string::npos);
  e = entry(srv.post("/process-multiple", R"([{"value":1},{"v":2}])"));
  CHECK(e["loc"] == json::parse(R"(["body",1,"value"])"));
  CHECK(e["msg"] == "field required");
  CHECK(e["type"] == "value_error.missing");
  e = entry(srv.post("/process-multiple", R"({"value":1})"));
  CHECK(e["loc"] == json::parse(R"(["body"])"));
  CHECK(e["type"] == "type_error.list");
  e = entry(srv.post("/process-with-limit", R"([3])"));
  CHECK(e["loc"] == json::parse(R"(["body",0])"));
  CHECK(e["type"] == "type_error.dict");
  e = entry(srv.post("/submit-task", ""));
  CHECK(e["loc"] == json::parse(R"(["body"])"));
  CHECK(e["msg"] == "field required");
  auto bad = srv.post("/submit-task", "{");
  e = entry(bad);
  CHECK(e["type"] == "value_error.jsondecode");
  CHECK(bad.j()["code"] == "bad_json");
  // v1 keeps its shape.
  CHECK_ERROR(srv.post("/v1/tasks", "{"), 400, "bad_json", "");
  CHECK_ERROR(srv.post("/v1/tasks", R"({"kind":"double","input":{"value":"x"}})"), 422, "invalid",
              "value");
}

TEST_CASE("seed: a trailing slash answers 307 to the path without it, as FastAPI does", "[seed]") {
  Server srv({"--seed.delay-scale=0.01"});
  auto cli = srv.client();
  auto r = cli.Post("/submit-task/", R"({"value":1})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 307);
  CHECK(r->get_header_value("Location") == "/submit-task");
  auto g = cli.Get("/task-status/abc/?x=1");
  REQUIRE(g);
  CHECK(g->status == 307);
  CHECK(g->get_header_value("Location") == "/task-status/abc?x=1");
  // Following it works (curl -L, httpx follow_redirects, requests).
  cli.set_follow_location(true);
  auto followed = cli.Post("/submit-task/", R"({"value":1})", "application/json");
  REQUIRE(followed);
  CHECK(followed->status == 200);
  CHECK(json::parse(followed->body).contains("task_id"));
}
