#include "actors/pool.hpp"

#include "actors/catalog.hpp"
#include "actors/kinds.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "actors/supervisor.hpp"
#include "actors/time.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace actorq {

namespace {

using self_ptr = pool_actor::stateful_pointer<pool_state>;

/// Most attempts handed to a dedicated-thread worker at once.
constexpr size_t max_chunk = 64;

void emit(self_ptr self, const job& j, job_phase phase, outcome result = {}) {
  auto& outbox = self->state.outbox;
  if (outbox.empty())
    self->send(self, flush_atom::value);
  auto i = std::find_if(outbox.begin(), outbox.end(),
                        [&](auto& x) { return x.first == j.listener; });
  if (i == outbox.end()) {
    outbox.emplace_back(j.listener, std::vector<job_event>{});
    i = outbox.end() - 1;
  }
  i->second.push_back(
      job_event{j.key, phase, j.attempts, now_ms(), std::move(result)});
}

/// Sends the job events gathered since the last flush.
void flush_events(self_ptr self) {
  for (auto& [listener, events] : self->state.outbox)
    self->send(listener, std::move(events));
  self->state.outbox.clear();
}

/// The catalog's index of a job's kind (the job queue's key).
uint32_t kind_of(const job& j) {
  auto i = current_catalog().kind_index(j.spec.kind);
  return i < 0 ? 0 : static_cast<uint32_t>(i);
}

/// An attempt of `j` ended: finish the job, or schedule its retry.
void settle(self_ptr self, job j, outcome result) {
  auto& st = self->state;
  if (auto& m = st.settings.meters)
    m->attempt_ended(kind_of(j), result.ok,
                     metrics::clock::now() - j.attempt_since);
  if (result.ok) {
    ++st.completed;
    emit(self, j, job_phase::succeeded, std::move(result));
    return;
  }
  if (j.attempts <= j.spec.max_retries && !result.permanent) {
    if (j.progress)
      emit(self, j, job_phase::retrying, result);
    auto delay = st.retry_delay(j, result.retry_after_ms);
    st.backing_off.emplace(j.listener.address(), j.key);
    self->delayed_send(self, delay, retry_atom::value, std::move(j));
    return;
  }
  ++st.failed;
  emit(self, j, job_phase::failed, std::move(result));
}

/// Jobs without a timeout that run on dedicated threads (CPU-bound) or on
/// another node (remote kinds) may share one hand-off to a worker: one
/// wake-up, or one network round trip, per chunk instead of per attempt.
bool chunkable(const job& j) {
  auto kind = current_catalog().find_kind(j.spec.kind);
  // A rate-limited kind's attempts go out one by one, each with its token.
  return kind != nullptr && j.spec.timeout_ms == 0 && !kind->limiter
         && (kind->cpu_bound() || kind->runner == runner_type::remote);
}

/// The kinds local workers run: all but remote ones.
job_queue::kind_mask local_kinds() {
  auto& kinds = current_catalog().kinds();
  job_queue::kind_mask mask(kinds.size());
  for (size_t i = 0; i < kinds.size(); ++i)
    mask[i] = kinds[i].runs_locally();
  return mask;
}

/// The entry of `kinds` for workers that run exactly these kinds.
uint32_t kinds_entry(self_ptr self, const std::vector<std::string>& names) {
  auto& st = self->state;
  auto mask = names.empty() ? local_kinds() : job_queue::kind_mask{};
  if (!names.empty()) {
    mask.resize(current_catalog().kinds().size());
    for (auto& n : names)
      if (auto i = current_catalog().kind_index(n); i >= 0)
        mask[i] = true;
  }
  for (uint32_t i = 0; i < st.kinds.size(); ++i)
    if (st.kinds[i].runs == mask)
      return i;
  st.kinds.push_back({std::move(mask), {}});
  return static_cast<uint32_t>(st.kinds.size() - 1);
}

/// Makes the next attempt of `j`, to run on slot `index` (lease_slot: leased
/// to an HTTP worker): counts it, arms its timeout, tells progress
/// listeners. `chunked`: part of a chunk, whose unstarted attempts are
/// requeued if the worker crashes. The caller keeps `j` as running.
attempt begin(self_ptr self, uint32_t index, job& j, bool chunked) {
  auto& st = self->state;
  auto seq = ++st.next_seq;
  ++j.attempts;
  if (st.settings.meters)
    j.attempt_since = metrics::clock::now();
  // The input is needed again only if the job may run again.
  auto keep = chunked || j.attempts <= j.spec.max_retries;
  auto input = keep ? j.spec.input : std::move(j.spec.input);
  attempt a;
  a.seq = seq;
  a.kind = j.spec.kind;
  a.input = std::move(input);
  a.number = j.attempts;
  a.timeout_ms = j.spec.timeout_ms;
  // Config kinds tell their jobs who they are (ACTORQ_ATTEMPT_ID, ...).
  auto kind = current_catalog().find_kind(j.spec.kind);
  if (kind != nullptr && kind->builtin == nullptr) {
    a.id = task_id::random().to_string();
    if (j.task.hi != 0 || j.task.lo != 0)
      a.task = j.task.to_string();
  }
  if (j.spec.timeout_ms > 0)
    self->delayed_send(self, std::chrono::milliseconds{j.spec.timeout_ms},
                       timeout_atom::value, index, seq);
  if (j.progress)
    emit(self, j, job_phase::started);
  return a;
}

/// Starts the next attempt of `j` on slot `index`.
attempt start(self_ptr self, uint32_t index, job&& j, bool chunked) {
  auto a = begin(self, index, j, chunked);
  self->state.slots[index].attempts.push_back({a.seq, std::move(j)});
  return a;
}

/// Counts jobs entering (n > 0) or leaving (n < 0) the queue in the gauge
/// that admission control reads.
void count_queued(self_ptr self, int64_t n) {
  if (auto& gauge = self->state.settings.gauge)
    gauge->add(n);
}

/// The bucket of kind `kind` (the catalog's index) if it has a rate.
rate_limiter* limiter_of(int kind) {
  auto& kinds = current_catalog().kinds();
  return static_cast<size_t>(kind) < kinds.size()
           ? kinds[kind].limiter.get()
           : nullptr;
}

using time_point = caf::actor_clock::time_point;

/// Arms a timer that sends `msg` to this pool at `at`, unless the one noted
/// in `due` already fires by then. A timer cannot be cancelled: one that
/// fires later than needed just finds its work already done.
template <class Atom>
void arm_timer(self_ptr self, std::optional<time_point>& due, time_point at,
               Atom msg) {
  if (due && *due <= at)
    return;
  due = at;
  self->delayed_send(self, std::max(caf::timespan{0}, at - self->clock().now()),
                     msg);
}

/// A timer armed by arm_timer fired: forget the one noted in `due` if it
/// was that one (or an earlier one).
void timer_fired(self_ptr self, std::optional<time_point>& due) {
  if (due && *due <= self->clock().now())
    due.reset();
}

/// Arms the pool's one token timer for `wait` from now.
void wake_in(self_ptr self, caf::timespan wait) {
  arm_timer(self, self->state.token_due, self->clock().now() + wait,
            token_atom::value);
}

/// Whether an attempt of kind `kind` may start now: takes a token of a
/// rate-limited kind, or arms the timer for its next one.
bool may_start(self_ptr self, int kind) {
  auto limiter = limiter_of(kind);
  if (limiter == nullptr)
    return true;
  auto now = self->clock().now();
  if (limiter->try_take(now))
    return true;
  wake_in(self, limiter->until_next(now));
  return false;
}

/// Pops the next queued job (by priority, then age) that workers running
/// `mask` can run and may start now: a rate-limited kind without a token is
/// passed over, so the kinds behind it are not held up.
/// `now`: the queue's clock reading (job_queue::now()), shared with a peek
/// just before, so that both see the same order.
std::optional<job> next_job(self_ptr self, const job_queue::kind_mask& mask,
                            job_queue::clock::time_point now) {
  auto& queue = self->state.queue;
  const job_queue::kind_mask* m = &mask;
  job_queue::kind_mask narrowed; // copied only when a kind is passed over
  int kind;
  while ((kind = queue.peek_kind(*m, now)) >= 0 && !may_start(self, kind)) {
    if (m != &narrowed)
      narrowed = mask;
    m = &narrowed;
    narrowed[kind] = false;
  }
  if (kind < 0)
    return std::nullopt;
  auto j = queue.pop_kind(static_cast<uint32_t>(kind), now);
  count_queued(self, -1);
  if (self->state.meters)
    self->state.meters->queue_wait->Observe(std::chrono::duration<double>(
        metrics::clock::now() - j.queued_since).count());
  return j;
}

std::optional<job> next_job(self_ptr self, const job_queue::kind_mask& mask) {
  return next_job(self, mask, self->state.queue.now());
}

/// Queues a job behind the others (`front`: before them).
void enqueue(self_ptr self, job j, bool front = false) {
  auto kind = kind_of(j);
  // The queue's starvation guard reads it, metrics too.
  j.queued_since = metrics::clock::now();
  if (front)
    self->state.queue.push_front(kind, std::move(j));
  else
    self->state.queue.push_back(kind, std::move(j));
}

/// Sends `j` (and, on dedicated threads, a chunk of CPU-bound jobs behind
/// it) to the worker of slot `index`, which runs the kinds in `mask`.
void hand_out(self_ptr self, uint32_t index, job&& j,
              const job_queue::kind_mask& mask) {
  auto& st = self->state;
  auto& s = st.slots[index];
  if (!chunkable(j)) {
    self->send(s.worker, start(self, index, std::move(j), false));
    return;
  }
  // Guided self-scheduling: a chunk is a share of the backlog (a quarter
  // of it per worker), so workers stay balanced and the last jobs go out
  // one by one, while each thread wakes once per chunk, not per attempt.
  auto n = std::clamp<size_t>(st.queue.size() / (4 * st.slots.size()), 1,
                              max_chunk);
  std::vector<attempt> chunk;
  chunk.push_back(start(self, index, std::move(j), true));
  while (chunk.size() < n) {
    auto now = st.queue.now();
    auto next = st.queue.peek(mask, now);
    if (next == nullptr || !chunkable(*next))
      break;
    auto taken = next_job(self, mask, now);
    if (!taken)
      break;
    chunk.push_back(start(self, index, std::move(*taken), true));
  }
  if (chunk.size() == 1)
    self->send(s.worker, std::move(chunk.front()));
  else
    self->send(s.worker, std::move(chunk));
}

/// Live slots: the pool's size plus what worker nodes lent.
uint64_t live_slots(const pool_state& st) {
  return static_cast<uint64_t>(std::count_if(
      st.slots.begin(), st.slots.end(), [](auto& s) { return !s.gone; }));
}

/// The lease kinds of which attempts wait and may be leased now (a
/// rate-limited one only with a token: the token timer offers it later).
std::vector<uint32_t> leasable_kinds(self_ptr self) {
  auto& st = self->state;
  std::vector<uint32_t> out;
  if (st.lease_room() == 0)
    return out;
  for (uint32_t k = 0; k < st.lease_kinds.size(); ++k) {
    if (!st.lease_kinds[k] || !st.queue.has(k))
      continue;
    if (auto limiter = limiter_of(static_cast<int>(k))) {
      auto now = self->clock().now();
      if (!limiter->ready(now)) {
        wake_in(self, limiter->until_next(now));
        continue;
      }
    }
    out.push_back(k);
  }
  return out;
}

/// Tells the lease desk when attempts it asked for have come in (or room
/// for them has come free), and of which kinds.
void offer_leases(self_ptr self) {
  auto& st = self->state;
  if (!st.lease_wanted || !st.desk)
    return;
  auto kinds = leasable_kinds(self);
  if (kinds.empty())
    return;
  st.lease_wanted = false;
  self->send(st.desk, lease_atom::value, st.index, std::move(kinds));
}

/// The pool's counters (GET /v1/pools).
bool check_degraded(self_ptr self);

pool_stats stats(self_ptr self) {
  auto& st = self->state;
  auto live = std::count_if(st.slots.begin(), st.slots.end(),
                            [](auto& s) { return !s.gone; });
  return pool_stats{st.settings.name,
                    static_cast<uint32_t>(live),
                    static_cast<uint32_t>(st.busy + st.leased.size()),
                    st.queue.size(),
                    st.completed,
                    st.failed,
                    st.restarts,
                    check_degraded(self),
                    st.held};
}

/// Hands queued jobs to idle workers until one of the two runs out.
void dispatch(self_ptr self) {
  auto& st = self->state;
  if (st.starts_nothing())
    return;
  // Leases share the pool's size with its local workers (counted once: the
  // slots do not change while dispatching).
  auto capacity = st.leased.empty() ? 0 : live_slots(st);
  auto room = [&] {
    return st.leased.empty() || st.busy + st.leased.size() < capacity;
  };
  for (auto& group : st.kinds)
    while (!group.idle.empty() && !st.queue.empty() && room()) {
      auto j = next_job(self, group.runs);
      if (!j)
        break;
      auto index = group.idle.back();
      group.idle.pop_back();
      ++st.busy;
      hand_out(self, index, std::move(*j), group.runs);
    }
  offer_leases(self);
}

/// Counts an attempt that ended on `node` (for GET /v1/nodes).
void count_on_node(self_ptr self, uint32_t node, bool ok) {
  auto& per_node = self->state.per_node;
  if (per_node.size() <= node)
    per_node.resize(node + 1);
  per_node[node].node = node;
  ++(ok ? per_node[node].completed : per_node[node].failed);
}

/// Slot `index` has a live worker `w` (the supervisor's worker_up).
void worker_up(self_ptr self, uint32_t index, worker_actor w) {
  auto& st = self->state;
  if (index >= st.slots.size() || st.slots[index].gone)
    return; // from a worker node already given up
  auto& s = st.slots[index];
  s.worker = std::move(w);
  // A worker on another node: watch it from here too, so that its loss is
  // seen even if its node's supervisor cannot report it.
  if (s.node != 0)
    self->monitor(s.worker);
  s.attempts.clear();
  st.kinds[s.kinds].idle.push_back(index);
}

/// Marks slot `index` idle once it has no attempts out.
void release_if_done(self_ptr self, uint32_t index) {
  auto& st = self->state;
  auto& s = st.slots[index];
  if (!s.attempts.empty())
    return;
  --st.busy;
  if (s.worker)
    st.kinds[s.kinds].idle.push_back(index);
}

/// The lease desk settled (or released) leased attempt `seq`.
void on_lease_done(self_ptr self, attempt_done& done) {
  auto& st = self->state;
  auto i = st.leased.find(done.seq);
  if (i == st.leased.end())
    return;
  auto owner = std::move(i->second);
  st.leased.erase(i);
  if (!owner)
    return; // abandoned: its end was counted when it was
  count_on_node(self, 0, done.result.ok);
  settle(self, std::move(*owner), std::move(done.result));
}

/// Arms the pool's one delay timer for the earliest held result.
void arm_delays(self_ptr self) {
  auto& st = self->state;
  if (auto next = st.delays.next())
    arm_timer(self, st.delay_due, *next, due_atom::value);
}

/// Holds the result of an attempt until its simulated delay is up: its slot
/// stays busy meanwhile, as if the worker were still running it.
void hold(self_ptr self, attempt_done& done) {
  auto due = self->clock().now() + std::chrono::milliseconds{done.delay_ms};
  done.delay_ms = 0;
  self->state.delays.push(due, std::move(done));
  arm_delays(self);
}

/// A worker answered attempt `seq` on slot `index`.
void on_done(self_ptr self, attempt_done& done) {
  auto& st = self->state;
  if (done.slot == lease_slot)
    return on_lease_done(self, done);
  if (done.slot >= st.slots.size())
    return;
  auto& s = st.slots[done.slot];
  auto i = std::find_if(s.attempts.begin(), s.attempts.end(),
                        [&](auto& r) { return r.seq == done.seq; });
  if (i == s.attempts.end())
    return; // from a worker that has since been replaced
  // An attempt abandoned before its report came (a cancel or timeout that
  // crossed it) is not held: its slot is free at once.
  if (done.delay_ms > 0 && i->owner)
    return hold(self, done);
  auto owner = std::move(i->owner);
  s.attempts.erase(i);
  count_on_node(self, s.node, done.result.ok);
  release_if_done(self, done.slot);
  if (owner)
    settle(self, std::move(*owner), std::move(done.result));
}

/// Ends the delay of attempt `seq` on slot `index` now, if its result is
/// held (it was cancelled or timed out): its slot is free at once.
void cut_short(self_ptr self, uint32_t index, uint64_t seq) {
  if (!self->state.delays.remove(seq))
    return;
  attempt_done cancelled{index, seq, outcome{false, {}, "cancelled"}};
  on_done(self, cancelled);
  dispatch(self);
}

/// Slot `index` lost its worker (it crashed, or its node or connection is
/// gone). The attempt it was running counts as failed — lost attempts count
/// everywhere, so a job that keeps killing whatever runs it ends after its
/// retries instead of looping; the rest of a chunk never started and goes
/// back to the front of the queue. Late answers find no attempt and are
/// dropped.
void lose_worker(self_ptr self, uint32_t index, std::string reason) {
  auto& st = self->state;
  auto& s = st.slots[index];
  s.worker = nullptr;
  auto& idle = st.kinds[s.kinds].idle;
  if (auto i = std::find(idle.begin(), idle.end(), index); i != idle.end())
    idle.erase(i);
  if (s.attempts.empty())
    return;
  auto lost = std::move(s.attempts);
  s.attempts.clear();
  --st.busy;
  for (size_t i = lost.size(); i-- > 1;) {
    if (lost[i].owner) {
      --lost[i].owner->attempts;
      enqueue(self, std::move(*lost[i].owner), true);
      count_queued(self, 1);
    }
  }
  count_on_node(self, s.node, false); // the attempt that was running
  if (lost[0].owner)
    settle(self, std::move(*lost[0].owner),
           outcome{false, {}, std::move(reason)});
  dispatch(self);
}

/// Logs the pool turning degraded (too many restarts within the window) or
/// recovering; checked on each worker death and each stats request (the
/// rate sampler asks every second).
bool check_degraded(self_ptr self) {
  auto& st = self->state;
  bool degraded =
      self->clock().now().time_since_epoch().count() < st.degraded_until;
  if (degraded != st.degraded_logged) {
    st.degraded_logged = degraded;
    auto& cfg = st.settings.supervisor;
    if (degraded)
      log::event(log::level::error, "pool_degraded",
                 {{"pool", st.settings.name},
                  {"msg", "more than " + std::to_string(cfg.max_restarts)
                            + " worker restarts within "
                            + std::to_string(cfg.window.count())
                            + " ms; restarting at max-backoff"},
                  {"restarts", st.restarts}});
    else
      log::event(log::level::info, "pool_recovered",
                 {{"pool", st.settings.name}, {"restarts", st.restarts}});
  }
  return degraded;
}

/// The lease desk takes up to `max` attempts of `kinds` for a worker.
void take_leases(self_ptr self, uint64_t take, std::vector<uint32_t>& kinds,
                 uint32_t max) {
  auto& st = self->state;
  job_queue::kind_mask mask(st.lease_kinds.size());
  for (auto k : kinds)
    if (k < mask.size())
      mask[k] = st.lease_kinds[k];
  std::vector<attempt> out;
  // Each lease taken uses one place of the room counted here once.
  for (auto room = st.lease_room(); out.size() < max && room > 0; --room) {
    auto j = next_job(self, mask);
    if (!j)
      break;
    auto a = begin(self, lease_slot, *j, false);
    st.leased.emplace(a.seq, std::move(*j));
    out.push_back(std::move(a));
  }
  // Came back short: someone waits for more of these.
  if (out.size() < max)
    st.lease_wanted = true;
  self->send(st.desk, lease_atom::value, take, std::move(out),
             leasable_kinds(self));
}

/// Abandons leased attempt `seq` (timed out, cancelled): the desk answers
/// its worker's next call with 409 `code` and then releases it.
void abandon_lease(self_ptr self, uint64_t seq, const char* code,
                   std::string why) {
  auto& st = self->state;
  self->send(st.desk, cancel_atom::value, st.index, seq, std::string{code},
             std::move(why));
}


/// The pool's state from its settings; spawns its supervisor (which starts
/// the workers) and ends it with the pool.
void set_up(self_ptr self, pool_settings settings) {
  auto& st = self->state;
  st.settings = std::move(settings);
  st.queue.set_boost(std::chrono::milliseconds{st.settings.max_wait_boost_ms});
  if (st.settings.meters)
    st.meters = st.settings.meters->pool(st.settings.name);
  st.held = st.settings.paused;
  st.slots.resize(st.settings.size);
  st.kinds.push_back({local_kinds(), {}});
  st.kinds[0].idle.reserve(st.settings.size);
  auto& kinds = current_catalog().kinds();
  st.lease_kinds.resize(kinds.size());
  for (size_t i = 0; i < kinds.size(); ++i)
    st.lease_kinds[i] = kinds[i].runner == runner_type::lease
                        && kinds[i].pool == st.settings.name;
  st.supervisor = self->spawn(supervisor, pool_actor{self}, st.settings);
  // When the pool goes, so does its supervisor (and with it the workers).
  self->attach_functor([sup = st.supervisor](const caf::error&) {
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  });
}

/// A worker of another node (monitored by the pool) went down.
void on_remote_worker_down(self_ptr self, const caf::down_msg& msg) {
  auto& st = self->state;
  for (uint32_t index = 0; index < st.slots.size(); ++index) {
    auto& s = st.slots[index];
    if (s.node == 0 || !s.worker || s.worker.address() != msg.source)
      continue;
    // Cut off from its node: not the task's fault. Anything else is a
    // crash, which the node's supervisor also reports (whoever comes
    // first handles it; the other finds the slot empty).
    auto link_lost = msg.reason == caf::sec::remote_linking_failed
                     || msg.reason == caf::exit_reason::remote_link_unreachable;
    lose_worker(self, index,
                link_lost ? "attempt lost: the connection to its worker "
                            "was lost"
                          : "worker died: "
                                + self->system().render(msg.reason));
    return;
  }
}

/// Takes the job off its running attempt `r` on slot `s` and tells the
/// worker to stop: the slot stays busy until the worker answers (or its
/// held delay is cut short), and the attempt's result is dropped.
job abandon_attempt(self_ptr self, pool_state::slot& s,
                    pool_state::running& r) {
  job j = std::move(*r.owner);
  r.owner.reset();
  self->send(s.worker, cancel_atom::value, r.seq);
  return j;
}

/// Cancels the job (listener, key) wherever it is: running, leased, queued
/// or waiting for its retry.
void cancel_job(self_ptr self, const caf::actor_addr& addr, uint64_t key) {
  auto& st = self->state;
  for (auto& s : st.slots) {
    for (auto& r : s.attempts) {
      if (r.owner && r.owner->key == key
          && r.owner->listener.address() == addr) {
        auto seq = r.seq;
        auto j = abandon_attempt(self, s, r);
        emit(self, j, job_phase::cancelled);
        cut_short(self, static_cast<uint32_t>(&s - st.slots.data()), seq);
        return;
      }
    }
  }
  for (auto& [seq, owner] : st.leased) {
    if (owner && owner->key == key && owner->listener.address() == addr) {
      job j = std::move(*owner);
      owner.reset();
      abandon_lease(self, seq, "cancelled",
                    "the task was cancelled while leased");
      emit(self, j, job_phase::cancelled);
      return;
    }
  }
  // Queued: drop it now (cancels are rare; a scan is fine).
  if (auto j = st.queue.remove(addr, key)) {
    count_queued(self, -1);
    emit(self, *j, job_phase::cancelled);
    return;
  }
  // Backing off: drop it when its retry comes up. Anything else has
  // already ended (its last event crossed this cancel): nothing to do.
  if (st.backing_off.count({addr, key}) > 0)
    st.cancelled.emplace(addr, key);
}

/// The error of an attempt that ran past its task's timeout.
std::string timed_out(const job& j) {
  return "timed out after " + std::to_string(j.spec.timeout_ms) + " ms";
}

/// The attempt `seq` of slot `index` (or of a lease) ran past its task's
/// timeout: the attempt fails (and may be retried); its worker is told to
/// stop it.
void time_out(self_ptr self, uint32_t index, uint64_t seq) {
  auto& st = self->state;
  if (index == lease_slot) {
    auto i = st.leased.find(seq);
    if (i == st.leased.end() || !i->second)
      return;
    job j = std::move(*i->second);
    i->second.reset();
    auto error = timed_out(j);
    abandon_lease(self, seq, "conflict", "the attempt " + error);
    count_on_node(self, 0, false);
    settle(self, std::move(j), outcome{false, {}, std::move(error)});
    return;
  }
  auto& s = st.slots[index];
  for (auto& r : s.attempts) {
    if (r.seq != seq || !r.owner)
      continue;
    auto j = abandon_attempt(self, s, r);
    auto error = timed_out(j);
    settle(self, std::move(j), outcome{false, {}, std::move(error)});
    cut_short(self, index, seq);
    return;
  }
}

/// A running attempt's progress: to its job's listener, if it asked.
void on_progress(self_ptr self, uint32_t index, uint64_t seq, double fraction,
                 std::string message) {
  auto& st = self->state;
  auto report = [&](const std::optional<job>& owner) {
    if (!owner || !owner->progress)
      return;
    json p{{"fraction", std::clamp(fraction, 0.0, 1.0)},
           {"message", std::move(message)}};
    emit(self, *owner, job_phase::progress, outcome{true, {std::move(p)}, {}});
  };
  if (index == lease_slot) {
    if (auto i = st.leased.find(seq); i != st.leased.end())
      report(i->second);
    return;
  }
  if (index >= st.slots.size())
    return;
  for (auto& r : st.slots[index].attempts)
    if (r.seq == seq)
      report(r.owner);
}

/// The supervisor lost the worker of slot `index`: its attempts are lost
/// (and retried by their policy); the pool may now count as degraded.
void worker_down(self_ptr self, uint32_t index, std::string reason,
                 int64_t degraded_until) {
  auto& st = self->state;
  if (index >= st.slots.size())
    return;
  ++st.restarts; // counted here: a pool may have many supervisors
  st.degraded_until = std::max(st.degraded_until, degraded_until);
  check_degraded(self);
  lose_worker(self, index, std::move(reason));
}

/// A job's backoff is over: queued again, unless it was cancelled meanwhile.
void retry_now(self_ptr self, job j) {
  auto& st = self->state;
  std::pair<caf::actor_addr, uint64_t> id{j.listener.address(), j.key};
  st.backing_off.erase(id);
  if (st.cancelled.erase(id) > 0) {
    emit(self, j, job_phase::cancelled);
    return;
  }
  enqueue(self, std::move(j));
  count_queued(self, 1);
  dispatch(self);
}

/// A worker node lends `n` slots for `kinds`; answers the first one's index
/// (the node's supervisor then reports worker_up for each).
uint32_t add_slots(self_ptr self, uint32_t node, uint32_t n,
                   const std::vector<std::string>& kinds) {
  auto& st = self->state;
  auto first = static_cast<uint32_t>(st.slots.size());
  auto entry = kinds_entry(self, kinds);
  st.slots.resize(st.slots.size() + n);
  for (auto i = first; i < st.slots.size(); ++i) {
    st.slots[i].node = node;
    st.slots[i].kinds = entry;
  }
  return first;
}

/// Worker node `node` is gone: each of its slots loses its attempts.
void node_down(self_ptr self, uint32_t node) {
  auto& st = self->state;
  for (uint32_t index = 0; index < st.slots.size(); ++index) {
    auto& s = st.slots[index];
    if (s.node != node || s.gone)
      continue;
    s.gone = true;
    lose_worker(self, index,
                "attempt lost: its worker node (or worker program) is gone");
  }
}

/// Leased attempt `seq` never reached a worker (its client went away): the
/// job goes to the front of the queue again, the attempt not counted.
void lease_returned(self_ptr self, uint64_t seq) {
  auto& st = self->state;
  auto i = st.leased.find(seq);
  if (i == st.leased.end())
    return;
  auto owner = std::move(i->second);
  st.leased.erase(i);
  if (owner) {
    --owner->attempts;
    enqueue(self, std::move(*owner), true);
    count_queued(self, 1);
  }
  dispatch(self);
}

} // namespace

