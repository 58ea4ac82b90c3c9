// Access control (bearer token) and backpressure (per-pool queue limits).
#include "server.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <thread>

using namespace itest;

namespace {

/// GET with an optional Authorization header; returns status and body.
std::pair<int, json> get_with(const Server& srv, const std::string& path,
                              const std::string& authorization) {
  auto cli = srv.client();
  httplib::Headers headers;
  if (!authorization.empty())
    headers.emplace("Authorization", authorization);
  auto res = cli.Get(path.c_str(), headers);
  REQUIRE(res);
  return {res->status, json::parse(res->body, nullptr, false)};
}

int count_tasks(const Server& srv) {
  auto r = srv.get("/v1/tasks?limit=1000");
  REQUIRE(r.status == 200);
  return static_cast<int>(r.j()["tasks"].size());
}

} // namespace

TEST_CASE("limits: with an auth token every route but /healthz needs it",
          "[limits][auth]") {
  Server srv{{"--http.auth-token=s3cret-token"}};
  for (auto path : {"/v1/kinds", "/v1/pools", "/v1/tasks",
                    "/task-status/00000000-0000-4000-8000-000000000000"}) {
    INFO(path);
    for (auto header : {"", "Bearer wrong", "Bearer s3cret-toke",
                        "Bearer s3cret-tokenX", "Basic s3cret-token",
                        "s3cret-token"}) {
      INFO("Authorization: " << header);
      auto [status, body] = get_with(srv, path, header);
      CHECK(status == 401);
      CHECK(body["code"] == "unauthorized");
      CHECK(body["detail"].is_string());
    }
  }
  auto [status, body] = get_with(srv, "/v1/kinds", "Bearer s3cret-token");
  CHECK(status == 200);
  CHECK(body.is_array());
  auto health = get_with(srv, "/healthz", "");
  CHECK(health.first == 200);
  // The token never shows up in the daemon's output.
  CHECK(srv.output().find("s3cret-token") == std::string::npos);
}

TEST_CASE("limits: ACTORQ_AUTH_TOKEN sets the token when the config does not",
          "[limits][auth]") {
  setenv("ACTORQ_AUTH_TOKEN", "from-env", 1);
  Server srv{{}};
  unsetenv("ACTORQ_AUTH_TOKEN");
  CHECK(get_with(srv, "/v1/pools", "").first == 401);
  CHECK(get_with(srv, "/v1/pools", "Bearer from-env").first == 200);
}

TEST_CASE("limits: a full pool answers 429 busy with Retry-After and creates "
          "nothing",
          "[limits][backpressure]") {
  Server srv{{"--pools.heavy.size=1", "--pools.heavy.queue-limit=2"}};
  json slow{{"kind", "sleep"}, {"input", {{"ms", 5000}}}, {"pool", "heavy"}};
  // One runs, two wait: the queue is full.
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto r = srv.post("/v1/tasks", slow);
    REQUIRE(r.status == 202);
    ids.push_back(r.j()["id"]);
    if (i == 0)
      wait_status(srv, ids[0], "running"); // REQUIREs it
  }
  auto before = count_tasks(srv);
  auto r = srv.post("/v1/tasks", slow);
  CHECK_ERROR(r, 429, "busy", "heavy");
  CHECK(r.header("Retry-After") == "1");
  // A batch that does not fit is refused whole.
  auto b = srv.post("/v1/batches", json{{"kind", "sleep"},
                                        {"items", {{{"ms", 1}}, {{"ms", 1}}}},
                                        {"pool", "heavy"}});
  CHECK_ERROR(b, 429, "busy", "heavy");
  CHECK(count_tasks(srv) == before);
  // The seed route on that pool says the same.
  auto s = srv.post("/submit-heavy-task", json{{"value", 1}});
  CHECK_ERROR(s, 429, "busy", "heavy");
  // Room again once a queued task is cancelled (the pool frees its place
  // right after the registry answers).
  CHECK(srv.del("/v1/tasks/" + ids[2]).status == 200);
  CHECK(wait_until([&] { return pools(srv)["heavy"]["queued"] == 1; }, 5s,
                   5ms));
  CHECK(srv.post("/v1/tasks", slow).status == 202);
  // Other pools are not affected.
  CHECK(srv.post("/v1/tasks", json{{"kind", "echo"}}).status == 202);
  check_alive(srv);
}

