#include "actors/lease_desk.hpp"

#include "actors/catalog.hpp"
#include "actors/time.hpp"

#include <algorithm>
#include <chrono>

namespace actorq {

namespace {

using self_ptr = lease_desk_actor::stateful_pointer<lease_desk_state>;
using request = lease_desk_state::request;

/// How often expiries are checked while leases are out.
constexpr auto sweep_every = std::chrono::milliseconds{100};

/// Milliseconds of a monotonic clock: lease deadlines do not move when the
/// wall clock does.
int64_t mono_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch())
      .count();
}

/// A monotonic time as wall-clock ms since the epoch (for expires_at).
int64_t wall_of(int64_t mono) {
  return now_ms() + (mono - mono_ms());
}

void arm_sweep(self_ptr self) {
  auto& st = self->state;
  if (st.sweeping || st.book.size() == 0)
    return;
  st.sweeping = true;
  self->delayed_send(self, sweep_every, sweep_atom::value);
}

/// The kinds request `r` wants of pool `pool` (empty: none of it).
const std::vector<uint32_t>& kinds_of(const request& r, uint32_t pool) {
  static const std::vector<uint32_t> none;
  for (auto& [p, kinds] : r.pools)
    if (p == pool)
      return kinds;
  return none;
}

/// Whether `a` and `b` (short lists) share a kind.
bool overlap(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  return std::any_of(a.begin(), a.end(), [&](uint32_t k) {
    return std::find(b.begin(), b.end(), k) != b.end();
  });
}

/// Asks pool `pool` for up to what request `id` still wants.
void take_from(self_ptr self, uint64_t id, request& r, uint32_t pool) {
  r.taking = pool;
  self->send(self->state.pools[pool].handle, lease_atom::value, id,
             kinds_of(r, pool), static_cast<uint32_t>(r.max - r.got.size()));
}

void deliver(self_ptr self, std::map<uint64_t, request>::iterator i) {
  i->second.promise.deliver(std::move(i->second.got));
  self->state.requests.erase(i);
}

/// Request `i` has no take out: asks its next pool (first pass), answers it,
/// or leaves it waiting — taking from a pool that said it has attempts.
void advance(self_ptr self, std::map<uint64_t, request>::iterator i) {
  auto& st = self->state;
  auto& r = i->second;
  if (r.got.size() < r.max && r.asked < r.pools.size()) {
    take_from(self, i->first, r, r.pools[r.asked++].first);
    return;
  }
  if (!r.got.empty() || r.over)
    return deliver(self, i);
  for (auto& [pool, kinds] : r.pools) {
    auto& ready = st.ready[pool];
    if (!overlap(ready, kinds))
      continue;
    ready.erase(std::remove_if(ready.begin(), ready.end(),
                               [&](uint32_t k) {
                                 return std::find(kinds.begin(), kinds.end(),
                                                  k)
                                        != kinds.end();
                               }),
                ready.end());
    take_from(self, i->first, r, pool);
    return;
  }
}

/// Pool `pool` has attempts of `kinds`: the oldest waiting request for any
/// of them takes them; with none, the pool's offer is kept for the next.
void wake(self_ptr self, uint32_t pool, std::vector<uint32_t> kinds) {
  auto& st = self->state;
  for (auto& [id, r] : st.requests) {
    if (r.taking >= 0 || r.asked < r.pools.size())
      continue;
    if (overlap(kinds_of(r, pool), kinds)) {
      take_from(self, id, r, pool);
      return;
    }
  }
  st.ready[pool] = std::move(kinds);
}

