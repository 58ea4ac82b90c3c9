// A pool's waiting jobs: first in, first out over all of them, with one queue
// per kind inside, so that a worker which runs only some kinds (a worker
// node's, a remote program's) finds the oldest job it can run without
// scanning the jobs it cannot. A plain class: the pool actor composes it.
#pragma once

#include "actors/actors.hpp"

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace actorq {

class job_queue {
public:
  /// Which kinds a worker runs: can_run[kind], for kind indices of the
  /// catalog; kinds past its end are not run.
  using kind_mask = std::vector<bool>;

  /// Appends a job of kind `kind` (the catalog's index).
  void push_back(uint32_t kind, job j);

  /// Puts a job in front of every other (its attempt was lost: it goes
  /// first again).
  void push_front(uint32_t kind, job j);

  /// The oldest job whose kind is in `mask`, or null; stays queued.
  const job* peek(const kind_mask& mask) const;

  /// The kind of the oldest job whose kind is in `mask`, or -1.
  int peek_kind(const kind_mask& mask) const {
    return oldest(mask);
  }

  /// Whether a job of kind `kind` waits.
  bool has(uint32_t kind) const {
    return kind < by_kind_.size() && !by_kind_[kind].empty();
  }

  /// Takes the oldest job whose kind is in `mask`.
  std::optional<job> pop(const kind_mask& mask);

  /// Takes the oldest job of kind `kind` (one peek_kind found waiting).
  job pop_kind(uint32_t kind);

  /// Takes the job of this listener and key, wherever it waits.
  std::optional<job> remove(const caf::actor_addr& listener, uint64_t key);

  size_t size() const {
    return size_;
  }
  bool empty() const {
    return size_ == 0;
  }

private:
  struct entry {
    int64_t stamp; // order of arrival; push_front goes below every other
    job j;
  };

  /// The non-empty kind queue in `mask` with the oldest front, or -1.
  int oldest(const kind_mask& mask) const;
  std::deque<entry>& queue_of(uint32_t kind);
  void taken(uint32_t kind);

  std::vector<std::deque<entry>> by_kind_;
  std::vector<uint32_t> active_; // kinds with waiting jobs
  int64_t next_back_ = 0;
  int64_t next_front_ = -1;
  size_t size_ = 0;
};

} // namespace actorq
