// Registry: task state transitions, reads, long-polls, cancellation, listing.
#include "fixture.hpp"

#include <thread>

using namespace actorq;
using namespace actorq::test;

namespace {

struct registry_fixture : fixture {
  pool_actor io;
  registry_actor reg;

  registry_fixture() {
    io = spawn_pool(make_settings("io", 1));
    reg = spawn_registry({{"io", io}});
  }

  task_spec spec(std::string kind, json input, int32_t max_retries = 0,
                 int64_t backoff_ms = 0, int64_t timeout_ms = 0) {
    task_spec s;
    s.kind = std::move(kind);
    s.input.value = std::move(input);
    s.pool = "io";
    s.max_retries = max_retries;
    s.backoff_ms = backoff_ms;
    s.timeout_ms = timeout_ms;
    return s;
  }

  task_view submit_task(task_spec s) {
    auto v = ask<task_view>(reg, submit_atom::value, std::move(s));
    REQUIRE(v);
    return *v;
  }

  task_view get(const task_id& id) {
    auto v = ask<task_view>(reg, get_atom::value, id);
    REQUIRE(v);
    return *v;
  }

  caf::expected<task_view> cancel(const task_id& id) {
    return ask<task_view>(reg, cancel_atom::value, id);
  }

  /// The status the long-poll `h` was answered with; its answer must be
  /// waiting already.
  template <class Handle>
  task_status answered(Handle& h) {
    REQUIRE(self->has_next_message());
    task_status status{};
    h.receive([&](task_view& w) { status = w.status; },
              [&](caf::error& e) { FAIL(sys.render(e)); });
    return status;
  }

  task_page list(task_filter f) {
    auto page = ask<task_page>(reg, list_atom::value, f);
    REQUIRE(page);
    return *page;
  }

  static std::vector<std::string> ids(const task_page& page) {
    std::vector<std::string> out;
    for (auto& t : page.tasks)
      out.push_back(t.id.to_string());
    return out;
  }
};

} // namespace

TEST_CASE_METHOD(registry_fixture, "a task goes queued → running → succeeded",
                 "[registry]") {
  auto v = submit_task(spec("sleep", {{"ms", 100}}, 2));
  // The answer to submit is the task as created.
  CHECK(v.status == task_status::queued);
  CHECK(v.kind == "sleep");
  CHECK(v.pool == "io");
  CHECK(v.attempts == 0);
  CHECK(v.max_retries == 2);
  CHECK(v.created_at > 0);
  CHECK(v.started_at == 0);
  CHECK(v.finished_at == 0);
  CHECK(v.result.text.empty());
  CHECK_FALSE(v.error);
  CHECK(task_id::parse(v.id.to_string()));
  // Dispatched by the pool.
  auto r = get(v.id);
  CHECK(r.status == task_status::running);
  CHECK(r.attempts == 1);
  CHECK(r.started_at >= v.created_at);
  CHECK(r.finished_at == 0);
  advance(100ms);
  auto d = get(v.id);
  CHECK(d.status == task_status::succeeded);
  CHECK(d.attempts == 1);
  CHECK(d.started_at == r.started_at);
  CHECK(d.finished_at >= d.started_at);
  CHECK(d.result.text == R"({"slept_ms":100})");
  CHECK_FALSE(d.error);
}

TEST_CASE_METHOD(registry_fixture, "a task that waits for a free worker stays "
                                   "queued",
                 "[registry]") {
  auto a = submit_task(spec("sleep", {{"ms", 100}}));
  auto b = submit_task(spec("sleep", {{"ms", 100}}));
  CHECK(get(a.id).status == task_status::running);
  auto qb = get(b.id);
  CHECK(qb.status == task_status::queued);
  CHECK(qb.started_at == 0);
  advance(100ms);
  CHECK(get(a.id).status == task_status::succeeded);
  CHECK(get(b.id).status == task_status::running);
}

