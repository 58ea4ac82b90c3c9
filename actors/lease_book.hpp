// The lease desk's books: which attempts are leased to which HTTP worker
// until when, what became of leases that can no longer be settled (for the
// 409s of docs/leases.md), and the workers seen. A plain class: the lease
// desk actor composes it; no messages, no clock of its own (times are
// passed in, milliseconds of a monotonic clock).
#pragma once

#include "actors/actors.hpp"

#include <cstdint>
#include <deque>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

namespace actorq {

class lease_book {
public:
  /// Settled leases are remembered this long, and at most this many.
  static constexpr int64_t remember_ms = 10 * 60 * 1000;
  static constexpr size_t remember_max = 200'000;
  /// Workers not seen for this long (and holding nothing) are forgotten.
  static constexpr int64_t worker_seen_ms = 60 * 1000;
  /// Most distinct worker names kept; beyond, new names share one entry.
  static constexpr size_t max_workers = 10'000;
  static constexpr const char* overflow_name = "(more workers)";

  /// One leased attempt.
  struct lease {
    task_id id;
    uint32_t pool = 0; // the catalog's pool index
    uint64_t seq = 0;  // the pool's attempt number
    uint32_t worker = 0;
    int64_t ttl_ms = 0;
    int64_t deadline = 0; // expires then unless renewed
    // Set once the attempt can no longer be settled (cancelled, timed out):
    // the worker's next call gets 409 with this code.
    std::string dead_code;
    std::string dead_detail;
  };

  /// Why a lease id cannot be settled (any more).
  struct refusal {
    int status = 404;
    std::string code = "not_found";
    std::string detail;
  };

  /// A worker as GET /v1/workers shows it, but last_seen in monotonic ms.
  using worker_stats = lease_worker_view;

  /// The worker named `name` was seen now, asking for `kinds` (may be
  /// empty: a heartbeat or settle); returns its index.
  uint32_t touch(const std::string& name, const std::vector<std::string>& kinds,
                 int64_t now);

  /// Worker `worker` (an index from touch) was seen now.
  void seen(uint32_t worker, int64_t now) {
    if (worker < workers_.size())
      workers_[worker].last_seen = now;
  }

  /// Leases attempt `seq` of pool `pool` to `worker` for `ttl_ms`.
  const lease& issue(uint32_t pool, uint64_t seq, uint32_t worker,
                     int64_t ttl_ms, int64_t now);

  /// The live lease with this id, or null (then `why` says why).
  lease* find(const task_id& id, refusal& why);

  /// The lease of attempt `seq` of pool `pool`, or null.
  lease* find(uint32_t pool, uint64_t seq);

  /// Renews a lease: it now expires ttl from `now`.
  void renew(lease& l, int64_t now);

  /// Ends a lease (settled by its worker, or released after a 409 or its
  /// expiry); later calls on its id get `after`. `ok`: counted as the
  /// worker's completed, else failed (not counted when `count` is false).
  void close(const task_id& id, refusal after, bool ok, bool count = true);

  /// Leases past their deadline at `now`, still in the book (the caller
  /// settles and closes each).
  std::vector<lease> expired(int64_t now);

  /// Forgets old settled leases and idle workers.
  void trim(int64_t now);

  /// Workers seen within worker_seen_ms or holding leases.
  std::vector<worker_stats> workers(int64_t now) const;

  size_t size() const {
    return leases_.size();
  }

private:
  static uint64_t attempt_key(uint32_t pool, uint64_t seq) {
    return (uint64_t{pool} << 56) | seq;
  }

  struct deadline_entry {
    int64_t at;
    task_id id;
    bool operator>(const deadline_entry& other) const {
      return at > other.at;
    }
  };

  struct settled {
    refusal why;
    int64_t until;
  };

  std::unordered_map<task_id, lease, task_id_hash> leases_;
  std::unordered_map<uint64_t, task_id> by_attempt_;
  // Renewals push a new entry; stale ones are skipped when they come up.
  std::priority_queue<deadline_entry, std::vector<deadline_entry>,
                      std::greater<deadline_entry>>
      deadlines_;
  std::unordered_map<task_id, settled, task_id_hash> settled_;
  std::deque<std::pair<int64_t, task_id>> settled_order_; // (until, id)
  std::vector<worker_stats> workers_; // a forgotten one has an empty name
  std::vector<uint32_t> free_workers_; // entries to reuse
  std::unordered_map<std::string, uint32_t> worker_by_name_;
  int64_t now_ = 0; // the latest time seen (for settled_ expiry)
};

} // namespace actorq
