// Chains against the real binary: "after" makes a task wait (status
// waiting) until the tasks it names ended; after_policy decides what a
// failed one means; pass_results hands their results over in "_after";
// unknown ids, batches and oversized lists are refused; cancel works while
// waiting; a chain survives kill -9.
#include "server.hpp"

#include <catch2/catch.hpp>

#include <csignal>

using namespace itest;

namespace {

/// A task that sleeps `ms` and succeeds with {"slept_ms": ms}.
json sleeper(int ms) {
  return {{"kind", "sleep"}, {"input", {{"ms", ms}}}};
}

/// A task that fails at once (no retries).
json failing() {
  return {{"kind", "double"},
          {"input", {{"value", 1}, {"fail_times", 1}}},
          {"max_retries", 0}};
}

/// An echo task (its result is its input) waiting for `after`.
json echo_after(const std::vector<std::string>& after, json extra = {}) {
  json body{{"kind", "echo"},
            {"input", {{"step", "next"}}},
            {"after", after},
            {"pass_results", true}};
  if (extra.is_object())
    body.update(extra);
  return body;
}

long long started_ms(const json& t) {
  return iso8601_to_epoch_ms(t["started_at"].get<std::string>());
}

long long finished_ms(const json& t) {
  return iso8601_to_epoch_ms(t["finished_at"].get<std::string>());
}

} // namespace

TEST_CASE("chains: a then b then c run in order and pass their results",
          "[chains]") {
  Server srv{{"--pools.io.size=4"}};
  auto a = submit(srv, sleeper(300));
  auto b = submit(srv, echo_after({a}));
  auto c = submit(srv, echo_after({b}));
  auto vb = get_task(srv, b);
  CHECK(vb["status"] == "waiting");
  CHECK(vb["after"] == json::array({a}));
  CHECK(get_task(srv, c)["status"] == "waiting");
  auto tc = wait_terminal(srv, c);
  REQUIRE(tc["status"] == "succeeded");
  auto ta = get_task(srv, a);
  auto tb = get_task(srv, b);
  CHECK(started_ms(tb) >= finished_ms(ta));
  CHECK(started_ms(tc) >= finished_ms(tb));
  // b's result is its input: {"step", "_after": [a's outcome]}.
  auto& b_after = tb["result"]["_after"];
  REQUIRE(b_after.size() == 1);
  CHECK(b_after[0]["id"] == a);
  CHECK(b_after[0]["status"] == "succeeded");
  CHECK(b_after[0]["result"] == json{{"slept_ms", 300}});
  auto& c_after = tc["result"]["_after"];
  REQUIRE(c_after.size() == 1);
  CHECK(c_after[0]["id"] == b);
  CHECK(c_after[0]["result"]["_after"][0]["id"] == a);
  CHECK(tc["result"]["step"] == "next");
}

TEST_CASE("chains: fan-in where one member fails, under both policies",
          "[chains]") {
  Server srv{{"--pools.io.size=4"}};
  auto ok1 = submit(srv, sleeper(200));
  auto bad = submit(srv, failing());
  auto ok2 = submit(srv, sleeper(400));
  std::vector<std::string> members{ok1, bad, ok2};
  auto strict = submit(srv, echo_after(members));
  auto lenient = submit(srv, echo_after(members, {{"after_policy", "ended"}}));

  auto ts = wait_terminal(srv, strict);
  CHECK(ts["status"] == "cancelled");
  CHECK(ts["error"] == "after: task " + bad + " failed");
  CHECK(ts["attempts"] == 0);

  auto tl = wait_terminal(srv, lenient);
  REQUIRE(tl["status"] == "succeeded");
  auto& outcomes = tl["result"]["_after"];
  REQUIRE(outcomes.size() == 3);
  CHECK(outcomes[0]["id"] == ok1);
  CHECK(outcomes[0]["status"] == "succeeded");
  CHECK(outcomes[1]["id"] == bad);
  CHECK(outcomes[1]["status"] == "failed");
  CHECK(outcomes[1]["result"].is_null());
  CHECK(outcomes[2]["id"] == ok2);
  CHECK(outcomes[2]["status"] == "succeeded");
  // It ran only once all three ended.
  CHECK(started_ms(tl) >= finished_ms(get_task(srv, ok2)));
}

