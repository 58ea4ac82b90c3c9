#include "actors/registry.hpp"

#include "actors/catalog.hpp"
#include "actors/kinds.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "actors/store.hpp"
#include "actors/time.hpp"
#include "http/codec.hpp"

#include <algorithm>
#include <unordered_set>

namespace actorq {

namespace {

using self_ptr = registry_actor::stateful_pointer<registry_state>;
using record = registry_state::record;

// One task in memory stays this small (README: at most 200 bytes per
// retained task, with its index slots and result text).
static_assert(sizeof(record) <= 88, "registry_state::record grew");

/// What the index needs to tell ids apart: the id of a seq it holds (every
/// indexed task is in memory).
auto id_of(const registry_state& st) {
  return [&st](uint64_t seq) { return st.at(seq)->id; };
}

/// The timeout_atom ids of the write-timeout check and of the long-polls'
/// deadlines.
constexpr uint64_t write_check = 0;
constexpr uint64_t wait_check = 1;

/// After a failed batch, the next one waits this long (no busy loop on a
/// full or read-only disk; new submissions join it).
constexpr auto retry_after_failure = std::chrono::milliseconds{10};

caf::error not_found() {
  return make_error(error_code::not_found, "Task not found");
}

caf::error already_ended(task_status status) {
  return make_error(error_code::conflict,
                    std::string{"task is already "} + to_string(status));
}

bool is_error(const caf::error& err, error_code code) {
  return err.category() == caf::atom("actorq")
         && err.code() == static_cast<uint8_t>(code);
}

/// Now on the actor clock (steady; simulated in tests), in ms: the clock
/// delayed_send keeps, so a deadline and its timer agree.
int64_t clock_ms(self_ptr self) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             self->clock().now().time_since_epoch())
      .count();
}

/// Arms the long-polls' timer for `deadline` (clock_ms).
void arm_wait_check(self_ptr self, int64_t deadline) {
  self->state.wait_armed = deadline;
  auto in = std::max<int64_t>(deadline - clock_ms(self), 0);
  self->delayed_send(self, std::chrono::milliseconds{in}, timeout_atom::value,
                     wait_check);
}

/// Answers the long-polls whose deadline has come with the task as it is,
/// then arms the timer for the next deadline.
void answer_expired_waits(self_ptr self) {
  auto& st = self->state;
  auto now = clock_ms(self);
  st.wait_armed = INT64_MAX; // spent; armed again below for what is left
  for (auto seq : st.wait_deadlines.take_due(now)) {
    auto i = st.waiters.find(seq);
    if (i == st.waiters.end())
      continue; // answered when the task ended
    auto& ws = i->second;
    auto expired = std::stable_partition(
        ws.begin(), ws.end(), [&](auto& w) { return w.deadline > now; });
    if (expired == ws.end())
      continue;
    auto v = st.view(seq, *st.at(seq));
    for (auto w = expired; w != ws.end(); ++w)
      w->promise.deliver(v);
    ws.erase(expired, ws.end());
    if (ws.empty())
      st.waiters.erase(i);
  }
  if (auto next = st.wait_deadlines.earliest(); next && *next < st.wait_armed)
    arm_wait_check(self, *next);
}

/// Answers everyone waiting for the task `seq`.
void wake_waiters(self_ptr self, uint64_t seq) {
  auto& st = self->state;
  auto i = st.waiters.find(seq);
  if (i == st.waiters.end())
    return;
  auto v = st.view(seq, *st.at(seq));
  for (auto& w : i->second)
    w.promise.deliver(v);
  st.waiters.erase(i);
}

void flush(self_ptr self);

/// Makes sure a batch goes to the store soon: now if the store has room
/// for one more (else when it has written one).
void schedule_flush(self_ptr self) {
  auto& st = self->state;
  if (st.at_store >= st.max_batches_at_store || st.flush_scheduled)
    return;
  // Whatever reaches the mailbox before this message joins the batch.
  st.flush_scheduled = true;
  self->send(self, flush_atom::value);
}

/// Queues the task's new state for the next batch to the store.
void mark_changed(self_ptr self, uint64_t seq, record& r) {
  auto& st = self->state;
  if (!st.durable() || r.dirty)
    return;
  r.dirty = true;
  st.changed.push_back(seq);
  schedule_flush(self);
}

/// The log lines of a task's new state: each one at debug, and a task that
/// ends failed at warn.
void log_status(const registry_state& st, const record& r) {
  bool failed = r.status == task_status::failed;
  if (!failed && !log::enabled(log::level::debug))
    return;
  auto id = r.id.to_string();
  auto& kind = st.kind_name(r.kind);
  auto error = r.error ? std::string_view{*r.error} : std::string_view{};
  log::event(log::level::debug, "task_state",
             {{"id", id},
              {"kind", kind},
              {"status", to_string(r.status)},
              {"attempts", r.attempts},
              {"error", error}});
  if (failed)
    log::event(log::level::warn, "task_failed",
               {{"id", id},
                {"kind", kind},
                {"pool", st.pool_name(r.pool)},
                {"attempts", r.attempts},
                {"error", error}});
}

/// Counts tasks entering (+1) or leaving (-1) status scheduled.
void count_scheduled(self_ptr self, int64_t delta) {
  if (auto& m = self->state.cfg.meters)
    m->tasks_scheduled(delta);
}

/// Task `seq` leaves status scheduled (due, or ended before): its run_at
/// moves from the record's started_at to run_ats.
void unschedule(self_ptr self, uint64_t seq, record& r) {
  self->state.run_ats[seq] = r.started_at;
  r.started_at = 0;
  count_scheduled(self, -1);
}

// Defined with the chains below.
void notify_dependents(self_ptr self, uint64_t seq, const record& r);
void dispatch(self_ptr self, uint64_t seq, task_spec spec, int32_t attempts);

/// Hands the completion callback of ended task `seq` to the sender, its
/// final view rendered once: every attempt POSTs the same bytes.
void send_callback(self_ptr self, uint64_t seq, const record& r) {
  auto& st = self->state;
  if (!st.awaits_callback(seq) || !st.cfg.callbacks)
    return;
  auto& cb = st.callbacks[seq];
  callback_delivery d;
  d.key = seq;
  d.task = r.id;
  d.url = cb.url;
  d.body = http::render_task(st.view(seq, r));
  d.attempts = cb.attempts;
  d.listener = caf::actor_cast<callback_listener_actor>(self);
  self->send(st.cfg.callbacks, callback_atom::value, std::move(d));
}

void finish(self_ptr self, record& r, uint64_t seq, task_status status,
            int64_t at) {
  if (r.status == task_status::scheduled)
    unschedule(self, seq, r); // cancelled (or failed) before it was due
  r.status = status;
  r.finished_at = at;
  if (auto& m = self->state.cfg.meters)
    m->task_ended(r.kind, status);
  log_status(self->state, r);
  mark_changed(self, seq, r);
  wake_waiters(self, seq);
  if (!self->state.deps.empty())
    notify_dependents(self, seq, r);
  send_callback(self, seq, r);
}

/// An attempt to deliver the callback of task `seq` ended: its new state
/// goes to the view and, with the task's next change, to the store.
void on_callback(self_ptr self, uint64_t seq, callback_view& cb) {
  auto& st = self->state;
  auto r = st.at(seq);
  if (r == nullptr || st.callbacks.count(seq) == 0)
    return;
  if (st.cfg.meters) // each callback_view reports one attempt's outcome
    st.cfg.meters->callback_attempted(cb.status == "delivered",
                                      cb.status != "pending");
  st.callbacks[seq] = std::move(cb);
  mark_changed(self, seq, *r);
}

/// Hands task `seq` to its pool.
void hand_over(self_ptr self, uint64_t seq, task_spec spec, int32_t attempts) {
  auto& st = self->state;
  job j;
  j.key = seq;
  j.spec = std::move(spec);
  j.attempts = attempts;
  j.progress = true;
  j.listener = caf::actor_cast<job_listener_actor>(self);
  auto r = st.at(seq);
  j.task = r->id;
  // A retried task's cycle makes 1 + max_retries attempts of its own; the
  // pool counts attempts from the first cycle on.
  j.spec.max_retries += st.cycle_start(seq);
  self->send(st.cfg.pools[r->pool].handle, submit_atom::value, std::move(j));
}

// -- delayed tasks --------------------------------------------------------------

/// When a task created at `now` with `spec` may start (ms since epoch;
/// 0 = at once): a countdown counts from its creation.
int64_t due_time(const task_spec& spec, int64_t now) {
  return spec.countdown_ms >= 0 ? now + spec.countdown_ms : spec.run_at;
}

