#include "actors/id_index.hpp"

#include "actors/log.hpp"
#include "actors/sqlite_util.hpp"
#include "actors/store.hpp" // store_error

#include <pthread.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>

namespace actorq {

namespace {

/// "actI": marks a SQLite file as a store's id index.
constexpr int application_id = 0x61637449;
/// Bumped when the file's tables change: an older one is started afresh.
constexpr int format_version = 1;

constexpr const char* schema = R"(
CREATE TABLE ids (id BLOB PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE watermark (through INTEGER NOT NULL); -- one row
INSERT INTO watermark VALUES (0);
)";

} // namespace

id_index::id_index(std::string path, size_t bulk)
  : path_(std::move(path)),
    bulk_(std::max<size_t>(bulk, 1)),
    max_pending_(8 * bulk_) {
  open_file();
  thread_ = std::thread{[this] {
    pthread_setname_np(pthread_self(), "actorq.ids"); // for top and perf
    run();
  }};
}

id_index::~id_index() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
  sqlite3_finalize(find_);
  sqlite3_close(reader_);
  sqlite3_close(writer_);
}

void id_index::open_file() {
  auto fail = [&](const std::string& why) {
    sqlite3_close(writer_);
    writer_ = nullptr;
    throw store_error("id index " + path_ + ": " + why);
  };
  auto exec = [&](const char* sql) {
    if (sqlite3_exec(writer_, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
      fail(sqlite3_errmsg(writer_));
  };
  auto read_int = [&](const char* sql) -> std::optional<int64_t> {
    stmt_owner s;
    if (sqlite3_prepare_v2(writer_, sql, -1, &s.st, nullptr) != SQLITE_OK
        || sqlite3_step(s.st) != SQLITE_ROW)
      return std::nullopt;
    return sqlite3_column_int64(s.st, 0);
  };
  for (int tries = 0;; ++tries) {
    auto flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path_.c_str(), &writer_, flags, nullptr) != SQLITE_OK)
      fail(std::string{"cannot open: "} + sqlite3_errmsg(writer_));
    auto app = read_int("PRAGMA application_id");
    auto objects = read_int("SELECT count(*) FROM sqlite_schema");
    if (!app || !objects)
      fail("not an id index of actorq (not a SQLite database); refusing to "
           "touch it");
    bool fresh = *app == 0 && *objects == 0;
    // Only a file marked as ours is ever started afresh (deleted).
    if (!fresh && *app != application_id)
      fail("not an id index of actorq (a SQLite database of another "
           "application); refusing to touch it");
    if (fresh) {
      exec("PRAGMA journal_mode = WAL");
      exec("BEGIN");
      exec(schema);
      exec(("PRAGMA application_id = " + std::to_string(application_id)).c_str());
      exec(("PRAGMA user_version = " + std::to_string(format_version)).c_str());
      exec("COMMIT");
    }
    auto version = read_int("PRAGMA user_version");
    auto through = read_int("SELECT through FROM watermark");
    if (version == format_version && through) {
      through_at_open_ = static_cast<uint64_t>(*through);
      break;
    }
    // Ours, but of another version or unreadable: everything in it can be
    // derived from the store, so it starts afresh.
    sqlite3_close(writer_);
    writer_ = nullptr;
    if (tries > 0)
      throw store_error("id index " + path_ + ": cannot be created");
    for (auto suffix : {"", "-wal", "-shm"})
      std::remove((path_ + suffix).c_str());
    log::event(log::level::warn, "id_index_rebuilt",
               {{"msg", "the id index " + path_
                          + " was of another version or unreadable; it is "
                            "built again from the store"}});
  }
  // Small page caches: a bulk walks the index in order, and a lookup is
  // one descent (the OS caches the file anyway).
  exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
       " PRAGMA cache_size = -1024");
  if (sqlite3_open_v2(path_.c_str(), &reader_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr)
          != SQLITE_OK
      || sqlite3_exec(reader_, "PRAGMA cache_size = -256", nullptr, nullptr,
                      nullptr) != SQLITE_OK
      || sqlite3_prepare_v3(reader_, "SELECT seq FROM ids WHERE id = ?", -1,
                            SQLITE_PREPARE_PERSISTENT, &find_, nullptr)
             != SQLITE_OK)
    fail(std::string{"cannot open for reading: "} + sqlite3_errmsg(reader_));
}

void id_index::add(const std::vector<std::pair<task_id, uint64_t>>& tasks) {
  if (tasks.empty())
    return;
  bool full;
  {
    std::unique_lock<std::mutex> lock{mutex_};
    if (pending_.size() >= max_pending_) {
      wake_.notify_one();
      // Not while writes fail: the store stays up, only memory grows.
      written_.wait(lock, [this] {
        return pending_.size() < max_pending_ || failing_;
      });
    }
    for (auto& [id, seq] : tasks)
      pending_.emplace(id, seq);
    added_through_ = std::max(added_through_, tasks.back().second);
    ++epoch_;
    full = pending_.size() >= bulk_;
  }
  if (full)
    wake_.notify_one();
}

