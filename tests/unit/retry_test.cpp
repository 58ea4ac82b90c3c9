// Retries: backoff_ms doubled per retry, capped at retry.max_backoff;
// timeouts count as failed attempts.
#include "fixture.hpp"

using namespace actorq;
using namespace actorq::test;

namespace {

/// Advances to just before `delay` (nothing may happen), then to `delay`.
/// Returns the events at `delay`.
std::vector<job_event> step_exactly(fixture& f, caf::timespan delay) {
  f.advance(delay - 1ms);
  auto early = f.events();
  INFO("events before " << delay.count() / 1000000 << " ms");
  CHECK(early.empty());
  f.advance(1ms);
  return f.events();
}

} // namespace

TEST_CASE_METHOD(fixture, "retries follow backoff_ms doubled per retry",
                 "[retry]") {
  auto p = spawn_pool(make_settings("test", 1));
  submit(p, make_job(1, "flaky", {{"fail_times", 3}}, 3, 100));
  run();
  auto xs = events();
  REQUIRE(xs.size() == 2);
  CHECK(xs[0].phase == job_phase::started);
  CHECK(xs[0].attempts == 1);
  CHECK(xs[1].phase == job_phase::retrying);
  CHECK(xs[1].attempts == 1);
  CHECK(xs[1].result.error == "injected failure");
  int32_t attempt = 1;
  for (auto delay : {100ms, 200ms}) {
    ++attempt;
    xs = step_exactly(*this, delay);
    REQUIRE(xs.size() == 2);
    CHECK(xs[0].phase == job_phase::started);
    CHECK(xs[0].attempts == attempt);
    CHECK(xs[1].phase == job_phase::retrying);
    CHECK(xs[1].attempts == attempt);
  }
  xs = step_exactly(*this, 400ms);
  REQUIRE(xs.size() == 2);
  CHECK(xs[0].phase == job_phase::started);
  CHECK(xs[0].attempts == 4);
  CHECK(xs[1].phase == job_phase::succeeded);
  CHECK(xs[1].attempts == 4);
  CHECK(xs[1].result.ok);
  CHECK(xs[1].result.result.value == json{{"attempt", 4}});
  auto s = stats(p);
  CHECK(s.completed == 1);
  CHECK(s.failed == 0);
  CHECK(s.queued == 0);
  CHECK(s.busy == 0);
}

TEST_CASE_METHOD(fixture, "a job fails after 1 + max_retries attempts",
                 "[retry]") {
  auto p = spawn_pool(make_settings("test", 1));
  submit(p, make_job(1, "flaky", {{"fail_times", 3}}, 2, 100));
  run_all();
  auto xs = events();
  CHECK(keys_of(xs, job_phase::started).size() == 3);
  CHECK(keys_of(xs, job_phase::retrying).size() == 2);
  CHECK(keys_of(xs, job_phase::succeeded).empty());
  auto failed = find_event(xs, 1, job_phase::failed);
  REQUIRE(failed);
  CHECK(failed->attempts == 3);
  CHECK_FALSE(failed->result.ok);
  CHECK(failed->result.error == "injected failure");
  auto s = stats(p);
  CHECK(s.failed == 1);
  CHECK(s.completed == 0);
}

TEST_CASE_METHOD(fixture, "retry delays are capped at retry.max_backoff",
                 "[retry]") {
  auto settings = make_settings("test", 1);
  settings.retry.max_backoff = millis{150};
  auto p = spawn_pool(settings);
  submit(p, make_job(1, "flaky", {{"fail_times", 3}}, 3, 100));
  run();
  events();
  CHECK(keys_of(step_exactly(*this, 100ms), job_phase::started).size() == 1);
  CHECK(keys_of(step_exactly(*this, 150ms), job_phase::started).size() == 1);
  auto xs = step_exactly(*this, 150ms);
  auto ok = find_event(xs, 1, job_phase::succeeded);
  REQUIRE(ok);
  CHECK(ok->attempts == 4);
}

TEST_CASE_METHOD(fixture, "without backoff_ms the pool's retry.backoff applies",
                 "[retry]") {
  auto settings = make_settings("test", 1);
  settings.retry.backoff = millis{70};
  auto p = spawn_pool(settings);
  submit(p, make_job(1, "flaky", {{"fail_times", 2}}, 2, 0));
  run();
  events();
  CHECK(keys_of(step_exactly(*this, 70ms), job_phase::retrying).size() == 1);
  auto xs = step_exactly(*this, 140ms);
  auto ok = find_event(xs, 1, job_phase::succeeded);
  REQUIRE(ok);
  CHECK(ok->attempts == 3);
}

