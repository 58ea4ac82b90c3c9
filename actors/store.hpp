// The durable task store: every task in one SQLite file (WAL mode), written in
// batches by the registry (group commit) and read back for tasks the registry
// no longer keeps in memory. `task_store` is the file; `store` is the actor
// that owns it on a thread of its own.
#pragma once

#include "actors/actors.hpp"

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace actorq {

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
  /// left as it was. `full_sync`: fsync every commit (survives power loss, not only a
  /// crash of the process).
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
  void write(const std::vector<task_row>& rows);

  /// Every task that had not ended, oldest first, with what it takes to run it.
  std::vector<task_row> load_live();

  /// The highest sequence number ever stored (0 for a new store).
  uint64_t last_seq();

  /// Tasks that ended before `cutoff` (ms since epoch) count as gone.
  std::optional<task_view> get(const task_id& id, int64_t cutoff);
  std::optional<task_view> find_key(const std::string& key, int64_t cutoff);

  /// Tasks with seq <= filter.cursor, newest first (filter.cursor > 0).
  task_page list(const task_filter& filter, int64_t cutoff);

  /// Deletes the tasks that ended before `cutoff`; returns how many.
  size_t expire(int64_t cutoff);

private:
  task_store(sqlite3* db, std::string path);
  /// Brings a store of an older schema `version` up to date in one
  /// transaction, after copying it to <path>.bak-v<version>.
  void migrate(int version);
  void check(int rc, const char* what);
  sqlite3_stmt* prepare(const char* sql);
  /// Steps a bound view query: its row as a task, or none.
  std::optional<task_view> read_one(sqlite3_stmt* st);
  [[noreturn]] void fail(const std::string& what);

  sqlite3* db_;
  std::string path_;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* update_ = nullptr;
  sqlite3_stmt* by_id_ = nullptr;
  sqlite3_stmt* by_key_ = nullptr;
  sqlite3_stmt* expire_ = nullptr;
};

struct store_state {
  static inline const char* name = "actorq.store";
  std::shared_ptr<task_store> db;
  int64_t result_ttl_ms = 0; // 0 = keep forever
  uint64_t batches = 0;        // committed or failed
  uint64_t failed_batches = 0;
  size_t largest_batch = 0;    // rows

  /// Tasks that ended before this time are gone (INT64_MIN: none are).
  int64_t cutoff() const;
};

/// Spawn detached (SQLite blocks). The registry links itself to the store, so
/// the store writes the registry's last batch and then ends with it.
store_actor::behavior_type store(store_actor::stateful_pointer<store_state> self,
                                 std::shared_ptr<task_store> db,
                                 int64_t result_ttl_ms);

} // namespace actorq