TEST_CASE("chains: a task after one that already ended runs at once",
          "[chains]") {
  Server srv;
  auto a = submit(srv, {{"kind", "echo"}, {"input", {{"x", 1}}}});
  REQUIRE(wait_terminal(srv, a)["status"] == "succeeded");
  auto b = submit(srv, echo_after({a, a}));
  auto tb = wait_terminal(srv, b, 5s);
  REQUIRE(tb["status"] == "succeeded");
  CHECK(tb["result"]["_after"].size() == 2);
  CHECK(tb["result"]["_after"][1]["result"] == json{{"x", 1}});
  // Without pass_results the input is left as it was.
  auto c = submit(srv, {{"kind", "echo"}, {"input", {{"y", 2}}}, {"after", {a}}});
  CHECK(wait_terminal(srv, c)["result"] == json{{"y", 2}});
}

TEST_CASE("chains: bad after lists are refused with 422", "[chains]") {
  Server srv;
  auto unknown = random_uuid4();
  auto r = srv.post("/v1/tasks", echo_after({unknown}));
  check_error_reply(r, 422, "invalid", "after");
  CHECK(r.j()["detail"].get<std::string>().find(unknown) != std::string::npos);

  auto a = submit(srv, sleeper(10));
  check_error_reply(srv.post("/v1/tasks", json{{"kind", "echo"},
                                                {"after", {"not-an-id"}}}),
                    422, "invalid", "after[0]");
  check_error_reply(srv.post("/v1/tasks", json{{"kind", "echo"},
                                                {"after", a}}),
                    422, "invalid", "after");
  check_error_reply(srv.post("/v1/tasks", json{{"kind", "echo"},
                                                {"after", {a}},
                                                {"after_policy", "always"}}),
                    422, "invalid", "after_policy");
  check_error_reply(srv.post("/v1/tasks", json{{"kind", "echo"},
                                                {"pass_results", true}}),
                    422, "invalid", "pass_results");
  // pass_results needs an object input to add "_after" to.
  check_error_reply(srv.post("/v1/tasks", json{{"kind", "double"},
                                                {"input", 3},
                                                {"after", {a}},
                                                {"pass_results", true}}),
                    422, "invalid", "input");
  json many = json::array();
  for (int i = 0; i < 1001; ++i)
    many.push_back(a);
  check_error_reply(srv.post("/v1/tasks", json{{"kind", "echo"},
                                                {"after", many}}),
                    422, "invalid", "1000");
  check_error_reply(srv.post("/v1/batches", json{{"kind", "echo"},
                                                  {"items", {json::object()}},
                                                  {"after", {a}}}),
                    422, "invalid", "after");
}

TEST_CASE("chains: cancelling a waiting task, and its dependents react",
          "[chains]") {
  Server srv;
  auto a = submit(srv, sleeper(60000));
  auto b = submit(srv, echo_after({a}));
  auto strict = submit(srv, echo_after({b}));
  auto lenient = submit(srv, echo_after({b}, {{"after_policy", "ended"}}));
  // status=waiting lists the waiting ones.
  auto listed = srv.get("/v1/tasks?status=waiting");
  REQUIRE(listed.status == 200);
  std::vector<std::string> ids;
  for (auto& t : listed.j()["tasks"])
    ids.push_back(t["id"]);
  CHECK(ids == std::vector<std::string>{lenient, strict, b});

  auto r = srv.del("/v1/tasks/" + b);
  CHECK(r.status == 200);
  CHECK(r.j()["status"] == "cancelled");
  auto ts = wait_terminal(srv, strict, 5s);
  CHECK(ts["status"] == "cancelled");
  CHECK(ts["error"] == "after: task " + b + " cancelled");
  auto tl = wait_terminal(srv, lenient, 5s);
  REQUIRE(tl["status"] == "succeeded");
  CHECK(tl["result"]["_after"][0]["status"] == "cancelled");
  // a is untouched, and nothing waits any more.
  CHECK(get_task(srv, a)["status"] == "running");
  CHECK(srv.get("/v1/tasks?status=waiting").j()["tasks"].empty());
  srv.del("/v1/tasks/" + a);
}

TEST_CASE("chains: the same Idempotency-Key with another after list is a "
          "mismatch",
          "[chains]") {
  Server srv;
  auto a = submit(srv, sleeper(10));
  auto b = submit(srv, sleeper(10));
  auto first = post_keyed(srv, "chain-key", echo_after({a}));
  REQUIRE(first.first == 202);
  auto again = post_keyed(srv, "chain-key", echo_after({a}));
  CHECK(again.first == 202);
  CHECK(again.second["id"] == first.second["id"]);
  auto other = post_keyed(srv, "chain-key", echo_after({a, b}));
  CHECK(other.first == 422);
  CHECK(other.second["code"] == "idempotency_mismatch");
  auto policy = post_keyed(srv, "chain-key",
                           echo_after({a}, {{"after_policy", "ended"}}));
  CHECK(policy.first == 422);
  CHECK(policy.second["code"] == "idempotency_mismatch");
}

