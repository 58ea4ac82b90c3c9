// Results a pool holds until their time: a built-in kind with a simulated
// delay (`delay_ms`) computes its result at once, and the pool keeps the
// result and the slot busy until the delay is up. One timer of the pool
// serves every held result, so a fan-out of 10 000 one-second items arms a
// few timers instead of 10 000 in CAF's clock (whose queue admits 64 at a
// time: workers arming timers in a burst waited on its thread). A plain
// class with the time passed in, tested without a clock.
#pragma once

#include "actors/actors.hpp"

#include <optional>
#include <queue>
#include <unordered_map>
#include <utility>
#include <vector>

namespace actorq {

class delay_line {
public:
  using time_point = caf::actor_clock::time_point;

  /// Holds the result of attempt `done.seq` until `due`.
  void push(time_point due, attempt_done done);

  /// Takes out the held result of attempt `seq` before its time (cancelled,
  /// timed out); false if none is held.
  bool remove(uint64_t seq);

  /// Takes out every result due at `now`, earliest first.
  std::vector<attempt_done> pop_due(time_point now);

  /// When the earliest held result is due, if any.
  std::optional<time_point> next();

  size_t size() const {
    return held_.size();
  }

private:
  using entry = std::pair<time_point, uint64_t>; // due, seq
  // Earliest first; entries whose seq is no longer held were removed and
  // are skipped when they come up.
  std::priority_queue<entry, std::vector<entry>, std::greater<entry>> order_;
  std::unordered_map<uint64_t, attempt_done> held_;

  void drop_removed();
};

} // namespace actorq
