#include "actors/supervisor.hpp"

#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "actors/worker.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

namespace actorq {

namespace {

using self_ptr = supervisor_actor::stateful_pointer<supervisor_state>;

/// Starts the worker of slot `index` and watches it; the pool is told by
/// the caller.
void start_worker(self_ptr self, uint32_t index) {
  auto& st = self->state;
  auto& s = st.slots[index];
  auto slot = st.pool_slot(index);
  // lazy_init: a worker builds its behavior on its first message, so an
  // idle pool's workers hold no behavior (0.2 KB each: 2 MB of an idle
  // daemon with 10 000 I/O workers).
  s.worker = st.settings.dedicated_threads
                 ? self->spawn<caf::detached>(worker, slot, st.pool)
                 : self->spawn<caf::lazy_init>(worker, slot, st.pool);
  s.started = self->clock().now();
  self->monitor(s.worker);
}

/// Restarts the worker of slot `index` and tells the pool.
void spawn_worker(self_ptr self, uint32_t index) {
  start_worker(self, index);
  auto& st = self->state;
  self->send(st.pool, worker_up_atom::value, st.pool_slot(index),
             st.slots[index].worker);
}

/// The slot whose worker is `dead`, if any. A scan rather than a map from
/// address to slot (0.4 MB measured for an I/O pool of 10 000): deaths are
/// rare, and the scan compares raw pointers (no reference counting).
std::optional<uint32_t> slot_of(const supervisor_state& st,
                                const caf::actor_addr& dead) {
  auto block = caf::actor_cast<caf::actor_control_block*>(dead);
  if (block == nullptr)
    return std::nullopt;
  auto i = std::find_if(st.slots.begin(), st.slots.end(), [&](auto& s) {
    return caf::actor_cast<caf::actor_control_block*>(s.worker) == block;
  });
  if (i == st.slots.end())
    return std::nullopt;
  return static_cast<uint32_t>(i - st.slots.begin());
}

/// Whether the deaths within the window, this one at `now` included, are
/// over max-restarts, and until when the pool then counts as degraded
/// (clock ticks; 0 = not degraded).
std::pair<bool, int64_t> count_death(supervisor_state& st,
                                     caf::actor_clock::time_point now) {
  auto& cfg = st.settings.supervisor;
  st.recent.push_back(now);
  while (!st.recent.empty() && now - st.recent.front() > cfg.window)
    st.recent.pop_front();
  if (static_cast<int64_t>(st.recent.size()) <= cfg.max_restarts)
    return {false, 0};
  auto oldest = st.recent[st.recent.size() - cfg.max_restarts - 1];
  return {true, (oldest + cfg.window).time_since_epoch().count()};
}

/// Why a worker died, in words: the reason its kind gave (an actorq error
/// with a text) or CAF's exit reason.
std::string death_reason(self_ptr self, const caf::error& reason) {
  if (reason.category() == caf::atom("actorq")
      && reason.context().match_elements<std::string>())
    return reason.context().get_as<std::string>(0);
  return "worker died: " + self->system().render(reason);
}

/// A worker died: the pool hears of it (its attempts are lost, the pool
/// may be degraded) and the worker restarts after its backoff.
void on_worker_down(self_ptr self, const caf::down_msg& msg) {
  auto& st = self->state;
  auto index = slot_of(st, msg.source);
  if (!index)
    return;
  auto& s = st.slots[*index];
  s.worker = nullptr;
  // The actor clock, not steady_clock: tests drive it deterministically.
  auto now = self->clock().now();
  if (now - s.started >= st.settings.supervisor.reset_after)
    s.failures = 0;
  auto [over, degraded_until] = count_death(st, now);
  auto delay = st.backoff(s, over);
  ++s.failures;
  ++s.generation;
  ++st.restarts;
  if (auto& m = st.settings.meters)
    m->worker_restarted(st.settings.name);
  auto reason = death_reason(self, msg.reason);
  if (st.settings.remote)
    degraded_until = 0;
  log::event(log::level::warn, "worker_crashed",
             {{"pool", st.settings.name},
              {"slot", st.pool_slot(*index)},
              {"reason", reason},
              {"backoff_ms", std::chrono::duration_cast<millis>(delay).count()},
              {"restarts", st.restarts}});
  self->send(st.pool, worker_dn_atom::value, st.pool_slot(*index),
             std::move(reason), st.restarts, degraded_until);
  self->delayed_send(self, delay, restart_atom::value, *index, s.generation);
}

} // namespace

caf::timespan supervisor_state::backoff(slot& s, bool degraded) {
  auto& cfg = settings.supervisor;
  if (degraded)
    return cfg.max_backoff;
  auto base = static_cast<double>(cfg.min_backoff.count())
              * std::pow(2.0, std::min<uint32_t>(s.failures, 30));
  base = std::min(base, static_cast<double>(cfg.max_backoff.count()));
  // Spread restarts of many workers over ±random_factor/2 around the
  // schedule, never below min_backoff nor above max_backoff: the first
  // restart comes within min_backoff·(1 + random_factor/2).
  auto half = cfg.random_factor / 2;
  std::uniform_real_distribution<double> stretch{-half, half};
  auto ms = std::clamp(base * (1.0 + stretch(rng)),
                       static_cast<double>(cfg.min_backoff.count()),
                       static_cast<double>(cfg.max_backoff.count()));
  return std::chrono::duration_cast<caf::timespan>(
      std::chrono::duration<double, std::milli>{ms});
}

supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           pool_actor pool, pool_settings settings) {
  auto& st = self->state;
  st.pool = std::move(pool);
  st.settings = std::move(settings);
  st.slots.resize(st.settings.size);
  // The pool hears of its workers in chunks (see pool_actor's worker_up):
  // 40 messages for 10 000 workers instead of 10 000, and the first chunk
  // serves while the rest are still being spawned.
  constexpr uint32_t chunk = 256;
  for (uint32_t first = 0; first < st.settings.size; first += chunk) {
    auto end = std::min(st.settings.size, first + chunk);
    std::vector<worker_actor> started;
    started.reserve(end - first);
    for (auto i = first; i < end; ++i) {
      start_worker(self, i);
      started.push_back(st.slots[i].worker);
    }
    self->send(st.pool, worker_up_atom::value, st.pool_slot(first),
               std::move(started));
  }
  // The pool is linked to us: when it goes, take the workers along.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& s : self->state.slots)
      if (s.worker)
        self->send_exit(s.worker, caf::exit_reason::kill);
    self->quit(msg.reason);
  });
  self->set_down_handler(
      [self](caf::down_msg& msg) { on_worker_down(self, msg); });
  return {
      [=](restart_atom, uint32_t index, uint64_t generation) {
        auto& s = self->state.slots[index];
        if (s.generation != generation || s.worker)
          return;
        spawn_worker(self, index);
        log::event(log::level::info, "worker_restarted",
                   {{"pool", self->state.settings.name},
                    {"slot", self->state.pool_slot(index)}});
      },
  };
}

} // namespace actorq
