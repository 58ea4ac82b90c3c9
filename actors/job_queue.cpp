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

job_queue::choice job_queue::front_level(uint32_t kind, bool guard,
                                         clock::time_point now) const {
  auto& kq = by_kind_[kind];
  if (!guard) {
    auto level = top_bit(kq.levels);
    return {level, level, kq.by_level[level].front().stamp};
  }
  // Each level's oldest job, boosted by its wait, competes; ties go to the
  // older job.
  choice best{0, -1, 0};
  for (uint16_t bits = kq.levels; bits != 0; bits &= bits - 1) {
    auto level = __builtin_ctz(bits);
    auto& head = kq.by_level[level].front();
    auto effective = boosted(level, head, now);
    if (effective > best.effective
        || (effective == best.effective && head.stamp < best.stamp))
      best = {level, effective, head.stamp};
  }
  return best;
}

job_queue::place job_queue::next(const kind_mask& mask,
                                 clock::time_point now) const {
  // Jobs of one level only (the common case): the oldest front of the
  // kinds in `mask`, no clock. Else the guard may raise older jobs.
  bool guard = guarded();
  place best;
  choice best_choice{0, -1, 0};
  for (auto kind : active_) {
    if (kind >= mask.size() || !mask[kind])
      continue;
    auto c = front_level(kind, guard, now);
    if (c.effective > best_choice.effective
        || (c.effective == best_choice.effective && c.stamp < best_choice.stamp)) {
      best = {static_cast<int>(kind), c.level};
      best_choice = c;
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
  return take(static_cast<uint32_t>(at.kind), at.level);
}

job job_queue::pop_kind(uint32_t kind, clock::time_point now) {
  return take(kind, front_level(kind, guarded(), now).level);
}

job job_queue::take(uint32_t kind, int level) {
  auto& q = by_kind_[kind].by_level[level];
  job j = std::move(q.front().j);
  q.pop_front();
  taken(kind, level);
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