/// How long before its run_at a scheduled task's spec is read back from the
/// store, so that at run_at only the pool's hop is left (accuracy).
constexpr int64_t prefetch_ms = 50;

/// The next time the timer must fire: the earliest task to prefetch
/// (prefetch_ms before its run_at) or to start.
std::optional<int64_t> next_wakeup(const registry_state& st) {
  std::optional<int64_t> next;
  if (auto e = st.schedule.earliest())
    next = *e - prefetch_ms;
  if (!st.ready.empty() && (!next || st.ready.begin()->first < *next))
    next = st.ready.begin()->first;
  return next;
}

/// Keeps ONE timer, for the next wake-up: a new one only when it is earlier
/// than the one armed (the later timer, when it fires, no longer matches
/// `armed` and is ignored).
void arm(self_ptr self) {
  auto& st = self->state;
  auto next = next_wakeup(st);
  if (!next || (st.armed && *st.armed <= *next))
    return;
  st.armed = *next;
  auto in = std::max<int64_t>(0, *next - now_ms());
  self->delayed_send(self, std::chrono::milliseconds{in}, due_atom::value,
                     *next);
}

/// Task `seq` (stored, or held without a store) waits until `due`.
void schedule_task(self_ptr self, uint64_t seq, int64_t due) {
  self->state.schedule.push(due, seq);
  arm(self);
}

/// Scheduled task `seq` is due and `spec` is its spec: queued and handed to
/// its pool, unless it ended meanwhile (cancelled while scheduled).
void start_due(self_ptr self, uint64_t seq, task_spec spec) {
  auto& st = self->state;
  auto r = st.at(seq);
  if (r == nullptr || r->status != task_status::scheduled)
    return;
  unschedule(self, seq, *r);
  r->status = task_status::queued;
  log_status(st, *r);
  mark_changed(self, seq, *r);
  if (auto& gauge = st.cfg.pools[r->pool].gauge)
    gauge->add(1); // in the pool's queue from now on
  dispatch(self, seq, std::move(spec), r->attempts);
}

/// The spec of scheduled task `seq` is at hand: it starts now if due, else
/// waits in `ready` for the timer.
void park(self_ptr self, uint64_t seq, task_spec spec) {
  auto& st = self->state;
  auto r = st.at(seq);
  if (r == nullptr || r->status != task_status::scheduled)
    return;
  auto due = r->started_at; // its run_at while scheduled
  if (due <= now_ms())
    return start_due(self, seq, std::move(spec));
  st.ready.emplace(due, std::make_pair(seq, std::move(spec)));
  arm(self);
}

/// Scheduled task `seq` is due within prefetch_ms: its spec (held in memory
/// without a store; read back from the store with one, so a scheduled task
/// costs only its record until then) goes to `park`.
void prefetch(self_ptr self, uint64_t seq) {
  auto& st = self->state;
  auto r = st.at(seq);
  auto held = st.scheduled_specs.find(seq);
  if (!st.durable() || r == nullptr
      || r->status != task_status::scheduled) {
    if (held == st.scheduled_specs.end())
      return;
    auto spec = std::move(held->second);
    st.scheduled_specs.erase(held);
    return park(self, seq, std::move(spec)); // drops it if cancelled
  }
  self->request(st.cfg.store, caf::infinite, retry_atom::value, r->id)
    .then([=](task_row& row) { park(self, seq, std::move(row.spec)); },
          [=](caf::error& err) {
            auto& st = self->state;
            auto r = st.at(seq);
            if (r == nullptr || r->status != task_status::scheduled)
              return;
            st.set_error(*r, "cannot read its spec back from the store: "
                               + self->system().render(err));
            finish(self, *r, seq, task_status::failed, now_ms());
          });
}

/// The timer armed for `at` fired: start the prefetched tasks now due,
/// prefetch those due within prefetch_ms, arm the timer for the next.
void on_due(self_ptr self, int64_t at) {
  auto& st = self->state;
  if (!st.armed || *st.armed != at)
    return; // an earlier wake-up came since: a newer timer covers it
  st.armed.reset();
  auto now = now_ms();
  while (!st.ready.empty() && st.ready.begin()->first <= now) {
    auto [seq, spec] = std::move(st.ready.begin()->second);
    st.ready.erase(st.ready.begin());
    start_due(self, seq, std::move(spec));
  }
  for (auto seq : st.schedule.take_due(now + prefetch_ms))
    prefetch(self, seq);
  arm(self);
}

// -- chains -------------------------------------------------------------------
// A task submitted with `after` is `waiting`: its spec is held (st.held) and
// the dependency index knows what it waits for. finish() tells the index that
// a task ended (notify_dependents); a dependent whose verdict is decided is
// queued (hand_over) or cancelled (policy succeeded, one did not succeed).

caf::error after_not_found(const task_id& id) {
  return make_error(error_code::invalid,
                    "after: task " + id.to_string()
                      + " not found (the tasks in after must exist)");
}

/// The result JSON text of an ended task in memory ("" = null).
std::string_view result_text(const registry_state& st, const record& r) {
  return r.result.empty() ? std::string_view{} : st.results.view(r.result);
}

/// Forgets waiting task `seq` from the chain tables (cancelled while
/// waiting): it never reached its pool, so its admitted room is freed.
void unhold(self_ptr self, uint64_t seq, const record& r) {
  auto& st = self->state;
  if (st.held.erase(seq) == 0)
    return;
  st.deps.take(seq);
  if (auto& gauge = st.cfg.pools[r.pool].gauge)
    gauge->remove(1);
}

/// Acts on the verdict of chained task `seq`: queues it (with `_after` in
/// its input if pass_results) or cancels it, naming the task that broke its
/// policy. A task that was already queued before (recovered or retried with
/// pass_results) only needed its `_after`: it goes to its pool either way.
void decide(self_ptr self, uint64_t seq, dependency_index::verdict verdict) {
  using verdict_t = dependency_index::verdict;
  auto& st = self->state;
  if (verdict == verdict_t::pending)
    return;
  auto r = st.at(seq);
  auto h = st.held.find(seq);
  if (r == nullptr || h == st.held.end())
    return;
  auto held = std::move(h->second);
  st.held.erase(h);
  auto e = st.deps.take(seq);
  if (is_terminal(r->status))
    return; // ended meanwhile (cancelled)
  if (r->status == task_status::waiting) {
    if (verdict == verdict_t::broken) {
      if (auto& gauge = st.cfg.pools[r->pool].gauge)
        gauge->remove(1);
      st.set_error(*r, after_error(*first_unsuccessful(e)));
      finish(self, *r, seq, task_status::cancelled, now_ms());
      return;
    }
    r->status = task_status::queued;
    log_status(st, *r);
    mark_changed(self, seq, *r);
  }
  if (e.keep_results)
    held.spec.input.value["_after"] = after_results(e);
  hand_over(self, seq, std::move(held.spec), held.attempts);
}

void notify_dependents(self_ptr self, uint64_t seq, const record& r) {
  auto& st = self->state;
  if (!st.deps.awaited(seq))
    return;
  auto decided = st.deps.ended(seq, r.status, result_text(st, r));
  for (auto& [dependent, verdict] : decided)
    decide(self, dependent, verdict);
}

/// Slot `at` of chained task `seq` is the task `a` in memory: settled if it
/// ended, else awaited.
void link_to(self_ptr self, uint64_t seq, size_t at, uint64_t a_seq) {
  auto& st = self->state;
  auto& a = *st.at(a_seq);
  if (st.expired(a, now_ms()))
    decide(self, seq, st.deps.settle(seq, at, a.status, {}, true));
  else if (is_terminal(a.status))
    decide(self, seq,
           st.deps.settle(seq, at, a.status, result_text(st, a)));
  else
    st.deps.await(seq, at, a_seq);
}

/// Slot `at` of chained task `seq` names a task not in memory: it ended and
/// was evicted (its outcome is in the store), or it expired (result-ttl:
/// its outcome is lost, the slot counts as ended with an unknown outcome).
void read_slot(self_ptr self, uint64_t seq, size_t at, const task_id& id) {
  auto& st = self->state;
  if (!st.durable()) {
    decide(self, seq, st.deps.settle(seq, at, task_status::succeeded, {}, true));
    return;
  }
  self->request(st.cfg.store, caf::infinite, get_atom::value, id)
    .then(
      [=](task_view& v) {
        auto& st = self->state;
        if (st.deps.find(seq) == nullptr)
          return; // decided meanwhile
        if (auto a = st.lookup(id)) // back in memory (recovered meanwhile)
          return link_to(self, seq, at, a);
        decide(self, seq,
               st.deps.settle(seq, at, v.status, v.result.text,
                              !is_terminal(v.status)));
      },
      [=](caf::error&) {
        auto& st = self->state;
        if (auto a = st.lookup(id))
          return link_to(self, seq, at, a);
        decide(self, seq,
               st.deps.settle(seq, at, task_status::succeeded, {}, true));
      });
}

