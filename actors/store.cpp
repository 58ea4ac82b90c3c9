#include "actors/store.hpp"

#include "actors/id_index.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "actors/sqlite_util.hpp"
#include "actors/time.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace actorq {

namespace {

/// "actq": marks a SQLite file as an actorq store (PRAGMA application_id).
constexpr int application_id = 0x61637471;
/// Bumped whenever the schema changes (PRAGMA user_version); each bump adds
/// a migration below.
constexpr int schema_version = 7;

/// The SQL condition of a terminal task (succeeded, failed, cancelled), the
/// one spelling used by the partial indexes and the queries that use them
/// (SQLite uses a partial index only for a query that repeats its WHERE).
/// Not `status IN (3, 4, 5)`: SQLite evaluates an IN list by filling a
/// temporary b-tree, and every insert and update evaluates each partial
/// index's WHERE for the old and the new row (4 temporary b-trees per
/// UPDATE, about a third of the store's CPU per task in schema 5).
#define ACTORQ_TERMINAL "status BETWEEN 3 AND 5"

/// The columns of the tasks table in schema 6, in its order (copied by
/// migration 7).
#define ACTORQ_V6_COLUMNS                                                    \
  "seq, id, kind, pool, input, max_retries, backoff_ms, timeout_ms, "        \
  "idempotency_key, status, cancel_requested, attempts, created_at, "        \
  "started_at, finished_at, result, error, progress, cycle_start, priority, " \
  "run_at, countdown_ms, after, after_policy, pass_results, callback_url, "   \
  "callback_status, callback_attempts, callback_error, schedule"

/// How a store of version `from` becomes one of version `from + 1`. New
/// task statuses are appended to the enum, so stored values keep their
/// meaning and need no migration.
struct migration {
  int from;
  const char* sql;
};

constexpr migration migrations[] = {
    // 2: progress of running tasks ({"fraction", "message", "at"}).
    {1, "ALTER TABLE tasks ADD COLUMN progress TEXT;"},
    // 3: operator actions: a retried task's new cycle, paused pools.
    {2, "ALTER TABLE tasks ADD COLUMN cycle_start INTEGER NOT NULL DEFAULT 0;"
        "CREATE TABLE paused_pools (name TEXT PRIMARY KEY);"},
    // 4: task priorities (0..9, higher first).
    {3, "ALTER TABLE tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 5;"},
    // 5: delayed tasks, chains, completion callbacks, periodic schedules;
    // terminal statuses named (6 scheduled and 7 waiting are not terminal).
    {4, "ALTER TABLE tasks ADD COLUMN run_at INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE tasks ADD COLUMN countdown_ms INTEGER NOT NULL DEFAULT -1;"
        "ALTER TABLE tasks ADD COLUMN after TEXT;"
        "ALTER TABLE tasks ADD COLUMN after_policy INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE tasks ADD COLUMN pass_results INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE tasks ADD COLUMN callback_url TEXT;"
        "ALTER TABLE tasks ADD COLUMN callback_status INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE tasks ADD COLUMN callback_attempts INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE tasks ADD COLUMN callback_error TEXT;"
        "ALTER TABLE tasks ADD COLUMN schedule TEXT;"
        "CREATE TABLE schedules (name TEXT PRIMARY KEY,"
        " last_slot INTEGER NOT NULL, last_task BLOB);"
        "DROP INDEX tasks_by_end; DROP INDEX tasks_live;"
        "CREATE INDEX tasks_by_end ON tasks(finished_at) WHERE status IN (3, 4, 5);"
        "CREATE INDEX tasks_live ON tasks(seq) WHERE status NOT IN (3, 4, 5);"
        "CREATE INDEX tasks_callback_pending ON tasks(seq)"
        " WHERE callback_status = 1;"},
    // 6: the same partial indexes with ACTORQ_TERMINAL (no IN lists).
    {5, "DROP INDEX tasks_by_end; DROP INDEX tasks_live;"
        "CREATE INDEX tasks_by_end ON tasks(finished_at) WHERE " ACTORQ_TERMINAL ";"
        "CREATE INDEX tasks_live ON tasks(seq) WHERE NOT (" ACTORQ_TERMINAL ");"},
    // 7: no UNIQUE index on the random ids (each insert dirtied a random
    // page of it in every commit): they are in an id_index file of their
    // own. SQLite cannot drop a UNIQUE constraint, so the table is copied;
    // the table and indexes as schema 7 has them (a later schema changes
    // them in its own migration).
    {6, "CREATE TABLE tasks_v7 (seq INTEGER PRIMARY KEY, id BLOB NOT NULL,"
        " kind TEXT NOT NULL, pool TEXT NOT NULL, input TEXT NOT NULL,"
        " max_retries INTEGER NOT NULL, backoff_ms INTEGER NOT NULL,"
        " timeout_ms INTEGER NOT NULL, idempotency_key TEXT,"
        " status INTEGER NOT NULL, cancel_requested INTEGER NOT NULL,"
        " attempts INTEGER NOT NULL, created_at INTEGER NOT NULL,"
        " started_at INTEGER NOT NULL, finished_at INTEGER NOT NULL,"
        " result TEXT, error TEXT, progress TEXT,"
        " cycle_start INTEGER NOT NULL DEFAULT 0,"
        " priority INTEGER NOT NULL DEFAULT 5,"
        " run_at INTEGER NOT NULL DEFAULT 0,"
        " countdown_ms INTEGER NOT NULL DEFAULT -1, after TEXT,"
        " after_policy INTEGER NOT NULL DEFAULT 0,"
        " pass_results INTEGER NOT NULL DEFAULT 0, callback_url TEXT,"
        " callback_status INTEGER NOT NULL DEFAULT 0,"
        " callback_attempts INTEGER NOT NULL DEFAULT 0, callback_error TEXT,"
        " schedule TEXT);"
        "INSERT INTO tasks_v7 SELECT " ACTORQ_V6_COLUMNS " FROM tasks;"
        "DROP TABLE tasks;"
        "ALTER TABLE tasks_v7 RENAME TO tasks;"
        "CREATE INDEX tasks_by_key ON tasks(idempotency_key)"
        " WHERE idempotency_key IS NOT NULL;"
        "CREATE INDEX tasks_callback_pending ON tasks(seq)"
        " WHERE callback_status = 1;"
        "CREATE INDEX tasks_by_end ON tasks(finished_at) WHERE " ACTORQ_TERMINAL ";"
        "CREATE INDEX tasks_live ON tasks(seq) WHERE NOT (" ACTORQ_TERMINAL ");"},
};

constexpr const char* schema = R"(
CREATE TABLE tasks (
  seq              INTEGER PRIMARY KEY, -- creation order, never reused
  id               BLOB NOT NULL,        -- 16 bytes of the uuid; looked
                                         -- up in the id_index file
  kind             TEXT NOT NULL,
  pool             TEXT NOT NULL,
  input            TEXT NOT NULL,        -- JSON
  max_retries      INTEGER NOT NULL,
  backoff_ms       INTEGER NOT NULL,
  timeout_ms       INTEGER NOT NULL,
  idempotency_key  TEXT,
  status           INTEGER NOT NULL,     -- 0 queued 1 running 2 retrying
                                         -- 3 succeeded 4 failed 5 cancelled
                                         -- 6 scheduled 7 waiting
  cancel_requested INTEGER NOT NULL,
  attempts         INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,     -- ms since the Unix epoch; 0 = not yet
  started_at       INTEGER NOT NULL,
  finished_at      INTEGER NOT NULL,
  result           TEXT,                 -- JSON; NULL = null
  error            TEXT,
  progress         TEXT,                 -- JSON {fraction, message, at}
  cycle_start      INTEGER NOT NULL DEFAULT 0, -- attempts before this cycle
                                               -- (POST /v1/tasks/{id}/retry)
  priority         INTEGER NOT NULL DEFAULT 5, -- 0..9, higher first
  run_at           INTEGER NOT NULL DEFAULT 0,  -- ms; 0 = at once
  countdown_ms     INTEGER NOT NULL DEFAULT -1, -- as the client sent it
  after            TEXT,                 -- JSON array of task ids, or NULL
  after_policy     INTEGER NOT NULL DEFAULT 0, -- 0 succeeded 1 ended
  pass_results     INTEGER NOT NULL DEFAULT 0,
  callback_url     TEXT,
  callback_status  INTEGER NOT NULL DEFAULT 0, -- 0 none 1 pending
                                                -- 2 delivered 3 failed
  callback_attempts INTEGER NOT NULL DEFAULT 0,
  callback_error   TEXT,
  schedule         TEXT                  -- [schedules.NAME] that fired it
);
CREATE TABLE paused_pools (name TEXT PRIMARY KEY); -- by an operator
-- The last slot each periodic schedule fired (exactly once per slot).
CREATE TABLE schedules (name TEXT PRIMARY KEY, last_slot INTEGER NOT NULL,
                        last_task BLOB);
CREATE INDEX tasks_by_key ON tasks(idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX tasks_callback_pending ON tasks(seq) WHERE callback_status = 1;
)"
"CREATE INDEX tasks_by_end ON tasks(finished_at) WHERE " ACTORQ_TERMINAL ";"
"CREATE INDEX tasks_live ON tasks(seq) WHERE NOT (" ACTORQ_TERMINAL ");";

/// Columns of a task_view, in the order read_view expects.
constexpr const char* view_columns =
    "seq, id, kind, pool, status, cancel_requested, attempts, max_retries, "
    "created_at, started_at, finished_at, result, error, progress, priority, "
    "run_at, after, schedule, callback_url, callback_status, "
    "callback_attempts, callback_error";
constexpr int view_column_count = 22;

/// A task that ended before the cutoff is gone (expired).
constexpr const char* not_expired
  = "NOT (" ACTORQ_TERMINAL " AND finished_at < ?)";

void bind_text(sqlite3_stmt* st, int col, const std::string& text) {
  sqlite3_bind_text(st, col, text.data(), static_cast<int>(text.size()),
                    SQLITE_STATIC);
}

std::string column_text(sqlite3_stmt* st, int col) {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
  return p == nullptr ? std::string{}
                      : std::string(p, sqlite3_column_bytes(st, col));
}

task_status column_status(sqlite3_stmt* st, int col) {
  auto x = sqlite3_column_int(st, col);
  return static_cast<task_status>(x < 0 || x >= task_status_count ? 4 : x);
}

/// callback_status values: 0 none, then the view's names.
constexpr const char* callback_status_names[] = {"", "pending", "delivered",
                                                 "failed"};

int callback_code(const caf::optional<callback_view>& cb) {
  if (!cb)
    return 0;
  for (int i = 1; i < 4; ++i)
    if (cb->status == callback_status_names[i])
      return i;
  return 1;
}

/// Task ids as stored: a JSON array of uuid strings, NULL (empty) for none.
std::string ids_to_text(const std::vector<task_id>& ids) {
  if (ids.empty())
    return {};
  auto out = json::array();
  for (auto& id : ids)
    out.push_back(id.to_string());
  return out.dump();
}

std::vector<task_id> ids_from_text(const std::string& text) {
  std::vector<task_id> ids;
  if (text.empty())
    return ids;
  auto arr = json::parse(text, nullptr, false);
  if (!arr.is_array())
    return ids;
  for (auto& x : arr)
    if (auto id = x.is_string() ? task_id::parse(x.get<std::string>())
                                : std::nullopt)
      ids.push_back(*id);
  return ids;
}

void bind_text_or_null(sqlite3_stmt* st, int col, const std::string& text) {
  if (text.empty())
    sqlite3_bind_null(st, col);
  else
    sqlite3_bind_text(st, col, text.data(), static_cast<int>(text.size()),
                      SQLITE_TRANSIENT);
}

/// Reads the view_columns starting at column `at`.
task_view read_view(sqlite3_stmt* st, int at = 0) {
  task_view v;
  v.id = column_id(st, at + 1);
  v.kind = column_text(st, at + 2);
  v.pool = column_text(st, at + 3);
  v.status = column_status(st, at + 4);
  v.cancel_requested = sqlite3_column_int(st, at + 5) != 0;
  v.attempts = sqlite3_column_int(st, at + 6);
  v.max_retries = sqlite3_column_int(st, at + 7);
  v.created_at = sqlite3_column_int64(st, at + 8);
  v.started_at = sqlite3_column_int64(st, at + 9);
  v.finished_at = sqlite3_column_int64(st, at + 10);
  v.result.text = column_text(st, at + 11);
  if (sqlite3_column_type(st, at + 12) != SQLITE_NULL)
    v.error = column_text(st, at + 12);
  if (sqlite3_column_type(st, at + 13) != SQLITE_NULL) {
    auto p = json::parse(column_text(st, at + 13), nullptr, false);
    if (p.is_object())
      v.progress = task_progress{p.value("fraction", 0.0),
                                 p.value("message", std::string{}),
                                 p.value("at", int64_t{0})};
  }
  v.priority = sqlite3_column_int(st, at + 14);
  v.run_at = sqlite3_column_int64(st, at + 15);
  v.after = ids_from_text(column_text(st, at + 16));
  v.schedule = column_text(st, at + 17);
  auto callback = sqlite3_column_int(st, at + 19);
  if (sqlite3_column_type(st, at + 18) != SQLITE_NULL && callback > 0) {
    callback_view cb;
    cb.url = column_text(st, at + 18);
    cb.status = callback_status_names[std::min(callback, 3)];
    cb.attempts = sqlite3_column_int(st, at + 20);
    if (sqlite3_column_type(st, at + 21) != SQLITE_NULL)
      cb.last_error = column_text(st, at + 21);
    v.callback = std::move(cb);
  }
  return v;
}

/// Columns of a whole task_row: view_columns, then what read_row adds.
const std::string row_columns =
    std::string{view_columns}
    + ", input, backoff_ms, timeout_ms, idempotency_key, cycle_start, "
      "countdown_ms, after_policy, pass_results";

/// Reads the row_columns of a task (spec included).
task_row read_row(sqlite3_stmt* st) {
  task_row row;
  row.seq = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
  row.state = read_view(st);
  row.spec.kind = row.state.kind;
  row.spec.pool = row.state.pool;
  row.spec.max_retries = row.state.max_retries;
  row.spec.priority = row.state.priority;
  constexpr int at = view_column_count;
  row.spec.input.value = json::parse(column_text(st, at), nullptr, false);
  row.spec.backoff_ms = sqlite3_column_int64(st, at + 1);
  row.spec.timeout_ms = sqlite3_column_int64(st, at + 2);
  row.spec.idempotency_key = column_text(st, at + 3);
  row.cycle_start = sqlite3_column_int(st, at + 4);
  row.spec.run_at = row.state.run_at;
  row.spec.countdown_ms = sqlite3_column_int64(st, at + 5);
  row.spec.after = row.state.after;
  row.spec.after_if = sqlite3_column_int(st, at + 6) == 1 ? after_policy::ended
                                                     : after_policy::succeeded;
  row.spec.pass_results = sqlite3_column_int(st, at + 7) != 0;
  row.spec.schedule = row.state.schedule;
  if (row.state.callback)
    row.spec.callback_url = row.state.callback->url;
  return row;
}

/// A task's progress as stored (JSON text), or empty for none.
std::string progress_text(const task_view& v) {
  if (!v.progress)
    return {};
  return json{{"fraction", v.progress->fraction},
              {"message", v.progress->message},
              {"at", v.progress->at}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

/// Resets a statement when leaving a scope, whatever happens.
struct stmt_guard {
  sqlite3_stmt* st;
  ~stmt_guard() {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
};

/// What GET /healthz says about the store (store_problem).
struct health_board {
  std::mutex mutex;
  const task_store* gone_store = nullptr; // whose file is gone
  std::string gone;                       // why (empty: not gone)
  std::string stall;                      // a write that does not complete
};

health_board& health() {
  static health_board board;
  return board;
}

} // namespace

task_store::task_store(sqlite3* db, std::string path)
  : db_(db), path_(std::move(path)) {
}

task_store::~task_store() {
  ids_.reset(); // writes its pending ids
  for (auto st : {insert_, update_, by_seq_, by_key_, expire_})
    sqlite3_finalize(st);
  sqlite3_close(db_); // checkpoints and syncs (NORMAL does at a checkpoint)
  if (wal_fd_ >= 0)
    ::close(wal_fd_);
  auto& board = health();
  std::lock_guard<std::mutex> guard{board.mutex};
  if (board.gone_store == this) {
    board.gone_store = nullptr;
    board.gone.clear();
  }
}

std::string task_store::check_path() {
  if (gone_.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> guard{gone_mutex_};
    return gone_why_;
  }
  struct stat now;
  std::string why;
  if (::stat(path_.c_str(), &now) != 0) {
    if (errno != ENOENT && errno != ENOTDIR)
      return {}; // cannot tell (e.g. EACCES); a failing write says more
    why = "the file was deleted or renamed while actorq ran";
  } else if (now.st_dev != dev_ || now.st_ino != ino_) {
    why = "the path now names another file than the one actorq opened "
          "(replaced or renamed while actorq ran)";
  } else {
    return {};
  }
  return mark_gone("store " + path_ + ": " + why
                   + "; refusing to write anything until actorq is restarted "
                     "(it then opens or creates "
                   + path_ + ")");
}

std::string task_store::mark_gone(std::string message) {
  {
    std::lock_guard<std::mutex> guard{gone_mutex_};
    if (gone_.load(std::memory_order_relaxed))
      return gone_why_; // the first reason stays
    gone_why_ = message;
    gone_.store(true, std::memory_order_release);
  }
  log::event(log::level::error, "store_error",
             {{"msg", message}, {"store", path_}});
  auto& board = health();
  std::lock_guard<std::mutex> guard{board.mutex};
  board.gone_store = this;
  board.gone = message;
  return message;
}

void task_store::fail(const std::string& what) {
  throw store_error("store " + path_ + ": " + what);
}

void task_store::check(int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    fail(std::string{what} + ": " + sqlite3_errmsg(db_));
}

sqlite3_stmt* task_store::prepare(const char* sql) {
  sqlite3_stmt* st = nullptr;
  check(sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
                           nullptr),
        "cannot prepare a statement");
  return st;
}

namespace {

/// Creates the store's folder if needed; refuses a path that is a folder.
void make_folder(const std::string& path) {
  namespace fs = std::filesystem;
  auto folder = fs::path{path}.parent_path();
  std::error_code ec;
  if (!folder.empty() && !fs::exists(folder, ec)
      && !fs::create_directories(folder, ec))
    throw store_error("store " + path + ": cannot create the folder "
                      + folder.string() + ": " + ec.message());
  if (fs::is_directory(path, ec))
    throw store_error("store " + path + ": is a directory, not a file");
}

} // namespace

std::unique_ptr<task_store> task_store::open(const std::string& path,
                                             bool full_sync) {
  make_folder(path);
  sqlite3* raw = nullptr;
  auto rc = sqlite3_open_v2(path.c_str(), &raw,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                                | SQLITE_OPEN_NOMUTEX,
                            nullptr);
  std::unique_ptr<task_store> self{new task_store(raw, path)};
  if (rc != SQLITE_OK)
    self->fail(std::string{"cannot open: "} + sqlite3_errstr(rc));
  sqlite3_extended_result_codes(raw, 1);
  // Nothing below writes before the file is known to be ours (or empty).
  // One process at a time: the first transaction takes an exclusive lock that
  // is held until the store closes.
  self->exec("PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE",
             "cannot configure");
  bool fresh = self->identify();
  auto version = fresh ? int64_t{schema_version} : self->checked_version();
  self->lock();
  if (version < schema_version)
    self->migrate(static_cast<int>(version));
  self->configure(full_sync);
  if (fresh)
    self->create_schema();
  self->prepare_statements();
  self->ids_ = std::make_unique<id_index>(path + "-ids");
  self->index_newer(self->ids_->indexed_through());
  self->remember_file();
  return self;
}

void task_store::exec(const char* sql, const char* what) {
  check(sqlite3_exec(db_, sql, nullptr, nullptr, nullptr), what);
}

int64_t task_store::query_int(const char* sql, const char* what) {
  stmt_owner st;
  check(sqlite3_prepare_v2(db_, sql, -1, &st.st, nullptr), what);
  check(sqlite3_step(st.st), what);
  return sqlite3_column_int64(st.st, 0);
}

bool task_store::identify() {
  int64_t app = 0;
  int64_t objects = 0;
  try {
    app = query_int("PRAGMA application_id", "cannot read");
    objects = query_int("SELECT count(*) FROM sqlite_schema", "cannot read");
  } catch (const store_error&) {
    auto code = sqlite3_extended_errcode(db_);
    if ((code & 0xff) == SQLITE_NOTADB)
      fail("not an actorq store (not a SQLite database); refusing "
           "to touch it");
    if ((code & 0xff) == SQLITE_CORRUPT)
      fail("the database is corrupt; refusing to touch it");
    if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
      fail("in use by another process");
    throw;
  }
  bool fresh = app == 0 && objects == 0;
  if (!fresh && app != application_id)
    fail("not an actorq store (a SQLite database of another "
         "application); refusing to touch it");
  return fresh;
}

int64_t task_store::checked_version() {
  auto version = query_int("PRAGMA user_version", "cannot read");
  if (version > schema_version || version < 1)
    fail("schema version " + std::to_string(version)
         + " is not one this actorq can use (it uses "
         + std::to_string(schema_version)
         + (version > schema_version
                ? "; the store was written by a newer actorq)"
                : ")"));
  stmt_owner check_st;
  check(sqlite3_prepare_v2(db_, "PRAGMA quick_check", -1, &check_st.st,
                           nullptr),
        "cannot check");
  auto step = sqlite3_step(check_st.st);
  if (step != SQLITE_ROW || column_text(check_st.st, 0) != "ok") {
    // SQLite's report spans many lines: keep its first findings.
    auto report = step == SQLITE_ROW ? column_text(check_st.st, 0)
                                     : std::string{sqlite3_errmsg(db_)};
    for (auto& c : report)
      if (c == '\n')
        c = ' ';
    if (report.size() > 160)
      report = report.substr(0, 160) + "...";
    fail("the database is corrupt (" + report + "); refusing to touch it");
  }
  return version;
}

void task_store::lock() {
  // Now, so that a second actorq on the same file is refused.
  try {
    exec("BEGIN EXCLUSIVE; COMMIT", "cannot lock");
  } catch (const store_error&) {
    if ((sqlite3_extended_errcode(db_) & 0xff) == SQLITE_BUSY)
      fail("in use by another process");
    throw;
  }
}

void task_store::configure(bool full_sync) {
  exec("PRAGMA journal_mode = WAL", "cannot switch to WAL");
  // NORMAL with full_sync as well: then the WAL is flushed after each
  // write (sync_wal, wal_syncer) before the write counts, the one fsync
  // FULL adds to NORMAL in WAL mode, without holding up the next write.
  exec("PRAGMA synchronous = NORMAL", "cannot configure");
  full_sync_ = full_sync;
  exec("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -8192",
       "cannot configure");
}

void task_store::create_schema() {
  exec("BEGIN", "cannot create the schema");
  exec(schema, "cannot create the schema");
  exec(("PRAGMA application_id = " + std::to_string(application_id)).c_str(),
       "cannot create the schema");
  exec(("PRAGMA user_version = " + std::to_string(schema_version)).c_str(),
       "cannot create the schema");
  exec("COMMIT", "cannot create the schema");
}

void task_store::prepare_statements() {
  insert_ = prepare(
      "INSERT INTO tasks (seq, id, kind, pool, input, max_retries, backoff_ms, "
      "timeout_ms, idempotency_key, status, cancel_requested, attempts, "
      "created_at, started_at, finished_at, result, error, progress, priority, "
      "run_at, countdown_ms, after, after_policy, pass_results, schedule, "
      "callback_url, callback_status, callback_attempts, callback_error) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
      "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  update_ = prepare(
      "UPDATE tasks SET status = ?, cancel_requested = ?, attempts = ?, "
      "started_at = ?, finished_at = ?, result = ?, error = ?, progress = ?, "
      "callback_status = ?, callback_attempts = ?, callback_error = ?, "
      "cycle_start = ? WHERE seq = ?");
  by_seq_ = prepare((std::string{"SELECT "} + view_columns
                     + " FROM tasks WHERE seq = ? AND " + not_expired)
                        .c_str());
  by_key_ = prepare(("SELECT " + row_columns
                     + " FROM tasks WHERE idempotency_key = ? AND "
                     + not_expired + " ORDER BY seq DESC LIMIT 1")
                        .c_str());
  expire_ = prepare(
      "DELETE FROM tasks WHERE seq IN (SELECT seq FROM tasks WHERE "
      ACTORQ_TERMINAL " AND finished_at < ? LIMIT 10000) RETURNING id"); // tasks_by_end
}

void task_store::remember_file() {
  // The file we hold open (and locked): check_path compares the path with it.
  struct stat opened;
  if (::stat(path_.c_str(), &opened) != 0)
    fail(std::string{"cannot stat: "} + std::strerror(errno));
  dev_ = opened.st_dev;
  ino_ = opened.st_ino;
}

void task_store::migrate(int version) {
  // A copy first, consistent with its WAL: the migrated file cannot be
  // opened by the actorq that wrote it.
  auto backup = path_ + ".bak-v" + std::to_string(version);
  std::error_code ec;
  std::filesystem::remove(backup, ec);
  std::string quoted;
  for (char c : backup)
    quoted += c == '\'' ? std::string{"''"} : std::string(1, c);
  auto copy = "VACUUM INTO '" + quoted + "'";
  exec(copy.c_str(),
       ("cannot copy the store to " + backup + " before migrating it").c_str());
  exec("BEGIN", "cannot migrate");
  try {
    for (auto& m : migrations)
      if (m.from >= version)
        exec(m.sql, "cannot migrate");
    auto stamp = "PRAGMA user_version = " + std::to_string(schema_version);
    exec(stamp.c_str(), "cannot migrate");
    exec("COMMIT", "cannot migrate");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  log::event(log::level::info, "store_migrated",
             {{"msg", "migrated store " + path_ + " from schema version "
                        + std::to_string(version) + " to "
                        + std::to_string(schema_version)
                        + " (copy of the old one: " + backup + ")"},
              {"store", path_},
              {"from", version},
              {"to", schema_version},
              {"backup", backup}});
}

void task_store::write(const std::vector<task_row>& rows,
                       const std::vector<schedule_mark>& marks) {
  // Committing to a file that no longer has a name would lose the rows at
  // the next start: refuse instead (one stat per batch).
  if (auto gone = check_path(); !gone.empty())
    throw store_error(gone);
  exec("BEGIN", "cannot write");
  try {
    for (auto& row : rows) {
      auto& v = row.state;
      sqlite3_stmt* st;
      int col = 1;
      std::string input;
      if (row.insert) {
        st = insert_;
        input = row.spec.input.value.dump();
        sqlite3_bind_int64(st, col++, static_cast<int64_t>(row.seq));
        bind_id(st, col++, v.id);
        bind_text(st, col++, v.kind);
        bind_text(st, col++, v.pool);
        bind_text(st, col++, input);
        sqlite3_bind_int(st, col++, row.spec.max_retries);
        sqlite3_bind_int64(st, col++, row.spec.backoff_ms);
        sqlite3_bind_int64(st, col++, row.spec.timeout_ms);
        if (row.spec.idempotency_key.empty())
          sqlite3_bind_null(st, col++);
        else
          bind_text(st, col++, row.spec.idempotency_key);
      } else {
        st = update_;
      }
      stmt_guard guard{st};
      sqlite3_bind_int(st, col++, static_cast<int>(v.status));
      sqlite3_bind_int(st, col++, v.cancel_requested ? 1 : 0);
      sqlite3_bind_int(st, col++, v.attempts);
      if (row.insert)
        sqlite3_bind_int64(st, col++, v.created_at);
      sqlite3_bind_int64(st, col++, v.started_at);
      sqlite3_bind_int64(st, col++, v.finished_at);
      if (v.result.text.empty())
        sqlite3_bind_null(st, col++);
      else
        bind_text(st, col++, v.result.text);
      if (v.error)
        bind_text(st, col++, *v.error);
      else
        sqlite3_bind_null(st, col++);
      auto progress = progress_text(v);
      if (progress.empty())
        sqlite3_bind_null(st, col++);
      else
        bind_text(st, col++, progress);
      if (row.insert) {
        sqlite3_bind_int(st, col++, row.spec.priority);
        sqlite3_bind_int64(st, col++, row.spec.run_at);
        sqlite3_bind_int64(st, col++, row.spec.countdown_ms);
        bind_text_or_null(st, col++, ids_to_text(row.spec.after));
        sqlite3_bind_int(st, col++, static_cast<int>(row.spec.after_if));
        sqlite3_bind_int(st, col++, row.spec.pass_results ? 1 : 0);
        bind_text_or_null(st, col++, row.spec.schedule);
        bind_text_or_null(st, col++, row.spec.callback_url);
      }
      sqlite3_bind_int(st, col++, callback_code(v.callback));
      sqlite3_bind_int(st, col++, v.callback ? v.callback->attempts : 0);
      if (v.callback && v.callback->last_error)
        bind_text(st, col++, *v.callback->last_error);
      else
        sqlite3_bind_null(st, col++);
      if (!row.insert) {
        sqlite3_bind_int(st, col++, row.cycle_start);
        sqlite3_bind_int64(st, col++, static_cast<int64_t>(row.seq));
      }
      check(sqlite3_step(st), row.insert ? "cannot insert" : "cannot update");
    }
    write_marks(marks);
    exec("COMMIT", "cannot commit");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  std::vector<std::pair<task_id, uint64_t>> added;
  for (auto& row : rows)
    if (row.insert)
      added.emplace_back(row.state.id, row.seq);
  ids_->add(added);
}


std::vector<task_row> task_store::rows_where(const char* condition) {
  stmt_owner st;
  check(sqlite3_prepare_v2(db_,
                           ("SELECT " + row_columns + " FROM tasks WHERE "
                            + condition + " ORDER BY seq")
                               .c_str(),
                           -1, &st.st, nullptr),
        "cannot read");
  std::vector<task_row> out;
  int rc;
  while ((rc = sqlite3_step(st.st)) == SQLITE_ROW)
    out.push_back(read_row(st.st));
  check(rc, "cannot read");
  return out;
}

std::vector<task_row> task_store::load_live() {
  return rows_where("NOT (" ACTORQ_TERMINAL ")"); // the tasks_live index
}

std::vector<task_row> task_store::load_pending_callbacks() {
  // tasks_callback_pending indexes exactly these rows (callback_status = 1).
  return rows_where("callback_status = 1 AND " ACTORQ_TERMINAL);
}

std::optional<task_row> task_store::row(const task_id& id, int64_t cutoff) {
  // Only an operator's retry asks.
  stmt_owner st;
  if (!select_by_id(st.st, row_columns, id, cutoff))
    return std::nullopt;
  return read_row(st.st);
}

void task_store::write_marks(const std::vector<schedule_mark>& marks) {
  if (marks.empty())
    return;
  // Batches may reach here out of slot order (a skip sent beside the
  // registry's batch): the later slot wins; a skip keeps the last task.
  stmt_owner st;
  check(sqlite3_prepare_v2(
          db_,
          "INSERT INTO schedules (name, last_slot, last_task) VALUES (?, ?, ?)"
          " ON CONFLICT(name) DO UPDATE SET"
          " last_task = CASE WHEN excluded.last_slot >= last_slot"
          " THEN coalesce(excluded.last_task, last_task) ELSE last_task END,"
          " last_slot = max(last_slot, excluded.last_slot)",
          -1, &st.st, nullptr),
        "cannot write schedules");
  for (auto& m : marks) {
    sqlite3_reset(st.st);
    bind_text(st.st, 1, m.name);
    sqlite3_bind_int64(st.st, 2, m.slot);
    if (m.task.hi == 0 && m.task.lo == 0)
      sqlite3_bind_null(st.st, 3);
    else
      bind_id(st.st, 3, m.task);
    check(sqlite3_step(st.st), "cannot write schedules");
  }
}

std::vector<schedule_mark> task_store::schedule_marks() {
  stmt_owner st;
  check(sqlite3_prepare_v2(db_,
                           "SELECT name, last_slot, last_task FROM schedules",
                           -1, &st.st, nullptr),
        "cannot read");
  std::vector<schedule_mark> out;
  int rc;
  while ((rc = sqlite3_step(st.st)) == SQLITE_ROW)
    out.push_back({column_text(st.st, 0), sqlite3_column_int64(st.st, 1),
                   column_id(st.st, 2)});
  check(rc, "cannot read");
  return out;
}

std::vector<std::string> task_store::paused_pools() {
  stmt_owner st;
  check(sqlite3_prepare_v2(db_, "SELECT name FROM paused_pools ORDER BY name",
                           -1, &st.st, nullptr),
        "cannot read");
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(st.st)) == SQLITE_ROW)
    out.push_back(column_text(st.st, 0));
  check(rc, "cannot read");
  return out;
}

void task_store::set_paused(const std::string& pool, bool paused) {
  if (auto gone = check_path(); !gone.empty())
    throw store_error(gone);
  stmt_owner st;
  check(sqlite3_prepare_v2(db_,
                           paused ? "INSERT OR IGNORE INTO paused_pools (name) "
                                    "VALUES (?)"
                                  : "DELETE FROM paused_pools WHERE name = ?",
                           -1, &st.st, nullptr),
        "cannot prepare");
  bind_text(st.st, 1, pool);
  check(sqlite3_step(st.st), "cannot write a pool's pause");
  if (full_sync_)
    if (auto error = sync_wal(); !error.empty())
      fail(error);
}

int task_store::wal_fd() {
  // SQLite keeps its WAL open (and in place) while the store is open
  // (exclusive locking mode), so this names the same file until close.
  if (wal_fd_ < 0)
    wal_fd_ = ::open((path_ + "-wal").c_str(), O_WRONLY | O_CLOEXEC);
  return wal_fd_;
}

std::string task_store::sync_wal() {
  auto fd = wal_fd();
  if (fd < 0)
    return std::string{"cannot open its WAL to flush it: "}
           + std::strerror(errno);
  while (::fdatasync(fd) != 0)
    if (errno != EINTR)
      return std::string{"fdatasync of the WAL failed: "}
             + std::strerror(errno);
  return {};
}

void task_store::refuse_writes(const std::string& why) {
  mark_gone("store " + path_ + ": " + why
            + "; refusing to write anything until actorq is restarted");
}

uint64_t task_store::last_seq() {
  return static_cast<uint64_t>(
      query_int("SELECT coalesce(max(seq), 0) FROM tasks", "cannot read"));
}

std::optional<task_view> task_store::get(const task_id& id, int64_t cutoff) {
  auto seq = ids_->find(id);
  if (!seq)
    return std::nullopt;
  stmt_guard guard{by_seq_};
  sqlite3_bind_int64(by_seq_, 1, static_cast<int64_t>(*seq));
  sqlite3_bind_int64(by_seq_, 2, cutoff);
  return read_one(by_seq_);
}

void task_store::flush_ids() {
  ids_->flush();
}

size_t task_store::unindexed() const {
  return ids_->pending();
}

void task_store::index_newer(uint64_t through) {
  // The tasks the id index missed (the last ones before a crash, or all of
  // them when its file is new): a range of seq, the table's own order.
  stmt_owner st;
  check(sqlite3_prepare_v2(db_, "SELECT id, seq FROM tasks WHERE seq > ?", -1,
                           &st.st, nullptr),
        "cannot read");
  sqlite3_bind_int64(st.st, 1, static_cast<int64_t>(through));
  std::vector<std::pair<task_id, uint64_t>> found;
  int rc;
  while ((rc = sqlite3_step(st.st)) == SQLITE_ROW) {
    found.emplace_back(column_id(st.st, 0),
                       static_cast<uint64_t>(sqlite3_column_int64(st.st, 1)));
    if (found.size() == id_index::default_bulk) {
      ids_->add(found);
      found.clear();
    }
  }
  check(rc, "cannot read");
  ids_->add(found);
}

std::optional<std::string> task_store::input(const task_id& id,
                                             int64_t cutoff) {
  // Only a person opening a task's detail asks.
  stmt_owner st;
  if (!select_by_id(st.st, "input", id, cutoff))
    return std::nullopt;
  return column_text(st.st, 0);
}

bool task_store::select_by_id(sqlite3_stmt*& st, const std::string& columns,
                              const task_id& id, int64_t cutoff) {
  auto seq = ids_->find(id);
  if (!seq)
    return false;
  // Prepared per call: rare reads (above) need no statement kept open.
  check(sqlite3_prepare_v2(db_,
                           ("SELECT " + columns + " FROM tasks WHERE seq = ? AND "
                            + not_expired)
                               .c_str(),
                           -1, &st, nullptr),
        "cannot read");
  sqlite3_bind_int64(st, 1, static_cast<int64_t>(*seq));
  sqlite3_bind_int64(st, 2, cutoff);
  auto rc = sqlite3_step(st);
  check(rc, "cannot read");
  return rc == SQLITE_ROW;
}

std::optional<task_row> task_store::find_key(const std::string& key,
                                             int64_t cutoff) {
  stmt_guard guard{by_key_};
  bind_text(by_key_, 1, key);
  sqlite3_bind_int64(by_key_, 2, cutoff);
  auto rc = sqlite3_step(by_key_);
  check(rc, "cannot read");
  if (rc != SQLITE_ROW)
    return std::nullopt;
  return read_row(by_key_);
}

std::optional<task_view> task_store::read_one(sqlite3_stmt* st) {
  auto rc = sqlite3_step(st);
  check(rc, "cannot read");
  if (rc != SQLITE_ROW)
    return std::nullopt;
  return read_view(st);
}

task_page task_store::list(const task_filter& filter, int64_t cutoff) {
  std::string sql = std::string{"SELECT "} + view_columns
                    + " FROM tasks WHERE seq <= ? AND " + not_expired;
  if (filter.status)
    sql += " AND status = ?";
  if (!filter.kind.empty())
    sql += " AND kind = ?";
  sql += " ORDER BY seq DESC LIMIT ?";
  stmt_owner st;
  check(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st.st, nullptr),
        "cannot read");
  int col = 1;
  sqlite3_bind_int64(st.st, col++, static_cast<int64_t>(filter.cursor));
  sqlite3_bind_int64(st.st, col++, cutoff);
  if (filter.status)
    sqlite3_bind_int(st.st, col++, static_cast<int>(*filter.status));
  if (!filter.kind.empty())
    bind_text(st.st, col++, filter.kind);
  sqlite3_bind_int64(st.st, col++, int64_t{filter.limit} + 1);
  task_page page;
  int rc;
  while ((rc = sqlite3_step(st.st)) == SQLITE_ROW) {
    if (page.tasks.size() == filter.limit) {
      page.next = static_cast<uint64_t>(sqlite3_column_int64(st.st, 0));
      break;
    }
    page.tasks.push_back(read_view(st.st));
  }
  if (rc != SQLITE_ROW)
    check(rc, "cannot read");
  return page;
}

size_t task_store::expire(int64_t cutoff) {
  size_t total = 0;
  for (;;) {
    stmt_guard guard{expire_};
    sqlite3_bind_int64(expire_, 1, cutoff);
    std::vector<task_id> gone;
    int rc;
    while ((rc = sqlite3_step(expire_)) == SQLITE_ROW)
      gone.push_back(column_id(expire_, 0));
    check(rc, "cannot delete expired tasks");
    ids_->remove(gone);
    total += gone.size();
    if (gone.size() < 10000)
      return total;
  }
}

// -- health -------------------------------------------------------------------

std::string store_problem() {
  auto& board = health();
  std::lock_guard<std::mutex> guard{board.mutex};
  return board.gone.empty() ? board.stall : board.gone;
}

void note_store_stall(std::string why) {
  auto& board = health();
  std::lock_guard<std::mutex> guard{board.mutex};
  board.stall = std::move(why);
}

path_watcher::path_watcher(std::shared_ptr<task_store> db,
                           std::chrono::milliseconds every) {
  thread_ = std::thread{[this, db = std::move(db), every] {
    std::unique_lock<std::mutex> lock{mutex_};
    while (!wake_.wait_for(lock, every, [this] { return stop_; })) {
      lock.unlock();
      db->check_path();
      lock.lock();
    }
  }};
}

path_watcher::~path_watcher() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

// -- the actor ----------------------------------------------------------------

int64_t store_state::cutoff() const {
  return result_ttl_ms > 0 ? now_ms() - result_ttl_ms : INT64_MIN;
}

namespace {

using store_ptr = store_actor::stateful_pointer<store_state>;

/// Writes the batch's rows (not yet flushed with a full_sync store); on
/// failure the batch says why.
void write_batch(store_ptr self, store_batch& batch) {
  auto& st = self->state;
  ++st.batches;
  st.largest_batch = std::max(st.largest_batch, batch.rows.size());
  try {
    st.db->write(batch.rows, batch.marks);
  } catch (const std::exception& e) {
    if (st.failed_batches++ == 0)
      log::event(log::level::error, "store_error", {{"msg", e.what()}});
    batch.error = e.what();
  }
}

/// Answers the batches whose rows are on disk now (or failed), in order.
void answer_durable(store_ptr self) {
  auto& st = self->state;
  while (!st.unsynced.empty() && st.unsynced.front().ticket <= st.synced) {
    auto& u = st.unsynced.front();
    if (st.meters && u.batch.error.empty())
      st.meters->store_committed(u.rows, metrics::clock::now() - u.began);
    if (!u.early)
      u.promise.deliver(std::move(u.batch));
    st.unsynced.pop_front();
  }
}

/// The WAL is flushed up to `ticket`, or that flush failed: then nothing
/// written since the last good flush is known to be on disk, so those
/// batches fail (their submitters get 503; the registry learns it for its
/// early batches from the syncer directly) and the store takes no more
/// writes until a restart reads what the disk really holds.
void on_synced(store_ptr self, uint64_t ticket, std::string error) {
  auto& st = self->state;
  if (!error.empty()) {
    st.db->refuse_writes(error);
    for (auto& u : st.unsynced)
      if (u.ticket <= ticket && u.batch.error.empty()) {
        ++st.failed_batches;
        u.batch.error = "store " + st.db->path() + ": " + error;
      }
  }
  st.synced = std::max(st.synced, ticket);
  answer_durable(self);
}

/// Makes the syncer tell the sender of this early batch when it is on disk.
void listen_for_sync(store_ptr self) {
  auto& st = self->state;
  auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
  if (sender == st.listening)
    return;
  st.listening = sender;
  std::lock_guard<std::mutex> guard{st.listener->mutex};
  st.listener->addr = std::move(sender);
}

/// The answer to a written batch: once its rows (and every earlier
/// batch's) are on disk, so that answered submissions are durable; an
/// early batch at once, with the ticket its sender's sync report will cover.
caf::result<store_batch> answer_when_durable(store_ptr self,
                                             store_batch batch,
                                             metrics::clock::time_point began) {
  auto& st = self->state;
  bool to_sync = batch.error.empty() && st.db->needs_sync();
  if (to_sync && !st.syncer) { // flush inline
    if (auto error = st.db->sync_wal(); !error.empty()) {
      st.db->refuse_writes(error);
      batch.error = "store " + st.db->path() + ": " + error;
    }
    to_sync = false;
  }
  if (to_sync) {
    if (auto fd = st.db->wal_fd(); fd >= 0) {
      if (batch.early)
        listen_for_sync(self);
      st.syncer->request(fd, ++st.written);
    } else {
      st.db->refuse_writes("cannot open its WAL to flush it");
      batch.error = "store " + st.db->path()
                    + ": cannot open its WAL to flush it";
      to_sync = false;
    }
  }
  if (!to_sync && st.unsynced.empty()) {
    if (st.meters && batch.error.empty())
      st.meters->store_committed(batch.rows.size(),
                                 metrics::clock::now() - began);
    return batch;
  }
  auto rows = batch.rows.size();
  if (batch.early) { // without a ticket: settled now (failed); the
                     // registry keeps the batches' order
    if (to_sync) {
      batch.ticket = st.written;
      st.unsynced.push_back({st.written, {}, {}, began, rows, true});
    }
    return batch;
  }
  auto promise = self->make_response_promise<store_batch>();
  st.unsynced.push_back({st.written, promise, std::move(batch), began, rows,
                         false});
  return promise;
}

/// Runs a read or change of the store for a caller: SQLite errors become
/// `unavailable` for the caller, and the store stays up.
template <class T, class F>
caf::result<T> guarded(F f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return make_error(error_code::unavailable, e.what());
  }
}

/// guarded() for a lookup: what it found (as a T), or `not_found` with
/// `missing`.
template <class T, class F>
caf::result<T> found(const char* missing, F f) {
  return guarded<T>([&]() -> caf::result<T> {
    if (auto v = f())
      return T{std::move(*v)};
    return make_error(error_code::not_found, missing);
  });
}

} // namespace

