// Throughput history for the dashboard: how many jobs ended (completed or
// failed) in each wall-clock second of the last minutes, so that GET /v1/stats
// answers with rates the server measured rather than guesses of the browser.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace actorq {

/// Completed and failed counts per second over the last `capacity` seconds: a
/// ring in which second `s` lives in slot `s mod capacity`. A slot remembers
/// which second it holds, so seconds nobody recorded read as zero without
/// the ring ever being cleared.
class rate_history {
public:
  /// Counts summed over `seconds` seconds from `start` (s since the epoch).
  struct bucket {
    int64_t start = 0;
    uint64_t completed = 0;
    uint64_t failed = 0;
  };

  explicit rate_history(uint32_t capacity = 900);

  uint32_t capacity() const {
    return static_cast<uint32_t>(slots_.size());
  }

  /// Adds counts to second `at`. Counts for a second that has already left
  /// the ring (capacity or more behind the newest one) are dropped.
  void add(int64_t at, uint64_t completed, uint64_t failed);

  /// The seconds [end - window, end) in buckets of `step` seconds, oldest
  /// first. `window` is clamped to the capacity and rounded down to a
  /// multiple of `step` (at least one bucket).
  std::vector<bucket> series(int64_t end, uint32_t window, uint32_t step) const;

private:
  struct slot {
    int64_t second = INT64_MIN; // which second the counts belong to
    uint64_t completed = 0;
    uint64_t failed = 0;
  };

  const slot* find(int64_t second) const;

  std::vector<slot> slots_;
  int64_t newest_ = INT64_MIN;
};

/// Turns a cumulative counter (a pool's `completed`) into increments. The
/// first reading only sets the baseline: what was counted before we started
/// watching did not happen in our window. A reading below the last one means
/// the counter started over; it counts from zero.
class counter_delta {
public:
  uint64_t advance(uint64_t total);

private:
  std::optional<uint64_t> last_;
};

} // namespace actorq
