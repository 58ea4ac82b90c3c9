#include "actors/dependency_index.hpp"

#include <algorithm>

namespace actorq {

void dependency_index::add(uint64_t dependent, const std::vector<task_id>& after,
                           after_policy policy, bool keep_results) {
  auto& e = dependents_[dependent];
  e.policy = policy;
  e.keep_results = keep_results;
  e.remaining = static_cast<uint32_t>(after.size());
  e.slots.clear();
  e.slots.reserve(after.size());
  for (auto& id : after)
    e.slots.push_back(slot{id, false, false, task_status::waiting, {}});
}

void dependency_index::await(uint64_t dependent, size_t at, uint64_t awaited) {
  auto i = dependents_.find(dependent);
  if (i == dependents_.end())
    return;
  links_[awaited].push_back({dependent, static_cast<uint32_t>(at)});
  i->second.links.push_back(awaited);
}

dependency_index::verdict
dependency_index::settle_slot(entry& e, slot& s, task_status status,
                              std::string_view result, bool unknown) {
  if (!s.settled) {
    s.settled = true;
    s.unknown = unknown;
    s.status = status;
    if (e.keep_results)
      s.result.assign(result);
    --e.remaining;
  }
  return judge(e);
}

dependency_index::verdict
dependency_index::settle(uint64_t dependent, size_t at, task_status status,
                         std::string_view result, bool unknown) {
  auto i = dependents_.find(dependent);
  if (i == dependents_.end() || at >= i->second.slots.size())
    return verdict::pending;
  auto& e = i->second;
  return settle_slot(e, e.slots[at], status, result, unknown);
}

std::vector<std::pair<uint64_t, dependency_index::verdict>>
dependency_index::ended(uint64_t awaited, task_status status,
                        std::string_view result) {
  std::vector<std::pair<uint64_t, verdict>> decided;
  auto l = links_.find(awaited);
  if (l == links_.end())
    return decided;
  auto links = std::move(l->second);
  links_.erase(l);
  for (auto& [dependent, at] : links) {
    auto i = dependents_.find(dependent);
    if (i == dependents_.end())
      continue;
    auto& e = i->second;
    auto v = settle_slot(e, e.slots[at], status, result, false);
    if (v == verdict::pending)
      continue;
    // A dependent awaiting this task twice is decided once.
    auto seen = std::find_if(decided.begin(), decided.end(),
                             [&](auto& d) { return d.first == dependent; });
    if (seen == decided.end())
      decided.emplace_back(dependent, v);
  }
  return decided;
}

dependency_index::verdict dependency_index::judge(const entry& e) {
  if (e.policy == after_policy::succeeded && first_unsuccessful(e) != nullptr)
    return verdict::broken;
  return e.remaining == 0 ? verdict::ready : verdict::pending;
}

dependency_index::verdict dependency_index::judge(uint64_t dependent) const {
  auto i = dependents_.find(dependent);
  return i == dependents_.end() ? verdict::pending : judge(i->second);
}

dependency_index::entry dependency_index::take(uint64_t dependent) {
  auto i = dependents_.find(dependent);
  if (i == dependents_.end())
    return {};
  auto e = std::move(i->second);
  dependents_.erase(i);
  for (auto awaited : e.links) {
    auto l = links_.find(awaited);
    if (l == links_.end())
      continue;
    auto& v = l->second;
    v.erase(std::remove_if(v.begin(), v.end(),
                           [&](auto& x) { return x.dependent == dependent; }),
            v.end());
    if (v.empty())
      links_.erase(l);
  }
  return e;
}

const dependency_index::entry* dependency_index::find(uint64_t dependent) const {
  auto i = dependents_.find(dependent);
  return i == dependents_.end() ? nullptr : &i->second;
}

const dependency_index::slot*
first_unsuccessful(const dependency_index::entry& e) {
  for (auto& s : e.slots)
    if (s.settled && (s.unknown || s.status != task_status::succeeded))
      return &s;
  return nullptr;
}

std::string after_error(const dependency_index::slot& s) {
  auto what = s.unknown ? std::string{"expired from the store (result-ttl) "
                                      "before its outcome was read"}
                        : std::string{to_string(s.status)};
  return "after: task " + s.id.to_string() + " " + what;
}

json after_results(const dependency_index::entry& e) {
  auto out = json::array();
  for (auto& s : e.slots) {
    json result; // null
    if (!s.result.empty())
      result = json::parse(s.result, nullptr, false);
    if (result.is_discarded())
      result = nullptr;
    out.push_back({{"id", s.id.to_string()},
                   {"status", s.unknown ? "expired" : to_string(s.status)},
                   {"result", std::move(result)}});
  }
  return out;
}

} // namespace actorq
