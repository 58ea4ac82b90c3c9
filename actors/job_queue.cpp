#include "actors/job_queue.hpp"

#include <algorithm>

namespace actorq {

std::deque<job_queue::entry>& job_queue::queue_of(uint32_t kind) {
  if (kind >= by_kind_.size())
    by_kind_.resize(kind + 1);
  auto& q = by_kind_[kind];
  if (q.empty())
    active_.push_back(kind);
  return q;
}

void job_queue::push_back(uint32_t kind, job j) {
  queue_of(kind).push_back({next_back_++, std::move(j)});
  ++size_;
}

void job_queue::push_front(uint32_t kind, job j) {
  queue_of(kind).push_front({next_front_--, std::move(j)});
  ++size_;
}

int job_queue::oldest(const kind_mask& mask) const {
  int best = -1;
  for (auto kind : active_) {
    if (kind >= mask.size() || !mask[kind])
      continue;
    if (best < 0 || by_kind_[kind].front().stamp < by_kind_[best].front().stamp)
      best = static_cast<int>(kind);
  }
  return best;
}

const job* job_queue::peek(const kind_mask& mask) const {
  auto kind = oldest(mask);
  return kind < 0 ? nullptr : &by_kind_[kind].front().j;
}

void job_queue::taken(uint32_t kind) {
  --size_;
  if (by_kind_[kind].empty())
    active_.erase(std::find(active_.begin(), active_.end(), kind));
}

std::optional<job> job_queue::pop(const kind_mask& mask) {
  auto kind = oldest(mask);
  if (kind < 0)
    return std::nullopt;
  return pop_kind(static_cast<uint32_t>(kind));
}

job job_queue::pop_kind(uint32_t kind) {
  auto& q = by_kind_[kind];
  job j = std::move(q.front().j);
  q.pop_front();
  taken(kind);
  return j;
}

std::optional<job> job_queue::remove(const caf::actor_addr& listener,
                                     uint64_t key) {
  for (auto kind : active_) {
    auto& q = by_kind_[kind];
    auto i = std::find_if(q.begin(), q.end(), [&](auto& e) {
      return e.j.key == key && e.j.listener.address() == listener;
    });
    if (i == q.end())
      continue;
    job j = std::move(i->j);
    q.erase(i);
    taken(kind);
    return j;
  }
  return std::nullopt;
}

} // namespace actorq