/// Holds chained task `seq` until the tasks of its `after` list ended.
void wait_for(self_ptr self, uint64_t seq, task_spec spec, int32_t attempts) {
  auto& st = self->state;
  auto after = spec.after;
  st.deps.add(seq, after, spec.after_if, spec.pass_results);
  st.held[seq] = registry_state::held_task{std::move(spec), attempts};
  for (size_t i = 0; i < after.size() && st.deps.find(seq) != nullptr; ++i) {
    if (auto a = st.lookup(after[i]); a != 0 && a != seq)
      link_to(self, seq, i, a);
    else
      read_slot(self, seq, i, after[i]);
  }
  if (st.deps.find(seq) != nullptr)
    decide(self, seq, st.deps.judge(seq));
}

/// Hands task `seq` to its pool, or holds it first if it waits for others
/// (or needs their results for `_after`). Tasks without `after` go straight
/// through.
void dispatch(self_ptr self, uint64_t seq, task_spec spec, int32_t attempts) {
  if (!spec.after.empty()) {
    auto r = self->state.at(seq);
    if (r->status == task_status::waiting || spec.pass_results)
      return wait_for(self, seq, std::move(spec), attempts);
  }
  hand_over(self, seq, std::move(spec), attempts);
}


/// Creates a task its pool has admitted. With a store the task is inserted
/// with the next batch and dispatched once committed; without, right away.
uint64_t create(self_ptr self, task_spec spec, uint16_t kind, uint8_t pool) {
  auto& st = self->state;
  record r;
  do {
    r.id = task_id::random();
  } while (st.lookup(r.id) != 0);
  r.kind = kind;
  r.pool = pool;
  r.max_retries = spec.max_retries;
  r.priority = static_cast<uint8_t>(spec.priority);
  r.created_at = now_ms();
  // A delayed task is stored with its run_at (a countdown resolved; the
  // spec keeps countdown_ms as sent, for the idempotency hash).
  auto due = due_time(spec, r.created_at);
  spec.run_at = due;
  if (due > r.created_at) {
    r.status = task_status::scheduled;
    r.started_at = due; // until it is due (see run_ats)
    count_scheduled(self, 1);
  }
  if (!spec.idempotency_key.empty())
    r.key = std::make_unique<std::string>(spec.idempotency_key);
  if (!spec.after.empty())
    r.status = task_status::waiting; // dispatch() holds it (chains)
  auto id = r.id;
  auto later = r.status == task_status::scheduled;
  st.records.push_back(std::move(r));
  auto seq = st.last_seq();
  if (!spec.after.empty())
    st.afters.emplace(seq, spec.after);
  log_status(st, st.records.back());
  st.index(seq, id);
  if (due != 0 && !later)
    st.run_ats[seq] = due; // a run_at in the past
  if (!spec.idempotency_key.empty())
    st.by_key[spec.idempotency_key] = {seq, request_hash(spec)};
  if (!spec.callback_url.empty())
    st.callbacks[seq] = callback_view{spec.callback_url, "pending", 0, {}};
  if (!st.durable()) {
    st.committed = seq;
    if (later) {
      if (auto& gauge = st.cfg.pools[pool].gauge)
        gauge->remove(1); // admitted, queued only when due
      st.scheduled_specs.emplace(seq, std::move(spec));
      schedule_task(self, seq, due);
    } else {
      dispatch(self, seq, std::move(spec), 0);
    }
    return seq;
  }
  st.records.back().dirty = true;
  st.created.emplace_back(seq, std::move(spec));
  schedule_flush(self);
  return seq;
}

/// How long the oldest batch at the store has been there (0 if none).
std::chrono::milliseconds oldest_write(const registry_state& st) {
  if (st.writing.empty())
    return std::chrono::milliseconds{0};
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - st.writing.front());
}

/// How long the oldest batch at the store has been there, for messages.
std::string overdue(const registry_state& st) {
  auto waited = oldest_write(st);
  return "the store has not completed a write for "
         + std::to_string(waited.count()) + " ms (store.write-timeout is "
         + std::to_string(st.cfg.write_timeout.count()) + " ms)";
}

/// Answers a submission of task `seq` now if it is stored, else at commit
/// (or with 503 if the store is stalled).
void acknowledge(self_ptr self, registry_state::promise_type promise,
                 uint64_t seq) {
  auto& st = self->state;
  if (seq > st.committed) {
    if (st.stalled) {
      promise.deliver(make_error(
          error_code::unavailable,
          overdue(st) + "; the task with this Idempotency-Key is not stored "
                        "yet: retry with the same key later"));
      return;
    }
    st.acks.emplace_back(seq, std::move(promise));
    return;
  }
  if (auto r = st.at(seq))
    promise.deliver(st.view(seq, *r));
  else
    promise.deliver(not_found());
}

/// Removes tasks whose insert failed: they were never acknowledged and never
/// ran, so nothing of them stays (record, id, idempotency key, listing); a
/// retry with the same key creates the task anew.
void drop_unstored(self_ptr self, const std::vector<uint64_t>& seqs) {
  auto& st = self->state;
  for (auto seq : seqs) {
    auto r = st.at(seq);
    if (r == nullptr)
      continue;
    if (auto i = st.waiters.find(seq); i != st.waiters.end()) {
      for (auto& w : i->second)
        w.promise.deliver(not_found());
      st.waiters.erase(i);
    }
    if (r->status == task_status::scheduled)
      count_scheduled(self, -1);
    if (auto& gauge = st.cfg.pools[r->pool].gauge)
      gauge->remove(1); // admitted, never queued
    st.forget(seq, *r);
    *r = record{}; // removed(); evict drops the slot
  }
}

void arm_write_check(self_ptr self, std::chrono::milliseconds in) {
  auto& st = self->state;
  if (st.stall_check_pending || st.cfg.write_timeout.count() <= 0)
    return;
  st.stall_check_pending = true;
  self->delayed_send(self, in, timeout_atom::value, write_check);
}

/// The write timeout: a batch at the store for longer than
/// store.write-timeout answers its submitters 503 (their tasks stay in
/// memory, keys reserved, and run if the batch commits later); until the
/// store answers, new submissions get 503 at once.
void check_write(self_ptr self) {
  auto& st = self->state;
  st.stall_check_pending = false;
  if (st.writing.empty() || st.stalled)
    return;
  auto waited = oldest_write(st);
  if (waited < st.cfg.write_timeout) { // a later batch: its own deadline
    arm_write_check(self, st.cfg.write_timeout - waited);
    return;
  }
  st.stalled = true;
  auto why = overdue(st);
  note_store_stall(why);
  log::event(log::level::error, "store_stalled",
             {{"msg", why + "; answering submissions 503 until it does"}});
  auto pending = make_error(error_code::unavailable,
                            why + "; the task may still be stored: retry with "
                                  "the same Idempotency-Key to learn its id");
  for (auto& [seq, promise] : st.acks)
    promise.deliver(pending);
  st.acks.clear();
  auto refused = make_error(error_code::unavailable,
                            why + "; nothing was created");
  for (auto& [key, ws] : st.key_lookups)
    for (auto& w : ws)
      w.promise.deliver(refused);
  st.key_lookups.clear(); // their store lookups find nothing waiting
}

/// Keeps memory bounded: drops terminal tasks that expired or (with a store)
/// exceed `memory_tasks`, oldest first; tasks that have not ended move aside
/// to `pinned` instead of blocking the ones behind them.
void evict(self_ptr self) {
  auto& st = self->state;
  auto now = now_ms();
  auto over_cap = [&] {
    return st.durable() && st.records.size() > st.cfg.memory_tasks;
  };
  // Is an expired task close behind the front (worth moving the front aside)?
  auto expired_behind = [&] {
    if (st.cfg.result_ttl.count() == 0)
      return false;
    auto n = std::min<size_t>(st.records.size(), 64);
    for (size_t i = 1; i < n; ++i)
      if (st.expired(st.records[i], now))
        return true;
    return false;
  };
  while (!st.records.empty()) {
    auto seq = st.base + 1;
    auto& r = st.records.front();
    if (r.removed() && seq <= st.committed) {
      st.records.pop_front();
      ++st.base;
      continue;
    }
    if (r.dirty || seq > st.committed)
      break; // the store does not have its latest state yet
    if (is_terminal(r.status) && !st.awaits_callback(seq)) {
      if (!st.expired(r, now) && !over_cap())
        break;
      st.forget(seq, r);
    } else {
      if (!over_cap() && !expired_behind())
        break;
      st.pinned.emplace(seq, std::move(r));
    }
    st.records.pop_front();
    ++st.base;
  }
}

