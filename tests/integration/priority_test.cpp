// Task priorities against the real binary: a busy pool of one worker starts
// the highest waiting priority first (FIFO within one), the starvation guard
// raises a long-waiting task, bad priorities are refused, and a restart
// keeps them.
#include "server.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <map>

using namespace itest;

namespace {

/// A short task of `priority` (none: the default).
std::string submit_short(const Server& srv, int priority = -1) {
  json body{{"kind", "sleep"}, {"input", {{"ms", 30}}}};
  if (priority >= 0)
    body["priority"] = priority;
  return submit(srv, body);
}

/// Occupies the pool's only worker for `ms`.
std::string occupy(const Server& srv, int ms) {
  auto id = submit(srv, {{"kind", "sleep"}, {"input", {{"ms", ms}}}});
  wait_status(srv, id, "running");
  return id;
}

/// The ids in the order their tasks started (each runs 30 ms alone).
std::vector<std::string> start_order(const Server& srv,
                                     std::vector<std::string> ids) {
  std::map<std::string, long long> started;
  for (auto& id : ids) {
    auto t = wait_terminal(srv, id);
    CHECK(t["status"] == "succeeded");
    started[id] = iso8601_to_epoch_ms(t["started_at"].get<std::string>());
  }
  std::stable_sort(ids.begin(), ids.end(),
                   [&](auto& a, auto& b) { return started[a] < started[b]; });
  return ids;
}

} // namespace

TEST_CASE("priority: a busy pool starts the highest priority first, FIFO "
          "within one",
          "[priority]") {
  Server srv{{"--pools.io.size=1"}};
  occupy(srv, 500);
  auto low = submit_short(srv, 1);
  auto plain1 = submit_short(srv);
  auto high = submit_short(srv, 9);
  auto plain2 = submit_short(srv, 5);
  auto lowest = submit_short(srv, 0);
  auto view = get_task(srv, high);
  CHECK(view["priority"] == 9);
  CHECK(view["status"] == "queued");
  CHECK(get_task(srv, plain1)["priority"] == 5);
  CHECK(get_task(srv, lowest)["priority"] == 0);
  CHECK(start_order(srv, {low, plain1, high, plain2, lowest})
        == std::vector<std::string>{high, plain1, plain2, low, lowest});
}

TEST_CASE("priority: a task waiting past max-wait-boost goes before newer "
          "higher ones",
          "[priority]") {
  // 100 ms per level: after the 1 s sleep, priority 0 has reached 9.
  Server srv{{"--pools.io.size=1", "--pools.io.max-wait-boost=100ms"}};
  occupy(srv, 1000);
  auto low = submit_short(srv, 0);
  std::vector<std::string> highs;
  for (int i = 0; i < 3; ++i)
    highs.push_back(submit_short(srv, 9));
  auto order = start_order(srv, {highs[0], highs[1], highs[2], low});
  CHECK(order.front() == low);
}

TEST_CASE("priority: out of range or not an integer is 422", "[priority]") {
  Server srv;
  for (auto bad : {json(10), json(-1), json("x"), json(2.5)}) {
    INFO(bad.dump());
    auto r = srv.post(
        "/v1/tasks",
        json{{"kind", "double"}, {"input", {{"value", 1}}}, {"priority", bad}});
    CHECK_STATUS(r, 422);
    CHECK(r.j()["code"] == "invalid");
    CHECK_THAT(r.j()["detail"].get<std::string>(), Catch::Contains("priority"));
    auto b = srv.post("/v1/batches", json{{"kind", "double"},
                                          {"items", {{{"value", 1}}}},
                                          {"priority", bad}});
    CHECK_STATUS(b, 422);
  }
  auto ok = srv.post(
      "/v1/batches",
      json{{"kind", "double"}, {"items", {{{"value", 1}}}}, {"priority", 9}});
  CHECK_STATUS(ok, 200);
  auto r = srv.post(
      "/v1/tasks",
      json{{"kind", "double"}, {"input", {{"value", 1}}}, {"priority", 0}});
  CHECK_STATUS(r, 202);
  CHECK(r.j()["priority"] == 0);
}

TEST_CASE("priority: kept across kill -9, recovered tasks start by it",
          "[priority]") {
  auto path = fresh_store_path();
  std::string busy, low, high, plain;
  {
    Server srv{{"--store.path=" + path, "--pools.io.size=1"}};
    busy = occupy(srv, 60000);
    low = submit_short(srv, 2);
    plain = submit_short(srv);
    high = submit_short(srv, 8);
    srv.kill(SIGKILL);
    srv.wait_exit();
  }
  Server again{{"--store.path=" + path, "--pools.io.size=1"}};
  CHECK(get_task(again, low)["priority"] == 2);
  CHECK(get_task(again, plain)["priority"] == 5);
  CHECK(get_task(again, high)["priority"] == 8);
  // The lost attempt runs again first (it was dispatched first): end it,
  // running (202) or, if the restarted pool has not started it yet, queued.
  auto cancelled = again.del("/v1/tasks/" + busy);
  CHECK((cancelled.status == 202 || cancelled.status == 200));
  auto order = start_order(again, {low, plain, high});
  CHECK(order == std::vector<std::string>{high, plain, low});
}
