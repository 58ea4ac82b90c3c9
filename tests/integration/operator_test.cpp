// Operator actions against the real binary: retry a failed or cancelled task
// (POST /v1/tasks/{id}/retry), cancel many (DELETE /v1/tasks?status=&kind=),
// pause and resume a pool (POST /v1/pools/{name}/pause|resume), and that
// each survives kill -9 and a restart on the same store.
#include "server.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <thread>

using namespace itest;

namespace {

/// The pool `name` as GET /v1/pools shows it.
json pool_view(const Server& srv, const std::string& name) {
  auto r = srv.get("/v1/pools");
  REQUIRE_STATUS(r, 200);
  for (auto& p : r.j())
    if (p["name"] == name)
      return p;
  FAIL("no pool " << name);
  return {};
}

/// Waits until task `id` has this status.
bool reaches(const Server& srv, const std::string& id,
             const std::string& status, std::chrono::milliseconds timeout = 10s) {
  return wait_until([&] { return get_task(srv, id)["status"] == status; },
                    timeout);
}

json retry(const Server& srv, const std::string& id, int status = 202) {
  auto r = srv.post("/v1/tasks/" + id + "/retry", "");
  INFO(r);
  CHECK(r.status == status);
  return r.j();
}

} // namespace

TEST_CASE("operator: retry runs a failed task again, attempts going on",
          "[operator]") {
  Server srv{{"--retry.backoff=10ms"}};
  // Fails attempts 1..3: the first cycle (2 attempts) fails, the retried
  // one fails attempt 3 and succeeds with attempt 4.
  auto id = submit(srv, {{"kind", "flaky"},
                         {"input", {{"fail_times", 3}}},
                         {"max_retries", 1}});
  auto first = wait_terminal(srv, id);
  REQUIRE(first["status"] == "failed");
  CHECK(first["attempts"] == 2);
  auto again = retry(srv, id);
  CHECK(again["id"] == id);
  CHECK(again["status"] == "queued");
  CHECK(again["attempts"] == 2);
  CHECK(again["error"].is_null());
  auto second = wait_terminal(srv, id);
  CHECK(second["status"] == "succeeded");
  CHECK(second["attempts"] == 4);
  CHECK(second["result"] == json{{"attempt", 4}});
  CHECK(second["max_retries"] == 1);

  // A task that keeps failing uses its budget again, no more.
  auto stubborn = submit(srv, {{"kind", "flaky"},
                               {"input", {{"fail_times", 100}}},
                               {"max_retries", 1}});
  CHECK(wait_terminal(srv, stubborn)["attempts"] == 2);
  retry(srv, stubborn);
  auto failed = wait_terminal(srv, stubborn);
  CHECK(failed["status"] == "failed");
  CHECK(failed["attempts"] == 4);
  CHECK(failed["error"] == "injected failure");
}

TEST_CASE("operator: retry of a cancelled task, 409 for other states, 404",
          "[operator]") {
  Server srv{{"--retry.backoff=10ms"}};
  auto id = submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 300}}}});
  REQUIRE(reaches(srv, id, "running"));
  REQUIRE_STATUS(srv.del("/v1/tasks/" + id), 202);
  REQUIRE(wait_terminal(srv, id)["status"] == "cancelled");
  retry(srv, id);
  auto done = wait_terminal(srv, id);
  CHECK(done["status"] == "succeeded");
  CHECK(done["result"] == json{{"slept_ms", 300}});
  CHECK(done["cancel_requested"] == false);

  // Succeeded, running, queued: 409 conflict.
  CHECK(retry(srv, id, 409)["code"] == "conflict");
  auto running = submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 60000}}}});
  REQUIRE(reaches(srv, running, "running"));
  auto busy = retry(srv, running, 409);
  CHECK(busy["code"] == "conflict");
  CHECK_THAT(busy["detail"].get<std::string>(), Catch::Contains("running"));
  srv.del("/v1/tasks/" + running);

  CHECK(retry(srv, random_uuid4(), 404)["code"] == "not_found");
  CHECK(retry(srv, "not-a-task-id", 404)["code"] == "not_found");
}

TEST_CASE("operator: retry reads a task evicted from memory back from the "
          "store",
          "[operator]") {
  Server srv{{"--store.memory-tasks=1", "--retry.backoff=10ms"}};
  auto id = submit(srv, {{"kind", "flaky"},
                         {"input", {{"fail_times", 1}}},
                         {"max_retries", 0}});
  REQUIRE(wait_terminal(srv, id)["status"] == "failed");
  for (int i = 0; i < 20; ++i)
    wait_terminal(srv, submit(srv, {{"kind", "echo"}, {"input", {{"i", i}}}}));
  auto again = retry(srv, id);
  CHECK(again["status"] == "queued");
  auto done = wait_terminal(srv, id);
  CHECK(done["status"] == "succeeded");
  CHECK(done["attempts"] == 2);
}

