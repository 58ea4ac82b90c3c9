// The rate sampler: reads every pool's completed and failed counters once a
// second and keeps the increments per wall-clock second (rate_history), so
// that GET /v1/stats (and the dashboard's throughput chart) shows what the
// server measured over the last 15 minutes.
#pragma once

#include "actors/actors.hpp"
#include "actors/pool.hpp"
#include "actors/rate_history.hpp"

#include <vector>

namespace actorq {

struct rate_sampler_state {
  static inline const char* name = "actorq.rate_sampler";
  std::vector<pool_actor> pools;
  std::vector<counter_delta> completed; // per pool
  std::vector<counter_delta> failed;
  rate_history history{900};
  int64_t newest = 0; // s since epoch of the newest sample; 0 = none yet
};

/// Samples `pools` from now on; ends when sent an exit (see app/main.cpp).
rate_sampler_actor::behavior_type
rate_sampler(rate_sampler_actor::stateful_pointer<rate_sampler_state> self,
             std::vector<pool_ref> pools);

} // namespace actorq