/// Periodic upkeep: expiry in memory and in the store, memory bound.
void sweep(self_ptr self) {
  auto& st = self->state;
  auto now = now_ms();
  evict(self);
  for (auto i = st.pinned.begin(); i != st.pinned.end();) {
    auto& r = i->second;
    if (is_terminal(r.status) && !r.dirty && !st.awaits_callback(i->first)
        && (st.durable() || st.expired(r, now))) {
      st.forget(i->first, r);
      i = st.pinned.erase(i);
    } else {
      ++i;
    }
  }
  st.compact_results();
  auto ttl = st.cfg.result_ttl;
  if (st.durable() && ttl.count() > 0)
    self->send(st.cfg.store, sweep_atom::value, now - ttl.count());
  auto every = ttl.count() == 0
                   ? std::chrono::milliseconds{1000}
                   : std::clamp(ttl / 4, std::chrono::milliseconds{100},
                                std::chrono::milliseconds{60000});
  self->delayed_send(self, every, sweep_atom::value);
}

void settle_batches(self_ptr self);

/// A batch is on disk (or failed): dispatch what it inserted, send the next
/// batch, answer the submissions it made durable.
void on_written(self_ptr self, store_batch& batch) {
  auto& st = self->state;
  if (!st.writing.empty()) // empty after shutdown's last flush
    st.writing.pop_front();
  if (!st.writing.empty()) // the next batch's deadline
    arm_write_check(self, std::max(std::chrono::milliseconds{0},
                                   st.cfg.write_timeout - oldest_write(st)));
  if (st.stalled) {
    st.stalled = false;
    note_store_stall({});
    log::event(batch.error.empty() ? log::level::info : log::level::error,
               batch.error.empty() ? "store_recovered" : "store_error",
               {{"msg", std::string{"the store completed the late write"}
                          + (batch.error.empty() ? "" : " (it failed)")},
                {"error", batch.error}});
  }
  std::vector<uint64_t> inserted;
  for (auto& row : batch.rows)
    if (row.insert)
      inserted.push_back(row.seq);
  if (!batch.error.empty()) {
    // Not stored: remove the new tasks (their submitters get 503) and retry
    // the state changes with the next batch, a little later.
    drop_unstored(self, inserted);
    if (!st.flush_scheduled) {
      st.flush_scheduled = true;
      self->delayed_send(self, retry_after_failure, flush_atom::value);
    }
    for (auto& row : batch.rows)
      if (!row.insert)
        if (auto r = st.at(row.seq))
          mark_changed(self, row.seq, *r);
  } else {
    for (auto& row : batch.rows) {
      if (!row.insert)
        continue;
      auto r = st.at(row.seq);
      if (r != nullptr && r->status == task_status::scheduled) {
        if (auto& gauge = st.cfg.pools[r->pool].gauge)
          gauge->remove(1); // admitted, queued only when due
        schedule_task(self, row.seq, row.spec.run_at); // its spec: stored
      } else if (r != nullptr && !is_terminal(r->status)) {
        dispatch(self, row.seq, std::move(row.spec), 0);
      } else if (auto& gauge = st.cfg.pools[r ? r->pool : 0].gauge) {
        gauge->remove(1); // cancelled before it was stored: never queued
      }
    }
  }
  if (!inserted.empty())
    st.committed = std::max(st.committed, inserted.back());
  // The next batch goes to the store before the answers are written.
  if (batch.error.empty() && (!st.created.empty() || !st.changed.empty()))
    flush(self);
  std::unordered_set<uint64_t> failed;
  if (!batch.error.empty())
    failed.insert(inserted.begin(), inserted.end());
  auto pending = std::move(st.acks);
  st.acks.clear();
  for (auto& [seq, promise] : pending) {
    if (seq > st.committed)
      st.acks.emplace_back(seq, std::move(promise));
    else if (failed.count(seq) > 0)
      promise.deliver(make_error(error_code::unavailable,
                                 "the task could not be stored: "
                                     + batch.error));
    else
      acknowledge(self, std::move(promise), seq);
  }
  evict(self);
}

/// Handles the batches now on disk (or failed), in the order written; then,
/// with the store free for another, sends the changes gathered meanwhile.
void settle_batches(self_ptr self) {
  auto& st = self->state;
  for (auto& batch : st.written_batches.take_settled())
    on_written(self, batch);
  if (!st.flush_scheduled) // else a retry after a failure is due
    flush(self);
}

/// Sends the changes gathered since the last batch to the store; at most
/// max_batches_at_store unwritten at a time, so batches grow with the
/// store's latency (group commit).
void flush(self_ptr self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.at_store >= st.max_batches_at_store
      || (st.created.empty() && st.changed.empty()))
    return;
  store_batch batch;
  batch.early = true;
  batch.rows.reserve(st.created.size() + st.changed.size());
  std::vector<uint64_t> inserted; // failed if the store is gone
  inserted.reserve(st.created.size());
  for (auto& [seq, spec] : st.created) {
    auto r = st.at(seq);
    r->dirty = false;
    if (auto slot = st.fired_slots.find(seq); slot != st.fired_slots.end()) {
      // The schedule's slot is stored with its task: it fires once.
      batch.marks.push_back({spec.schedule, slot->second, r->id});
      st.fired_slots.erase(slot);
    }
    batch.rows.push_back({seq, true, st.view(seq, *r), std::move(spec)});
    inserted.push_back(seq);
  }
  for (auto seq : st.changed) {
    auto r = st.at(seq);
    if (r == nullptr || !r->dirty)
      continue; // already in this batch as an insert
    r->dirty = false;
    batch.rows.push_back(
        {seq, false, st.view(seq, *r), {}, st.cycle_start(seq)});
  }
  st.created.clear();
  st.changed.clear();
  ++st.at_store;
  st.writing.push_back(std::chrono::steady_clock::now());
  arm_write_check(self, st.cfg.write_timeout - oldest_write(st));
  self->request(st.cfg.store, caf::infinite, std::move(batch))
    .then(
      [=](store_batch& done) {
        --self->state.at_store;
        self->state.written_batches.written(std::move(done));
        settle_batches(self);
      },
      [=](caf::error& err) {
        // The store is gone (shutdown or crash): nothing more is durable,
        // and no sync report comes for the batches it wrote.
        auto& st = self->state;
        --st.at_store;
        store_batch lost;
        lost.error = self->system().render(err);
        for (auto seq : inserted)
          lost.rows.push_back({seq, true, {}, {}});
        st.written_batches.fail_all(lost.error);
        st.written_batches.written(std::move(lost));
        settle_batches(self);
      });
}

/// Resolves keyed submissions once the store says whether the key exists.
/// The answer to a repeated Idempotency-Key whose request differs from the
/// one that created task `first`.
caf::error mismatch(const task_id& first) {
  return make_error(error_code::idempotency_mismatch,
                    "this Idempotency-Key was used for task " + first.to_string()
                      + " with a different request (kind, pool, input, "
                        "max_retries, backoff_ms, timeout_ms, priority, "
                        "callback_url): use a new key "
                        "for a new task");
}

