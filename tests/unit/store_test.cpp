// The SQLite task store on a real file, and the registry's group commit and
// memory bound with the store actor on the deterministic scheduler.
#include "fixture.hpp"

#include "actors/store.hpp"
#include "actors/time.hpp"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <sqlite3.h>
#include <unistd.h>

using namespace actorq;
using namespace actorq::test;

namespace {

/// A fresh folder for one test's store, removed afterwards.
struct temp_store {
  std::string folder;
  std::string path;
  temp_store() {
    char tmpl[] = "/tmp/actorq-unit.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    folder = tmpl;
    path = folder + "/tasks.db";
  }
  ~temp_store() {
    std::error_code ec;
    std::filesystem::remove_all(folder, ec);
  }
};

task_row new_row(uint64_t seq, std::string kind, json input,
                 std::string key = {}) {
  task_row row;
  row.seq = seq;
  row.insert = true;
  row.state.id = task_id::random();
  row.state.kind = kind;
  row.state.pool = "io";
  row.state.max_retries = 2;
  row.state.created_at = 1000 + static_cast<int64_t>(seq);
  row.spec.kind = std::move(kind);
  row.spec.pool = "io";
  row.spec.input.value = std::move(input);
  row.spec.max_retries = 2;
  row.spec.backoff_ms = 10;
  row.spec.timeout_ms = 500;
  row.spec.idempotency_key = std::move(key);
  return row;
}

/// How many tasks the store's id index file holds.
int64_t ids_in_file(const std::string& store_path) {
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open((store_path + "-ids").c_str(), &raw) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(raw, "SELECT count(*) FROM ids", -1, &st, nullptr)
          == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  auto n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(raw);
  return n;
}

} // namespace

TEST_CASE("task_store: rows written, read back, listed, expired, reopened",
          "[store]") {
  temp_store tmp;
  std::vector<task_row> rows{new_row(1, "double", {{"value", 1}}, "k-1"),
                             new_row(2, "echo", {{"a", "ü"}}),
                             new_row(3, "double", {{"value", 3}})};
  {
    auto db = task_store::open(tmp.path, true);
    CHECK(db->last_seq() == 0);
    db->write(rows);
    // Task 1 succeeds, task 2 fails; task 3 stays queued.
    auto done = rows[0];
    done.insert = false;
    done.state.status = task_status::succeeded;
    done.state.attempts = 1;
    done.state.started_at = 2000;
    done.state.finished_at = 2001;
    done.state.result.text = R"({"result":2})";
    auto failed = rows[1];
    failed.insert = false;
    failed.state.status = task_status::failed;
    failed.state.attempts = 3;
    failed.state.finished_at = 5000;
    failed.state.error = std::string{"boom"};
    db->write({done, failed});
    CHECK(db->last_seq() == 3);

    auto v = db->get(rows[0].state.id, INT64_MIN);
    REQUIRE(v);
    CHECK(v->status == task_status::succeeded);
    CHECK(v->result.text == R"({"result":2})");
    CHECK(v->attempts == 1);
    CHECK(v->finished_at == 2001);
    CHECK_FALSE(v->error);
    auto keyed = db->find_key("k-1", INT64_MIN);
    REQUIRE(keyed);
    CHECK(keyed->state.id == rows[0].state.id);
    CHECK(keyed->spec.kind == rows[0].spec.kind); // for request_hash
    CHECK(keyed->spec.idempotency_key == "k-1");
    CHECK_FALSE(db->find_key("k-2", INT64_MIN));

    task_filter f;
    f.cursor = 3;
    f.limit = 2;
    auto page = db->list(f, INT64_MIN);
    REQUIRE(page.tasks.size() == 2);
    CHECK(page.tasks[0].id == rows[2].state.id);
    CHECK(page.next == 1);
    f.status = task_status::failed;
    page = db->list(f, INT64_MIN);
    REQUIRE(page.tasks.size() == 1);
    CHECK(*page.tasks[0].error == "boom");

    auto live = db->load_live();
    REQUIRE(live.size() == 1);
    CHECK(live[0].seq == 3);
    CHECK(live[0].spec.input.value == json{{"value", 3}});
    CHECK(live[0].spec.timeout_ms == 500);
    CHECK(live[0].spec.backoff_ms == 10);

    // A second process (here: a second handle) is refused while this is open.
    CHECK_THROWS_WITH(task_store::open(tmp.path, true),
                      Catch::Contains("in use by another process"));

    // Tasks that ended before the cutoff are gone; others stay.
    CHECK_FALSE(db->get(rows[0].state.id, 3000)); // hidden by the cutoff
    CHECK(db->expire(3000) == 1);
  }
  auto db = task_store::open(tmp.path, false);
  CHECK_FALSE(db->get(rows[0].state.id, INT64_MIN));
  CHECK(db->get(rows[1].state.id, INT64_MIN));
  CHECK(db->load_live().size() == 1);
  CHECK(db->last_seq() == 3);
}

