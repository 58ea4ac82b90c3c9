#include "actors/registry.hpp"

#include "actors/kinds.hpp"
#include "actors/time.hpp"

#include <algorithm>

namespace actorq {

namespace {

using self_ptr = registry_actor::stateful_pointer<registry_state>;

caf::error not_found(const task_id& id) {
  return make_error(error_code::not_found, "Task not found");
}

/// Answers everyone waiting for the task `seq`.
void wake_waiters(self_ptr self, uint64_t seq) {
  auto& st = self->state;
  auto i = st.waiters.find(seq);
  if (i == st.waiters.end())
    return;
  auto v = st.view(st.records[seq - 1]);
  for (auto& w : i->second)
    w.promise.deliver(v);
  st.waiters.erase(i);
}

void finish(self_ptr self, registry_state::record& r, uint64_t seq,
            task_status status, int64_t at) {
  r.status = status;
  r.finished_at = at;
  wake_waiters(self, seq);
}

/// Applies one event from a pool to its task.
void on_event(self_ptr self, job_event& e) {
  auto& st = self->state;
  if (e.key == 0 || e.key > st.records.size())
    return;
  auto& r = st.records[e.key - 1];
  if (is_terminal(r.status))
    return; // e.g. cancelled while queued; the pool's echo arrives late
  r.attempts = e.attempts;
  switch (e.phase) {
    case job_phase::started:
      r.status = task_status::running;
      if (r.started_at == 0)
        r.started_at = e.at;
      break;
    case job_phase::retrying:
      r.status = task_status::retrying;
      st.set_error(r, std::move(e.result.error));
      break;
    case job_phase::succeeded:
      if (r.cancel_requested) {
        finish(self, r, e.key, task_status::cancelled, e.at);
        break;
      }
      st.set_result(r, e.result.result.value);
      st.set_error(r, {});
      finish(self, r, e.key, task_status::succeeded, e.at);
      break;
    case job_phase::failed:
      st.set_error(r, std::move(e.result.error));
      finish(self, r, e.key, task_status::failed, e.at);
      break;
    case job_phase::cancelled:
      finish(self, r, e.key, task_status::cancelled, e.at);
      break;
  }
}

} // namespace

registry_state::record* registry_state::find(const task_id& id) {
  auto seq = lookup(id);
  return seq == 0 ? nullptr : &records[seq - 1];
}

uint64_t registry_state::lookup(const task_id& id) const {
  if (slots.empty())
    return 0;
  auto mask = slots.size() - 1;
  for (auto i = task_id_hash{}(id)&mask;; i = (i + 1) & mask) {
    auto seq = slots[i];
    if (seq == 0 || records[seq - 1].id == id)
      return seq;
  }
}

void registry_state::index(uint64_t seq) {
  if (2 * (records.size() + 1) > slots.size()) {
    // Grow to keep the table at most half full, then re-insert everything.
    slots.assign(std::max<size_t>(1024, 4 * records.size()), 0);
    for (uint64_t s = 1; s <= records.size(); ++s)
      if (s != seq)
        index(s);
  }
  auto mask = slots.size() - 1;
  auto i = task_id_hash{}(records[seq - 1].id) & mask;
  while (slots[i] != 0)
    i = (i + 1) & mask;
  slots[i] = seq;
}

void registry_state::set_result(record& r, const json& result) {
  auto text = result.dump();
  r.result_offset = results.size();
  r.result_size = static_cast<uint32_t>(text.size());
  results += text;
}

void registry_state::set_error(record& r, std::string error) {
  if (error.empty())
    r.error.reset();
  else
    r.error = std::make_unique<std::string>(std::move(error));
}

task_view registry_state::view(const record& r) const {
  task_view v;
  v.id = r.id;
  v.kind = std::string{all_kinds()[r.kind].name};
  v.pool = pools[r.pool].name;
  v.status = r.status;
  v.cancel_requested = r.cancel_requested;
  v.attempts = r.attempts;
  v.max_retries = r.max_retries;
  v.created_at = r.created_at;
  v.started_at = r.started_at;
  v.finished_at = r.finished_at;
  if (r.result_size > 0)
    v.result.text.assign(results, r.result_offset, r.result_size);
  if (r.error)
    v.error = *r.error;
  return v;
}

registry_actor::behavior_type registry(self_ptr self,
                                       std::vector<pool_ref> pools) {
  self->state.pools = std::move(pools);
  // On shutdown, answer every long-poll with the task as it is now: CAF 0.17
  // would otherwise leave the waiting HTTP threads blocked until their timeout.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& st = self->state;
    for (auto& [seq, ws] : st.waiters)
      for (auto& w : ws)
        w.promise.deliver(st.view(st.records[seq - 1]));
    st.waiters.clear();
    self->quit(msg.reason);
  });
  return {
      [=](submit_atom, task_spec& spec) -> caf::result<task_view> {
        auto& st = self->state;
        auto kind = find_kind(spec.kind);
        auto pool = std::find_if(st.pools.begin(), st.pools.end(),
                                 [&](auto& p) { return p.name == spec.pool; });
        if (kind == nullptr)
          return make_error(error_code::invalid,
                            "kind: unknown kind '" + spec.kind + "'");
        // A repeated idempotency key gets the first task, whatever its state.
        if (!spec.idempotency_key.empty())
          if (auto i = st.by_key.find(spec.idempotency_key);
              i != st.by_key.end())
            return st.view(st.records[i->second - 1]);
        if (pool == st.pools.end())
          return make_error(error_code::invalid,
                            "pool: unknown pool '" + spec.pool + "'");
        if (auto full = pool->admit(1); !full.empty())
          return make_error(error_code::busy, std::move(full));
        registry_state::record r;
        do {
          r.id = task_id::random();
        } while (st.lookup(r.id) != 0);
        r.kind = static_cast<uint16_t>(kind - all_kinds().data());
        r.pool = static_cast<uint8_t>(pool - st.pools.begin());
        r.max_retries = spec.max_retries;
        r.created_at = now_ms();
        st.records.push_back(std::move(r));
        uint64_t seq = st.records.size();
        auto& rec = st.records.back();
        st.index(seq);
        if (!spec.idempotency_key.empty())
          st.by_key.emplace(spec.idempotency_key, seq);
        job j;
        j.key = seq;
        j.spec = std::move(spec);
        j.progress = true;
        j.listener = caf::actor_cast<job_listener_actor>(self);
        self->send(st.pools[rec.pool].handle, submit_atom::value, std::move(j));
        return st.view(rec);
      },
      [=](get_atom, const task_id& id) -> caf::result<task_view> {
        auto& st = self->state;
        if (auto r = st.find(id))
          return st.view(*r);
        return not_found(id);
      },
      [=](wait_atom, const task_id& id, int64_t ms) -> caf::result<task_view> {
        auto& st = self->state;
        auto seq = st.lookup(id);
        if (seq == 0)
          return not_found(id);
        auto& r = st.records[seq - 1];
        if (is_terminal(r.status) || ms <= 0)
          return st.view(r);
        auto promise = self->make_response_promise<task_view>();
        auto waiter_id = ++st.next_waiter;
        st.waiters[seq].push_back({waiter_id, promise});
        self->delayed_send(self, std::chrono::milliseconds{ms},
                           timeout_atom::value, waiter_id);
        return promise;
      },
      [=](timeout_atom, uint64_t waiter_id) {
        // Rare and cheap enough to search: waiters per task are few.
        auto& st = self->state;
        for (auto i = st.waiters.begin(); i != st.waiters.end(); ++i) {
          auto& ws = i->second;
          auto w = std::find_if(ws.begin(), ws.end(),
                                [&](auto& x) { return x.id == waiter_id; });
          if (w == ws.end())
            continue;
          w->promise.deliver(st.view(st.records[i->first - 1]));
          ws.erase(w);
          if (ws.empty())
            st.waiters.erase(i);
          return;
        }
      },
      [=](list_atom, const task_filter& filter) {
        auto& st = self->state;
        task_page page;
        uint64_t seq =
            filter.cursor == 0
                ? st.records.size()
                : std::min<uint64_t>(filter.cursor, st.records.size());
        auto kind = filter.kind.empty() ? nullptr : find_kind(filter.kind);
        for (; seq > 0; --seq) {
          auto& r = st.records[seq - 1];
          if (filter.status && r.status != *filter.status)
            continue;
          if (kind != nullptr && &all_kinds()[r.kind] != kind)
            continue;
          if (page.tasks.size() == filter.limit) {
            page.next = seq; // the next page starts here
            break;
          }
          page.tasks.push_back(st.view(r));
        }
        return page;
      },
      [=](cancel_atom, const task_id& id) -> caf::result<task_view> {
        auto& st = self->state;
        auto seq = st.lookup(id);
        if (seq == 0)
          return not_found(id);
        auto& r = st.records[seq - 1];
        if (is_terminal(r.status))
          return make_error(error_code::conflict,
                            std::string{"task is already "}
                                + to_string(r.status));
        auto listener = caf::actor_cast<job_listener_actor>(self);
        self->send(st.pools[r.pool].handle, cancel_atom::value, listener, seq);
        if (r.status == task_status::running) {
          r.cancel_requested = true; // ends cancelled when the pool confirms
          return st.view(r);
        }
        finish(self, r, seq, task_status::cancelled, now_ms());
        return st.view(r);
      },
      [=](std::vector<job_event>& events) {
        for (auto& e : events)
          on_event(self, e);
      },
  };
}

} // namespace actorq