uint64_t pool_state::lease_room() const {
  if (starts_nothing())
    return 0;
  if (settings.size == 0)
    return std::numeric_limits<uint64_t>::max(); // as many as workers ask
  auto used = busy + leased.size();
  auto live = live_slots(*this);
  return live > used ? live - used : 0;
}

std::string pool_ref::admit(int64_t n) const {
  if (!gauge || gauge->try_admit(n))
    return {};
  return "pool '" + name + "' is full: " + std::to_string(gauge->queued())
         + " jobs queued, limit " + std::to_string(gauge->limit())
         + (n > 1 ? " (" + std::to_string(n) + " more asked)" : "")
         + "; retry later";
}

caf::timespan pool_state::retry_delay(const job& j, int64_t at_least_ms) {
  auto& cfg = settings.retry;
  double base = j.spec.backoff_ms > 0 ? j.spec.backoff_ms : cfg.backoff.count();
  base *= std::pow(2.0, std::min(j.attempts - 1, 40));
  base = std::min(base, static_cast<double>(cfg.max_backoff.count()));
  std::uniform_real_distribution<double> stretch{0.0, cfg.jitter};
  auto ms = std::max(base * (1.0 + stretch(rng)),
                     static_cast<double>(at_least_ms));
  return std::chrono::duration_cast<caf::timespan>(
      std::chrono::duration<double, std::milli>{ms});
}