store_actor::behavior_type
store(store_actor::stateful_pointer<store_state> self,
      std::shared_ptr<task_store> db, int64_t result_ttl_ms,
      std::shared_ptr<metrics> meters) {
  self->state.db = std::move(db);
  self->state.meters = std::move(meters);
  self->state.result_ttl_ms = result_ttl_ms;
  // A deleted, renamed or replaced file is noticed within a second, even
  // while a write hangs (write() also checks before every batch).
  self->state.watcher = std::make_unique<path_watcher>(
      self->state.db, std::chrono::milliseconds{250});
  if (self->state.db->sync_thread && self->state.db->needs_sync()) {
    // Weak handles: the syncer (in the state) must not keep actors alive.
    auto addr = self->address();
    auto listener = self->state.listener;
    auto path = self->state.db->path();
    self->state.syncer = std::make_unique<wal_syncer>(
        [addr, listener, path](uint64_t ticket, std::string error) {
          caf::actor_addr to;
          {
            std::lock_guard<std::mutex> guard{listener->mutex};
            to = listener->addr;
          }
          if (auto ptr = caf::actor_cast<caf::strong_actor_ptr>(to))
            caf::anon_send<caf::message_priority::high>(
                caf::actor_cast<caf::actor>(std::move(ptr)),
                synced_atom::value, ticket,
                error.empty() ? error : "store " + path + ": " + error);
          if (auto ptr = caf::actor_cast<caf::strong_actor_ptr>(addr))
            caf::anon_send<caf::message_priority::high>(
                caf::actor_cast<store_actor>(std::move(ptr)),
                synced_atom::value, ticket, std::move(error));
        });
  }
  auto& st = self->state;
  return {
      [=](store_batch& batch) -> caf::result<store_batch> {
        auto began = metrics::clock::now();
        write_batch(self, batch);
        return answer_when_durable(self, std::move(batch), began);
      },
      [=](synced_atom, uint64_t ticket, std::string& error) {
        on_synced(self, ticket, std::move(error));
      },
      [&st](get_atom, const task_id& id) -> caf::result<task_view> {
        return found<task_view>("Task not found",
                                [&] { return st.db->get(id, st.cutoff()); });
      },
      [&st](get_atom, key_atom,
            const std::string& key) -> caf::result<task_row> {
        return found<task_row>("no task with this key", [&] {
          return st.db->find_key(key, st.cutoff());
        });
      },
      [&st](list_atom, const task_filter& filter) -> caf::result<task_page> {
        return guarded<task_page>(
            [&] { return st.db->list(filter, st.cutoff()); });
      },
      [&st](sweep_atom, int64_t cutoff) {
        try {
          st.db->expire(cutoff);
        } catch (const std::exception& e) {
          log::event(log::level::error, "store_error", {{"msg", e.what()}});
        }
      },
      [&st](get_atom, input_atom, const task_id& id) -> caf::result<raw_json> {
        return found<raw_json>("Task not found",
                               [&] { return st.db->input(id, st.cutoff()); });
      },
      [&st](retry_atom, const task_id& id) -> caf::result<task_row> {
        return found<task_row>("Task not found",
                               [&] { return st.db->row(id, st.cutoff()); });
      },
      [&st](hold_atom, const std::string& pool,
            bool paused) -> caf::result<bool> {
        return guarded<bool>([&] {
          st.db->set_paused(pool, paused);
          return paused;
        });
      },
  };
}

} // namespace actorq
