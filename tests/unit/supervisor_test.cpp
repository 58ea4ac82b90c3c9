// Supervisor: a dead worker is restarted after min × 2^n (capped), n resets
// after a long enough life, and many deaths in a window mark the pool degraded.
#include "fixture.hpp"


using namespace actorq;
using namespace actorq::test;

namespace {

struct supervisor_fixture : fixture {
  pool_actor p;
  uint64_t next_key = 1;

  void start(pool_settings s) {
    p = spawn_pool(std::move(s));
  }

  /// Kills the pool's only worker with a `crash` job, checks that job failed.
  void crash() {
    auto key = next_key++;
    submit(p, make_job(key, "crash", json::object()));
    run();
    auto xs = events();
    auto failed = find_event(xs, key, job_phase::failed);
    REQUIRE(failed);
    CHECK(failed->attempts == 1);
    CHECK(failed->result.error == "injected crash");
  }

  /// Submits a job right after a crash and checks that it starts exactly
  /// `expected` later (not 1 ms earlier).
  void expect_restart_after(caf::timespan expected) {
    auto key = next_key++;
    submit(p, make_job(key, "echo", {{"k", key}}));
    run();
    REQUIRE(events().empty());
    CHECK(stats(p).queued == 1);
    advance(expected - 1ms);
    {
      INFO("started before " << expected.count() / 1000000 << " ms");
      REQUIRE(events().empty());
    }
    advance(1ms);
    auto xs = events();
    INFO("restart after " << expected.count() / 1000000 << " ms");
    CHECK(keys_of(xs, job_phase::started) == std::vector<uint64_t>{key});
    CHECK(keys_of(xs, job_phase::succeeded) == std::vector<uint64_t>{key});
  }
};

} // namespace

TEST_CASE_METHOD(supervisor_fixture, "supervisor backs off exponentially up "
                                     "to max_backoff",
                 "[supervisor]") {
  start(make_settings("test", 1)); // min 50 ms, max 400 ms, no randomness
  CHECK(stats(p).restarts == 0);
  std::vector<std::chrono::milliseconds> schedule{50ms,  100ms, 200ms,
                                                  400ms, 400ms, 400ms};
  uint64_t n = 0;
  for (auto delay : schedule) {
    crash();
    ++n;
    auto s = stats(p);
    CHECK(s.restarts == n);
    CHECK(s.busy == 0);
    CHECK_FALSE(s.degraded);
    expect_restart_after(delay);
  }
  auto s = stats(p);
  CHECK(s.restarts == schedule.size());
  CHECK(s.failed == schedule.size());
  CHECK(s.completed == schedule.size());
}

TEST_CASE_METHOD(supervisor_fixture, "a crashed worker's job is retried on "
                                     "the restarted worker",
                 "[supervisor]") {
  start(make_settings("test", 1));
  submit(p, make_job(1, "crash", json::object(), 1, 100));
  run();
  auto xs = events();
  auto retrying = find_event(xs, 1, job_phase::retrying);
  REQUIRE(retrying);
  CHECK(retrying->result.error == "injected crash");
  advance(50ms); // worker back, retry still waits
  CHECK(events().empty());
  advance(50ms); // retry at 100 ms: crashes the new worker too
  xs = events();
  CHECK(find_event(xs, 1, job_phase::started));
  auto failed = find_event(xs, 1, job_phase::failed);
  REQUIRE(failed);
  CHECK(failed->attempts == 2);
  CHECK(failed->result.error == "injected crash");
  CHECK(stats(p).restarts == 2);
}

TEST_CASE_METHOD(supervisor_fixture, "only the crashed slot restarts, the other "
                                     "worker keeps running",
                 "[supervisor]") {
  start(make_settings("test", 2));
  submit(p, make_job(1, "sleep", {{"ms", 100}}));
  submit(p, make_job(2, "crash", json::object()));
  submit(p, make_job(3, "sleep", {{"ms", 10}}));
  run();
  auto xs = events();
  CHECK(find_event(xs, 2, job_phase::failed));
  CHECK(keys_of(xs, job_phase::started) == std::vector<uint64_t>{1, 2});
  auto s = stats(p);
  CHECK(s.busy == 1);
  CHECK(s.queued == 1);
  advance(50ms); // crashed slot is back and takes job 3
  xs = events();
  CHECK(keys_of(xs, job_phase::started) == std::vector<uint64_t>{3});
  advance(10ms);
  CHECK(keys_of(events(), job_phase::succeeded) == std::vector<uint64_t>{3});
  advance(40ms);
  CHECK(keys_of(events(), job_phase::succeeded) == std::vector<uint64_t>{1});
  CHECK(stats(p).restarts == 1);
}

TEST_CASE_METHOD(supervisor_fixture, "more than max_restarts deaths in the "
                                     "window mark the pool degraded",
                 "[supervisor]") {
  auto settings = make_settings("test", 1);
  settings.supervisor.max_restarts = 2;
  start(settings);
  crash();
  CHECK_FALSE(stats(p).degraded);
  expect_restart_after(50ms);
  crash();
  CHECK_FALSE(stats(p).degraded);
  expect_restart_after(100ms);
  crash(); // the third death within the window: degraded
  auto s = stats(p);
  CHECK(s.restarts == 3);
  CHECK(s.degraded);
  // A degraded pool keeps restarting, at max_backoff (not the 200 ms the
  // schedule would give now).
  expect_restart_after(400ms);
  CHECK(stats(p).degraded);
}

// The supervisor measures a worker's life and the restart window with the
// actor system's clock, so virtual time drives these two as well.
TEST_CASE_METHOD(supervisor_fixture, "degraded ends once the window has "
                                     "passed",
                 "[supervisor]") {
  auto settings = make_settings("test", 1);
  settings.supervisor.max_restarts = 2;
  settings.supervisor.window = millis{500};
  start(settings);
  for (auto delay : {50ms, 100ms}) {
    crash();
    expect_restart_after(delay);
  }
  crash();
  CHECK(stats(p).degraded);
  advance(600ms);
  CHECK_FALSE(stats(p).degraded);
}

TEST_CASE_METHOD(supervisor_fixture, "a worker that lived longer than "
                                     "reset_after restarts at min_backoff",
                 "[supervisor]") {
  auto settings = make_settings("test", 1);
  settings.supervisor.reset_after = millis{100};
  start(settings);
  crash();
  expect_restart_after(50ms);
  crash();
  expect_restart_after(100ms);
  // This worker now lives past reset_after.
  advance(150ms);
  crash();
  expect_restart_after(50ms);
  crash(); // short-lived again: the schedule continues from there
  expect_restart_after(100ms);
}