TEST_CASE_METHOD(registry_fixture, "a retried task goes running → retrying → "
                                   "running → succeeded",
                 "[registry][retry]") {
  auto v = submit_task(
    spec("flaky", {{"fail_times", 1}, {"delay_ms", 50}}, 2, 100));
  auto r1 = get(v.id);
  CHECK(r1.status == task_status::running);
  CHECK(r1.attempts == 1);
  advance(50ms);
  auto rt = get(v.id);
  CHECK(rt.status == task_status::retrying);
  CHECK(rt.attempts == 1);
  REQUIRE(rt.error);
  CHECK(*rt.error == "injected failure");
  advance(99ms);
  CHECK(get(v.id).status == task_status::retrying);
  // Timestamps are wall-clock ms: let one pass so that a second start would
  // show in started_at.
  std::this_thread::sleep_for(2ms);
  advance(1ms);
  auto r2 = get(v.id);
  CHECK(r2.status == task_status::running);
  CHECK(r2.attempts == 2);
  CHECK(r2.started_at == r1.started_at); // the first start counts
  advance(50ms);
  auto d = get(v.id);
  CHECK(d.status == task_status::succeeded);
  CHECK(d.attempts == 2);
  CHECK(d.result.text == R"({"attempt":2})");
  CHECK_FALSE(d.error); // the earlier failure is cleared
  CHECK(d.finished_at > 0);
}

TEST_CASE_METHOD(registry_fixture, "a task that runs out of retries ends "
                                   "failed",
                 "[registry][retry]") {
  auto v = submit_task(spec("flaky", {{"fail_times", 5}}, 1, 10));
  run_all();
  auto d = get(v.id);
  CHECK(d.status == task_status::failed);
  CHECK(d.attempts == 2);
  REQUIRE(d.error);
  CHECK(*d.error == "injected failure");
  CHECK(d.result.text.empty());
  CHECK(d.finished_at > 0);
}

TEST_CASE_METHOD(registry_fixture, "submit rejects unknown kinds and pools",
                 "[registry]") {
  auto bad_kind = ask<task_view>(reg, submit_atom::value,
                                 spec("nope", json::object()));
  REQUIRE_FALSE(bad_kind);
  CHECK(is_actorq_error(bad_kind.error(), error_code::invalid));
  CHECK(error_detail(bad_kind.error()) == "kind: unknown kind 'nope'");
  auto s = spec("echo", json::object());
  s.pool = "elsewhere";
  auto bad_pool = ask<task_view>(reg, submit_atom::value, s);
  REQUIRE_FALSE(bad_pool);
  CHECK(is_actorq_error(bad_pool.error(), error_code::invalid));
  CHECK(error_detail(bad_pool.error()) == "pool: unknown pool 'elsewhere'");
  CHECK(list(task_filter{}).tasks.empty());
}

TEST_CASE_METHOD(registry_fixture, "get, wait and cancel of an unknown id "
                                   "answer not_found",
                 "[registry]") {
  submit_task(spec("echo", json::object()));
  auto id = task_id::random();
  auto g = ask<task_view>(reg, get_atom::value, id);
  REQUIRE_FALSE(g);
  CHECK(is_actorq_error(g.error(), error_code::not_found));
  CHECK(error_detail(g.error()) == "Task not found");
  auto w = ask<task_view>(reg, wait_atom::value, id, int64_t{1000});
  REQUIRE_FALSE(w);
  CHECK(is_actorq_error(w.error(), error_code::not_found));
  auto c = cancel(id);
  REQUIRE_FALSE(c);
  CHECK(is_actorq_error(c.error(), error_code::not_found));
}

TEST_CASE_METHOD(registry_fixture, "reads on another thread answer what get "
                                   "answers, until the registry ends",
                 "[registry]") {
  auto v = submit_task(spec("sleep", {{"ms", 100}}));
  run();
  // Read on this (the test's) thread, as HTTP threads do.
  task_view here;
  REQUIRE(reads->read(v.id, here) == view_source::memory);
  auto there = get(v.id);
  CHECK(here.id == there.id);
  CHECK(here.status == there.status);
  CHECK(here.kind == "sleep");
  CHECK(here.attempts == there.attempts);
  CHECK(here.created_at == there.created_at);
  // Without a store, an unknown id is a 404 here too.
  task_view none;
  CHECK(reads->read(task_id::random(), none) == view_source::not_found);
  // The task ends: the next read sees it.
  sched.clock().advance_time(std::chrono::milliseconds{100});
  run();
  REQUIRE(reads->read(v.id, here) == view_source::memory);
  CHECK(here.status == get(v.id).status);
  // Once the registry is gone, nothing is read from its freed state: readers
  // are sent to the registry (which is gone too, so they get its error).
  self->send_exit(reg, caf::exit_reason::user_shutdown);
  run();
  CHECK(reads->state == nullptr);
  CHECK(reads->read(v.id, here) == view_source::store);
}

