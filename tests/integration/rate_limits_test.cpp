// Rate limits per kind (`rate`, `burst`) against the real binary: a limited
// kind's attempts start no faster than its rate, other kinds in the same
// pool are not held up, GET /v1/kinds shows the limit, and a bad value
// stops start-up naming the key.
#include "kinds_support.hpp"

#include <algorithm>

using namespace itest;

namespace {

/// started_at of a task that has ended, in ms since the epoch.
long long started_ms(const json& task) {
  REQUIRE(task["started_at"].is_string());
  auto ms = iso8601_to_epoch_ms(task["started_at"].get<std::string>());
  REQUIRE(ms > 0);
  return ms;
}

} // namespace

TEST_CASE("rate limits: 60 tasks of a 20/s kind start over 3 s, other kinds go ahead",
          "[rate]") {
  Server srv({"--kinds.echo.rate=20/s"});
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i)
    ids.push_back(submit(srv, {{"kind", "echo"}, {"input", {{"i", i}}}}));
  // A kind of the same pool, queued behind the limited ones: not delayed.
  auto t0 = Clock::now();
  auto other = submit(srv, {{"kind", "double"}, {"input", {{"value", 21}}}});
  auto done = wait_terminal(srv, other, 10s);
  CHECK(done["status"] == "succeeded");
  CHECK(ms_since(t0) < 1000);
  // The limited ones are still starting meanwhile.
  CHECK_FALSE(is_terminal(get_task(srv, ids.back())["status"]));
  std::vector<long long> starts;
  for (auto& id : ids) {
    auto t = wait_terminal(srv, id, 20s);
    CHECK(t["status"] == "succeeded");
    starts.push_back(started_ms(t));
  }
  std::sort(starts.begin(), starts.end());
  // By time t after the first start, at most burst (1) + 20/s * t started:
  // start i comes at least (i - 1) * 50 ms after the first (20 ms slack
  // for the millisecond timestamps and clock rounding).
  for (size_t i = 1; i < starts.size(); ++i) {
    INFO("start " << i << " at +" << starts[i] - starts[0] << " ms");
    CHECK(starts[i] - starts[0] >= static_cast<long long>(i - 1) * 50 - 20);
  }
  auto spread = starts.back() - starts.front();
  CHECK(spread >= 2900);
  CHECK(spread < 6000); // queued tasks wait, but not much longer than needed
}

TEST_CASE("rate limits: GET /v1/kinds shows rate and burst of built-in and config kinds",
          "[rate]") {
  Server srv({"--kinds.double.rate=5/s", "--kinds.echo.rate=100/m", "--kinds.echo.burst=10",
              "--kinds.rcat.runner=exec", "--kinds.rcat.pool=io",
              R"(--kinds.rcat.command=["cat"])", "--kinds.rcat.rate=500/h"});
  auto r = srv.get("/v1/kinds");
  REQUIRE_STATUS(r, 200);
  std::map<std::string, json> by_name;
  for (auto& k : r.j())
    by_name[k["name"].get<std::string>()] = k;
  CHECK(by_name["double"]["rate"] == "5/s");
  CHECK(by_name["double"]["burst"] == 1);
  CHECK(by_name["echo"]["rate"] == "100/m");
  CHECK(by_name["echo"]["burst"] == 10);
  CHECK(by_name["rcat"]["rate"] == "500/h");
  CHECK_FALSE(by_name["sleep"].contains("rate"));
  CHECK_FALSE(by_name["sleep"].contains("burst"));
}

TEST_CASE("rate limits: a bad rate or burst stops start-up naming the key", "[rate]") {
  struct bad {
    std::vector<std::string> args;
    std::string says;
  };
  for (auto& c : std::vector<bad>{
           {{"--kinds.echo.rate=fast"}, "kinds.echo.rate"},
           {{"--kinds.echo.rate=0/s"}, "kinds.echo.rate"},
           {{"--kinds.echo.rate=10/d"}, "kinds.echo.rate"},
           {{"--kinds.echo.burst=5"}, "kinds.echo.burst"},
           {{"--kinds.echo.rate=5/s", "--kinds.echo.burst=0"}, "kinds.echo.burst"}}) {
    INFO(c.args.front());
    auto fs = start_expect_failure(c.args);
    INFO("output: " << fs.output);
    CHECK_FALSE(fs.started);
    CHECK(fs.status.code == 2);
    CHECK_THAT(fs.output, Catch::Contains(c.says));
  }
  auto fs = start_expect_failure({"--kinds.echo.rate=10/d"});
  CHECK_THAT(fs.output, Catch::Contains("expected a rate such as"));
}

TEST_CASE("rate limits: a lease kind's attempts are leased no faster than its rate", "[rate]") {
  Server srv({"--pools.leased.size=0", "--kinds.job.runner=lease", "--kinds.job.pool=leased",
              "--kinds.job.rate=10/s"});
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i)
    ids.push_back(submit(srv, {{"kind", "job"}, {"input", {{"i", i}}}}));
  // One worker asks for all of them and long-polls for the rest: each
  // token wakes it (no busy loop between the pool and the lease desk).
  size_t leased = 0;
  auto t0 = Clock::now();
  while (leased < ids.size() && ms_since(t0) < 10000) {
    auto r = srv.post("/v1/leases", json{{"kinds", {"job"}}, {"max", 20}, {"wait_ms", 2000},
                                         {"worker", "w1"}});
    REQUIRE_STATUS(r, 200);
    for (auto& l : r.j()["leases"]) {
      ++leased;
      REQUIRE_STATUS(srv.post("/v1/leases/" + l["lease"].get<std::string>() + "/complete",
                              json{{"result", 1}}),
                     200);
    }
  }
  REQUIRE(leased == ids.size());
  std::vector<long long> starts;
  for (auto& id : ids)
    starts.push_back(started_ms(wait_terminal(srv, id)));
  std::sort(starts.begin(), starts.end());
  for (size_t i = 1; i < starts.size(); ++i) {
    INFO("start " << i << " at +" << starts[i] - starts[0] << " ms");
    CHECK(starts[i] - starts[0] >= static_cast<long long>(i - 1) * 100 - 20);
  }
  CHECK(starts.back() - starts.front() < 4500);
}
