#include "actors/schedule_index.hpp"

#include <algorithm>

namespace actorq {

namespace {

/// std::push_heap/pop_heap build a max-heap: "later" puts the earliest
/// (then the lowest seq) on top.
struct later {
  template <class Entry>
  bool operator()(const Entry& a, const Entry& b) const {
    return a.due != b.due ? a.due > b.due : a.seq > b.seq;
  }
};

} // namespace

void schedule_index::push(int64_t due, uint64_t seq) {
  heap_.push_back({due, seq});
  std::push_heap(heap_.begin(), heap_.end(), later{});
}

std::optional<int64_t> schedule_index::earliest() const {
  if (heap_.empty())
    return std::nullopt;
  return heap_.front().due;
}

std::vector<uint64_t> schedule_index::take_due(int64_t now) {
  std::vector<uint64_t> out;
  while (!heap_.empty() && heap_.front().due <= now) {
    std::pop_heap(heap_.begin(), heap_.end(), later{});
    out.push_back(heap_.back().seq);
    heap_.pop_back();
  }
  if (heap_.empty())
    heap_.shrink_to_fit(); // a burst of 100 000 gives its memory back
  return out;
}

} // namespace actorq
