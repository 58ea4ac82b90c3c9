// Idempotency-Key: a repeat with the same request gets the first task; a
// repeat with a different request gets 422 idempotency_mismatch — from
// memory, from the store, and across restarts.
#include "server.hpp"

#include <catch2/catch.hpp>

#include <csignal>

using namespace itest;

namespace {

int count_tasks(const Server& srv) {
  auto r = srv.get("/v1/tasks?limit=1000");
  REQUIRE(r.status == 200);
  return static_cast<int>(r.j()["tasks"].size());
}

/// The key's first task must come back for `same`, and 422 for `other`.
void check_key(const Server& srv, const std::string& key, const json& same,
               const json& other, const std::string& first_id) {
  auto [s1, again] = post_keyed(srv, key, same);
  CHECK(s1 == 202);
  CHECK(again["id"] == first_id);
  auto [s2, refused] = post_keyed(srv, key, other);
  CHECK(s2 == 422);
  CHECK(refused["code"] == "idempotency_mismatch");
  CHECK(refused["detail"].get<std::string>().find(first_id)
        != std::string::npos);
}

} // namespace

TEST_CASE("idempotency: a repeated key with another request is 422 "
          "idempotency_mismatch, also after restarts",
          "[idempotency][restart]") {
  auto path = fresh_store_path();
  json ended{{"kind", "double"}, {"input", {{"value", 21}}}};
  json ended_other{{"kind", "double"}, {"input", {{"value", 22}}}};
  json live{{"kind", "sleep"}, {"input", {{"ms", 60000}}}};
  json live_other{{"kind", "sleep"}, {"input", {{"ms", 60000}}},
                  {"max_retries", 0}};
  std::string ended_id, live_id;
  {
    Server srv{{"--store.path=" + path}};
    auto [s1, first] = post_keyed(srv, "order-1", ended);
    REQUIRE(s1 == 202);
    ended_id = first["id"];
    auto [s2, sleeper] = post_keyed(srv, "order-2", live);
    REQUIRE(s2 == 202);
    live_id = sleeper["id"];
    wait_terminal(srv, ended_id);
    auto before = count_tasks(srv);
    check_key(srv, "order-1", ended, ended_other, ended_id);
    check_key(srv, "order-2", live, live_other, live_id);
    // The same input written differently (key order, spacing) is the same
    // request.
    auto cli = srv.client();
    auto res = cli.Post("/v1/tasks", {{"Idempotency-Key", "order-1"}},
                        R"({ "input": {"value": 21}, "kind": "double" })",
                        "application/json");
    REQUIRE(res);
    CHECK(res->status == 202);
    CHECK(json::parse(res->body)["id"] == ended_id);
    CHECK(count_tasks(srv) == before);
    srv.kill(SIGKILL);
    srv.wait_exit(10s);
  }
  // After the restart the ended task is in the store only (its key is looked
  // up there) and the sleeping one was recovered into memory.
  Server again{{"--store.path=" + path}};
  auto before = count_tasks(again);
  check_key(again, "order-1", ended, ended_other, ended_id);
  check_key(again, "order-2", live, live_other, live_id);
  CHECK(count_tasks(again) == before);
  // A mismatch creates nothing and does not take the key over.
  check_key(again, "order-1", ended, ended_other, ended_id);
  REQUIRE_STATUS(again.del("/v1/tasks/" + live_id), 202);
}
