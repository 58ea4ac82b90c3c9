// Pools, supervision, kinds and health.
#include "server.hpp"

#include <set>

using namespace itest;

namespace {

long long pool_field(const Server& srv, const std::string& pool, const std::string& field) {
  auto ps = pools(srv);
  INFO("pools: " << json(ps).dump());
  REQUIRE(ps.count(pool) == 1);
  REQUIRE(ps[pool].contains(field));
  REQUIRE(ps[pool][field].is_number_integer());
  return ps[pool][field].get<long long>();
}

// Waits until pool.field == want; REQUIREs it within timeout.
void wait_pool_field(const Server& srv, const std::string& pool, const std::string& field,
                     long long want, std::chrono::milliseconds timeout = 10s) {
  long long last = -1;
  bool ok = wait_until(
      [&] {
        last = pool_field(srv, pool, field);
        return last == want;
      },
      timeout, 10ms);
  INFO("pool " << pool << "." << field << " last seen " << last << ", wanted " << want);
  REQUIRE(ok);
}

unsigned cores() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

}  // namespace

TEST_CASE("health: GET /healthz is ok", "[health]") {
  Server srv;
  auto r = srv.get("/healthz");
  REQUIRE_STATUS(r, 200);
  CHECK(r.header("Content-Type").rfind("application/json", 0) == 0);
  CHECK(r.j() == json({{"status", "ok"}}));
}

TEST_CASE("kinds: GET /v1/kinds lists the seven kinds with their pools", "[kinds]") {
  Server srv;
  auto r = srv.get("/v1/kinds");
  REQUIRE_STATUS(r, 200);
  REQUIRE(r.is_json);
  REQUIRE(r.j().is_array());
  std::map<std::string, std::string> pool_of;
  for (auto& k : r.j()) {
    INFO("kind entry: " << k.dump());
    REQUIRE(k.is_object());
    REQUIRE(k.contains("name"));
    REQUIRE(k.contains("pool"));
    REQUIRE(k.contains("description"));
    REQUIRE(k["name"].is_string());
    REQUIRE(k["pool"].is_string());
    REQUIRE(k["description"].is_string());
    CHECK(!k["description"].get<std::string>().empty());
    auto name = k["name"].get<std::string>();
    CHECK(pool_of.count(name) == 0);  // no duplicates
    pool_of[name] = k["pool"].get<std::string>();
  }
  const std::map<std::string, std::string> expected = {
      {"double", "io"}, {"square", "cpu"}, {"primes", "cpu"}, {"sleep", "io"},
      {"echo", "io"},   {"flaky", "io"},   {"crash", "io"},
  };
  for (auto& e : expected) {
    INFO("kind " << e.first);
    REQUIRE(pool_of.count(e.first) == 1);
    CHECK(pool_of[e.first] == e.second);
  }
}

TEST_CASE("kinds: every kind runs through POST /v1/tasks", "[kinds][v1]") {
  Server srv;
  struct Case {
    json body;
    std::string pool;
    json result;
  };
  json echo_obj = json::parse(R"({"a":[1,2,{"b":null}],"s":"h\u00e9llo \u2603","n":1.5,"t":true,"e":{}})");
  const std::vector<Case> cases = {
      {{{"kind", "double"}, {"input", {{"value", -7}}}}, "io", {{"result", -14}}},
      {{{"kind", "double"}, {"input", {{"value", 4611686018427387903LL}}}},
       "io",
       {{"result", 9223372036854775806LL}}},
      {{{"kind", "double"}, {"input", {{"value", 8}, {"delay_ms", 50}}}}, "io", {{"result", 16}}},
      {{{"kind", "square"}, {"input", {{"value", 12}}}}, "cpu", {{"result", 144}}},
      {{{"kind", "square"}, {"input", {{"value", -3037000499LL}}}},
       "cpu",
       {{"result", 9223372030926249001LL}}},
      {{{"kind", "primes"}, {"input", {{"below", 100}}}}, "cpu", {{"count", 25}}},
      {{{"kind", "primes"}, {"input", {{"below", 2}}}}, "cpu", {{"count", 0}}},
      {{{"kind", "primes"}, {"input", {{"below", 3}}}}, "cpu", {{"count", 1}}},
      {{{"kind", "primes"}, {"input", {{"below", 10000000}}}}, "cpu", {{"count", 664579}}},
      {{{"kind", "sleep"}, {"input", {{"ms", 50}}}}, "io", {{"slept_ms", 50}}},
      {{{"kind", "sleep"}, {"input", {{"ms", 0}}}}, "io", {{"slept_ms", 0}}},
      {{{"kind", "echo"}, {"input", echo_obj}}, "io", echo_obj},
      {{{"kind", "echo"}, {"input", json::object()}}, "io", json::object()},
      {{{"kind", "echo"}}, "io", json::object()},  // input defaults to {}
      {{{"kind", "flaky"}, {"input", {{"fail_times", 0}}}}, "io", {{"attempt", 1}}},
  };
  std::vector<std::string> ids;
  for (auto& c : cases) ids.push_back(submit(srv, c.body));
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("submitted " << cases[i].body.dump());
    auto t = wait_terminal(srv, ids[i], 20s);
    INFO("task " << t.dump());
    CHECK(t["status"] == "succeeded");
    CHECK(t["kind"] == cases[i].body["kind"]);
    CHECK(t["pool"] == cases[i].pool);
    CHECK(t["result"] == cases[i].result);
    CHECK(t["attempts"] == 1);
  }

  SECTION("crash fails the task with an error") {
    auto id = submit(srv, {{"kind", "crash"}, {"input", json::object()}, {"max_retries", 0}});
    auto t = wait_terminal(srv, id);
    CHECK(t["status"] == "failed");
    CHECK(t["pool"] == "io");
    CHECK(t["attempts"] == 1);
    CHECK(t["result"].is_null());
    REQUIRE(t["error"].is_string());
    CHECK(!t["error"].get<std::string>().empty());
  }
}