TEST_CASE("operator: cancel many by status and by kind answers how many",
          "[operator]") {
  auto path = fresh_store_path();
  Server srv{{"--store.path=" + path}};
  REQUIRE_STATUS(srv.post("/v1/pools/io/pause", ""), 200);
  std::vector<std::string> echoes, sleeps;
  for (int i = 0; i < 3; ++i)
    echoes.push_back(submit(srv, {{"kind", "echo"}, {"input", {{"i", i}}}}));
  for (int i = 0; i < 2; ++i)
    sleeps.push_back(
        submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 10}}}}));
  auto done = submit(srv, {{"kind", "square"}, {"input", {{"value", 3}}}});
  REQUIRE(wait_terminal(srv, done)["status"] == "succeeded");

  auto by_kind = srv.del("/v1/tasks?kind=echo");
  REQUIRE_STATUS(by_kind, 200);
  CHECK(by_kind.j() == json{{"cancelled", 3}});
  for (auto& id : echoes)
    CHECK(get_task(srv, id)["status"] == "cancelled");
  for (auto& id : sleeps)
    CHECK(get_task(srv, id)["status"] == "queued");
  CHECK(get_task(srv, done)["status"] == "succeeded");

  auto by_status = srv.del("/v1/tasks?status=queued&kind=sleep");
  REQUIRE_STATUS(by_status, 200);
  CHECK(by_status.j()["cancelled"] == 2);
  for (auto& id : sleeps)
    CHECK(get_task(srv, id)["status"] == "cancelled");
  CHECK(srv.del("/v1/tasks?status=queued").j()["cancelled"] == 0);

  // Nothing cancels everything by accident; bad filters are named.
  auto none = srv.del("/v1/tasks");
  REQUIRE_STATUS(none, 422);
  CHECK_THAT(none.j()["detail"].get<std::string>(),
             Catch::Contains("status") && Catch::Contains("kind"));
  CHECK_STATUS(srv.del("/v1/tasks?status=succeeded"), 422);
  CHECK_STATUS(srv.del("/v1/tasks?status=bogus"), 422);
  CHECK_STATUS(srv.del("/v1/tasks?kind=no-such-kind"), 422);

  // Durable like single cancels: still cancelled after kill -9.
  std::this_thread::sleep_for(300ms);
  srv.kill(SIGKILL);
  srv.wait_exit();
  Server again{{"--store.path=" + path}};
  for (auto& id : echoes)
    CHECK(get_task(again, id)["status"] == "cancelled");
}

TEST_CASE("operator: a paused pool starts nothing queued, finishes what runs, "
          "accepts submissions, resume runs them",
          "[operator]") {
  Server srv;
  CHECK(pool_view(srv, "io")["paused"] == false);
  auto running = submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 800}}}});
  REQUIRE(reaches(srv, running, "running"));
  auto paused = srv.post("/v1/pools/io/pause", "");
  REQUIRE_STATUS(paused, 200);
  CHECK(paused.j()["name"] == "io");
  CHECK(paused.j()["paused"] == true);
  CHECK(pool_view(srv, "io")["paused"] == true);
  CHECK(pool_view(srv, "cpu")["paused"] == false);
  auto waiting = submit(srv, {{"kind", "echo"}, {"input", {{"x", 1}}}});
  // The running task ends; the queued one waits.
  CHECK(wait_terminal(srv, running)["status"] == "succeeded");
  std::this_thread::sleep_for(300ms);
  CHECK(get_task(srv, waiting)["status"] == "queued");
  CHECK(pool_view(srv, "io")["queued"] == 1);
  // Other pools go on.
  auto other = submit(srv, {{"kind", "square"}, {"input", {{"value", 2}}}});
  CHECK(wait_terminal(srv, other)["status"] == "succeeded");
  auto resumed = srv.post("/v1/pools/io/resume", "");
  REQUIRE_STATUS(resumed, 200);
  CHECK(resumed.j()["paused"] == false);
  CHECK(wait_terminal(srv, waiting)["status"] == "succeeded");
  CHECK_STATUS(srv.post("/v1/pools/nope/pause", ""), 404);
  CHECK_STATUS(srv.post("/v1/pools/nope/resume", ""), 404);
}