TEST_CASE("chains: a chain across kill -9 completes exactly once",
          "[chains]") {
  auto path = fresh_store_path();
  std::string running, queued, last, ended, ready;
  {
    Server srv{{"--store.path=" + path, "--pools.io.size=1"}};
    ended = submit(srv, {{"kind", "echo"}, {"input", {{"done", true}}}});
    REQUIRE(wait_terminal(srv, ended)["status"] == "succeeded");
    auto body = sleeper(1500);
    body["max_retries"] = 2;
    running = submit(srv, body);
    wait_status(srv, running, "running");
    queued = submit(srv, {{"kind", "echo"}, {"input", {{"q", 1}}}});
    last = submit(srv, echo_after({ended, running, queued}));
    CHECK(get_task(srv, last)["status"] == "waiting");
    // Queued at once (what it waits for ended), behind the busy worker.
    ready = submit(srv, echo_after({ended}));
    wait_status(srv, ready, "queued");
    srv.kill(SIGKILL);
    srv.wait_exit();
  }
  Server again{{"--store.path=" + path, "--pools.io.size=1"}};
  CHECK(get_task(again, last)["status"] == "waiting");
  auto t = wait_terminal(again, last, 15s);
  REQUIRE(t["status"] == "succeeded");
  CHECK(t["attempts"] == 1);
  CHECK(t["after"] == json::array({ended, running, queued}));
  auto& outcomes = t["result"]["_after"];
  REQUIRE(outcomes.size() == 3);
  CHECK(outcomes[0]["result"] == json{{"done", true}});
  CHECK(outcomes[1]["status"] == "succeeded");
  CHECK(outcomes[2]["result"] == json{{"q", 1}});
  CHECK(started_ms(t) >= finished_ms(get_task(again, running)));
  // Recovered queued, its _after is rebuilt (the stored input has none).
  auto r = wait_terminal(again, ready);
  REQUIRE(r["status"] == "succeeded");
  CHECK(r["result"]["_after"][0]["result"] == json{{"done", true}});
  // Ran once: one task with this id, one attempt; nothing else waits.
  CHECK(again.get("/v1/tasks?status=waiting").j()["tasks"].empty());
}

TEST_CASE("chains: tasks evicted from memory are awaited from the store",
          "[chains]") {
  Server srv{{"--store.memory-tasks=1"}};
  auto a = submit(srv, {{"kind", "echo"}, {"input", {{"from", "store"}}}});
  REQUIRE(wait_terminal(srv, a)["status"] == "succeeded");
  auto bad = submit(srv, failing());
  REQUIRE(wait_terminal(srv, bad)["status"] == "failed");
  for (int i = 0; i < 5; ++i) // push a and bad out of memory
    wait_terminal(srv, submit(srv, {{"kind", "echo"}, {"input", json::object()}}));
  auto b = submit(srv, echo_after({a, bad}, {{"after_policy", "ended"}}));
  auto tb = wait_terminal(srv, b);
  REQUIRE(tb["status"] == "succeeded");
  CHECK(tb["result"]["_after"][0]["result"] == json{{"from", "store"}});
  CHECK(tb["result"]["_after"][1]["status"] == "failed");
  auto c = submit(srv, echo_after({a, bad}));
  auto tc = wait_terminal(srv, c);
  CHECK(tc["status"] == "cancelled");
  CHECK(tc["error"] == "after: task " + bad + " failed");
  // Retried by an operator, it runs, its _after rebuilt from the store.
  CHECK(srv.post("/v1/tasks/" + c + "/retry", "").status == 202);
  auto again = wait_terminal(srv, c);
  REQUIRE(again["status"] == "succeeded");
  CHECK(again["result"]["_after"][0]["result"] == json{{"from", "store"}});
  CHECK(again["result"]["_after"][1]["status"] == "failed");
  check_error_reply(srv.post("/v1/tasks", echo_after({a, random_uuid4()})),
                    422, "invalid", "after");
}

TEST_CASE("chains: without a store, in memory only", "[chains]") {
  Server srv{{"--store.path=:memory:"}};
  auto a = submit(srv, sleeper(100));
  auto b = submit(srv, echo_after({a}));
  CHECK(get_task(srv, b)["status"] == "waiting");
  auto tb = wait_terminal(srv, b);
  REQUIRE(tb["status"] == "succeeded");
  CHECK(tb["result"]["_after"][0]["status"] == "succeeded");
  check_error_reply(srv.post("/v1/tasks", echo_after({random_uuid4()})), 422,
                    "invalid", "after");
}