TEST_CASE("pools: GET /v1/pools reports the four pools with default sizes", "[pools]") {
  Server srv;
  auto ps = pools(srv);
  INFO("pools: " << json(ps).dump());
  REQUIRE(ps.size() >= 4);
  const std::map<std::string, long long> sizes = {
      {"io", 10000}, {"cpu", static_cast<long long>(cores())}, {"limited", 5}, {"heavy", 2}};
  for (auto& s : sizes) {
    INFO("pool " << s.first);
    REQUIRE(ps.count(s.first) == 1);
    auto& p = ps[s.first];
    for (const char* f : {"size", "busy", "queued", "completed", "failed", "restarts"}) {
      INFO("field " << f);
      REQUIRE(p.contains(f));
      CHECK(p[f].is_number_integer());
    }
    CHECK(p["size"] == s.second);
    CHECK(p["busy"] == 0);
    CHECK(p["queued"] == 0);
    CHECK(p["completed"] == 0);
    CHECK(p["failed"] == 0);
    CHECK(p["restarts"] == 0);
    CHECK(p["state"] == "ok");
  }
}

TEST_CASE("pools: completed and failed counters follow the tasks", "[pools]") {
  Server srv;
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(submit(srv, {{"kind", "double"}, {"input", {{"value", i}}}}));
  ids.push_back(submit(srv, {{"kind", "flaky"}, {"input", {{"fail_times", 1}}}, {"max_retries", 0}}));
  ids.push_back(submit(srv, {{"kind", "square"}, {"input", {{"value", 2}}}}));
  ids.push_back(submit(srv, {{"kind", "square"}, {"input", {{"value", 3}}}}));
  for (auto& id : ids) wait_terminal(srv, id);
  // Assumption: "completed" counts successful tasks, "failed" failed ones.
  wait_pool_field(srv, "io", "completed", 3, 5s);
  wait_pool_field(srv, "io", "failed", 1, 5s);
  wait_pool_field(srv, "cpu", "completed", 2, 5s);
  auto ps = pools(srv);
  CHECK(ps["io"]["busy"] == 0);
  CHECK(ps["io"]["queued"] == 0);
  CHECK(ps["cpu"]["failed"] == 0);
  CHECK(ps["limited"]["completed"] == 0);
}

TEST_CASE("pools: the limited pool never runs more than 5 at once", "[pools][limited]") {
  Server srv;

  SECTION("a batch of 12 sleeps on pool limited runs in waves of 5") {
    json items = json::array();
    for (int i = 0; i < 12; ++i) items.push_back({{"ms", 200}});
    PoolSampler sampler(srv);
    auto t0 = Clock::now();
    auto r = srv.post("/v1/batches", json{{"kind", "sleep"}, {"items", items}, {"pool", "limited"}});
    auto ms = ms_since(t0);
    sampler.stop();
    REQUIRE_STATUS(r, 200);
    CHECK(r.j()["succeeded"] == 12);
    INFO("took " << ms << " ms; max busy " << sampler.max_busy("limited") << ", max queued "
                 << sampler.max_queued("limited") << " over " << sampler.samples() << " samples");
    CHECK(ms >= 600);  // ceil(12 / 5) = 3 waves of 200 ms
    CHECK(sampler.errors() == 0);
    CHECK(sampler.max_busy("limited") <= 5);
    CHECK(sampler.max_busy("limited") == 5);
    CHECK(sampler.max_queued("limited") >= 1);
  }
  SECTION("single tasks: 5 running, the rest queued") {
    std::vector<std::string> ids;
    for (int i = 0; i < 8; ++i)
      ids.push_back(submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 600}}}, {"pool", "limited"}}));
    int running = 0, queued = 0;
    bool five = wait_until(
        [&] {
          running = queued = 0;
          for (auto& id : ids) {
            auto s = get_task(srv, id)["status"];
            running += s == "running";
            queued += s == "queued";
          }
          return running == 5;
        },
        5s, 10ms);
    INFO("running " << running << ", queued " << queued);
    CHECK(five);
    CHECK(queued == 3);
    auto p = pools(srv)["limited"];
    CHECK(p["busy"] == 5);
    CHECK(p["queued"] == 3);
    for (auto& id : ids) CHECK(wait_terminal(srv, id)["status"] == "succeeded");
    wait_pool_field(srv, "limited", "busy", 0, 5s);
  }
}

