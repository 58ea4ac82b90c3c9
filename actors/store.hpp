// The durable task store: every task in one SQLite file (WAL mode), written in
// batches by the registry (group commit) and read back for tasks the registry
// no longer keeps in memory. `task_store` is the file; `store` is the actor
// that owns it on a thread of its own.
#pragma once

#include "actors/actors.hpp"
#include "actors/wal_syncer.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace actorq {

class id_index;
class metrics;

/// Why a store cannot be opened or written; the message names the file.
struct store_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class task_store {
public:
  /// Opens the store at `path`, creating it (and its folder) when absent,
  /// migrating it when an older actorq wrote it. Throws store_error if the
  /// file cannot be opened, is not an actorq store, is corrupt, was written
  /// by a newer actorq, or is in use by another process; such a file is
  /// left as it was. `full_sync`: every write is made durable (survives
  /// power loss, not only a crash of the process) before it counts as
  /// written: write() leaves that to sync_wal() (see wal_syncer.hpp), the
  /// rare writes of set_paused() do it themselves.
  static std::unique_ptr<task_store> open(const std::string& path,
                                          bool full_sync);
  ~task_store();
  task_store(const task_store&) = delete;
  task_store& operator=(const task_store&) = delete;

  const std::string& path() const {
    return path_;
  }

  /// Writes the rows in one transaction: inserts (row.insert) and state
  /// updates. Throws store_error; then nothing of the batch is written.
  /// Refuses (throws) once the path no longer names the open file.
  /// `marks`: schedules' fired slots (the later slot wins), in the same
  /// transaction.
  void write(const std::vector<task_row>& rows,
             const std::vector<schedule_mark>& marks = {});

  /// Whether write()'s rows still need fdatasync of the WAL to be durable
  /// (opened with full_sync).
  bool needs_sync() const {
    return full_sync_;
  }
  /// Whether the store actor flushes the WAL on a wal_syncer's thread while
  /// it writes the next batch (true), or right after each write on its own
  /// thread (for tests on CAF's deterministic scheduler, which does not see
  /// messages from other threads).
  bool sync_thread = true;
  /// The WAL file, for fdatasync on another thread (see wal_syncer.hpp);
  /// -1 if it cannot be opened. Opened once, after the first write.
  int wal_fd();
  /// fdatasync of the WAL on the calling thread: "" or why it failed
  /// (without the store's name).
  std::string sync_wal();
  /// Refuses every write from now on, until the store is closed (an
  /// fdatasync failed: what the disk holds is unknown); `why` is what
  /// check_path() and GET /healthz say from then on.
  void refuse_writes(const std::string& why);

  /// Every schedule's latest fired slot (read at start).
  std::vector<schedule_mark> schedule_marks();

  /// Whether `path()` still names the file this store has open (same device
  /// and inode): empty if so, else why not (naming the path). Once the file
  /// was deleted, renamed or replaced, the answer stays until the store is
  /// closed: a restart opens (or creates) whatever the path names then.
  /// Thread-safe; also publishes the problem for store_problem().
  std::string check_path();

  /// Every task that had not ended, oldest first, with what it takes to run it.
  std::vector<task_row> load_live();

  /// Tasks that ended with their completion callback still pending (the
  /// sender resumes them), oldest first, with their specs.
  std::vector<task_row> load_pending_callbacks();

  /// The highest sequence number ever stored (0 for a new store).
  uint64_t last_seq();

  /// Tasks that ended before `cutoff` (ms since epoch) count as gone.
  std::optional<task_view> get(const task_id& id, int64_t cutoff);
  /// The newest task with this idempotency key, with its spec (the
  /// registry compares its request_hash with a repeated submission's).
  std::optional<task_row> find_key(const std::string& key, int64_t cutoff);

  /// The input JSON text task `id` was submitted with (for the dashboard's
  /// task detail; the registry keeps no inputs in memory).
  std::optional<std::string> input(const task_id& id, int64_t cutoff);

  /// Task `id` with everything it takes to run it again (POST .../retry).
  std::optional<task_row> row(const task_id& id, int64_t cutoff);

  /// The pools an operator paused (and did not resume), by name.
  std::vector<std::string> paused_pools();
  /// Remembers that `pool` is paused, or forgets it. Throws store_error.
  void set_paused(const std::string& pool, bool paused);

  /// Tasks with seq <= filter.cursor, newest first (filter.cursor > 0).
  task_page list(const task_filter& filter, int64_t cutoff);

  /// Deletes the tasks that ended before `cutoff`; returns how many.
  size_t expire(int64_t cutoff);