TEST_CASE_METHOD(fixture, "a retried job queues behind waiting jobs",
                 "[retry]") {
  auto p = spawn_pool(make_settings("test", 1));
  submit(p, make_job(1, "flaky", {{"fail_times", 1}}, 1, 10));
  submit(p, make_job(2, "sleep", {{"ms", 50}}));
  run();
  auto xs = events();
  CHECK(find_event(xs, 1, job_phase::retrying));
  CHECK(keys_of(xs, job_phase::started) == std::vector<uint64_t>{1, 2});
  advance(10ms); // retry due, worker busy with job 2
  CHECK(events().empty());
  CHECK(stats(p).queued == 1);
  advance(40ms);
  xs = events();
  CHECK(keys_of(xs, job_phase::succeeded) == std::vector<uint64_t>{2, 1});
}

TEST_CASE_METHOD(fixture, "an attempt that exceeds timeout_ms fails",
                 "[retry][timeout]") {
  auto p = spawn_pool(make_settings("test", 1));
  submit(p, make_job(1, "sleep", {{"ms", 1000}}, 0, 0, 100));
  submit(p, make_job(2, "echo", {{"after", "timeout"}}));
  run();
  CHECK(keys_of(events(), job_phase::started) == std::vector<uint64_t>{1});
  auto xs = step_exactly(*this, 100ms);
  auto failed = find_event(xs, 1, job_phase::failed);
  REQUIRE(failed);
  CHECK(failed->attempts == 1);
  CHECK(failed->result.error.find("timed out") != std::string::npos);
  CHECK(failed->result.error == "timed out after 100 ms");
  // The worker dropped the attempt: the next job runs right away.
  CHECK(find_event(xs, 2, job_phase::succeeded));
  // The abandoned attempt's own timer later fires and is ignored.
  advance(900ms);
  CHECK(events().empty());
  auto s = stats(p);
  CHECK(s.failed == 1);
  CHECK(s.completed == 1);
  CHECK(s.busy == 0);
}

TEST_CASE_METHOD(fixture, "a timed-out attempt is retried", "[retry][timeout]") {
  auto p = spawn_pool(make_settings("test", 1));
  submit(p, make_job(1, "sleep", {{"ms", 1000}}, 1, 50, 100));
  run();
  events();
  auto xs = step_exactly(*this, 100ms);
  auto retrying = find_event(xs, 1, job_phase::retrying);
  REQUIRE(retrying);
  CHECK(retrying->result.error == "timed out after 100 ms");
  xs = step_exactly(*this, 50ms);
  auto started = find_event(xs, 1, job_phase::started);
  REQUIRE(started);
  CHECK(started->attempts == 2);
  xs = step_exactly(*this, 100ms);
  auto failed = find_event(xs, 1, job_phase::failed);
  REQUIRE(failed);
  CHECK(failed->attempts == 2);
}

TEST_CASE_METHOD(fixture, "an attempt within timeout_ms succeeds",
                 "[retry][timeout]") {
  auto p = spawn_pool(make_settings("test", 1));
  submit(p, make_job(1, "sleep", {{"ms", 99}}, 0, 0, 100));
  run();
  events();
  advance(99ms);
  auto ok = find_event(events(), 1, job_phase::succeeded);
  REQUIRE(ok);
  CHECK(ok->result.result.value == json{{"slept_ms", 99}});
  advance(1ms); // the timeout fires for a finished attempt: nothing happens
  CHECK(events().empty());
  CHECK(stats(p).failed == 0);
}

TEST_CASE_METHOD(fixture, "cancelling a job during its backoff ends it",
                 "[retry][cancel]") {
  auto p = spawn_pool(make_settings("test", 1));
  submit(p, make_job(1, "flaky", {{"fail_times", 5}}, 3, 100));
  run();
  events();
  self->send(p, cancel_atom::value, listener(), uint64_t{1});
  run();
  CHECK(events().empty());
  advance(100ms);
  auto xs = events();
  REQUIRE(xs.size() == 1);
  CHECK(xs[0].phase == job_phase::cancelled);
  CHECK(xs[0].attempts == 1);
  run_all();
  CHECK(events().empty());
  CHECK(pool_st(p).next_seq == 1); // no second attempt was made
  CHECK(pool_st(p).cancelled.empty());
}
