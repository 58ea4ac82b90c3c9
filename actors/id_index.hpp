// Task id → seq for the durable store, in a SQLite file of its own
// (<store>-ids), written in bulk on a thread of its own.
//
// Why not an index in the store: task ids are random (UUID v4), so an index
// on them takes one random page per insert, and every commit of the store
// wrote one 4 KiB WAL frame per new task for it (about a quarter of the
// store's CPU per task). Here new ids wait in memory (findable at once) and
// go to the file `bulk` at a time, sorted, in one transaction, where they
// share pages; the store's commits never wait for it. Everything in the file
// can be derived from the store: at open the store adds again the tasks
// above indexed_through(), so a crash loses nothing.
#pragma once

#include "actorq/gateway.hpp" // task_id, task_id_hash

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace actorq {

class id_index {
public:
  /// Ids written to the file in one transaction (at most; fewer after
  /// `max_delay`).
  static constexpr size_t default_bulk = 4096;
  static constexpr std::chrono::milliseconds max_delay{1000};

  /// Opens the index file at `path`, creating it when absent. One of this
  /// index's files that another actorq version wrote, or that is corrupt,
  /// is started afresh (indexed_through() is then 0); a file that is not
  /// one (another program's) throws store_error.
  explicit id_index(std::string path, size_t bulk = default_bulk);
  /// Writes what is pending, then stops its thread.
  ~id_index();
  id_index(const id_index&) = delete;
  id_index& operator=(const id_index&) = delete;

  /// Every task with a seq up to this is in the file (as of the open).
  uint64_t indexed_through() const {
    return through_at_open_;
  }
  /// Adds stored tasks, seqs ascending and above every earlier add's.
  /// find() sees them at once. Waits while `8 × bulk` ids are pending
  /// (the file falls behind a long overload): memory stays bounded, and
  /// the store writes no faster than its ids can be indexed.
  void add(const std::vector<std::pair<task_id, uint64_t>>& tasks);
  /// Forgets deleted tasks.
  void remove(const std::vector<task_id>& ids);
  /// The seq of task `id`, if it was added and not removed. Call from one
  /// thread only (it owns the reading connection).
  std::optional<uint64_t> find(const task_id& id);
  /// Waits until everything added or removed so far is in the file (or a
  /// write failed).
  void flush();
  /// Ids added and not yet in the file.
  size_t pending() const;

private:
  void run();
  /// Writes `adds` (sorted by id), `removes` and the new watermark.
  void write(std::vector<std::pair<task_id, uint64_t>>& adds,
             const std::vector<task_id>& removes, uint64_t through);
  void open_file();

  std::string path_;
  size_t bulk_;
  size_t max_pending_; // add() waits above this
  uint64_t through_at_open_ = 0;
  sqlite3* writer_ = nullptr; // the index's thread only
  sqlite3* reader_ = nullptr; // find()'s caller only
  sqlite3_stmt* find_ = nullptr;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable written_;
  std::unordered_map<task_id, uint64_t, task_id_hash> pending_;
  std::unordered_set<task_id, task_id_hash> removes_; // not yet in the file
  uint64_t added_through_ = 0; // highest seq added
  uint64_t requested_ = 0;     // flush(): write everything up to this epoch
  uint64_t epoch_ = 0;         // bumped by every add and remove
  uint64_t written_epoch_ = 0; // everything up to this epoch is in the file
  bool stop_ = false;
  bool failing_ = false; // the last write failed
  std::thread thread_;
};

} // namespace actorq