TEST_CASE_METHOD(registry_fixture, "the registry handles no message while a "
                                   "reader holds its gate",
                 "[registry]") {
  auto v = submit_task(spec("echo", json::object()));
  std::atomic<bool> holding{false};
  std::thread reader([&] {
    read_gate::read_lock lock{reads->gate};
    holding = true;
    std::this_thread::sleep_for(std::chrono::milliseconds{300});
  });
  while (!holding)
    std::this_thread::yield();
  self->send(reg, get_atom::value, v.id);
  auto start = std::chrono::steady_clock::now();
  run(); // blocks in the registry's consume() until the reader lets go
  auto waited = std::chrono::steady_clock::now() - start;
  reader.join();
  CHECK(waited >= std::chrono::milliseconds{200});
  self->receive([&](task_view& got) { CHECK(got.id == v.id); });
}

TEST_CASE_METHOD(registry_fixture, "cancelling a queued task: cancelled, and "
                                   "the pool never runs it",
                 "[registry][cancel]") {
  auto a = submit_task(spec("sleep", {{"ms", 100}}));
  auto b = submit_task(spec("sleep", {{"ms", 10}}));
  REQUIRE(get(b.id).status == task_status::queued);
  auto c = cancel(b.id);
  REQUIRE(c);
  CHECK(c->status == task_status::cancelled);
  CHECK(c->finished_at > 0);
  advance(100ms); // a ends; b comes up and is dropped
  CHECK(get(a.id).status == task_status::succeeded);
  auto vb = get(b.id);
  CHECK(vb.status == task_status::cancelled);
  CHECK(vb.attempts == 0);
  CHECK(vb.started_at == 0);
  advance(10ms);
  auto s = stats(io);
  CHECK(s.completed == 1); // only a ran
  CHECK(s.busy == 0);
  CHECK(s.queued == 0);
  CHECK(pool_st(io).next_seq == 1); // one attempt made in total
  CHECK(pool_st(io).cancelled.empty());
}

TEST_CASE_METHOD(registry_fixture, "cancelling a running task: requested, then "
                                   "cancelled once the pool confirms",
                 "[registry][cancel]") {
  auto a = submit_task(spec("sleep", {{"ms", 1000}}));
  auto b = submit_task(spec("sleep", {{"ms", 10}}));
  REQUIRE(get(a.id).status == task_status::running);
  // The answer is given before the pool confirms.
  auto h = self->request(reg, caf::infinite, cancel_atom::value, a.id);
  sched.prioritize(reg);
  sched.run_once(); // only the registry handles the cancel
  REQUIRE(self->has_next_message());
  h.receive(
    [&](task_view& v) {
      CHECK(v.status == task_status::running);
      CHECK(v.cancel_requested);
      CHECK(v.finished_at == 0);
    },
    [&](caf::error& e) { FAIL(sys.render(e)); });
  run();
  auto va = get(a.id);
  CHECK(va.status == task_status::cancelled);
  CHECK(va.cancel_requested);
  CHECK(va.finished_at > 0);
  CHECK(va.result.text.empty());
  // The worker was freed at once: b runs now.
  CHECK(get(b.id).status == task_status::running);
  advance(10ms);
  CHECK(get(b.id).status == task_status::succeeded);
  advance(990ms); // a's simulated work would end now: dropped
  CHECK(get(a.id).status == task_status::cancelled);
  CHECK(stats(io).completed == 1);
}