TEST_CASE("task_store: tasks are found by id before and after the id index "
          "file has them, and after it lost them",
          "[store]") {
  temp_store tmp;
  std::vector<task_row> rows;
  for (uint64_t seq = 1; seq <= 300; ++seq)
    rows.push_back(new_row(seq, "echo", {{"n", seq}}));
  auto found = [](task_store& db, const task_row& row) {
    auto v = db.get(row.state.id, INT64_MIN);
    return v && v->id == row.state.id && v->kind == "echo";
  };
  auto all_found = [&](task_store& db) {
    return std::all_of(rows.begin(), rows.end(),
                       [&](auto& row) { return found(db, row); });
  };
  {
    auto db = task_store::open(tmp.path, false);
    db->write({rows.begin(), rows.begin() + 200});
    CHECK(all_found(*db) == false); // 200..299 not written yet
    CHECK(found(*db, rows[0]));     // at once, before the file has it
    CHECK(found(*db, rows[199]));
    db->flush_ids();
    CHECK(db->unindexed() == 0);
    CHECK(found(*db, rows[0])); // from the file
    db->write({rows.begin() + 200, rows.end()});
    CHECK(all_found(*db));
    CHECK_FALSE(db->get(task_id::random(), INT64_MIN));
    CHECK(db->row(rows[7].state.id, INT64_MIN));
    CHECK(db->input(rows[5].state.id, INT64_MIN) == R"({"n":6})");
    CHECK_FALSE(db->input(task_id::random(), INT64_MIN));
  } // closing writes the rest
  CHECK(ids_in_file(tmp.path) == 300);
  {
    auto db = task_store::open(tmp.path, false);
    CHECK(db->unindexed() == 0);
    CHECK(all_found(*db));
  }
  // A crash before the index file had the newest tasks: the store adds
  // everything above the file's watermark again.
  {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open((tmp.path + "-ids").c_str(), &raw) == SQLITE_OK);
    CHECK(sqlite3_exec(raw,
                       "DELETE FROM ids WHERE seq > 120;"
                       "UPDATE watermark SET through = 120;",
                       nullptr, nullptr, nullptr)
          == SQLITE_OK);
    sqlite3_close(raw);
    auto db = task_store::open(tmp.path, false);
    CHECK(all_found(*db));
    db->flush_ids();
    CHECK(ids_in_file(tmp.path) == 300);
  }
  // The file deleted: built again from the store.
  std::filesystem::remove(tmp.path + "-ids");
  auto db = task_store::open(tmp.path, false);
  CHECK(all_found(*db));
  db->flush_ids();
  CHECK(ids_in_file(tmp.path) == 300);
}

TEST_CASE("task_store: a failed batch writes nothing", "[store]") {
  temp_store tmp;
  auto db = task_store::open(tmp.path, true);
  auto a = new_row(1, "echo", json::object());
  db->write({a});
  auto b = new_row(2, "echo", json::object());
  auto dup = new_row(1, "echo", json::object()); // seq 1 exists
  CHECK_THROWS_AS(db->write({b, dup}), store_error);
  CHECK_FALSE(db->get(b.state.id, INT64_MIN));
  CHECK(db->last_seq() == 1);
}

