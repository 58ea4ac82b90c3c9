// Group commit's fsync on a thread of its own. The store commits a batch
// with SQLite's synchronous=NORMAL (the rows reach the WAL, not yet the
// disk) and asks this class to fdatasync the WAL; only then are the batch's
// submitters answered. That is what synchronous=FULL does inside COMMIT,
// but there the store's thread sat idle for the whole flush (about half of
// each commit); here it writes the next batch meanwhile, and one fdatasync
// covers every batch written before it started.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace actorq {

class wal_syncer {
public:
  /// Called on the syncer's thread after each fdatasync, tickets rising:
  /// everything requested up to `ticket` is on disk (error empty), or the
  /// fdatasync failed (error says why; nothing up to `ticket` is known to
  /// be on disk).
  using callback = std::function<void(uint64_t ticket, std::string error)>;

  explicit wal_syncer(callback synced);
  /// Syncs what was requested and not yet synced, then stops (no callback
  /// for that last flush: shutdown only needs it on disk).
  ~wal_syncer();
  wal_syncer(const wal_syncer&) = delete;
  wal_syncer& operator=(const wal_syncer&) = delete;

  /// Makes what was written to `fd` so far durable; `ticket` is larger than
  /// every earlier one. Requests that arrive during a flush share the next.
  void request(int fd, uint64_t ticket);

private:
  void run();

  callback synced_;
  std::mutex mutex_;
  std::condition_variable wake_;
  int fd_ = -1;
  uint64_t requested_ = 0; // highest ticket asked for
  uint64_t done_ = 0;      // highest ticket flushed (or failed)
  bool stop_ = false;
  std::thread thread_;
};

} // namespace actorq
