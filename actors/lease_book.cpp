#include "actors/lease_book.hpp"

#include <algorithm>

namespace actorq {

uint32_t lease_book::touch(const std::string& name,
                           const std::vector<std::string>& kinds,
                           int64_t now) {
  now_ = std::max(now_, now);
  auto i = worker_by_name_.find(name);
  uint32_t index;
  if (i != worker_by_name_.end()) {
    index = i->second;
  } else if (worker_by_name_.size() >= max_workers
             && name != overflow_name) {
    // A client inventing names cannot grow the book without bound.
    return touch(overflow_name, kinds, now);
  } else {
    if (free_workers_.empty()) {
      index = static_cast<uint32_t>(workers_.size());
      workers_.emplace_back();
    } else {
      index = free_workers_.back();
      free_workers_.pop_back();
      workers_[index] = worker_stats{};
    }
    workers_[index].name = name;
    worker_by_name_.emplace(name, index);
  }
  auto& w = workers_[index];
  w.last_seen = now;
  for (auto& k : kinds)
    if (std::find(w.kinds.begin(), w.kinds.end(), k) == w.kinds.end())
      w.kinds.push_back(k);
  return index;
}

const lease_book::lease& lease_book::issue(uint32_t pool, uint64_t seq,
                                           uint32_t worker, int64_t ttl_ms,
                                           int64_t now) {
  lease l;
  l.id = task_id::random();
  l.pool = pool;
  l.seq = seq;
  l.worker = worker;
  l.ttl_ms = ttl_ms;
  l.deadline = now + ttl_ms;
  deadlines_.push({l.deadline, l.id});
  by_attempt_[attempt_key(pool, seq)] = l.id;
  if (worker < workers_.size())
    ++workers_[worker].leases;
  auto id = l.id;
  return leases_.emplace(id, std::move(l)).first->second;
}

lease_book::lease* lease_book::find(const task_id& id, refusal& why) {
  if (auto i = leases_.find(id); i != leases_.end())
    return &i->second;
  if (auto i = settled_.find(id); i != settled_.end())
    why = i->second.why;
  else
    why = refusal{404, "not_found", "no such lease (never issued, or settled "
                                    "more than 10 minutes ago)"};
  return nullptr;
}

lease_book::lease* lease_book::find(uint32_t pool, uint64_t seq) {
  auto i = by_attempt_.find(attempt_key(pool, seq));
  if (i == by_attempt_.end())
    return nullptr;
  auto j = leases_.find(i->second);
  return j == leases_.end() ? nullptr : &j->second;
}

void lease_book::renew(lease& l, int64_t now) {
  l.deadline = now + l.ttl_ms;
  deadlines_.push({l.deadline, l.id});
}

void lease_book::close(const task_id& id, refusal after, bool ok, bool count) {
  auto i = leases_.find(id);
  if (i == leases_.end())
    return;
  auto& l = i->second;
  if (l.worker < workers_.size()) {
    auto& w = workers_[l.worker];
    if (w.leases > 0)
      --w.leases;
    if (count)
      ++(ok ? w.completed : w.failed);
  }
  by_attempt_.erase(attempt_key(l.pool, l.seq));
  leases_.erase(i);
  auto until = now_ + remember_ms;
  settled_[id] = settled{std::move(after), until};
  settled_order_.emplace_back(until, id);
  while (settled_order_.size() > remember_max) {
    settled_.erase(settled_order_.front().second);
    settled_order_.pop_front();
  }
}

std::vector<lease_book::lease> lease_book::expired(int64_t now) {
  now_ = std::max(now_, now);
  std::vector<lease> out;
  while (!deadlines_.empty() && deadlines_.top().at <= now) {
    auto entry = deadlines_.top();
    deadlines_.pop();
    auto i = leases_.find(entry.id);
    // Settled meanwhile, or renewed (a later entry stands for it).
    if (i == leases_.end() || i->second.deadline != entry.at)
      continue;
    out.push_back(i->second);
  }
  return out;
}

void lease_book::trim(int64_t now) {
  now_ = std::max(now_, now);
  while (!settled_order_.empty() && settled_order_.front().first <= now) {
    auto& [until, id] = settled_order_.front();
    // A lease id settled twice (cannot happen: ids are random) keeps the
    // later entry.
    if (auto i = settled_.find(id); i != settled_.end() && i->second.until == until)
      settled_.erase(i);
    settled_order_.pop_front();
  }
  for (uint32_t i = 0; i < workers_.size(); ++i) {
    auto& w = workers_[i];
    if (w.name.empty() || w.leases > 0 || now - w.last_seen < worker_seen_ms)
      continue;
    worker_by_name_.erase(w.name);
    w = worker_stats{};
    free_workers_.push_back(i);
  }
}

std::vector<lease_book::worker_stats> lease_book::workers(int64_t now) const {
  std::vector<worker_stats> out;
  for (auto& w : workers_)
    if (!w.name.empty()
        && (w.leases > 0 || now - w.last_seen < worker_seen_ms))
      out.push_back(w);
  std::sort(out.begin(), out.end(),
            [](auto& a, auto& b) { return a.name < b.name; });
  return out;
}

} // namespace actorq
