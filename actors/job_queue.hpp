// A pool's waiting jobs: the highest priority first, first in, first out
// within one, with one queue per kind and priority level inside, so that a
// worker which runs only some kinds (a worker node's, a remote program's)
// finds the next job it can run without scanning the jobs it cannot.
// Starvation guard: a job that waited `boost` is taken as one level higher,
// one more per further period; computed when taking (from the oldest job of
// each level), not by timers. A plain class: the pool actor composes it.
#pragma once

#include "actors/actors.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace actorq {

class job_queue {
public:
  using clock = std::chrono::steady_clock;

  /// Which kinds a worker runs: can_run[kind], for kind indices of the
  /// catalog; kinds past its end are not run.
  using kind_mask = std::vector<bool>;

  /// `boost`: how long a job waits before it counts one level higher
  /// (pools.NAME.max-wait-boost); zero = never.
  explicit job_queue(clock::duration boost = std::chrono::seconds{60})
      : boost_(boost) {}

  void set_boost(clock::duration boost) {
    boost_ = boost;
  }

  /// Appends a job of kind `kind` (the catalog's index) at its priority
  /// (j.spec.priority, clamped to 0..9); j.queued_since is its arrival
  /// for the starvation guard.
  void push_back(uint32_t kind, job j);

  /// Puts a job in front of every other of its priority (its attempt was
  /// lost: it goes first again).
  void push_front(uint32_t kind, job j);

  /// The next job whose kind is in `mask`, or null; stays queued. `now`
  /// is the time the starvation guard compares with.
  const job* peek(const kind_mask& mask, clock::time_point now) const;
  const job* peek(const kind_mask& mask) const {
    return peek(mask, now());
  }

  /// The kind of the next job whose kind is in `mask`, or -1.
  int peek_kind(const kind_mask& mask, clock::time_point now) const {
    return next(mask, now).kind;
  }

  /// Whether a job of kind `kind` waits.
  bool has(uint32_t kind) const {
    return kind < by_kind_.size() && by_kind_[kind].levels != 0;
  }

  /// Takes the next job whose kind is in `mask`.
  std::optional<job> pop(const kind_mask& mask, clock::time_point now);
  std::optional<job> pop(const kind_mask& mask) {
    return pop(mask, now());
  }

  /// Takes the next job of kind `kind` (one peek_kind found waiting).
  job pop_kind(uint32_t kind, clock::time_point now);

  /// The clock when jobs of several levels wait (the guard may matter),
  /// else a dummy: the FIFO fast path reads no clock. Pass one reading to
  /// a peek and the pop that follows it, so both see the same order.
  clock::time_point now() const {
    return several_levels() ? clock::now() : clock::time_point{};
  }

  /// Takes the job of this listener and key, wherever it waits.
  std::optional<job> remove(const caf::actor_addr& listener, uint64_t key);

  size_t size() const {
    return size_;
  }
  bool empty() const {
    return size_ == 0;
  }

private:
  static constexpr int level_count = max_priority + 1;

  struct entry {
    int64_t stamp; // order of arrival; push_front goes below every other
    job j;
  };

  struct kind_queue {
    std::array<std::deque<entry>, level_count> by_level;
    uint16_t levels = 0; // bit p: by_level[p] is not empty
  };

  /// Where the next job is: its kind and level; kind -1 = none.
  struct place {
    int kind = -1;
    int level = 0;
  };

  /// A level's head, the level it counts as now, and its arrival.
  struct choice {
    int level;
    int effective;
    int64_t stamp;
  };

  bool guarded() const {
    return boost_ > clock::duration::zero() && several_levels();
  }
  bool several_levels() const {
    return (levels_ & (levels_ - 1)) != 0;
  }

  place next(const kind_mask& mask, clock::time_point now) const;
  /// Which level of kind `kind` (some waiting) goes next.
  choice front_level(uint32_t kind, bool guard, clock::time_point now) const;
  job take(uint32_t kind, int level);
  int boosted(int level, const entry& head, clock::time_point now) const;
  std::deque<entry>& queue_of(uint32_t kind, int level);
  void taken(uint32_t kind, int level);

  std::vector<kind_queue> by_kind_;
  std::vector<uint32_t> active_;                  // kinds with waiting jobs
  std::array<uint32_t, level_count> per_level_{}; // waiting jobs per level
  uint16_t levels_ = 0; // bit p: some job of level p waits
  clock::duration boost_;
  int64_t next_back_ = 0;
  int64_t next_front_ = -1;
  size_t size_ = 0;
};

} // namespace actorq