TEST_CASE_METHOD(registry_fixture, "cancelling a retrying task ends it at once",
                 "[registry][cancel]") {
  auto v = submit_task(spec("flaky", {{"fail_times", 5}}, 3, 100));
  REQUIRE(get(v.id).status == task_status::retrying);
  auto c = cancel(v.id);
  REQUIRE(c);
  CHECK(c->status == task_status::cancelled);
  run_all();
  auto d = get(v.id);
  CHECK(d.status == task_status::cancelled);
  CHECK(d.attempts == 1);
  CHECK(pool_st(io).next_seq == 1); // never retried
  CHECK(pool_st(io).cancelled.empty());
}

TEST_CASE_METHOD(registry_fixture, "cancelling a terminal task is a conflict",
                 "[registry][cancel]") {
  auto v = submit_task(spec("echo", {{"x", 1}}));
  REQUIRE(get(v.id).status == task_status::succeeded);
  auto c = cancel(v.id);
  REQUIRE_FALSE(c);
  CHECK(is_actorq_error(c.error(), error_code::conflict));
  CHECK(error_detail(c.error()) == "task is already succeeded");
  auto d = get(v.id);
  CHECK(d.status == task_status::succeeded);
  CHECK_FALSE(d.cancel_requested);
  // Twice cancelled is a conflict too.
  auto q = submit_task(spec("sleep", {{"ms", 100}}));
  auto q2 = submit_task(spec("sleep", {{"ms", 100}}));
  REQUIRE(cancel(q2.id));
  auto again = cancel(q2.id);
  REQUIRE_FALSE(again);
  CHECK(is_actorq_error(again.error(), error_code::conflict));
  CHECK(error_detail(again.error()) == "task is already cancelled");
  (void) q;
}

// A cancel that crosses the task's completion: the registry still reports the
// task as queued (its `started`/`succeeded` events are behind the cancel in its
// mailbox), so it answers "cancelled" and asks the pool to cancel; the pool no
// longer has the job and files the cancellation away for when the job "comes
// up" — which never happens. Each such race leaves an entry in
// pool_state::cancelled forever.
TEST_CASE_METHOD(registry_fixture, "a cancel that crosses completion leaves "
                                   "nothing behind in the pool",
                 "[registry][cancel][race]") {
  auto rh = self->request(reg, caf::infinite, submit_atom::value,
                          spec("echo", {{"x", 1}}));
  sched.prioritize(reg);
  sched.run_once(); // registry: create the task, send the job to the pool
  REQUIRE(self->has_next_message());
  task_id id;
  rh.receive([&](task_view& v) { id = v.id; },
             [&](caf::error& e) { FAIL(sys.render(e)); });
  auto ch = self->request(reg, caf::infinite, cancel_atom::value, id);
  // Let the pool and its worker finish the job before the registry reads on.
  auto reg_ptr = caf::actor_cast<caf::abstract_actor*>(reg);
  sched.run_jobs_filtered([&](caf::resumable* r) {
    return dynamic_cast<caf::abstract_actor*>(r) != reg_ptr;
  });
  CHECK(stats(io).completed == 1);
  run();
  REQUIRE(self->has_next_message());
  ch.receive([&](task_view& v) { CHECK(is_terminal(v.status)); },
             [&](caf::error& e) { FAIL(sys.render(e)); });
  CHECK(is_terminal(get(id).status));
  CHECK(pool_st(io).cancelled.empty());
}

TEST_CASE_METHOD(registry_fixture, "wait answers at once for a terminal task",
                 "[registry][wait]") {
  auto v = submit_task(spec("echo", {{"x", 1}}));
  run();
  auto w = ask<task_view>(reg, wait_atom::value, v.id, int64_t{60000});
  REQUIRE(w);
  CHECK(w->status == task_status::succeeded);
  CHECK(w->result.text == R"({"x":1})");
}

TEST_CASE_METHOD(registry_fixture, "wait with 0 ms answers at once",
                 "[registry][wait]") {
  auto v = submit_task(spec("sleep", {{"ms", 1000}}));
  auto w = ask<task_view>(reg, wait_atom::value, v.id, int64_t{0});
  REQUIRE(w);
  CHECK(w->status == task_status::running);
}

