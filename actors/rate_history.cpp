#include "actors/rate_history.hpp"

#include <algorithm>

namespace actorq {

namespace {

/// `x mod n` in [0, n) for negative `x` too.
size_t ring_index(int64_t x, size_t n) {
  auto m = x % static_cast<int64_t>(n);
  return static_cast<size_t>(m < 0 ? m + static_cast<int64_t>(n) : m);
}

} // namespace

rate_history::rate_history(uint32_t capacity)
    : slots_(std::max<uint32_t>(capacity, 1)) {
}

void rate_history::add(int64_t at, uint64_t completed, uint64_t failed) {
  auto n = static_cast<int64_t>(slots_.size());
  if (newest_ != INT64_MIN && at <= newest_ - n)
    return; // its slot belongs to a newer second by now
  auto& s = slots_[ring_index(at, slots_.size())];
  if (s.second != at)
    s = slot{at, 0, 0}; // an older second's counts: overwritten
  s.completed += completed;
  s.failed += failed;
  newest_ = std::max(newest_, at);
}

const rate_history::slot* rate_history::find(int64_t second) const {
  auto& s = slots_[ring_index(second, slots_.size())];
  return s.second == second ? &s : nullptr;
}

std::vector<rate_history::bucket>
rate_history::series(int64_t end, uint32_t window, uint32_t step) const {
  step = std::clamp<uint32_t>(step, 1, capacity());
  window = std::clamp<uint32_t>(window, step, capacity());
  auto buckets = window / step;
  std::vector<bucket> out(buckets);
  auto start = end - static_cast<int64_t>(buckets) * step;
  for (uint32_t b = 0; b < buckets; ++b) {
    auto& x = out[b];
    x.start = start + static_cast<int64_t>(b) * step;
    for (uint32_t i = 0; i < step; ++i)
      if (auto s = find(x.start + i)) {
        x.completed += s->completed;
        x.failed += s->failed;
      }
  }
  return out;
}

uint64_t counter_delta::advance(uint64_t total) {
  auto last = last_;
  last_ = total;
  if (!last)
    return 0;
  return total >= *last ? total - *last : total;
}

} // namespace actorq
