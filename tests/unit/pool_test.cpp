// Pool: the size is the concurrency limit; FIFO queue; demand-driven dispatch.
#include "fixture.hpp"

#include <algorithm>
#include <set>

using namespace actorq;
using namespace actorq::test;

namespace {

/// Tracks which jobs are between `started` and a terminal event.
struct concurrency_tracker {
  std::set<uint64_t> active;
  size_t max_active = 0;
  std::vector<uint64_t> started;
  std::vector<uint64_t> succeeded;

  void feed(const std::vector<job_event>& xs) {
    for (auto& e : xs) {
      switch (e.phase) {
        case job_phase::started:
          CHECK(active.count(e.key) == 0);
          active.insert(e.key);
          started.push_back(e.key);
          break;
        case job_phase::succeeded:
          succeeded.push_back(e.key);
          [[fallthrough]];
        case job_phase::failed:
        case job_phase::cancelled:
          active.erase(e.key);
          break;
        case job_phase::retrying:
          active.erase(e.key);
          break;
        case job_phase::progress:
          break; // the attempt runs on
      }
      max_active = std::max(max_active, active.size());
    }
  }
};

} // namespace

TEST_CASE_METHOD(fixture, "pool never runs more jobs than its size",
                 "[pool]") {
  auto p = spawn_pool(make_settings("test", 3));
  auto& st = pool_st(p);
  for (uint64_t k = 1; k <= 10; ++k)
    submit(p, make_job(k, "sleep", {{"ms", 100}}));
  // Run message by message and look at the pool after every single step.
  uint32_t max_busy = 0;
  auto run_checked = [&] {
    while (sched.try_run_once()) {
      max_busy = std::max(max_busy, st.busy);
      auto with_work = std::count_if(st.slots.begin(), st.slots.end(),
                                     [](auto& s) { return !s.attempts.empty(); });
      REQUIRE(with_work <= 3);
      REQUIRE(st.busy <= 3);
    }
  };
  concurrency_tracker t;
  run_checked();
  auto first = events();
  t.feed(first);
  CHECK(first.size() == 3);
  CHECK(keys_of(first, job_phase::started) == std::vector<uint64_t>{1, 2, 3});
  auto s = stats(p);
  CHECK(s.size == 3);
  CHECK(s.busy == 3);
  CHECK(s.queued == 7);
  CHECK(s.completed == 0);
  // Nothing finishes before its 100 ms are up.
  sched.advance_time(99ms);
  run_checked();
  CHECK(events().empty());
  // Each 100 ms, the three running jobs finish and the next three start.
  sched.advance_time(1ms);
  run_checked();
  auto second = events();
  t.feed(second);
  CHECK(keys_of(second, job_phase::succeeded) == std::vector<uint64_t>{1, 2, 3});
  CHECK(keys_of(second, job_phase::started) == std::vector<uint64_t>{4, 5, 6});
  s = stats(p);
  CHECK(s.busy == 3);
  CHECK(s.queued == 4);
  CHECK(s.completed == 3);
  for (int round = 0; round < 3; ++round) {
    sched.advance_time(100ms);
    run_checked();
    t.feed(events());
    CHECK(stats(p).busy <= 3);
  }
  // FIFO: started in submission order, one wave of at most 3 at a time.
  CHECK(t.started
        == std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  std::sort(t.succeeded.begin(), t.succeeded.end());
  CHECK(t.succeeded
        == std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  CHECK(t.max_active == 3);
  CHECK(max_busy == 3);
  s = stats(p);
  CHECK(s.busy == 0);
  CHECK(s.queued == 0);
  CHECK(s.completed == 10);
  CHECK(s.failed == 0);
}

TEST_CASE_METHOD(fixture, "a job's result and attempts reach its listener",
                 "[pool]") {
  auto p = spawn_pool(make_settings("test", 1));
  submit(p, make_job(7, "double", {{"value", 21}, {"delay_ms", 30}}));
  run();
  auto xs = events();
  REQUIRE(xs.size() == 1);
  CHECK(xs[0].phase == job_phase::started);
  CHECK(xs[0].attempts == 1);
  advance(30ms);
  xs = events();
  REQUIRE(xs.size() == 1);
  CHECK(xs[0].key == 7);
  CHECK(xs[0].phase == job_phase::succeeded);
  CHECK(xs[0].attempts == 1);
  CHECK(xs[0].result.ok);
  CHECK(xs[0].result.result.value == json{{"result", 42}});
}

TEST_CASE_METHOD(fixture, "delayed jobs started together share one timer",
                 "[pool]") {
  // A fan-out of delayed items: each worker reports at once and the pool
  // holds the results, with one timer for all of them (not one per worker
  // in CAF's clock).
  auto p = spawn_pool(make_settings("test", 50));
  for (uint64_t key = 1; key <= 50; ++key)
    submit(p, make_job(key, "double", {{"value", 1}, {"delay_ms", 1000}}));
  run();
  CHECK(keys_of(events(), job_phase::started).size() == 50);
  CHECK(sched.clock().schedule().size() == 1);
  auto s = stats(p);
  CHECK(s.busy == 50);
  CHECK(s.completed == 0);
  advance(999ms);
  CHECK(events().empty());
  advance(1ms);
  CHECK(keys_of(events(), job_phase::succeeded).size() == 50);
  s = stats(p);
  CHECK(s.busy == 0);
  CHECK(s.completed == 50);
  CHECK(sched.clock().schedule().empty());
}

TEST_CASE_METHOD(fixture, "a job without progress reports only its end",
                 "[pool]") {
  auto p = spawn_pool(make_settings("test", 1));
  submit(p, make_job(1, "flaky", {{"fail_times", 1}}, 1, 10, 0, false));
  run_all();
  auto xs = events();
  REQUIRE(xs.size() == 1);
  CHECK(xs[0].phase == job_phase::succeeded);
  CHECK(xs[0].attempts == 2);
}

TEST_CASE_METHOD(fixture, "a long job does not hold up short ones",
                 "[pool]") {
  auto p = spawn_pool(make_settings("test", 2));
  submit(p, make_job(100, "sleep", {{"ms", 1000}}));
  for (uint64_t k = 1; k <= 4; ++k)
    submit(p, make_job(k, "sleep", {{"ms", 10}}));
  run();
  auto xs = events();
  CHECK(keys_of(xs, job_phase::started) == std::vector<uint64_t>{100, 1});
  // The short jobs go one after another through the second worker.
  for (uint64_t k = 1; k <= 4; ++k) {
    advance(10ms);
    xs = events();
    CHECK(keys_of(xs, job_phase::succeeded) == std::vector<uint64_t>{k});
    if (k < 4)
      CHECK(keys_of(xs, job_phase::started) == std::vector<uint64_t>{k + 1});
  }
  // 40 ms in: all four short jobs are done, the long one still runs.
  auto s = stats(p);
  CHECK(s.completed == 4);
  CHECK(s.busy == 1);
  CHECK(s.queued == 0);
  advance(959ms);
  CHECK(events().empty());
  advance(1ms);
  xs = events();
  CHECK(keys_of(xs, job_phase::succeeded) == std::vector<uint64_t>{100});
  CHECK(stats(p).busy == 0);
}

TEST_CASE_METHOD(fixture, "jobs submitted as one vector respect the size too",
                 "[pool]") {
  auto p = spawn_pool(make_settings("test", 2));
  std::vector<job> jobs;
  for (uint64_t k = 0; k < 5; ++k)
    jobs.push_back(make_job(k, "sleep", {{"ms", 50}}));
  self->send(p, submit_atom::value, std::move(jobs));
  run();
  CHECK(keys_of(events(), job_phase::started) == std::vector<uint64_t>{0, 1});
  auto s = stats(p);
  CHECK(s.busy == 2);
  CHECK(s.queued == 3);
  run_all();
  auto xs = events();
  CHECK(keys_of(xs, job_phase::succeeded).size() == 5);
  CHECK(stats(p).completed == 5);
}

TEST_CASE_METHOD(fixture, "an unknown kind fails the attempt, not the worker",
                 "[pool]") {
  auto p = spawn_pool(make_settings("test", 1));
  submit(p, make_job(1, "nope", json::object()));
  submit(p, make_job(2, "echo", {{"a", 1}}));
  run();
  auto xs = events();
  auto failed = find_event(xs, 1, job_phase::failed);
  REQUIRE(failed);
  CHECK(failed->result.error == "unknown kind 'nope'");
  auto ok = find_event(xs, 2, job_phase::succeeded);
  REQUIRE(ok);
  CHECK(ok->result.result.value == json{{"a", 1}});
  auto s = stats(p);
  CHECK(s.restarts == 0);
  CHECK(s.failed == 1);
  CHECK(s.completed == 1);
}

TEST_CASE_METHOD(fixture, "cancelling a queued job drops it before it runs",
                 "[pool][cancel]") {
  auto p = spawn_pool(make_settings("test", 1));
  submit(p, make_job(1, "sleep", {{"ms", 100}}));
  submit(p, make_job(2, "sleep", {{"ms", 100}}));
  submit(p, make_job(3, "sleep", {{"ms", 100}}));
  run();
  events();
  self->send(p, cancel_atom::value, listener(), uint64_t{2});
  run();
  // Taken out of the queue and reported at once.
  CHECK(keys_of(events(), job_phase::cancelled) == std::vector<uint64_t>{2});
  CHECK(stats(p).queued == 1);
  advance(100ms);
  auto xs = events();
  CHECK(keys_of(xs, job_phase::succeeded) == std::vector<uint64_t>{1});
  CHECK(keys_of(xs, job_phase::cancelled).empty());
  CHECK(keys_of(xs, job_phase::started) == std::vector<uint64_t>{3});
  advance(100ms);
  CHECK(keys_of(events(), job_phase::succeeded) == std::vector<uint64_t>{3});
  CHECK(stats(p).completed == 2);
  CHECK(pool_st(p).cancelled.empty());
}

TEST_CASE_METHOD(fixture, "cancelling a running job frees its worker",
                 "[pool][cancel]") {
  auto p = spawn_pool(make_settings("test", 1));
  submit(p, make_job(1, "sleep", {{"ms", 1000}}));
  submit(p, make_job(2, "sleep", {{"ms", 10}}));
  run();
  events();
  self->send(p, cancel_atom::value, listener(), uint64_t{1});
  run();
  auto xs = events();
  CHECK(keys_of(xs, job_phase::cancelled) == std::vector<uint64_t>{1});
  // The pool ended the held delay at once: job 2 runs without waiting.
  CHECK(keys_of(xs, job_phase::started) == std::vector<uint64_t>{2});
  advance(10ms);
  CHECK(keys_of(events(), job_phase::succeeded) == std::vector<uint64_t>{2});
  // The pool's timer for the abandoned attempt later fires and finds
  // nothing.
  advance(1000ms);
  CHECK(events().empty());
  auto s = stats(p);
  CHECK(s.completed == 1);
  CHECK(s.busy == 0);
}

TEST_CASE_METHOD(fixture, "a cancel that crosses a delayed report frees the "
                          "worker at once",
                 "[pool][cancel]") {
  auto p = spawn_pool(make_settings("test", 1));
  run();
  submit(p, make_job(1, "sleep", {{"ms", 1000}}));
  submit(p, make_job(2, "sleep", {{"ms", 10}}));
  // The pool hands job 1 to its worker; the cancel reaches the pool before
  // the worker's report (result and delay) does.
  sched.run_once();
  self->send(p, cancel_atom::value, listener(), uint64_t{1});
  run();
  auto xs = events();
  CHECK(keys_of(xs, job_phase::cancelled) == std::vector<uint64_t>{1});
  // Job 1's delay is not held for a cancelled job: job 2 runs at once.
  CHECK(keys_of(xs, job_phase::started) == std::vector<uint64_t>{1, 2});
  advance(10ms);
  CHECK(keys_of(events(), job_phase::succeeded) == std::vector<uint64_t>{2});
  auto s = stats(p);
  CHECK(s.busy == 0);
  CHECK(s.completed == 1);
}

TEST_CASE_METHOD(fixture, "a paused pool starts nothing queued, finishes "
                          "what runs, queues submissions, resume starts them",
                 "[pool][hold]") {
  auto settings = make_settings("test", 2);
  auto p = spawn_pool(settings);
  submit(p, make_job(1, "sleep", {{"ms", 100}}));
  run();
  CHECK(keys_of(events(), job_phase::started) == std::vector<uint64_t>{1});
  CHECK(ask<pool_stats>(p, hold_atom::value, true)->paused);
  submit(p, make_job(2, "sleep", {{"ms", 100}}));
  submit(p, make_job(3, "sleep", {{"ms", 100}}));
  run();
  CHECK(events().empty()); // a worker is idle, yet nothing starts
  advance(100ms);
  auto xs = events();
  CHECK(keys_of(xs, job_phase::succeeded) == std::vector<uint64_t>{1});
  CHECK(keys_of(xs, job_phase::started).empty());
  auto s = stats(p);
  CHECK(s.paused);
  CHECK(s.queued == 2);
  CHECK(s.busy == 0);
  // The drain's pause is another state: resuming the hold does not undo it.
  CHECK_FALSE(ask<pool_stats>(p, hold_atom::value, false)->paused);
  CHECK(keys_of(events(), job_phase::started) == std::vector<uint64_t>{2, 3});
  CHECK_FALSE(stats(p).paused);
  advance(100ms);
  CHECK(keys_of(events(), job_phase::succeeded)
        == std::vector<uint64_t>{2, 3});
  // A pool started paused (from the store after a restart) waits too.
  settings.paused = true;
  auto q = spawn_pool(settings);
  submit(q, make_job(4, "sleep", {{"ms", 1}}));
  run();
  CHECK(events().empty());
  CHECK(stats(q).paused);
  self->send(q, pause_atom::value); // draining as well
  ask<pool_stats>(q, hold_atom::value, false);
  run();
  CHECK(events().empty()); // still draining: nothing starts
}