TEST_CASE("operator: a pause and a retry survive kill -9 and a restart",
          "[operator]") {
  auto path = fresh_store_path();
  std::string waiting, retried;
  {
    Server srv{{"--store.path=" + path, "--retry.backoff=10ms"}};
    retried = submit(srv, {{"kind", "flaky"},
                           {"input", {{"fail_times", 1}}},
                           {"max_retries", 0}});
    REQUIRE(wait_terminal(srv, retried)["status"] == "failed");
    REQUIRE_STATUS(srv.post("/v1/pools/io/pause", ""), 200);
    waiting = submit(srv, {{"kind", "echo"}, {"input", {{"x", 1}}}});
    retry(srv, retried);
    std::this_thread::sleep_for(500ms); // the retry's row reaches the store
    srv.kill(SIGKILL);
    CHECK(srv.wait_exit().signal == SIGKILL);
  }
  Server again{{"--store.path=" + path, "--retry.backoff=10ms"}};
  CHECK(again.wait_output("pool 'io' is paused"));
  CHECK(pool_view(again, "io")["paused"] == true);
  std::this_thread::sleep_for(300ms);
  CHECK(get_task(again, waiting)["status"] == "queued");
  CHECK(get_task(again, retried)["status"] == "queued");
  REQUIRE_STATUS(again.post("/v1/pools/io/resume", ""), 200);
  CHECK(wait_terminal(again, waiting)["status"] == "succeeded");
  auto done = wait_terminal(again, retried);
  CHECK(done["status"] == "succeeded");
  CHECK(done["attempts"] == 2);
  // Resumed is durable too.
  again.kill(SIGTERM);
  again.wait_exit();
  Server third{{"--store.path=" + path}};
  CHECK(pool_view(third, "io")["paused"] == false);
}

TEST_CASE("operator: operator POSTs get 503 while draining", "[operator]") {
  Server srv;
  auto id = submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 1500}}}});
  REQUIRE(reaches(srv, id, "running"));
  srv.kill(SIGTERM);
  std::this_thread::sleep_for(200ms);
  CHECK_STATUS(srv.post("/v1/pools/io/pause", ""), 503);
  CHECK_STATUS(srv.post("/v1/tasks/" + id + "/retry", ""), 503);
  srv.wait_exit();
}

TEST_CASE("operator: with an auth token the operator routes need it",
          "[operator][auth]") {
  Server srv{{"--http.auth-token=op-token"}};
  auto cli = srv.client();
  auto id = random_uuid4();
  for (auto header : {httplib::Headers{},
                      httplib::Headers{{"Authorization", "Bearer wrong"}}}) {
    auto a = cli.Post("/v1/tasks/" + id + "/retry", header, "", "text/plain");
    auto b = cli.Post("/v1/pools/io/pause", header, "", "text/plain");
    auto c = cli.Delete("/v1/tasks?status=queued", header);
    REQUIRE((a && b && c));
    CHECK(a->status == 401);
    CHECK(b->status == 401);
    CHECK(c->status == 401);
  }
  httplib::Headers ok{{"Authorization", "Bearer op-token"}};
  auto paused = cli.Post("/v1/pools/io/pause", ok, "", "text/plain");
  REQUIRE(paused);
  CHECK(paused->status == 200);
  auto retried = cli.Post("/v1/tasks/" + id + "/retry", ok, "", "text/plain");
  REQUIRE(retried);
  CHECK(retried->status == 404);
}

TEST_CASE("operator: without a store retry says why it cannot, pause works "
          "for the process's life",
          "[operator]") {
  Server srv{{"--store.path=:memory:"}};
  auto id = submit(srv, {{"kind", "flaky"},
                         {"input", {{"fail_times", 1}}},
                         {"max_retries", 0}});
  REQUIRE(wait_terminal(srv, id)["status"] == "failed");
  auto refused = retry(srv, id, 409);
  CHECK_THAT(refused["detail"].get<std::string>(),
             Catch::Contains("store.path is :memory:"));
  CHECK(retry(srv, random_uuid4(), 404)["code"] == "not_found");
  REQUIRE_STATUS(srv.post("/v1/pools/io/pause", ""), 200);
  auto waiting = submit(srv, {{"kind", "echo"}, {"input", json::object()}});
  std::this_thread::sleep_for(200ms);
  CHECK(get_task(srv, waiting)["status"] == "queued");
  CHECK(srv.del("/v1/tasks?kind=echo").j()["cancelled"] == 1);
  REQUIRE_STATUS(srv.post("/v1/pools/io/resume", ""), 200);
}
