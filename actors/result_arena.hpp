// The registry's result texts, appended to one buffer: a task's result costs
// its bytes plus a 12-byte entry in its record, with no allocation per task.
//
// Released texts stay in the buffer until a compaction rewrites it with only
// the live entries; the owner of the entries says which ones are live (the
// arena does not know where they are) and gets their new offsets.
#pragma once

#include "actors/task_index.hpp" // function_ref

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace actorq {

class result_arena {
public:
  /// Where one text is in the buffer. Size 0 = no text (JSON null).
  struct entry {
    uint64_t offset = 0;
    uint32_t size = 0;

    bool empty() const {
      return size == 0;
    }
  };

  /// Compaction is only worth it past this buffer size...
  static constexpr size_t min_compaction_bytes = size_t{1} << 20;
  // ...and once less than half the buffer is live.

  /// Appends `text`; the entry is live until released.
  entry append(std::string_view text);

  /// The text of a live entry (valid until the next append or compaction).
  std::string_view view(const entry& e) const {
    return std::string_view{buffer_}.substr(e.offset, e.size);
  }

  /// `e` is no longer referenced; it becomes empty. No-op when empty.
  void release(entry& e);

  /// Bytes in the buffer, live or not.
  size_t size() const {
    return buffer_.size();
  }

  /// Bytes of live entries.
  uint64_t live_bytes() const {
    return live_bytes_;
  }

  /// At least min_compaction_bytes and less than half of it live.
  bool wants_compaction() const;

  /// Called once with `keep`, it passes every live entry to `keep`.
  using keep_fn = function_ref<void(entry&)>;
  using live_entries_fn = function_ref<void(keep_fn)>;

  /// Rewrites the buffer with only the entries `live` passes to `keep`, in
  /// that order, and updates their offsets. Entries not passed are dropped:
  /// they must have been released (or never be read again).
  void compact(live_entries_fn live);

private:
  std::string buffer_;
  uint64_t live_bytes_ = 0;
};

} // namespace actorq