/// A pool answered a take: the attempts become leases of its worker.
void on_taken(self_ptr self, uint64_t id, std::vector<attempt>& attempts,
              std::vector<uint32_t>& waiting) {
  auto& st = self->state;
  auto i = st.requests.find(id);
  if (i == st.requests.end())
    return; // cannot happen: a request with a take out is never answered
  auto& r = i->second;
  auto pool = static_cast<uint32_t>(r.taking);
  r.taking = -1;
  auto now = mono_ms();
  for (auto& a : attempts) {
    auto kind = current_catalog().find_kind(a.kind);
    auto ttl = kind != nullptr ? kind->lease_ttl_ms : default_lease_ttl_ms;
    auto& l = st.book.issue(pool, a.seq, r.worker, ttl, now);
    r.got.push_back(lease_grant{l.id, std::move(a), wall_of(l.deadline)});
  }
  arm_sweep(self);
  advance(self, i);
  if (!waiting.empty())
    wake(self, pool, std::move(waiting));
}

/// Sends the pool of lease `l` the attempt's end.
void report(self_ptr self, const lease_book::lease& l, outcome result) {
  self->send(self->state.pools[l.pool].handle,
             attempt_done{lease_slot, l.seq, std::move(result)});
}

/// One call of a worker on one lease.
lease_answer settle(self_ptr self, lease_call& call, int64_t now) {
  auto& st = self->state;
  lease_answer answer;
  answer.lease = call.lease;
  lease_book::refusal why;
  auto l = st.book.find(call.lease, why);
  auto refuse = [&](const lease_book::refusal& r) {
    answer.status = static_cast<uint16_t>(r.status);
    answer.code = r.code;
    answer.detail = r.detail;
    return answer;
  };
  if (l == nullptr)
    return refuse(why);
  st.book.seen(l->worker, now);
  if (!l->dead_code.empty()) {
    // Cancelled or timed out: the pool has moved on; release its room.
    lease_book::refusal dead{409, l->dead_code, l->dead_detail};
    report(self, *l, outcome{false, {}, "released"});
    st.book.close(l->id, dead, false, false);
    return refuse(dead);
  }
  switch (call.op) {
    case lease_op::complete:
      report(self, *l, outcome{true, std::move(call.result), {}});
      st.book.close(l->id, {409, "conflict", "the lease was completed already"},
                    true);
      break;
    case lease_op::fail:
      report(self, *l,
             outcome{false, {}, std::move(call.error), !call.retry, 0});
      st.book.close(l->id, {409, "conflict", "the lease was failed already"},
                    false);
      break;
    case lease_op::heartbeat:
      st.book.renew(*l, now);
      answer.expires_at = wall_of(l->deadline);
      if (call.has_progress)
        self->send(st.pools[l->pool].handle, progress_atom::value, lease_slot,
                   l->seq, call.fraction, std::move(call.message));
      break;
  }
  return answer;
}

/// Leases nobody renewed in time: their attempts are lost (and retried if
/// their tasks have retries left), as after a crash.
void sweep(self_ptr self) {
  auto& st = self->state;
  st.sweeping = false;
  auto now = mono_ms();
  for (auto& l : st.book.expired(now)) {
    if (!l.dead_code.empty()) {
      report(self, l, outcome{false, {}, "released"});
      st.book.close(l.id, {409, l.dead_code, l.dead_detail}, false, false);
      continue;
    }
    report(self, l,
           outcome{false, {},
                   "lease expired: no heartbeat within "
                       + std::to_string(l.ttl_ms)
                       + " ms (the attempt is lost)"});
    st.book.close(l.id, {409, "conflict", "the lease expired"}, false);
  }
  st.book.trim(now);
  arm_sweep(self);
}

/// Groups the kinds of a request by their pools (the codec checked them).
std::vector<std::pair<uint32_t, std::vector<uint32_t>>>
pools_of(const std::vector<std::string>& kinds) {
  auto& cat = current_catalog();
  std::vector<std::pair<uint32_t, std::vector<uint32_t>>> out;
  for (auto& name : kinds) {
    auto k = cat.kind_index(name);
    auto info = cat.find_kind(name);
    if (k < 0 || info->runner != runner_type::lease)
      continue;
    auto pool = static_cast<uint32_t>(cat.pool_index(info->pool));
    auto i = std::find_if(out.begin(), out.end(),
                          [&](auto& x) { return x.first == pool; });
    if (i == out.end()) {
      out.push_back({pool, {}});
      i = out.end() - 1;
    }
    i->second.push_back(static_cast<uint32_t>(k));
  }
  return out;
}