TEST_CASE("task_store: schedules' fired slots are written with their tasks",
          "[store][schedules]") {
  temp_store tmp;
  auto task = new_row(1, "echo", json::object());
  task.spec.schedule = "tick";
  {
    auto db = task_store::open(tmp.path, true);
    CHECK(db->schedule_marks().empty());
    db->write({task}, {{"tick", 2000, task.state.id}});
    db->write({}, {{"tick", 4000, {}}});    // skipped: the last task stays
    db->write({}, {{"tick", 3000, {}}});    // late, older: ignored
    db->write({}, {{"other", 1000, {}}});
    // A failed batch writes neither its tasks nor its slots.
    auto dup = new_row(1, "echo", json::object());
    CHECK_THROWS_AS(db->write({dup}, {{"tick", 6000, dup.state.id}}),
                    store_error);
  }
  auto db = task_store::open(tmp.path, true); // reopened: durable
  auto marks = db->schedule_marks();
  std::sort(marks.begin(), marks.end(),
            [](auto& a, auto& b) { return a.name < b.name; });
  REQUIRE(marks.size() == 2);
  CHECK(marks[0].name == "other");
  CHECK(marks[0].slot == 1000);
  CHECK(marks[0].task == task_id{});
  CHECK(marks[1].name == "tick");
  CHECK(marks[1].slot == 4000);
  CHECK(marks[1].task == task.state.id);
  CHECK(db->get(task.state.id, INT64_MIN)->schedule == "tick");
}

namespace {

using store_impl = caf::stateful_actor<store_state, store_actor::base>;

struct durable_fixture : fixture {
  temp_store tmp;
  pool_actor io;
  store_actor db;
  registry_actor reg;

  void start(size_t memory_tasks) {
    io = spawn_pool(make_settings("io", 4));
    std::shared_ptr<task_store> file{task_store::open(tmp.path, true)};
    file->sync_thread = false; // the test scheduler runs one thread
    db = sys.spawn(store, std::move(file), int64_t{0},
                   std::shared_ptr<metrics>{});
    registry_settings settings;
    settings.pools = {{"io", io, nullptr}};
    settings.store = db;
    settings.memory_tasks = memory_tasks;
    reg = sys.spawn(registry, std::move(settings));
    long_lived.push_back(caf::actor_cast<caf::actor>(reg));
    sched.run();
  }

  store_state& store_st() {
    return dynamic_cast<store_impl&>(
               *caf::actor_cast<caf::abstract_actor*>(db))
      .state;
  }

  task_spec square(int v) {
    task_spec s;
    s.kind = "square";
    s.input.value = json{{"value", v}};
    s.pool = "io";
    s.max_retries = 0;
    return s;
  }
};

} // namespace

TEST_CASE_METHOD(durable_fixture, "registry: submissions arriving together "
                                  "share one commit and are answered after it",
                 "[store][registry]") {
  start(100000);
  for (int i = 0; i < 50; ++i)
    self->send(reg, submit_atom::value, square(i));
  sched.run();
  size_t answered = 0;
  while (self->has_next_message())
    self->receive([&](task_view&) { ++answered; },
                  [&](caf::error& e) { FAIL(to_string(e)); });
  CHECK(answered == 50);
  // One batch held all 50 inserts; later batches carry the state changes.
  CHECK(store_st().largest_batch >= 50);
  CHECK(store_st().failed_batches == 0);
}

namespace {

/// A store that answers each early batch at once, as written, with rising
/// tickets, and never flushes: the test plays its WAL syncer, sending the
/// registry the reports (and the failures) a real disk cannot be made to
/// give on demand.
store_actor::behavior_type unsynced_store(store_actor::pointer,
                                          std::shared_ptr<uint64_t> tickets) {
  auto none = [] { return make_error(error_code::not_found, "unsynced_store"); };
  return {
    [=](store_batch& b) {
      b.ticket = ++*tickets;
      return b;
    },
    [=](get_atom, const task_id&) -> caf::result<task_view> { return none(); },
    [=](get_atom, key_atom, const std::string&) -> caf::result<task_row> {
      return none();
    },
    [=](list_atom, const task_filter&) -> caf::result<task_page> {
      return none();
    },
    [](sweep_atom, int64_t) {},
    [=](get_atom, input_atom, const task_id&) -> caf::result<raw_json> {
      return none();
    },
    [=](retry_atom, const task_id&) -> caf::result<task_row> { return none(); },
    [=](hold_atom, const std::string&, bool) -> caf::result<bool> {
      return none();
    },
    [](synced_atom, uint64_t, const std::string&) {},
  };
}

struct early_fixture : durable_fixture {
  std::shared_ptr<uint64_t> tickets = std::make_shared<uint64_t>(0);

  void start() {
    io = spawn_pool(make_settings("io", 4));
    db = sys.spawn(unsynced_store, tickets);
    registry_settings settings;
    settings.pools = {{"io", io, nullptr}};
    settings.store = db;
    settings.reads = reads;
    reg = sys.spawn<registry_impl>(std::move(settings));
    long_lived.push_back(caf::actor_cast<caf::actor>(reg));
    long_lived.push_back(caf::actor_cast<caf::actor>(db));
    sched.run();
  }