TEST_CASE("supervision: a crashing task kills a worker, which is restarted and counted",
          "[pools][supervisor]") {
  Server srv({"--seed.delay-scale=0.05", "--pools.io.size=2"});
  REQUIRE(pool_field(srv, "io", "restarts") == 0);

  auto id = submit(srv, {{"kind", "crash"}, {"input", json::object()}, {"max_retries", 0}});
  auto t = wait_terminal(srv, id);
  CHECK(t["status"] == "failed");
  CHECK(t["attempts"] == 1);
  CHECK(t["error"].is_string());
  wait_pool_field(srv, "io", "restarts", 1);

  // Each attempt of a retried crash kills a worker: 3 attempts, 3 restarts.
  auto id2 = submit(srv, {{"kind", "crash"}, {"input", json::object()}, {"max_retries", 2},
                          {"backoff_ms", 10}});
  auto t2 = wait_terminal(srv, id2, 20s);
  CHECK(t2["status"] == "failed");
  CHECK(t2["attempts"] == 3);
  wait_pool_field(srv, "io", "restarts", 4);

  auto io = pools(srv)["io"];
  CHECK(io["size"] == 2);
  CHECK(io["state"] == "ok");

  // The pool did not shrink: two sleeps run at the same time.
  auto a = submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 400}}}});
  auto b = submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 400}}}});
  bool both = wait_until(
      [&] {
        return get_task(srv, a)["status"] == "running" && get_task(srv, b)["status"] == "running";
      },
      5s, 10ms);
  CHECK(both);
  CHECK(wait_terminal(srv, a)["status"] == "succeeded");
  CHECK(wait_terminal(srv, b)["status"] == "succeeded");

  // And it keeps serving other work, including the seed routes on pool io.
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(submit(srv, {{"kind", "double"}, {"input", {{"value", i}}}}));
  for (int i = 0; i < 4; ++i) CHECK(wait_terminal(srv, ids[i])["result"] == json({{"result", 2 * i}}));
  auto pm = srv.post("/process-multiple", json::parse(R"([{"value":1},{"value":2},{"value":3}])"));
  REQUIRE_STATUS(pm, 200);
  CHECK(pm.j() == json::parse(R"([{"result":2},{"result":4},{"result":6}])"));
  auto h = srv.get("/healthz");
  CHECK_STATUS(h, 200);
  CHECK(h.j() == json({{"status", "ok"}}));
}

TEST_CASE("supervision: more than max-restarts in the window marks the pool degraded",
          "[pools][supervisor]") {
  Server srv({"--pools.io.size=4", "--supervisor.max-restarts=2",
              "--supervisor.max-backoff=500ms"});
  for (int i = 0; i < 3; ++i) {
    auto id = submit(srv, {{"kind", "crash"}, {"input", json::object()}, {"max_retries", 0}});
    CHECK(wait_terminal(srv, id)["status"] == "failed");
  }
  std::string state;
  bool degraded = wait_until(
      [&] {
        state = pools(srv)["io"].value("state", "");
        return state == "degraded";
      },
      10s, 20ms);
  INFO("io state " << state);
  CHECK(degraded);
  auto ps = pools(srv);
  CHECK(ps["io"]["size"] == 4);
  CHECK(ps["cpu"]["state"] == "ok");
  CHECK(ps["limited"]["state"] == "ok");

  auto h = srv.get("/healthz");
  INFO("healthz: " << h);
  CHECK((h.status == 200 || h.status == 503));
  REQUIRE(h.is_json);
  CHECK(h.j() == json({{"status", "degraded"}}));

  // Degraded, but still serving.
  auto id = submit(srv, {{"kind", "double"}, {"input", {{"value", 11}}}});
  CHECK(wait_terminal(srv, id)["result"] == json({{"result", 22}}));
}

TEST_CASE("pools: CPU-bound work does not stall HTTP or the io pool", "[pools][cpu]") {
  Server srv;
  const unsigned n = 3 * cores();
  std::vector<std::string> ids;
  for (unsigned i = 0; i < n; ++i)
    ids.push_back(submit(srv, {{"kind", "primes"}, {"input", {{"below", 30000000}}}}));
  // While they run, HTTP answers and io tasks complete promptly.
  long long worst_health = 0, worst_double = 0;
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    auto h = srv.get("/healthz");
    CHECK_STATUS(h, 200);
    worst_health = std::max(worst_health, ms_since(t0));
    auto t1 = Clock::now();
    auto id = submit(srv, {{"kind", "double"}, {"input", {{"value", i}}}});
    auto t = get_task(srv, id, 5000);
    CHECK(t["status"] == "succeeded");
    worst_double = std::max(worst_double, ms_since(t1));
  }
  INFO("worst healthz " << worst_health << " ms, worst double " << worst_double << " ms");
  CHECK(worst_health < 2000);
  CHECK(worst_double < 2000);
  for (auto& id : ids) {
    auto t = wait_terminal(srv, id, 60s);
    CHECK(t["status"] == "succeeded");
    CHECK(t["result"] == json({{"count", 1857859}}));
  }
}