  /// Waits until the id index file has every task written so far (tests).
  void flush_ids();
  /// Ids not yet in the id index file (tests).
  size_t unindexed() const;

private:
  task_store(sqlite3* db, std::string path);
  /// Runs `sql` (no result rows); throws store_error saying `what` failed.
  void exec(const char* sql, const char* what);
  /// The first column of the first row of `sql`.
  int64_t query_int(const char* sql, const char* what);
  // The steps of open(), in order.
  /// Whether the file is new (empty); refuses one that is not an actorq
  /// store, is corrupt or is locked by another process.
  bool identify();
  /// The schema version of an existing store, after refusing a version
  /// this actorq cannot use or a file that fails PRAGMA quick_check.
  int64_t checked_version();
  /// Takes the exclusive lock, held until the store closes.
  void lock();
  /// WAL mode, synchronous NORMAL (see open()), caches in memory.
  void configure(bool full_sync);
  void create_schema();
  void prepare_statements();
  /// Notes the file's device and inode, for check_path.
  void remember_file();
  /// Brings a store of an older schema `version` up to date in one
  /// transaction, after copying it to <path>.bak-v<version>.
  void migrate(int version);
  void check(int rc, const char* what);
  /// Every task row (spec included) matching the SQL `condition`, by seq.
  std::vector<task_row> rows_where(const char* condition);
  /// Upserts the schedules' fired slots (inside write's transaction).
  void write_marks(const std::vector<schedule_mark>& marks);
  sqlite3_stmt* prepare(const char* sql);
  /// Steps a bound view query: its row as a task, or none.
  std::optional<task_view> read_one(sqlite3_stmt* st);
  /// Prepares `st` as "SELECT columns FROM tasks WHERE seq = ?" for task
  /// `id` (not expired before `cutoff`) and steps it: true on a row.
  bool select_by_id(sqlite3_stmt*& st, const std::string& columns,
                    const task_id& id, int64_t cutoff);
  /// Adds the tasks above seq `through` to the id index (at open).
  void index_newer(uint64_t through);
  [[noreturn]] void fail(const std::string& what);

  sqlite3* db_;
  std::string path_;
  bool full_sync_ = false;
  int wal_fd_ = -1;
  dev_t dev_ = 0; // of the file opened at `path_`
  ino_t ino_ = 0;
  std::atomic<bool> gone_{false}; // the path no longer names our file
  std::mutex gone_mutex_;
  std::string gone_why_;
  /// Records `message` as why the store takes no more writes (the first
  /// reason stays), logs it and shows it in GET /healthz; the reason kept.
  std::string mark_gone(std::string message);
  /// Task id → seq, in a file of its own (<path>-ids; see id_index.hpp).
  std::unique_ptr<id_index> ids_;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* update_ = nullptr;
  sqlite3_stmt* by_seq_ = nullptr;
  sqlite3_stmt* by_key_ = nullptr;
  sqlite3_stmt* expire_ = nullptr;
};

/// Why the store cannot take writes now, for GET /healthz: its file is gone
/// (task_store::check_path) or a write is stalled (note_store_stall); empty
/// when neither. One store per process, so this is process-wide.
std::string store_problem();
/// The registry's view of a write that did not complete within
/// store.write-timeout (empty: none pending any more).
void note_store_stall(std::string why);

/// Checks the store's path every `every` on a thread of its own, so that a
/// deleted or replaced file is noticed (and reported) even while the store
/// actor waits on a write or has nothing to do.
class path_watcher {
public:
  path_watcher(std::shared_ptr<task_store> db, std::chrono::milliseconds every);
  ~path_watcher();
  path_watcher(const path_watcher&) = delete;
  path_watcher& operator=(const path_watcher&) = delete;

private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

struct store_state {
  static inline const char* name = "actorq.store";
  std::shared_ptr<task_store> db;
  std::unique_ptr<path_watcher> watcher;
  // With db->needs_sync(): a written batch is answered once the syncer has
  // flushed the WAL past its ticket; batches are answered in order (a failed
  // one waits for those before it). Declared after `db`: destroyed first,
  // its last fdatasync still has the WAL open.
  // An early batch (store_batch.early) was answered when written; its entry
  // only counts it (metrics, failures) once synced.
  struct unsynced_batch {
    uint64_t ticket; // answered once synced >= ticket
    caf::typed_response_promise<store_batch> promise; // unused if early
    store_batch batch;                                // empty if early
    std::chrono::steady_clock::time_point began; // written from (metrics)
    size_t rows;                                 // in the batch
    bool early;
  };
  std::deque<unsynced_batch> unsynced;
  uint64_t written = 0; // tickets of batches written (needing a sync)
  uint64_t synced = 0;  // every ticket <= synced is on disk
  // Who else the syncer tells that the WAL is on disk: the sender of the
  // early batches (the registry). Set on the store's thread, read on the
  // syncer's.
  struct sync_listener {
    std::mutex mutex;
    caf::actor_addr addr;
  };
  std::shared_ptr<sync_listener> listener
    = std::make_shared<sync_listener>();
  caf::actor_addr listening; // the store's copy of listener->addr
  std::unique_ptr<wal_syncer> syncer; // null: write() syncs inline
  int64_t result_ttl_ms = 0; // 0 = keep forever
  uint64_t batches = 0;        // committed or failed
  uint64_t failed_batches = 0;
  size_t largest_batch = 0;    // rows
  std::shared_ptr<metrics> meters; // null: metrics off

  /// Tasks that ended before this time are gone (INT64_MIN: none are).
  int64_t cutoff() const;
};

/// Spawn detached (SQLite blocks). The registry links itself to the store, so
/// the store writes the registry's last batch and then ends with it.
store_actor::behavior_type store(store_actor::stateful_pointer<store_state> self,
                                 std::shared_ptr<task_store> db,
                                 int64_t result_ttl_ms,
                                 std::shared_ptr<metrics> meters);

} // namespace actorq