void lookup_key(self_ptr self, const std::string& key) {
  auto take = [self, key] {
    auto& lookups = self->state.key_lookups;
    auto i = lookups.find(key);
    if (i == lookups.end()) // answered meanwhile (write timeout)
      return std::vector<registry_state::keyed_submission>{};
    auto waiting = std::move(i->second);
    lookups.erase(i);
    return waiting;
  };
  self->request(self->state.cfg.store, caf::infinite, get_atom::value,
                key_atom::value, key)
    .then(
      [=](task_row& row) {
        auto hash = request_hash(row.spec);
        for (auto& w : take())
          if (request_hash(w.spec) == hash)
            w.promise.deliver(row.state);
          else
            w.promise.deliver(mismatch(row.state.id));
      },
      [=](caf::error& err) {
        auto waiting = take();
        if (!is_error(err, error_code::not_found)) {
          for (auto& w : waiting)
            w.promise.deliver(err);
          return;
        }
        // A new key: the first submission creates the task, the others
        // (same key, sent meanwhile) get that task too.
        auto& st = self->state;
        if (waiting.empty())
          return;
        if (st.stalled) {
          for (auto& w : waiting)
            w.promise.deliver(make_error(error_code::unavailable,
                                         overdue(st)
                                           + "; nothing was created"));
          return;
        }
        auto& spec = waiting.front().spec;
        auto pool = st.pool_index(spec.pool);
        if (auto full = st.cfg.pools[pool].admit(1); !full.empty()) {
          for (auto& w : waiting)
            w.promise.deliver(make_error(error_code::busy, full));
          return;
        }
        auto kind = st.kind_index(spec.kind);
        auto hash = request_hash(spec);
        auto seq = create(self, std::move(spec), kind, pool);
        for (auto& w : waiting)
          if (&w == &waiting.front() || request_hash(w.spec) == hash)
            acknowledge(self, std::move(w.promise), seq);
          else
            w.promise.deliver(mismatch(st.at(seq)->id));
      });
}

/// Answers a submission (a value or an error) and returns nothing, so that
/// `return answer(...)` ends the function that decided.
template <class T>
void answer(registry_state::promise_type& promise, T&& x) {
  promise.deliver(std::forward<T>(x));
}

/// Creates the task of `spec` (checked by check_task in HTTP or the
/// gateway) and answers `promise` once it is stored.
void submit(self_ptr self, registry_state::promise_type promise,
            task_spec spec) {
  auto& st = self->state;
  auto kind = current_catalog().kind_index(spec.kind);
  auto pool = std::find_if(st.cfg.pools.begin(), st.cfg.pools.end(),
                           [&](auto& p) { return p.name == spec.pool; })
              - st.cfg.pools.begin();
  if (kind < 0)
    return answer(promise, make_error(error_code::invalid,
                                      "kind: unknown kind '" + spec.kind
                                        + "'"));
  auto& key = spec.idempotency_key;
  if (!key.empty()) {
    // A repeated idempotency key gets the first task, whatever its state,
    // if it asks for the same thing.
    if (auto i = st.by_key.find(key); i != st.by_key.end()) {
      auto r = st.at(i->second.seq);
      if (r != nullptr && !st.expired(*r, now_ms())) {
        if (i->second.hash != request_hash(spec))
          return answer(promise, mismatch(r->id));
        return acknowledge(self, promise, i->second.seq);
      }
      st.by_key.erase(i);
    }
  }
  if (static_cast<size_t>(pool) == st.cfg.pools.size())
    return answer(promise, make_error(error_code::invalid,
                                      "pool: unknown pool '" + spec.pool
                                        + "'"));
  if (st.stalled)
    return answer(promise, make_error(error_code::unavailable,
                                      overdue(st) + "; nothing was created"));
  if (!key.empty() && st.durable() && st.base > 0) {
    // Older tasks live in the store only: ask it about the key.
    auto& waiting = st.key_lookups[key];
    waiting.push_back({promise, std::move(spec)});
    if (waiting.size() == 1)
      lookup_key(self, waiting.front().spec.idempotency_key);
    return;
  }
  if (auto full = st.cfg.pools[pool].admit(1); !full.empty())
    return answer(promise, make_error(error_code::busy, std::move(full)));
  auto seq = create(self, std::move(spec), static_cast<uint16_t>(kind),
                    static_cast<uint8_t>(pool));
  if (!st.durable())
    return answer(promise, st.view(seq, *st.at(seq)));
  acknowledge(self, promise, seq);
}

/// Chains: submits `spec` once every task of its `after` list is known to
/// exist (in memory, else in the store); else 422 naming the first unknown.
void submit_after(self_ptr self, registry_state::promise_type promise,
                  task_spec spec) {
  auto& st = self->state;
  auto now = now_ms();
  std::vector<task_id> in_store;
  for (auto& id : spec.after) {
    if (auto seq = st.lookup(id)) {
      auto& r = *st.at(seq);
      if (seq <= st.committed && !st.expired(r, now))
        continue;
      return answer(promise, after_not_found(id)); // not stored, or expired
    }
    if (!st.durable())
      return answer(promise, after_not_found(id));
    if (std::find(in_store.begin(), in_store.end(), id) == in_store.end())
      in_store.push_back(id);
  }
  if (in_store.empty())
    return submit(self, promise, std::move(spec));
  // Ended and evicted, or never existed: the store knows.
  struct check {
    size_t left;
    bool failed = false;
    task_spec spec;
  };
  auto c = std::make_shared<check>(check{in_store.size(), false, std::move(spec)});
  for (auto& id : in_store)
    self->request(st.cfg.store, caf::infinite, get_atom::value, id)
      .then(
        [=](task_view&) mutable {
          if (--c->left == 0 && !c->failed)
            submit(self, promise, std::move(c->spec));
        },
        [=](caf::error& err) mutable {
          if (c->failed)
            return;
          c->failed = true;
          promise.deliver(is_error(err, error_code::not_found)
                            ? after_not_found(id)
                            : err);
        });
}

/// Brings a task the store has back into memory (among the pinned ones):
/// a recovered task, or an evicted one being retried.
record& pin(self_ptr self, const task_row& row) {
  auto& st = self->state;
  auto& v = row.state;
  record r;
  r.id = v.id;
  r.created_at = v.created_at;
  r.started_at = v.started_at;
  r.finished_at = v.finished_at;
  r.attempts = v.attempts;
  r.max_retries = v.max_retries;
  r.priority = static_cast<uint8_t>(v.priority);
  r.status = v.status;
  r.cancel_requested = v.cancel_requested;
  if (v.error)
    r.error = std::make_unique<std::string>(*v.error);
  if (!row.spec.idempotency_key.empty())
    r.key = std::make_unique<std::string>(row.spec.idempotency_key);
  if (v.progress)
    st.progress[row.seq] = *v.progress;
  if (row.cycle_start > 0)
    st.cycle_starts[row.seq] = row.cycle_start;
  if (v.status == task_status::scheduled) {
    r.started_at = v.run_at; // until it is due (see run_ats)
    count_scheduled(self, 1);
  } else if (v.run_at != 0) {
    st.run_ats[row.seq] = v.run_at;
  }
  if (!row.spec.after.empty())
    st.afters[row.seq] = row.spec.after;
  if (v.callback)
    st.callbacks[row.seq] = *v.callback;
  r.kind = st.kind_index(v.kind);
  r.pool = st.pool_index(v.pool);
  auto& rec = st.pinned.emplace(row.seq, std::move(r)).first->second;
  st.index(row.seq, rec.id);
  st.note_schedule(row.seq, v.schedule);
  if (rec.key)
    st.by_key[*rec.key] = {row.seq, request_hash(row.spec)};
  return rec;
}

/// Takes over the tasks a previous run left unfinished. Those that were
/// running lost that attempt: it counts, so a task that keeps killing the
/// process runs out of attempts instead of looping.
void recover(self_ptr self, std::vector<task_row>& rows) {
  auto& st = self->state;
  auto now = now_ms();
  size_t orphans = 0;
  for (auto& row : rows) {
    auto& v = row.state;
    auto seq = row.seq;
    auto& rec = pin(self, row);
    std::string lost;
    auto kind = current_catalog().find_kind(v.kind);
    auto gone = kind == nullptr ? "kind '" + v.kind + "'"
                : rec.pool >= st.cfg.pools.size() ? "pool '" + v.pool + "'"
                                                 : std::string{};
    if (!gone.empty()) {
      // The config changed: fail it, saying why (never drop it silently).
      st.set_error(rec, "cannot resume after a restart: the " + gone
                          + " is no longer in the configuration");
      finish(self, rec, seq, task_status::failed, now);
      ++orphans;
      continue;
    }
    if (rec.status == task_status::scheduled) {
      // Re-armed: its spec stays in the store until it is due; a run_at
      // that passed while actorq was down is due at once (runs once).
      schedule_task(self, seq, v.run_at);
      continue;
    }
    if (rec.status == task_status::running) {
      auto msg = "attempt " + std::to_string(rec.attempts)
                 + " was lost: actorq stopped while it ran";
      if (rec.cancel_requested) {
        finish(self, rec, seq, task_status::cancelled, now);
        continue;
      }
      if (rec.attempts > rec.max_retries + st.cycle_start(seq)) {
        st.set_error(rec, msg + "; no attempts left");
        finish(self, rec, seq, task_status::failed, now);
        continue;
      }
      st.set_error(rec, msg);
      rec.status = task_status::retrying;
      mark_changed(self, seq, rec);
    }
    if (auto& gauge = st.cfg.pools[rec.pool].gauge)
      gauge->add(1);
    dispatch(self, seq, std::move(row.spec), rec.attempts);
  }
  if (orphans > 0)
    log::event(log::level::warn, "config_warning",
               {{"msg", std::to_string(orphans)
                          + " recovered tasks failed: their kind or pool is "
                            "no longer in the configuration"},
                {"tasks", orphans}});
}