  /// Submits one task; returns its answer once the registry gave one.
  std::optional<caf::expected<task_view>> answer() {
    std::optional<caf::expected<task_view>> out;
    while (self->has_next_message())
      self->receive([&](task_view& v) { out = std::move(v); },
                    [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  void synced(uint64_t ticket, std::string error = {}) {
    self->send(reg, synced_atom::value, ticket, std::move(error));
    sched.run();
  }
};

} // namespace

TEST_CASE_METHOD(early_fixture, "registry: a submission written early is "
                                "answered only once the syncer reports it "
                                "on disk, whichever message comes first",
                 "[store][registry]") {
  start();
  self->send(reg, submit_atom::value, square(1));
  sched.run(); // written (ticket 1), not on disk
  CHECK_FALSE(answer());
  synced(1);
  auto first = answer();
  REQUIRE(first);
  REQUIRE(*first);
  CHECK((*first)->status == task_status::queued);
  synced(*tickets); // the first task's start and end
  REQUIRE(registry_st(reg).written_batches.size() == 0);
  // The report for the next ticket overtakes the store's answer: the
  // submission settles as the answer arrives.
  self->send(reg, submit_atom::value, square(2));
  synced(*tickets + 1);
  auto second = answer();
  REQUIRE(second);
  CHECK(*second);
}

TEST_CASE_METHOD(early_fixture, "registry: a failed WAL flush answers the "
                                "submissions it covered 503 and keeps "
                                "nothing of them",
                 "[store][registry]") {
  start();
  self->send(reg, submit_atom::value, square(1));
  sched.run();
  synced(1, "store t.db: fdatasync of the WAL failed: Input/output error");
  auto lost = answer();
  REQUIRE(lost);
  REQUIRE_FALSE(*lost);
  CHECK(lost->error().code() == static_cast<uint8_t>(error_code::unavailable));
  CHECK(to_string(lost->error()).find("fdatasync") != std::string::npos);
  for (auto& r : registry_st(reg).records) // never ran, nothing kept
    CHECK(r.removed());
  CHECK(registry_st(reg).ids.size() == 0);
}

TEST_CASE_METHOD(durable_fixture, "registry: ended tasks beyond memory_tasks "
                                  "are read back from the store",
                 "[store][registry]") {
  start(2);
  std::vector<task_id> ids;
  for (int i = 0; i < 6; ++i) {
    auto v = ask<task_view>(reg, submit_atom::value, square(i));
    REQUIRE(v);
    ids.push_back(v->id);
  }
  sched.run();
  CHECK(registry_st(reg).records.size() <= 2 + 1);
  CHECK(registry_st(reg).lookup(ids[0]) == 0); // no longer in memory
  auto v = ask<task_view>(reg, get_atom::value, ids[0]);
  REQUIRE(v);
  CHECK(v->status == task_status::succeeded);
  CHECK(v->result.text == R"({"result":0})");
  task_filter all;
  all.limit = 10;
  auto page = ask<task_page>(reg, list_atom::value, all);
  REQUIRE(page);
  REQUIRE(page->tasks.size() == 6);
  for (size_t i = 0; i < 6; ++i)
    CHECK(page->tasks[5 - i].id == ids[i]);
  auto gone = ask<task_view>(reg, get_atom::value, task_id::random());
  CHECK_FALSE(gone);
}

TEST_CASE("task_store: a retried task's row and cycle, paused pools, across "
          "a reopen",
          "[store]") {
  temp_store tmp;
  auto row = new_row(1, "flaky", {{"fail_times", 3}});
  {
    auto db = task_store::open(tmp.path, true);
    CHECK(db->paused_pools().empty());
    db->write({row});
    // Failed after 3 attempts, then retried: queued again, cycle from 3.
    auto retried = row;
    retried.insert = false;
    retried.state.status = task_status::queued;
    retried.state.attempts = 3;
    retried.cycle_start = 3;
    db->write({retried});
    db->set_paused("io", true);
    db->set_paused("cpu", true);
    db->set_paused("io", true); // twice: still once
    db->set_paused("cpu", false);
  }
  auto db = task_store::open(tmp.path, true);
  CHECK(db->paused_pools() == std::vector<std::string>{"io"});
  auto read = db->row(row.state.id, INT64_MIN);
  REQUIRE(read);
  CHECK(read->seq == 1);
  CHECK(read->cycle_start == 3);
  CHECK(read->state.attempts == 3);
  CHECK(read->spec.input.value == json{{"fail_times", 3}});
  CHECK(read->spec.backoff_ms == 10);
  auto live = db->load_live();
  REQUIRE(live.size() == 1);
  CHECK(live[0].cycle_start == 3);
  CHECK_FALSE(db->row(task_id::random(), INT64_MIN));
}

TEST_CASE("task_store: scheduled, waiting and called-back tasks keep their "
          "fields and count as live",
          "[store]") {
  temp_store tmp;
  auto first = new_row(1, "double", {{"value", 1}});
  auto delayed = new_row(2, "double", {{"value", 2}});
  delayed.state.status = task_status::scheduled;
  delayed.spec.run_at = delayed.state.run_at = 123456789;
  delayed.spec.countdown_ms = 5000;
  delayed.spec.schedule = delayed.state.schedule = "nightly";
  auto chained = new_row(3, "echo", {{"a", 1}});
  chained.state.status = task_status::waiting;
  chained.spec.after = chained.state.after = {first.state.id};
  chained.spec.after_if = after_policy::ended;
  chained.spec.pass_results = true;
  chained.spec.callback_url = "http://127.0.0.1:9/hook";
  chained.state.callback = callback_view{chained.spec.callback_url, "pending",
                                         0, caf::none};
  auto db = task_store::open(tmp.path, true);
  db->write({first, delayed, chained});
  // The first ends; the chained one's callback fails once.
  auto done = first;
  done.insert = false;
  done.state.status = task_status::succeeded;
  done.state.finished_at = 5;
  auto called = chained;
  called.insert = false;
  called.state.callback->attempts = 1;
  called.state.callback->last_error = std::string{"connection refused"};
  db->write({done, called});

  auto live = db->load_live();
  REQUIRE(live.size() == 2);
  CHECK(live[0].state.status == task_status::scheduled);
  CHECK(live[0].spec.run_at == 123456789);
  CHECK(live[0].spec.countdown_ms == 5000);
  CHECK(live[0].state.schedule == "nightly");
  CHECK_FALSE(live[0].state.callback);
  CHECK(live[1].state.status == task_status::waiting);
  CHECK(live[1].spec.after == std::vector<task_id>{first.state.id});
  CHECK(live[1].spec.after_if == after_policy::ended);
  CHECK(live[1].spec.pass_results);
  CHECK(live[1].spec.callback_url == "http://127.0.0.1:9/hook");
  REQUIRE(live[1].state.callback);
  CHECK(live[1].state.callback->status == "pending");
  CHECK(live[1].state.callback->attempts == 1);
  CHECK(live[1].state.callback->last_error == std::string{"connection refused"});
  // Terminal tasks expire; scheduled and waiting ones never do.
  CHECK(db->expire(INT64_MAX) == 1);
  CHECK(db->load_live().size() == 2);
}

TEST_CASE("task_store: load_pending_callbacks returns ended tasks whose "
          "callback is still pending",
          "[store][callbacks]") {
  temp_store tmp;
  auto with_callback = [](task_row row, const char* status) {
    row.spec.callback_url = "http://127.0.0.1:9/hook";
    row.state.callback = callback_view{row.spec.callback_url, status, 0,
                                       caf::none};
    return row;
  };
  auto running = with_callback(new_row(1, "double", {{"value", 1}}), "pending");
  auto ended = with_callback(new_row(2, "double", {{"value", 2}}), "pending");
  auto delivered = with_callback(new_row(3, "double", {{"value", 3}}),
                                 "delivered");
  auto plain = new_row(4, "double", {{"value", 4}});
  for (auto* r : {&ended, &delivered, &plain}) {
    r->state.status = task_status::succeeded;
    r->state.finished_at = 5;
  }
  ended.state.callback->attempts = 2;
  ended.state.callback->last_error = std::string{"HTTP 500"};
  auto db = task_store::open(tmp.path, true);
  db->write({running, ended, delivered, plain});
  auto pending = db->load_pending_callbacks();
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].seq == 2);
  CHECK(pending[0].state.id == ended.state.id);
  REQUIRE(pending[0].state.callback);
  CHECK(pending[0].state.callback->url == "http://127.0.0.1:9/hook");
  CHECK(pending[0].state.callback->attempts == 2);
  CHECK(pending[0].state.callback->last_error == std::string{"HTTP 500"});
}

/// A store with sync=full on real threads: the store's own and its WAL
/// syncer's (the deterministic scheduler of the other tests does not see the
/// syncer's messages).
struct threaded_store {
  caf::actor_system_config cfg;
  caf::actor_system sys{(register_types(cfg), cfg)};
  temp_store tmp;
  std::shared_ptr<task_store> file{task_store::open(tmp.path, true)};
  caf::scoped_actor self{sys};

