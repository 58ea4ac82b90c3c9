// The registry's batches between "written" and "on disk".
//
// The store answers one of the registry's batches as soon as its rows are
// written, with a ticket; the store's WAL syncer then tells the registry
// directly, from its own thread, up to which ticket the WAL is on disk.
// That saves the commit path a thread hop (the syncer no longer reports
// through the store's mailbox) and frees the store for the next batch while
// the fdatasync runs. The two messages come from different threads, so
// either may reach the registry first; this queue pairs them and releases
// the batches strictly in the order they were written: a batch's
// submitters are answered only once every earlier batch is settled.
#pragma once

#include "actors/actors.hpp"

#include <deque>
#include <string>
#include <vector>

namespace actorq {

class sync_queue {
public:
  /// The store's answer to a batch. `batch.ticket` 0: settled already
  /// (committed and on disk, or failed with `error` set); else on disk once
  /// a report reaches its ticket.
  void written(store_batch batch);

  /// The syncer's report: every ticket up to `ticket` is on disk (error
  /// empty), or its fdatasync failed (those batches fail with `error`).
  void synced(uint64_t ticket, const std::string& error);

  /// The store is gone: no report will come; every batch still waiting
  /// fails with `error`.
  void fail_all(const std::string& error);

  /// Moves out the batches now settled, oldest first, up to the first that
  /// is still waiting for its sync.
  std::vector<store_batch> take_settled();

  /// Batches written and not yet taken.
  size_t size() const {
    return batches_.size();
  }

private:
  struct entry {
    store_batch batch;
    bool settled;
  };
  struct report {
    uint64_t ticket;
    std::string error;
  };

  static void settle(entry& e, const std::string& error);

  std::deque<entry> batches_;  // in the order written
  std::deque<report> reports_; // ahead of the store's answers they cover
  uint64_t last_ticket_ = 0;   // the highest ticket the store answered with
};

} // namespace actorq