/// Takes over the callbacks a previous run left pending for tasks that had
/// ended: back into memory (pinned until delivered) and to the sender.
void resume_callbacks(self_ptr self) {
  auto rows = std::move(self->state.cfg.pending_callbacks);
  for (auto& row : rows)
    send_callback(self, row.seq, pin(self, row));
  if (!rows.empty())
    log::event(log::level::info, "callbacks_resumed",
               {{"msg", "resuming " + std::to_string(rows.size())
                          + " pending completion callbacks"},
                {"callbacks", rows.size()}});
}

/// Cancels unfinished task `seq`: at once if it waits, when its pool
/// confirms if it runs.
task_view cancel_task(self_ptr self, uint64_t seq, record& r) {
  auto& st = self->state;
  if (r.status == task_status::waiting
      || (!st.held.empty() && st.held.count(seq) > 0)) { // not at its pool
    unhold(self, seq, r);
    finish(self, r, seq, task_status::cancelled, now_ms());
    return st.view(seq, r);
  }
  if (seq <= st.committed) { // dispatched: the pool has it
    auto listener = caf::actor_cast<job_listener_actor>(self);
    self->send(st.cfg.pools[r.pool].handle, cancel_atom::value, listener, seq);
  }
  if (r.status == task_status::running) {
    r.cancel_requested = true; // ends cancelled when the pool confirms
    mark_changed(self, seq, r);
    return st.view(seq, r);
  }
  finish(self, r, seq, task_status::cancelled, now_ms());
  return st.view(seq, r);
}

/// DELETE /v1/tasks?status=&kind=: cancels every unfinished task that
/// matches. Unfinished tasks are all in memory (records or pinned).
uint64_t cancel_matching(self_ptr self, const task_filter& filter) {
  auto& st = self->state;
  int kind = filter.kind.empty() ? -1
                                 : current_catalog().kind_index(filter.kind);
  if (!filter.kind.empty() && kind < 0)
    return 0;
  auto matches = [&](const record& r) {
    return !r.removed() && !is_terminal(r.status) && !r.cancel_requested
           && (!filter.status || r.status == *filter.status)
           && (kind < 0 || r.kind == kind);
  };
  std::vector<uint64_t> seqs;
  for (size_t i = 0; i < st.records.size(); ++i)
    if (matches(st.records[i]))
      seqs.push_back(st.base + 1 + i);
  for (auto& [seq, r] : st.pinned)
    if (matches(r))
      seqs.push_back(seq);
  for (auto seq : seqs)
    cancel_task(self, seq, *st.at(seq));
  return seqs.size();
}

bool retryable(task_status status) {
  return status == task_status::failed || status == task_status::cancelled;
}

caf::error not_retryable(task_status status) {
  return make_error(error_code::conflict,
                    std::string{"only a failed or cancelled task can be "
                                "retried; this one is "}
                        + to_string(status));
}

/// Starts a new cycle of attempts for the task in `row` (read from the
/// store, spec included): queued again, same id, its attempts counting on;
/// the previous cycle's result, error and times are cleared.
caf::expected<task_view> restart(self_ptr self, task_row& row) {
  auto& st = self->state;
  auto seq = st.lookup(row.state.id);
  if (seq != 0 && !retryable(st.at(seq)->status))
    return not_retryable(st.at(seq)->status); // memory is newer than the row
  if (seq == 0 && !retryable(row.state.status))
    return not_retryable(row.state.status);
  auto pool_at = st.pool_index(row.state.pool);
  if (pool_at >= st.cfg.pools.size()
      || current_catalog().find_kind(row.state.kind) == nullptr)
    return make_error(error_code::conflict,
                      "cannot retry: its kind or pool is no longer in the "
                      "configuration");
  if (auto full = st.cfg.pools[pool_at].admit(1); !full.empty())
    return make_error(error_code::busy, std::move(full));
  if (seq == 0) { // evicted: back into memory
    seq = row.seq;
    pin(self, row);
  }
  auto& r = *st.at(seq);
  int32_t start = r.attempts;
  r.status = task_status::queued;
  r.cancel_requested = false;
  r.started_at = 0;
  r.finished_at = 0;
  st.results.release(r.result);
  r.result = {};
  st.set_error(r, {});
  st.progress.erase(seq);
  if (start > 0)
    st.cycle_starts[seq] = start;
  if (auto cb = st.callbacks.find(seq); cb != st.callbacks.end())
    cb->second = callback_view{cb->second.url, "pending", 0, {}}; // new end
  mark_changed(self, seq, r);
  dispatch(self, seq, std::move(row.spec), start);
  return st.view(seq, r);
}

/// POST /v1/tasks/{id}/retry: checks what memory knows, then reads the
/// task's spec (its input) from the store and restarts it.
caf::result<task_view> retry_task(self_ptr self, const task_id& id) {
  auto& st = self->state;
  if (auto seq = st.lookup(id)) {
    auto& r = *st.at(seq);
    if (st.expired(r, now_ms()) || seq > st.committed)
      return not_found();
    if (!retryable(r.status))
      return not_retryable(r.status);
  }
  if (!st.durable())
    return st.lookup(id) == 0
             ? not_found()
             : make_error(error_code::conflict,
                          "cannot retry: only a store keeps a task's input "
                          "after it ended, and store.path is :memory:");
  auto promise = self->make_response_promise<task_view>();
  self->request(st.cfg.store, caf::infinite, retry_atom::value, id)
    .then(
      [=](task_row& row) mutable {
        auto answer = restart(self, row);
        if (answer)
          promise.deliver(std::move(*answer));
        else
          promise.deliver(answer.error());
      },
      [=](caf::error& err) mutable { promise.deliver(err); });
  return promise;
}

/// POST /v1/pools/{name}/pause|resume: the store remembers it first (so a
/// restart keeps the pool paused), then the pool hears it.
caf::result<pool_stats> hold_pool(self_ptr self, const std::string& name,
                                  bool paused) {
  auto& st = self->state;
  auto i = std::find_if(st.cfg.pools.begin(), st.cfg.pools.end(),
                        [&](auto& p) { return p.name == name; });
  if (i == st.cfg.pools.end())
    return make_error(error_code::not_found, "no pool named '" + name + "'");
  auto pool = i->handle;
  if (!st.durable())
    return self->delegate(pool, hold_atom::value, paused);
  auto promise = self->make_response_promise<pool_stats>();
  self->request(st.cfg.store, caf::infinite, hold_atom::value, name, paused)
    .then(
      [=](bool) mutable {
        promise.delegate(pool, hold_atom::value, paused);
      },
      [=](caf::error& err) mutable { promise.deliver(err); });
  return promise;
}

/// A task not in memory: the store has it if it ended long ago.
caf::result<task_view> read_back(self_ptr self, const task_id& id) {
  auto& st = self->state;
  if (st.durable())
    return self->delegate(st.cfg.store, get_atom::value, id);
  return not_found();
}

/// Applies one event from a pool to its task.
void on_event(self_ptr self, job_event& e) {
  auto& st = self->state;
  auto r = st.at(e.key);
  if (r == nullptr || is_terminal(r->status))
    return; // e.g. cancelled while queued; the pool's echo arrives late
  if (e.phase == job_phase::progress) {
    // Progress says nothing about attempts; kept after the end, and stored.
    auto& p = e.result.result.value;
    st.progress[e.key] = task_progress{p.value("fraction", 0.0),
                                       p.value("message", std::string{}), e.at};
    mark_changed(self, e.key, *r);
    return;
  }
  r->attempts = e.attempts;
  switch (e.phase) {
    case job_phase::progress:
      break;
    case job_phase::started:
      r->status = task_status::running;
      if (r->started_at == 0)
        r->started_at = e.at;
      log_status(st, *r);
      mark_changed(self, e.key, *r);
      break;
    case job_phase::retrying:
      r->status = task_status::retrying;
      st.set_error(*r, std::move(e.result.error));
      log_status(st, *r);
      mark_changed(self, e.key, *r);
      break;
    case job_phase::succeeded:
      if (r->cancel_requested) {
        finish(self, *r, e.key, task_status::cancelled, e.at);
        break;
      }
      st.set_result(*r, e.result.result.value);
      st.set_error(*r, {});
      finish(self, *r, e.key, task_status::succeeded, e.at);
      break;
    case job_phase::failed:
      st.set_error(*r, std::move(e.result.error));
      finish(self, *r, e.key, task_status::failed, e.at);
      break;
    case job_phase::cancelled:
      finish(self, *r, e.key, task_status::cancelled, e.at);
      break;
  }
}

