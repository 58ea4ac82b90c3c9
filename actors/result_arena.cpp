#include "actors/result_arena.hpp"

namespace actorq {

result_arena::entry result_arena::append(std::string_view text) {
  entry e;
  e.offset = buffer_.size();
  e.size = static_cast<uint32_t>(text.size());
  live_bytes_ += e.size;
  buffer_ += text;
  return e;
}

void result_arena::release(entry& e) {
  live_bytes_ -= e.size;
  e.size = 0;
}

bool result_arena::wants_compaction() const {
  return buffer_.size() >= min_compaction_bytes
         && buffer_.size() >= 2 * live_bytes_;
}

void result_arena::compact(live_entries_fn live) {
  std::string fresh;
  fresh.reserve(live_bytes_ + live_bytes_ / 2);
  live([&](entry& e) {
    if (e.empty())
      return;
    auto offset = fresh.size();
    fresh.append(buffer_, e.offset, e.size);
    e.offset = offset;
  });
  buffer_ = std::move(fresh);
}

} // namespace actorq