  store_actor spawn() {
    REQUIRE(file->needs_sync()); // so it runs a WAL syncer
    return sys.spawn<caf::detached>(store, file, int64_t{0},
                                    std::shared_ptr<metrics>{});
  }
};

TEST_CASE_METHOD(threaded_store, "store: with its WAL syncer, batches are "
                                  "answered in order once flushed, a failed "
                                  "one after those before it",
                 "[store]") {
  auto db = spawn();
  std::vector<store_batch> batches(6);
  for (uint64_t i = 0; i < batches.size(); ++i)
    batches[i].rows.push_back(new_row(i + 1, "echo", json{{"i", i}}));
  batches[3].rows.push_back(new_row(1, "echo", json::object())); // seq 1 exists
  for (auto& b : batches)
    self->send(db, b);
  std::vector<store_batch> answers;
  for (size_t i = 0; i < batches.size(); ++i)
    self->receive([&](store_batch& b) { answers.push_back(std::move(b)); },
                  caf::after(std::chrono::seconds{10}) >> [&] {
                    FAIL("the store did not answer batch " << i);
                  });
  REQUIRE(answers.size() == batches.size());
  for (size_t i = 0; i < answers.size(); ++i) {
    CHECK(answers[i].rows.front().seq == i + 1); // in order
    CHECK(answers[i].error.empty() == (i != 3));
  }
  CHECK(file->get(batches[2].rows.front().state.id, INT64_MIN));
  CHECK_FALSE(file->get(batches[3].rows.front().state.id, INT64_MIN));
  self->send_exit(db, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(threaded_store, "store: an early batch is answered once "
                                  "written, with a ticket its sender's sync "
                                  "report covers once the WAL is on disk",
                 "[store]") {
  auto db = spawn();
  uint64_t last_ticket = 0;
  std::vector<task_id> ids;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    store_batch batch;
    batch.early = true;
    batch.rows.push_back(new_row(seq, "echo", json{{"i", seq}}));
    ids.push_back(batch.rows.front().state.id);
    self->request(db, std::chrono::seconds{10}, batch)
      .receive(
        [&](store_batch& answer) {
          CHECK(answer.error.empty());
          CHECK(answer.ticket > last_ticket); // rising, never 0: not synced
          last_ticket = answer.ticket;
        },
        [&](caf::error& e) { FAIL(sys.render(e)); });
  }
  // The syncer reports to the batches' sender until it covers the last one.
  uint64_t covered = 0;
  while (covered < last_ticket)
    self->receive(
      [&](synced_atom, uint64_t ticket, const std::string& error) {
        CHECK(error.empty());
        CHECK(ticket > covered);
        covered = ticket;
      },
      caf::after(std::chrono::seconds{10}) >> [&] {
        FAIL("no sync report covers ticket " << last_ticket);
      });
  for (auto& id : ids)
    CHECK(file->get(id, INT64_MIN));
  self->send_exit(db, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(threaded_store, "store: a batch whose WAL cannot be flushed "
                                  "fails, and the store refuses writes from "
                                  "then on",
                 "[store]") {
  // SQLite keeps writing its open (now nameless) WAL; the flush cannot
  // open it by name: what the disk holds is unknown from here on.
  REQUIRE(::unlink((tmp.path + "-wal").c_str()) == 0);
  auto db = spawn();
  for (uint64_t seq = 1; seq <= 2; ++seq) {
    store_batch batch;
    batch.rows.push_back(new_row(seq, "echo", json::object()));
    self->request(db, std::chrono::seconds{10}, batch)
      .receive(
        [&](store_batch& answer) {
          CHECK(answer.error.find("store " + tmp.path) == 0);
          CHECK(answer.error.find(seq == 1 ? "WAL" : "refusing")
                != std::string::npos);
        },
        [&](caf::error& e) { FAIL(sys.render(e)); });
  }
  CHECK(store_problem().find("refusing to write") != std::string::npos);
  self->send_exit(db, caf::exit_reason::user_shutdown);
}