/// The task once it has ended, or as it is after `ms` (a long-poll: its
/// promise waits among the task's waiters, under one timer for the
/// earliest deadline).
caf::result<task_view> long_poll(self_ptr self, const task_id& id,
                                 int64_t ms) {
  auto& st = self->state;
  uint64_t seq;
  switch (st.locate(id, now_ms(), seq)) {
    case view_source::memory:
      break;
    case view_source::not_found:
      return not_found();
    case view_source::store:
      return read_back(self, id); // ended long ago
  }
  auto& r = *st.at(seq);
  if (is_terminal(r.status) || ms <= 0)
    return st.view(seq, r);
  auto promise = self->make_response_promise<task_view>();
  auto deadline = clock_ms(self) + ms;
  st.waiters[seq].push_back({deadline, promise});
  st.wait_deadlines.push(deadline, seq);
  if (deadline < st.wait_armed)
    arm_wait_check(self, deadline);
  return promise;
}

/// A page of tasks, newest first: from memory, then (with a store) the
/// older ones from the store, with the memory state where it is newer.
caf::result<task_page> list_tasks(self_ptr self, const task_filter& filter) {
  auto& st = self->state;
  auto now = now_ms();
  task_page page;
  uint64_t seq = filter.cursor == 0
                   ? st.last_seq()
                   : std::min<uint64_t>(filter.cursor, st.last_seq());
  int kind = filter.kind.empty() ? -1 : st.kind_index(filter.kind);
  auto matches = [&](const record& r) {
    return (!filter.status || r.status == *filter.status)
           && (kind < 0 || r.kind == kind) && !st.expired(r, now);
  };
  for (; seq > st.base; --seq) {
    auto& r = st.records[seq - st.base - 1];
    if (seq > st.committed || r.removed() || !matches(r))
      continue; // only stored tasks are listed
    if (page.tasks.size() == filter.limit) {
      page.next = seq; // the next page starts here
      return page;
    }
    page.tasks.push_back(st.view(seq, r));
  }
  if (seq == 0)
    return page;
  if (!st.durable()) {
    // Older tasks still in memory are the pinned ones.
    for (auto i = st.pinned.upper_bound(seq); i != st.pinned.begin();) {
      --i;
      if (!matches(i->second))
        continue;
      if (page.tasks.size() == filter.limit) {
        page.next = i->first;
        return page;
      }
      page.tasks.push_back(st.view(i->first, i->second));
    }
    return page;
  }
  // Older tasks come from the store; for those still in memory
  // (pinned) the memory state is newer.
  auto rest = filter;
  rest.cursor = seq;
  rest.limit = filter.limit - static_cast<uint32_t>(page.tasks.size());
  auto promise = self->make_response_promise<task_page>();
  self->request(st.cfg.store, caf::infinite, list_atom::value, rest)
    .then(
      [=](task_page& more) mutable {
        auto& st = self->state;
        for (auto& v : more.tasks) {
          if (auto s = st.lookup(v.id))
            v = st.view(s, *st.at(s));
          if (filter.status && v.status != *filter.status)
            continue; // changed since the store's copy: no match now
          page.tasks.push_back(std::move(v));
        }
        page.next = more.next;
        promise.deliver(std::move(page));
      },
      [=](caf::error& err) mutable { promise.deliver(err); });
  return promise;
}

/// Cancels the task `id` (running, queued, waiting or scheduled); an ended
/// one is answered with how it ended.
caf::result<task_view> cancel_by_id(self_ptr self, const task_id& id) {
  auto& st = self->state;
  auto seq = st.lookup(id);
  if (seq == 0) {
    if (!st.durable())
      return not_found();
    // Not in memory: it ended; the store knows how.
    auto promise = self->make_response_promise<task_view>();
    self->request(st.cfg.store, caf::infinite, get_atom::value, id)
      .then(
        [=](task_view& v) mutable {
          promise.deliver(already_ended(v.status));
        },
        [=](caf::error& err) mutable { promise.deliver(err); });
    return promise;
  }
  auto& r = *st.at(seq);
  if (st.expired(r, now_ms()))
    return not_found();
  if (is_terminal(r.status))
    return already_ended(r.status);
  return cancel_task(self, seq, r);
}

/// On shutdown, answer every long-poll with the task as it is now (CAF 0.17
/// would leave the waiting HTTP threads blocked until their timeout), send
/// the last changes to the store, and refuse what is not stored yet.
void on_shutdown(self_ptr self, const caf::exit_msg& msg) {
  auto& st = self->state;
  for (auto& [seq, ws] : st.waiters)
    for (auto& w : ws)
      w.promise.deliver(st.view(seq, *st.at(seq)));
  st.waiters.clear();
  if (st.durable()) {
    st.writing.clear(); // the batches at the store still get written
    st.at_store = 0;
    flush(self);
  }
  auto stopping = make_error(error_code::shutting_down,
                             "actorq is shutting down; the task was not "
                             "acknowledged");
  for (auto& [seq, promise] : st.acks)
    promise.deliver(stopping);
  st.acks.clear();
  for (auto& [key, ws] : st.key_lookups)
    for (auto& w : ws)
      w.promise.deliver(stopping);
  st.key_lookups.clear();
  self->quit(msg.reason);
}

} // namespace

// -- registry_state -----------------------------------------------------------

registry_state::record* registry_state::at(uint64_t seq) {
  if (seq > base && seq - base <= records.size()) {
    auto r = &records[seq - base - 1];
    return r->removed() ? nullptr : r;
  }
  auto i = pinned.find(seq);
  return i == pinned.end() ? nullptr : &i->second;
}

const registry_state::record* registry_state::at(uint64_t seq) const {
  return const_cast<registry_state*>(this)->at(seq);
}

uint64_t registry_state::lookup(const task_id& id) const {
  return ids.find(id, id_of(*this));
}

view_source registry_state::locate(const task_id& id, int64_t now,
                                   uint64_t& seq) const {
  if ((seq = lookup(id)) != 0) {
    if (expired(*at(seq), now) || seq > committed)
      return view_source::not_found; // not stored yet: not acknowledged
    return view_source::memory;
  }
  return durable() ? view_source::store : view_source::not_found;
}

view_source registry_state::find_view(const task_id& id, int64_t now,
                                      task_view& out) const {
  uint64_t seq;
  auto source = locate(id, now, seq);
  if (source == view_source::memory)
    out = view(seq, *at(seq));
  return source;
}

void registry_state::index(uint64_t seq, const task_id& id) {
  ids.insert(seq, id, id_of(*this));
}

void registry_state::set_result(record& r, const json& result) {
  results.release(r.result);
  r.result = results.append(result.dump());
}

void registry_state::set_error(record& r, std::string error) {
  if (error.empty())
    r.error.reset();
  else
    r.error = std::make_unique<std::string>(std::move(error));
}

bool registry_state::expired(const record& r, int64_t now) const {
  auto ttl = cfg.result_ttl.count();
  return ttl > 0 && is_terminal(r.status) && r.finished_at < now - ttl;
}

void registry_state::forget(uint64_t seq, record& r) {
  ids.erase(seq, r.id, id_of(*this));
  if (r.key) {
    if (auto i = by_key.find(*r.key); i != by_key.end() && i->second.seq == seq)
      by_key.erase(i);
    r.key.reset();
  }
  results.release(r.result);
  r.error.reset();
  progress.erase(seq);
  cycle_starts.erase(seq);
  run_ats.erase(seq);
  if (!afters.empty())
    afters.erase(seq);
  callbacks.erase(seq);
  schedule_of.erase(seq);
}

void registry_state::compact_results() {
  if (!results.wants_compaction())
    return;
  results.compact([this](result_arena::keep_fn keep) {
    for (auto& r : records)
      keep(r.result);
    for (auto& [seq, r] : pinned)
      keep(r.result);
  });
}