TEST_CASE_METHOD(registry_fixture, "wait answers after its timeout if the task "
                                   "is still running",
                 "[registry][wait]") {
  auto v = submit_task(spec("sleep", {{"ms", 1000}}));
  auto h = self->request(reg, caf::infinite, wait_atom::value, v.id,
                         int64_t{500});
  run();
  CHECK_FALSE(self->has_next_message());
  advance(499ms);
  CHECK_FALSE(self->has_next_message());
  advance(1ms);
  CHECK(answered(h) == task_status::running);
  // Its timer is spent: the task's end answers nobody twice.
  advance(500ms);
  CHECK(get(v.id).status == task_status::succeeded);
  CHECK_FALSE(self->has_next_message());
}

TEST_CASE_METHOD(registry_fixture, "long-polls with different deadlines "
                                   "share one timer and each is answered at "
                                   "its own",
                 "[registry][wait]") {
  auto v = submit_task(spec("sleep", {{"ms", 1000}}));
  auto late = self->request(reg, caf::infinite, wait_atom::value, v.id,
                            int64_t{800});
  run();
  // An earlier deadline after a later one: the timer is armed for it.
  auto early = self->request(reg, caf::infinite, wait_atom::value, v.id,
                             int64_t{300});
  run();
  advance(299ms);
  CHECK_FALSE(self->has_next_message());
  advance(1ms);
  CHECK(answered(early) == task_status::running);
  CHECK_FALSE(self->has_next_message());
  advance(499ms);
  CHECK_FALSE(self->has_next_message());
  advance(1ms);
  CHECK(answered(late) == task_status::running);
  // A long-poll answered by the task's end leaves its deadline behind; when
  // that comes, nobody is answered twice.
  auto ended = self->request(reg, caf::infinite, wait_atom::value, v.id,
                             int64_t{5000});
  run();
  advance(200ms); // the task ends at 1000 ms
  CHECK(answered(ended) == task_status::succeeded);
  advance(5000ms);
  CHECK_FALSE(self->has_next_message());
  CHECK(registry_st(reg).waiters.empty());
}

TEST_CASE_METHOD(registry_fixture, "wait answers when the task ends",
                 "[registry][wait]") {
  auto v = submit_task(spec("sleep", {{"ms", 1000}}));
  auto h1 = self->request(reg, caf::infinite, wait_atom::value, v.id,
                          int64_t{60000});
  auto h2 = self->request(reg, caf::infinite, wait_atom::value, v.id,
                          int64_t{60000});
  run();
  advance(999ms);
  CHECK_FALSE(self->has_next_message());
  advance(1ms);
  REQUIRE(self->has_next_message());
  for (auto* h : {&h1, &h2})
    h->receive(
      [&](task_view& w) {
        CHECK(w.status == task_status::succeeded);
        CHECK(w.result.text == R"({"slept_ms":1000})");
      },
      [&](caf::error& e) { FAIL(sys.render(e)); });
  // The waiters' timers fire later and find nobody.
  advance(60000ms);
  CHECK_FALSE(self->has_next_message());
}

TEST_CASE_METHOD(registry_fixture, "wait answers when the task is cancelled",
                 "[registry][wait]") {
  submit_task(spec("sleep", {{"ms", 1000}}));
  auto v = submit_task(spec("sleep", {{"ms", 1000}}));
  auto h = self->request(reg, caf::infinite, wait_atom::value, v.id,
                         int64_t{60000});
  run();
  CHECK_FALSE(self->has_next_message());
  REQUIRE(cancel(v.id));
  CHECK(answered(h) == task_status::cancelled);
}