TEST_CASE("limits: SIGTERM refuses new work with 503 and lets running "
          "attempts finish",
          "[limits][shutdown]") {
  Server srv{{"--shutdown.grace=5s"}};
  auto id = submit(srv, json{{"kind", "sleep"}, {"input", {{"ms", 800}}}});
  wait_status(srv, id, "running");
  // A long-poll on the running task sees it finish during the drain.
  json polled;
  std::thread poll{[&] {
    auto r = srv.get("/v1/tasks/" + id + "?wait_ms=20000");
    polled = r.j();
  }};
  std::this_thread::sleep_for(100ms);
  srv.kill(SIGTERM);
  std::this_thread::sleep_for(100ms);
  auto refused = srv.post("/v1/tasks", json{{"kind", "echo"}});
  CHECK_ERROR(refused, 503, "shutting_down", "");
  poll.join();
  CHECK(polled["status"] == "succeeded");
  CHECK(polled["result"] == json{{"slept_ms", 800}});
  auto st = srv.wait_exit(5s);
  CHECK_FALSE(st.timed_out);
  CHECK(st.exited);
  CHECK(st.code == 0);
}

TEST_CASE("limits: shutdown.grace bounds how long a stop waits",
          "[limits][shutdown]") {
  Server srv{{"--shutdown.grace=300ms"}};
  auto id = submit(srv, json{{"kind", "sleep"}, {"input", {{"ms", 60000}}}});
  wait_status(srv, id, "running");
  auto start = std::chrono::steady_clock::now();
  srv.kill(SIGTERM);
  auto st = srv.wait_exit(5s);
  CHECK_FALSE(st.timed_out);
  CHECK(st.exited);
  CHECK(st.code == 0);
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  CHECK(srv.output().find("stopping anyway") != std::string::npos);
}

TEST_CASE("limits: a repeated Idempotency-Key returns the first task",
          "[limits][idempotency]") {
  Server srv;
  auto cli = srv.client();
  auto post = [&](const std::string& key, const json& body) {
    httplib::Headers headers{{"Idempotency-Key", key}};
    auto res = cli.Post("/v1/tasks", headers, body.dump(), "application/json");
    REQUIRE(res);
    return std::make_pair(res->status, json::parse(res->body, nullptr, false));
  };
  json task{{"kind", "double"}, {"input", {{"value", 21}}}};
  auto before = count_tasks(srv);
  auto [s1, first] = post("order-42", task);
  auto [s2, again] = post("order-42", task);
  CHECK(s1 == 202);
  CHECK(s2 == 202);
  CHECK(again["id"] == first["id"]);
  CHECK(count_tasks(srv) == before + 1);
  auto [s3, other] = post("order-43", task);
  CHECK(s3 == 202);
  CHECK(other["id"] != first["id"]);
  auto [s4, bad] = post(std::string(256, 'k'), task);
  CHECK(s4 == 422);
  CHECK(bad["code"] == "invalid");
  CHECK(count_tasks(srv) == before + 2);
}

TEST_CASE("limits: a body over http.max-body-bytes gets 413 and creates nothing",
          "[limits][body]") {
  Server srv{{"--http.max-body-bytes=4096"}};
  auto before = count_tasks(srv);
  json big{{"kind", "echo"}, {"input", {{"pad", std::string(5000, 'x')}}}};
  for (auto path : {"/v1/tasks", "/v1/batches", "/submit-task", "/process-multiple"}) {
    INFO(path);
    CHECK_ERROR(srv.post(path, big), 413, "too_large", "");
  }
  // Just under the limit is fine.
  json fits{{"kind", "echo"}, {"input", {{"pad", std::string(3000, 'x')}}}};
  CHECK(srv.post("/v1/tasks", fits).status == 202);
  CHECK(count_tasks(srv) == before + 1);
  // The default is 1 MiB.
  Server defaults;
  json huge{{"kind", "echo"}, {"input", {{"pad", std::string((1 << 20) + 10, 'x')}}}};
  CHECK_ERROR(defaults.post("/v1/tasks", huge), 413, "too_large", "");
  check_alive(defaults);
}