/// A lease request: answered when it has attempts to grant, or at once
/// (nothing to grant) without `wait_ms`, else when that has passed.
caf::typed_response_promise<std::vector<lease_grant>>
open_request(self_ptr self, const lease_request& req) {
  auto& st = self->state;
  auto id = ++st.next_request;
  auto& r = st.requests[id];
  r.promise = self->make_response_promise<std::vector<lease_grant>>();
  auto promise = r.promise;
  r.pools = pools_of(req.kinds);
  r.max = std::max<uint32_t>(req.max, 1);
  r.worker = st.book.touch(req.worker, req.kinds, mono_ms());
  if (req.wait_ms > 0 && !st.paused)
    self->delayed_send(self, std::chrono::milliseconds{req.wait_ms},
                       timeout_atom::value, id);
  else
    r.over = true;
  advance(self, st.requests.find(id));
  return promise;
}

/// Request `i` waits no longer: it is answered with what it has, now or,
/// while a pool is still taking attempts for it, when that pool answers.
void end_wait(self_ptr self, std::map<uint64_t, request>::iterator i) {
  i->second.over = true;
  if (i->second.taking < 0)
    deliver(self, i);
}

/// Leases granted to a client that went away before it got them: their
/// attempts go back to their pools unstarted, the leases are closed.
void hand_back(self_ptr self, const std::vector<task_id>& ids) {
  auto& st = self->state;
  for (auto& id : ids) {
    lease_book::refusal why;
    auto l = st.book.find(id, why);
    if (l == nullptr)
      continue;
    self->send(st.pools[l->pool].handle, lease_atom::value, l->seq);
    st.book.close(id, {404, "not_found", "this lease was never delivered"},
                  false, false);
  }
}

} // namespace

lease_desk_actor::behavior_type lease_desk(self_ptr self,
                                           std::vector<pool_ref> pools) {
  auto& st = self->state;
  st.pools = std::move(pools);
  st.ready.resize(st.pools.size());
  for (uint32_t i = 0; i < st.pools.size(); ++i)
    self->send(st.pools[i].handle, lease_atom::value,
               lease_desk_actor{self}, i);
  return {
      [=](lease_atom, lease_request& req) { return open_request(self, req); },
      [=](std::vector<lease_call>& calls) {
        auto now = mono_ms();
        std::vector<lease_answer> answers;
        answers.reserve(calls.size());
        for (auto& call : calls)
          answers.push_back(settle(self, call, now));
        return answers;
      },
      [=](workers_atom) {
        auto now = mono_ms();
        auto out = self->state.book.workers(now);
        for (auto& w : out)
          w.last_seen = wall_of(w.last_seen);
        return out;
      },
      [=](lease_atom, uint32_t pool, std::vector<uint32_t>& kinds) {
        if (pool < self->state.pools.size())
          wake(self, pool, std::move(kinds));
      },
      [=](lease_atom, uint64_t id, std::vector<attempt>& attempts,
          std::vector<uint32_t>& waiting) {
        on_taken(self, id, attempts, waiting);
      },
      [=](cancel_atom, uint32_t pool, uint64_t seq, std::string& code,
          std::string& why) {
        if (auto l = self->state.book.find(pool, seq)) {
          l->dead_code = std::move(code);
          l->dead_detail = std::move(why);
        }
      },
      [=](timeout_atom, uint64_t id) {
        auto i = self->state.requests.find(id);
        if (i != self->state.requests.end())
          end_wait(self, i);
      },
      [=](sweep_atom) { sweep(self); },
      [=](cancel_atom, std::vector<task_id>& ids) { hand_back(self, ids); },
      [=](pause_atom) {
        // Long-polls end now (their workers then settle what they hold);
        // the pools, paused too, start nothing new.
        auto& st = self->state;
        st.paused = true;
        for (auto i = st.requests.begin(); i != st.requests.end();)
          end_wait(self, i++);
      },
  };
}

} // namespace actorq
