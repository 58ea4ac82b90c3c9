#include "actors/pool.hpp"

#include "actors/supervisor.hpp"
#include "actors/time.hpp"

#include <algorithm>
#include <cmath>

namespace actorq {

namespace {

using self_ptr = pool_actor::stateful_pointer<pool_state>;

void emit(self_ptr self, const job& j, job_phase phase, outcome result = {}) {
  self->send(j.listener,
             job_event{j.key, phase, j.attempts, now_ms(), std::move(result)});
}

/// Pops a pending cancellation for `j`, if any.
bool take_cancelled(self_ptr self, const job& j) {
  auto& cancelled = self->state.cancelled;
  if (cancelled.empty())
    return false;
  return cancelled.erase({j.listener.address(), j.key}) > 0;
}

/// An attempt of `j` ended: finish it, or schedule its retry.
void settle(self_ptr self, job j, outcome result) {
  auto& st = self->state;
  if (take_cancelled(self, j)) {
    emit(self, j, job_phase::cancelled);
    return;
  }
  if (result.ok) {
    ++st.completed;
    emit(self, j, job_phase::succeeded, std::move(result));
    return;
  }
  if (j.attempts <= j.spec.max_retries) {
    if (j.progress)
      emit(self, j, job_phase::retrying, result);
    auto delay = st.retry_delay(j);
    self->delayed_send(self, delay, retry_atom::value, std::move(j));
    return;
  }
  ++st.failed;
  emit(self, j, job_phase::failed, std::move(result));
}

/// Hands queued jobs to idle workers until one of the two runs out.
void dispatch(self_ptr self) {
  auto& st = self->state;
  while (!st.idle.empty() && !st.queue.empty()) {
    job j = std::move(st.queue.front());
    st.queue.pop_front();
    if (take_cancelled(self, j)) {
      emit(self, j, job_phase::cancelled);
      continue;
    }
    auto index = st.idle.back();
    st.idle.pop_back();
    auto& s = st.slots[index];
    s.busy = true;
    s.seq = ++st.next_seq;
    ++st.busy;
    ++j.attempts;
    // The input is needed again only if the job may be retried.
    auto input = j.attempts <= j.spec.max_retries ? j.spec.input
                                                  : std::move(j.spec.input);
    self->send(s.worker, attempt{s.seq, j.spec.kind, std::move(input),
                                 j.attempts});
    if (j.spec.timeout_ms > 0)
      self->delayed_send(self, std::chrono::milliseconds{j.spec.timeout_ms},
                         timeout_atom::value, index, s.seq);
    if (j.progress)
      emit(self, j, job_phase::started);
    s.current = std::move(j);
  }
}

void enqueue(self_ptr self, job&& j) {
  self->state.queue.push_back(std::move(j));
}

} // namespace

caf::timespan pool_state::retry_delay(const job& j) {
  auto& cfg = settings.retry;
  double base = j.spec.backoff_ms > 0 ? j.spec.backoff_ms
                                      : cfg.backoff.count();
  base *= std::pow(2.0, std::min(j.attempts - 1, 40));
  base = std::min(base, static_cast<double>(cfg.max_backoff.count()));
  std::uniform_real_distribution<double> stretch{0.0, cfg.jitter};
  auto ms = base * (1.0 + stretch(rng));
  return std::chrono::duration_cast<caf::timespan>(
    std::chrono::duration<double, std::milli>{ms});
}

pool_actor::behavior_type pool(pool_actor::stateful_pointer<pool_state> self,
                               pool_settings settings) {
  auto& st = self->state;
  st.settings = std::move(settings);
  st.slots.resize(st.settings.size);
  st.idle.reserve(st.settings.size);
  // Linked: if either goes down, so does the other (and with it the workers).
  st.supervisor = self->spawn<caf::linked>(supervisor, pool_actor{self},
                                           st.settings);
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
      auto& st = self->state;
      auto addr = listener.address();
      for (auto& s : st.slots) {
        if (s.current && s.current->key == key
            && s.current->listener.address() == addr) {
          // Abandon the running attempt; the worker stays busy until it
          // answers, and its result is dropped.
          job j = std::move(*s.current);
          s.current.reset();
          self->send(s.worker, cancel_atom::value, s.seq);
          emit(self, j, job_phase::cancelled);
          return;
        }
      }
      st.cancelled.emplace(addr, key);
    },
    [=](stats_atom) {
      auto& st = self->state;
      return pool_stats{st.settings.name, st.settings.size,  st.busy,
                        st.queue.size(),   st.completed,      st.failed,
                        st.restarts,       now_ms() < st.degraded_until};
    },
    [=](attempt_done& done) {
      auto& st = self->state;
      auto& s = st.slots[done.slot];
      if (!s.busy || s.seq != done.seq)
        return; // a reply from before the worker was restarted
      s.busy = false;
      --st.busy;
      if (s.worker)
        st.idle.push_back(done.slot);
      if (s.current) {
        job j = std::move(*s.current);
        s.current.reset();
        settle(self, std::move(j), std::move(done.result));
      }
      dispatch(self);
    },
    [=](worker_up_atom, uint32_t index, worker_actor& w) {
      auto& s = self->state.slots[index];
      s.worker = std::move(w);
      s.busy = false;
      s.current.reset();
      self->state.idle.push_back(index);
      dispatch(self);
    },
    [=](worker_dn_atom, uint32_t index, std::string& reason, uint64_t restarts,
        int64_t degraded_until) {
      auto& st = self->state;
      st.restarts = restarts;
      st.degraded_until = degraded_until;
      auto& s = st.slots[index];
      s.worker = nullptr;
      if (!s.busy) {
        auto i = std::find(st.idle.begin(), st.idle.end(), index);
        if (i != st.idle.end())
          st.idle.erase(i);
        return;
      }
      s.busy = false;
      --st.busy;
      if (s.current) {
        job j = std::move(*s.current);
        s.current.reset();
        settle(self, std::move(j), outcome{false, {}, std::move(reason)});
      }
      dispatch(self);
    },
    [=](retry_atom, job& j) {
      if (take_cancelled(self, j)) {
        emit(self, j, job_phase::cancelled);
        return;
      }
      enqueue(self, std::move(j));
      dispatch(self);
    },
    [=](timeout_atom, uint32_t index, uint64_t seq) {
      auto& s = self->state.slots[index];
      if (!s.busy || s.seq != seq || !s.current)
        return;
      job j = std::move(*s.current);
      s.current.reset();
      self->send(s.worker, cancel_atom::value, seq);
      auto error = "timed out after " + std::to_string(j.spec.timeout_ms)
                   + " ms";
      settle(self, std::move(j), outcome{false, {}, std::move(error)});
    },
  };
}

} // namespace actorq