void id_index::remove(const std::vector<task_id>& ids) {
  if (ids.empty())
    return;
  std::lock_guard<std::mutex> guard{mutex_};
  for (auto& id : ids) {
    pending_.erase(id);
    removes_.insert(id);
  }
  ++epoch_;
}

std::optional<uint64_t> id_index::find(const task_id& id) {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (auto i = pending_.find(id); i != pending_.end())
      return i->second;
    if (removes_.count(id) > 0)
      return std::nullopt; // still in the file until the next write
  }
  // Written before it left pending_: a new read sees that commit.
  bind_id(find_, 1, id);
  auto rc = sqlite3_step(find_);
  std::optional<uint64_t> seq;
  if (rc == SQLITE_ROW)
    seq = static_cast<uint64_t>(sqlite3_column_int64(find_, 0));
  sqlite3_reset(find_);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    throw store_error("id index " + path_ + ": cannot read: "
                      + sqlite3_errmsg(reader_));
  return seq;
}

void id_index::flush() {
  std::unique_lock<std::mutex> lock{mutex_};
  auto want = epoch_;
  requested_ = std::max(requested_, want);
  wake_.notify_one();
  written_.wait(lock, [&] { return written_epoch_ >= want || failing_; });
}

size_t id_index::pending() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return pending_.size();
}

void id_index::run() {
  std::unique_lock<std::mutex> lock{mutex_};
  auto due = [this] {
    return stop_ || requested_ > written_epoch_ || pending_.size() >= bulk_;
  };
  for (;;) {
    if (pending_.empty() && removes_.empty())
      wake_.wait(lock, [&] { return due() || !pending_.empty() || !removes_.empty(); });
    // Wait for a full bulk, at most max_delay.
    wake_.wait_for(lock, max_delay, due);
    if (pending_.empty() && removes_.empty()) {
      written_epoch_ = epoch_;
      written_.notify_all();
      if (stop_)
        return;
      continue;
    }
    std::vector<std::pair<task_id, uint64_t>> adds(pending_.begin(),
                                                   pending_.end());
    std::vector<task_id> removes(removes_.begin(), removes_.end());
    auto through = added_through_;
    auto epoch = epoch_;
    lock.unlock();
    bool ok = true;
    try {
      write(adds, removes, through);
    } catch (const store_error& e) {
      ok = false;
      log::event(log::level::warn, "store_error", {{"msg", e.what()}});
    }
    lock.lock();
    failing_ = !ok;
    if (!ok)
      written_.notify_all();
    if (ok) {
      for (auto& id : removes)
        removes_.erase(id);
      for (auto& [id, seq] : adds)
        if (auto i = pending_.find(id); i != pending_.end() && i->second == seq)
          pending_.erase(i);
      written_epoch_ = std::max(written_epoch_, epoch);
      written_.notify_all();
    } else {
      // Still findable in pending_ (and removes_ still hides the removed
      // ones); tried again after max_delay.
      if (stop_)
        return; // the store adds them again at its next open
      wake_.wait_for(lock, max_delay, [this] { return stop_; });
    }
  }
}

void id_index::write(std::vector<std::pair<task_id, uint64_t>>& adds,
                     const std::vector<task_id>& removes, uint64_t through) {
  // Sorted: the inserts walk the tree's pages in order.
  std::sort(adds.begin(), adds.end(), [](auto& a, auto& b) {
    return a.first.hi != b.first.hi ? a.first.hi < b.first.hi
                                    : a.first.lo < b.first.lo;
  });
  auto check = [this](int rc) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE)
      throw store_error("id index " + path_ + ": cannot write: "
                        + sqlite3_errmsg(writer_));
  };
  check(sqlite3_exec(writer_, "BEGIN", nullptr, nullptr, nullptr));
  try {
    stmt_owner ins, del, mark;
    check(sqlite3_prepare_v2(writer_,
                             "INSERT OR REPLACE INTO ids (id, seq) VALUES (?, ?)",
                             -1, &ins.st, nullptr));
    check(sqlite3_prepare_v2(writer_, "DELETE FROM ids WHERE id = ?", -1,
                             &del.st, nullptr));
    check(sqlite3_prepare_v2(writer_,
                             "UPDATE watermark SET through = max(through, ?)",
                             -1, &mark.st, nullptr));
    for (auto& [id, seq] : adds) {
      bind_id(ins.st, 1, id);
      sqlite3_bind_int64(ins.st, 2, static_cast<int64_t>(seq));
      check(sqlite3_step(ins.st));
      sqlite3_reset(ins.st);
    }
    for (auto& id : removes) {
      bind_id(del.st, 1, id);
      check(sqlite3_step(del.st));
      sqlite3_reset(del.st);
    }
    sqlite3_bind_int64(mark.st, 1, static_cast<int64_t>(through));
    check(sqlite3_step(mark.st));
    check(sqlite3_exec(writer_, "COMMIT", nullptr, nullptr, nullptr));
  } catch (...) {
    sqlite3_exec(writer_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

} // namespace actorq
