#include "actors/rate_sampler.hpp"

#include "actors/time.hpp"

#include <algorithm>

namespace actorq {

namespace {

using self_ptr = rate_sampler_actor::stateful_pointer<rate_sampler_state>;

/// Ticks just after each wall-clock second begins, so that every second gets
/// exactly one sample: a plain 1 s period drifts, and a second with two
/// samples next to one with none would show as a spike and a gap.
void schedule_tick(self_ptr self) {
  constexpr int64_t after_boundary_ms = 20;
  auto wait = 1000 - now_ms() % 1000 + after_boundary_ms;
  self->delayed_send(self, std::chrono::milliseconds{wait},
                     sample_atom::value);
}

/// Asks every pool for its counters; each answer adds what ended since the
/// last one to the second the sample was taken in.
void sample(self_ptr self) {
  auto second = now_ms() / 1000;
  auto& pools = self->state.pools;
  for (size_t i = 0; i < pools.size(); ++i)
    self->request(pools[i], std::chrono::seconds{1}, stats_atom::value)
        .then(
            [=](const pool_stats& s) {
              auto& st = self->state;
              st.history.add(second, st.completed[i].advance(s.completed),
                             st.failed[i].advance(s.failed));
              st.newest = std::max(st.newest, second);
            },
            [](const caf::error&) {
              // A pool that does not answer within the second (shutting
              // down): its counts show up with the next sample.
            });
}

} // namespace

rate_sampler_actor::behavior_type
rate_sampler(rate_sampler_actor::stateful_pointer<rate_sampler_state> self,
             std::vector<pool_ref> pools) {
  auto& st = self->state;
  for (auto& p : pools)
    st.pools.push_back(p.handle);
  st.completed.resize(st.pools.size());
  st.failed.resize(st.pools.size());
  sample(self); // the baseline: what ended before now is not in the window
  schedule_tick(self);
  return {
      [=](stats_atom, uint32_t window, uint32_t step) {
        auto& st = self->state;
        // Up to the newest sample: the current second is still counting.
        auto end = (st.newest > 0 ? st.newest : now_ms() / 1000) + 1;
        rate_series out;
        out.end = end;
        for (auto& b : st.history.series(end, window, step)) {
          out.completed.push_back(b.completed);
          out.failed.push_back(b.failed);
        }
        out.step = step == 0 ? 1 : std::min(step, st.history.capacity());
        return out;
      },
      [=](sample_atom) {
        sample(self);
        schedule_tick(self);
      },
  };
}

} // namespace actorq
