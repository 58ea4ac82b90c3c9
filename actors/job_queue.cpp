#include "actors/job_queue.hpp"

#include <algorithm>

namespace actorq {

namespace {

int level_of(const job& j) {
  return std::clamp(j.spec.priority, min_priority, max_priority);
}

/// The highest bit set in a non-zero `bits`.
int top_bit(uint16_t bits) {
  return 31 - __builtin_clz(bits);
}

} // namespace

std::deque<job_queue::entry>& job_queue::queue_of(uint32_t kind, int level) {
  if (kind >= by_kind_.size())
    by_kind_.resize(kind + 1);
  auto& kq = by_kind_[kind];
  if (kq.levels == 0)
    active_.push_back(kind);
  kq.levels |= uint16_t(1u << level);
  levels_ |= uint16_t(1u << level);
  ++per_level_[level];
  ++size_;
  return kq.by_level[level];
}

void job_queue::push_back(uint32_t kind, job j) {
  auto level = level_of(j);
  queue_of(kind, level).push_back({next_back_++, std::move(j)});
}

void job_queue::push_front(uint32_t kind, job j) {
  auto level = level_of(j);
  queue_of(kind, level).push_front({next_front_--, std::move(j)});
}

int job_queue::boosted(int level, const entry& head,
                       clock::time_point now) const {
  auto since = head.j.queued_since;
  if (since == clock::time_point{} || now - since < boost_)
    return level;
  auto periods = (now - since) / boost_;
  return static_cast<int>(
      std::min<int64_t>(max_priority, level + static_cast<int64_t>(periods)));
}

job_queue::place job_queue::next(const kind_mask& mask,
                                 clock::time_point now) const {
  // Jobs of one level only (the common case): the oldest front of the
  // kinds in `mask`, no clock. Else each level's oldest job, boosted by its
  // wait, competes; ties go to the older job.
  bool guard = boost_ > clock::duration::zero() && several_levels();
  place best;
  int best_level = -1;
  int64_t best_stamp = 0;
  auto consider = [&](uint32_t kind, int level, int effective) {
    auto stamp = by_kind_[kind].by_level[level].front().stamp;
    if (effective > best_level
        || (effective == best_level && stamp < best_stamp)) {
      best = {static_cast<int>(kind), level};
      best_level = effective;
      best_stamp = stamp;
    }
  };
  for (auto kind : active_) {
    if (kind >= mask.size() || !mask[kind])
      continue;
    auto& kq = by_kind_[kind];
    if (!guard) {
      auto level = top_bit(kq.levels);
      consider(kind, level, level);
      continue;
    }
    for (uint16_t bits = kq.levels; bits != 0; bits &= bits - 1) {
      auto level = __builtin_ctz(bits);
      consider(kind, level, boosted(level, kq.by_level[level].front(), now));
    }
  }
  return best;
}

const job* job_queue::peek(const kind_mask& mask, clock::time_point now) const {
  auto at = next(mask, now);
  return at.kind < 0 ? nullptr
                     : &by_kind_[at.kind].by_level[at.level].front().j;
}

void job_queue::taken(uint32_t kind, int level) {
  --size_;
  auto& kq = by_kind_[kind];
  if (kq.by_level[level].empty()) {
    kq.levels &= uint16_t(~(1u << level));
    if (kq.levels == 0)
      active_.erase(std::find(active_.begin(), active_.end(), kind));
  }
  if (--per_level_[level] == 0)
    levels_ &= uint16_t(~(1u << level));
}

std::optional<job> job_queue::pop(const kind_mask& mask,
                                  clock::time_point now) {
  auto at = next(mask, now);
  if (at.kind < 0)
    return std::nullopt;
  auto& q = by_kind_[at.kind].by_level[at.level];
  job j = std::move(q.front().j);
  q.pop_front();
  taken(static_cast<uint32_t>(at.kind), at.level);
  return j;
}

std::optional<job> job_queue::remove(const caf::actor_addr& listener,
                                     uint64_t key) {
  for (auto kind : active_) {
    auto& kq = by_kind_[kind];
    for (uint16_t bits = kq.levels; bits != 0; bits &= bits - 1) {
      auto level = __builtin_ctz(bits);
      auto& q = kq.by_level[level];
      auto i = std::find_if(q.begin(), q.end(), [&](auto& e) {
        return e.j.key == key && e.j.listener.address() == listener;
      });
      if (i == q.end())
        continue;
      job j = std::move(i->j);
      q.erase(i);
      taken(kind, level);
      return j;
    }
  }
  return std::nullopt;
}

} // namespace actorq