TEST_CASE_METHOD(registry_fixture, "list filters by status and kind, newest "
                                   "first, paged by cursor",
                 "[registry][list]") {
  // Pool of 1: t1 ends at once, t2 runs, t3..t5 wait.
  auto t1 = submit_task(spec("echo", {{"n", 1}}));
  auto t2 = submit_task(spec("sleep", {{"ms", 1000}}));
  auto t3 = submit_task(spec("echo", {{"n", 3}}));
  auto t4 = submit_task(spec("sleep", {{"ms", 10}}));
  auto t5 = submit_task(spec("echo", {{"n", 5}}));
  run();
  auto s = [](const task_view& v) { return v.id.to_string(); };
  using strings = std::vector<std::string>;

  task_filter all;
  auto page = list(all);
  CHECK(ids(page) == strings{s(t5), s(t4), s(t3), s(t2), s(t1)});
  CHECK(page.next == 0);
  CHECK(page.tasks[0].status == task_status::queued);
  CHECK(page.tasks[3].status == task_status::running);
  CHECK(page.tasks[4].status == task_status::succeeded);
  CHECK(page.tasks[4].result.text == R"({"n":1})");

  task_filter queued;
  queued.status = task_status::queued;
  CHECK(ids(list(queued)) == strings{s(t5), s(t4), s(t3)});

  task_filter running;
  running.status = task_status::running;
  CHECK(ids(list(running)) == strings{s(t2)});

  task_filter failed;
  failed.status = task_status::failed;
  CHECK(list(failed).tasks.empty());

  task_filter echo;
  echo.kind = "echo";
  CHECK(ids(list(echo)) == strings{s(t5), s(t3), s(t1)});

  task_filter echo_queued;
  echo_queued.kind = "echo";
  echo_queued.status = task_status::queued;
  CHECK(ids(list(echo_queued)) == strings{s(t5), s(t3)});

  // Paging: 2 per page.
  task_filter paged;
  paged.limit = 2;
  auto p1 = list(paged);
  CHECK(ids(p1) == strings{s(t5), s(t4)});
  REQUIRE(p1.next != 0);
  paged.cursor = p1.next;
  auto p2 = list(paged);
  CHECK(ids(p2) == strings{s(t3), s(t2)});
  REQUIRE(p2.next != 0);
  paged.cursor = p2.next;
  auto p3 = list(paged);
  CHECK(ids(p3) == strings{s(t1)});
  CHECK(p3.next == 0);

  // A page that ends exactly at the last match has no next page.
  task_filter exact;
  exact.limit = 5;
  CHECK(list(exact).next == 0);
  task_filter echo_paged;
  echo_paged.kind = "echo";
  echo_paged.limit = 2;
  auto e1 = list(echo_paged);
  CHECK(ids(e1) == strings{s(t5), s(t3)});
  REQUIRE(e1.next != 0);
  echo_paged.cursor = e1.next;
  auto e2 = list(echo_paged);
  CHECK(ids(e2) == strings{s(t1)});
  CHECK(e2.next == 0);

  // Tasks created after a cursor was handed out do not shift the pages.
  auto t6 = submit_task(spec("echo", {{"n", 6}}));
  paged.cursor = p1.next;
  CHECK(ids(list(paged)) == strings{s(t3), s(t2)});
  CHECK(ids(list(all)).front() == s(t6));
}

TEST_CASE_METHOD(registry_fixture, "a delayed task stays scheduled until its "
                                   "time, then runs, and a cancelled one never "
                                   "does",
                 "[registry][delayed]") {
  auto s = spec("sleep", {{"ms", 10}});
  s.countdown_ms = 50;
  auto a = submit_task(s);
  CHECK(a.status == task_status::scheduled);
  CHECK(a.run_at == a.created_at + 50);
  auto b = submit_task(s);
  auto later = s;
  later.countdown_ms = 60'000;
  auto c = submit_task(later);
  task_filter f;
  f.status = task_status::scheduled;
  CHECK(list(f).tasks.size() == 3);
  auto cancelled = cancel(b.id);
  REQUIRE(cancelled);
  CHECK(cancelled->status == task_status::cancelled);
  advance(10ms); // not due yet: the timer is armed for the earliest
  CHECK(get(a.id).status == task_status::scheduled);
  // The due time is wall-clock time: let it pass, then the test clock.
  std::this_thread::sleep_for(60ms);
  advance(60ms);
  auto r = get(a.id);
  CHECK(r.status == task_status::running);
  CHECK(r.started_at >= a.run_at);
  CHECK(r.run_at == a.run_at);
  CHECK(get(b.id).status == task_status::cancelled);
  CHECK(get(b.id).attempts == 0);
  CHECK(get(c.id).status == task_status::scheduled);
  advance(10ms);
  CHECK(get(a.id).status == task_status::succeeded);
  // An immediate task submitted meanwhile is not held up by the schedule.
  auto now = submit_task(spec("sleep", {{"ms", 10}}));
  CHECK(now.run_at == 0);
  CHECK(get(now.id).status == task_status::running);
}
