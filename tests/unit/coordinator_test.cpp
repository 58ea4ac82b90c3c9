// Coordinator: results in input order, per-item errors, one answer.
#include "fixture.hpp"

using namespace actorq;
using namespace actorq::test;

namespace {

batch_spec make_batch(std::string kind, std::vector<json> items,
                      int32_t max_retries = 0, int64_t backoff_ms = 0) {
  batch_spec b;
  b.task.kind = std::move(kind);
  b.task.pool = "test";
  b.task.max_retries = max_retries;
  b.task.backoff_ms = backoff_ms;
  for (auto& x : items)
    b.items.push_back(json_value{std::move(x)});
  return b;
}

} // namespace

TEST_CASE_METHOD(fixture, "coordinator answers in input order",
                 "[coordinator]") {
  auto p = spawn_pool(make_settings("test", 2));
  auto c = sys.spawn(coordinator, pool_ref{"test", p, nullptr});
  // Pool of 2: item 1 ends at 200, items 0 and 2 at 300, item 4 at 310 and
  // item 3 at 350 — completions come back out of input order.
  std::vector<int64_t> delays{300, 200, 100, 50, 10};
  std::vector<json> items;
  for (auto d : delays)
    items.push_back({{"ms", d}});
  auto h = self->request(c, caf::infinite, make_batch("sleep", items));
  run();
  // Step the virtual clock 1 ms at a time: a timer set while handling a
  // message fires relative to the clock at that moment.
  for (int ms = 0; ms < 349; ++ms) {
    advance(1ms);
    REQUIRE_FALSE(self->has_next_message()); // item 3 is still running
  }
  advance(1ms);
  REQUIRE(self->has_next_message());
  bool answered = false;
  h.receive(
    [&](batch_result& r) {
      answered = true;
      REQUIRE(r.results.size() == 5);
      REQUIRE(r.errors.size() == 5);
      for (size_t i = 0; i < delays.size(); ++i) {
        CHECK(r.results[i].value == json{{"slept_ms", delays[i]}});
        CHECK_FALSE(r.errors[i]);
      }
      CHECK(r.succeeded == 5);
      CHECK(r.failed == 0);
    },
    [&](caf::error& e) { FAIL(sys.render(e)); });
  CHECK(answered);
  CHECK(stats(p).completed == 5);
}

TEST_CASE_METHOD(fixture, "coordinator keeps per-item errors at their index",
                 "[coordinator]") {
  auto p = spawn_pool(make_settings("test", 2));
  auto c = sys.spawn(coordinator, pool_ref{"test", p, nullptr});
  std::vector<int> fail_times{0, 1, 0, 2, 0, 5};
  std::vector<json> items;
  for (auto f : fail_times)
    items.push_back({{"fail_times", f}});
  auto h = self->request(c, caf::infinite, make_batch("flaky", items, 0));
  run(); // no retries, no delays: everything ends without time passing
  REQUIRE(self->has_next_message());
  bool answered = false;
  h.receive(
    [&](batch_result& r) {
      answered = true;
      REQUIRE(r.results.size() == 6);
      REQUIRE(r.errors.size() == 6);
      for (size_t i = 0; i < fail_times.size(); ++i) {
        INFO("item " << i);
        if (fail_times[i] == 0) {
          CHECK(r.results[i].value == json{{"attempt", 1}});
          CHECK_FALSE(r.errors[i]);
        } else {
          CHECK(r.results[i].value.is_null());
          REQUIRE(r.errors[i]);
          CHECK(*r.errors[i] == "injected failure");
        }
      }
      CHECK(r.succeeded == 3);
      CHECK(r.failed == 3);
    },
    [&](caf::error& e) { FAIL(sys.render(e)); });
  CHECK(answered);
}

TEST_CASE_METHOD(fixture, "coordinator items are retried with the batch's "
                          "settings",
                 "[coordinator]") {
  auto p = spawn_pool(make_settings("test", 2));
  auto c = sys.spawn(coordinator, pool_ref{"test", p, nullptr});
  std::vector<json> items{{{"fail_times", 0}},
                          {{"fail_times", 1}},
                          {{"fail_times", 2}}};
  auto h = self->request(c, caf::infinite, make_batch("flaky", items, 1, 10));
  run();
  CHECK_FALSE(self->has_next_message()); // items 1 and 2 wait for a retry
  advance(10ms);
  REQUIRE(self->has_next_message());
  h.receive(
    [&](batch_result& r) {
      CHECK(r.results[0].value == json{{"attempt", 1}});
      CHECK(r.results[1].value == json{{"attempt", 2}});
      CHECK(r.results[2].value.is_null());
      REQUIRE(r.errors[2]);
      CHECK(*r.errors[2] == "injected failure");
      CHECK(r.succeeded == 2);
      CHECK(r.failed == 1);
    },
    [&](caf::error& e) { FAIL(sys.render(e)); });
}

TEST_CASE_METHOD(fixture, "coordinator answers an empty batch at once",
                 "[coordinator]") {
  auto p = spawn_pool(make_settings("test", 1));
  auto c = sys.spawn(coordinator, pool_ref{"test", p, nullptr});
  auto r = ask<batch_result>(c, make_batch("echo", {}));
  REQUIRE(r);
  CHECK(r->results.empty());
  CHECK(r->errors.empty());
  CHECK(r->succeeded == 0);
  CHECK(r->failed == 0);
}

TEST_CASE_METHOD(fixture, "coordinator exits after answering",
                 "[coordinator]") {
  auto p = spawn_pool(make_settings("test", 1));
  auto c = sys.spawn(coordinator, pool_ref{"test", p, nullptr});
  self->monitor(c);
  auto r = ask<batch_result>(c, make_batch("echo", {json{{"x", 1}}}));
  REQUIRE(r);
  CHECK(r->results.at(0).value == json{{"x", 1}});
  run();
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; },
                caf::after(std::chrono::seconds(0)) >> [] {});
  CHECK(down);
}