pool_actor::behavior_type pool(pool_actor::stateful_pointer<pool_state> self,
                               pool_settings settings) {
  set_up(self, std::move(settings));
  self->set_down_handler(
      [self](caf::down_msg& msg) { on_remote_worker_down(self, msg); });
  return {
      [=](submit_atom, job& j) {
        enqueue(self, std::move(j));
        dispatch(self);
      },
      [=](submit_atom, std::vector<job>& jobs) {
        for (auto& j : jobs)
          enqueue(self, std::move(j));
        dispatch(self);
      },
      [=](cancel_atom, job_listener_actor& listener, uint64_t key) {
        cancel_job(self, listener.address(), key);
      },
      [=](pause_atom) { self->state.paused = true; },
      [=](hold_atom, bool held) {
        self->state.held = held;
        dispatch(self); // resumed: start what waits, offer leases again
        return stats(self);
      },
      [=](stats_atom) {
        // Events go out before the answer: whoever waits for an idle pool
        // (graceful stop) then knows its listeners have heard everything.
        flush_events(self);
        return stats(self);
      },
      [=](attempt_done& done) {
        on_done(self, done);
        dispatch(self);
      },
      [=](std::vector<attempt_done>& done) {
        for (auto& d : done)
          on_done(self, d);
        dispatch(self);
      },
      [=](progress_atom, uint32_t index, uint64_t seq, double fraction,
          std::string& message) {
        on_progress(self, index, seq, fraction, std::move(message));
      },
      [=](worker_up_atom, uint32_t index, worker_actor& w) {
        worker_up(self, index, std::move(w));
        dispatch(self);
      },
      [=](worker_up_atom, uint32_t first, std::vector<worker_actor>& ws) {
        for (uint32_t i = 0; i < ws.size(); ++i)
          worker_up(self, first + i, std::move(ws[i]));
        dispatch(self);
      },
      [=](worker_dn_atom, uint32_t index, std::string& reason, uint64_t,
          int64_t degraded_until) {
        worker_down(self, index, std::move(reason), degraded_until);
      },
      [=](retry_atom, job& j) { retry_now(self, std::move(j)); },
      [=](flush_atom) { flush_events(self); },
      [=](due_atom) {
        auto& st = self->state;
        timer_fired(self, st.delay_due);
        for (auto& done : st.delays.pop_due(self->clock().now()))
          on_done(self, done);
        arm_delays(self);
        dispatch(self);
      },
      [=](token_atom) {
        timer_fired(self, self->state.token_due);
        dispatch(self);
      },
      [=](nodes_atom) { return self->state.per_node; },
      [=](add_slots_atom, uint32_t node, uint32_t n,
          std::vector<std::string>& kinds) {
        return add_slots(self, node, n, kinds);
      },
      [=](node_down_atom, uint32_t node) { node_down(self, node); },
      [=](timeout_atom, uint32_t index, uint64_t seq) {
        time_out(self, index, seq);
      },
      [=](lease_atom, lease_desk_actor& desk, uint32_t index) {
        self->state.desk = std::move(desk);
        self->state.index = index;
      },
      [=](lease_atom, uint64_t take, std::vector<uint32_t>& kinds,
          uint32_t max) { take_leases(self, take, kinds, max); },
      [=](lease_atom, uint64_t seq) { lease_returned(self, seq); },
  };
}

} // namespace actorq