task_view registry_state::view(uint64_t seq, const record& r) const {
  task_view v;
  v.id = r.id;
  v.kind = kind_name(r.kind);
  v.pool = pool_name(r.pool);
  v.status = r.status;
  v.cancel_requested = r.cancel_requested;
  v.attempts = r.attempts;
  v.max_retries = r.max_retries;
  v.priority = r.priority;
  v.created_at = r.created_at;
  v.started_at = r.started_at;
  v.finished_at = r.finished_at;
  if (!r.result.empty())
    v.result.text = results.view(r.result);
  if (r.error)
    v.error = *r.error;
  if (!progress.empty())
    if (auto p = progress.find(seq); p != progress.end())
      v.progress = p->second;
  if (r.status == task_status::scheduled) {
    v.run_at = r.started_at; // see run_ats
    v.started_at = 0;
  } else if (!run_ats.empty()) {
    if (auto d = run_ats.find(seq); d != run_ats.end())
      v.run_at = d->second;
  }
  if (!afters.empty())
    if (auto a = afters.find(seq); a != afters.end())
      v.after = a->second;
  if (!callbacks.empty())
    if (auto cb = callbacks.find(seq); cb != callbacks.end())
      v.callback = cb->second;
  if (!schedule_of.empty())
    if (auto s = schedule_of.find(seq); s != schedule_of.end())
      v.schedule = schedule_names[s->second];
  return v;
}

void registry_state::note_schedule(uint64_t seq, const std::string& name) {
  if (name.empty())
    return;
  auto i = std::find(schedule_names.begin(), schedule_names.end(), name);
  if (i == schedule_names.end())
    i = schedule_names.insert(schedule_names.end(), name);
  schedule_of[seq] = static_cast<uint16_t>(i - schedule_names.begin());
}

const std::string& registry_state::kind_name(uint16_t kind) const {
  auto& kinds = current_catalog().kinds();
  return kind < kinds.size() ? kinds[kind].name
                             : retired_kinds[kind - kinds.size()];
}

const std::string& registry_state::pool_name(uint8_t pool) const {
  return pool < cfg.pools.size() ? cfg.pools[pool].name
                                 : retired_pools[pool - cfg.pools.size()];
}

uint16_t registry_state::kind_index(const std::string& name) {
  auto& kinds = current_catalog().kinds();
  if (auto i = current_catalog().kind_index(name); i >= 0)
    return static_cast<uint16_t>(i);
  auto i = std::find(retired_kinds.begin(), retired_kinds.end(), name);
  if (i == retired_kinds.end())
    i = retired_kinds.insert(retired_kinds.end(), name);
  return static_cast<uint16_t>(kinds.size() + (i - retired_kinds.begin()));
}

uint8_t registry_state::pool_index(const std::string& name) {
  for (size_t i = 0; i < cfg.pools.size(); ++i)
    if (cfg.pools[i].name == name)
      return static_cast<uint8_t>(i);
  auto i = std::find(retired_pools.begin(), retired_pools.end(), name);
  if (i == retired_pools.end())
    i = retired_pools.insert(retired_pools.end(), name);
  return static_cast<uint8_t>(cfg.pools.size() + (i - retired_pools.begin()));
}

/// Creates the task a schedule fired for `slot` (the scheduler checked its
/// spec at start-up); the slot is stored in the task's insert transaction.
caf::result<task_view> submit_scheduled(self_ptr self, task_spec& spec,
                                        int64_t slot) {
  auto& st = self->state;
  auto kind = current_catalog().kind_index(spec.kind);
  if (kind < 0)
    return make_error(error_code::invalid,
                      "kind: unknown kind '" + spec.kind + "'");
  auto pool = st.pool_index(spec.pool);
  if (pool >= st.cfg.pools.size())
    return make_error(error_code::invalid,
                      "pool: unknown pool '" + spec.pool + "'");
  if (st.stalled)
    return make_error(error_code::unavailable,
                      overdue(st) + "; nothing was created");
  if (auto full = st.cfg.pools[pool].admit(1); !full.empty())
    return make_error(error_code::busy, std::move(full));
  auto name = spec.schedule;
  auto seq = create(self, std::move(spec), static_cast<uint16_t>(kind), pool);
  st.note_schedule(seq, name);
  if (!st.durable())
    return st.view(seq, *st.at(seq));
  st.fired_slots[seq] = slot;
  auto promise = self->make_response_promise<task_view>();
  acknowledge(self, promise, seq);
  return promise;
}

// -- behavior -----------------------------------------------------------------

registry_actor::behavior_type registry(self_ptr self,
                                       registry_settings settings) {
  auto& st = self->state;
  auto recovered = std::move(settings.recovered);
  st.cfg = std::move(settings);
  st.base = st.cfg.last_seq;
  st.committed = st.cfg.last_seq;
  if (st.durable())
    self->link_to(st.cfg.store); // the store ends after our last batch
  recover(self, recovered);
  resume_callbacks(self);
  if (st.durable() || st.cfg.result_ttl.count() > 0)
    sweep(self);
  self->set_exit_handler(
      [self](caf::exit_msg& msg) { on_shutdown(self, msg); });
  return {
      [=](submit_atom, task_spec& spec, schedule_atom,
          int64_t slot) -> caf::result<task_view> {
        return submit_scheduled(self, spec, slot);
      },
      [=](submit_atom, task_spec& spec) -> caf::result<task_view> {
        auto promise = self->make_response_promise<task_view>();
        if (spec.after.empty())
          submit(self, promise, std::move(spec));
        else
          submit_after(self, promise, std::move(spec));
        return promise;
      },
      [=](get_atom, const task_id& id) -> caf::result<task_view> {
        task_view v;
        switch (self->state.find_view(id, now_ms(), v)) {
          case view_source::memory:
            return v;
          case view_source::not_found:
            return not_found();
          case view_source::store:
            break;
        }
        return read_back(self, id);
      },
      [=](wait_atom, const task_id& id, int64_t ms) -> caf::result<task_view> {
        return long_poll(self, id, ms);
      },
      [=](timeout_atom, uint64_t which) {
        if (which == write_check)
          check_write(self);
        else if (which == wait_check)
          answer_expired_waits(self);
      },
      [=](list_atom, const task_filter& filter) -> caf::result<task_page> {
        return list_tasks(self, filter);
      },
      [=](cancel_atom, const task_id& id) -> caf::result<task_view> {
        return cancel_by_id(self, id);
      },
      [=](cancel_atom, const task_filter& filter) -> uint64_t {
        return cancel_matching(self, filter);
      },
      [=](retry_atom, const task_id& id) -> caf::result<task_view> {
        return retry_task(self, id);
      },
      [=](hold_atom, const std::string& name,
          bool paused) -> caf::result<pool_stats> {
        return hold_pool(self, name, paused);
      },
      [=](std::vector<job_event>& events) {
        for (auto& e : events)
          on_event(self, e);
      },
      [=](callback_atom, uint64_t seq, callback_view& cb) {
        on_callback(self, seq, cb);
      },
      [=](flush_atom) { flush(self); },
      [=](synced_atom, uint64_t ticket, const std::string& error) {
        self->state.written_batches.synced(ticket, error);
        settle_batches(self);
      },
      [=](sweep_atom) { sweep(self); },
      [=](due_atom, int64_t due) { on_due(self, due); },
  };
}

// -- registry_reads and registry_impl ----------------------------------------

view_source registry_reads::read(const task_id& id, task_view& out) const {
  read_gate::read_lock lock{gate};
  if (state == nullptr)
    return view_source::store; // not running: the registry answers (or not)
  return state->find_view(id, now_ms(), out);
}

registry_impl::registry_impl(caf::actor_config& cfg,
                             registry_settings settings)
    : stateful_actor(cfg),
      settings_(std::move(settings)),
      reads_(settings_.reads) {
}

registry_impl::behavior_type registry_impl::make_behavior() {
  auto behavior = registry(this, std::move(settings_));
  if (reads_) {
    read_gate::write_lock lock{reads_->gate};
    reads_->state = &state;
  }
  return behavior;
}

caf::invoke_message_result registry_impl::consume(caf::mailbox_element& x) {
  if (!reads_)
    return stateful_actor::consume(x);
  read_gate::write_lock lock{reads_->gate};
  return stateful_actor::consume(x);
}

bool registry_impl::cleanup(caf::error&& reason, caf::execution_unit* host) {
  if (reads_) {
    // The state is destroyed next (on_exit): readers must not see it.
    read_gate::write_lock lock{reads_->gate};
    reads_->state = nullptr;
  }
  return stateful_actor::cleanup(std::move(reason), host);
}

} // namespace actorq
