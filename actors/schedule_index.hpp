// The registry's scheduled tasks by due time, and its long-polls by
// deadline: a binary min-heap of (due, seq), 16 bytes per entry, so the
// registry keeps ONE timer for the earliest instead of one per task.
//
// Removal is lazy: a task cancelled while scheduled stays in the heap and
// comes out of take_due like the others; the registry skips tasks that are
// no longer scheduled. A task is pushed once (when created or recovered).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace actorq {

class schedule_index {
public:
  /// Task `seq` is due at `due` (ms since the Unix epoch).
  void push(int64_t due, uint64_t seq);

  /// The earliest due time, if any task waits.
  std::optional<int64_t> earliest() const;

  /// Removes and returns the seqs due at or before `now`, earliest first
  /// (ties in push order of seq: lower seq first).
  std::vector<uint64_t> take_due(int64_t now);

  size_t size() const {
    return heap_.size();
  }

private:
  struct entry {
    int64_t due;
    uint64_t seq;
  };
  std::vector<entry> heap_;
};

} // namespace actorq
