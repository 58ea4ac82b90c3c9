// The supervisor spawns a pool's workers, monitors them and respawns dead ones
// after an exponential backoff (Akka's BackoffSupervisor schedule: min × 2^n,
// capped, stretched by a random factor; n resets after a long enough life).
#pragma once

#include "actors/actors.hpp"
#include "actors/config.hpp"

#include <chrono>
#include <deque>
#include <random>
#include <vector>

namespace actorq {

struct supervisor_state {
  static inline const char* name = "actorq.supervisor";

  struct slot {
    worker_actor worker;     // invalid while waiting for a restart
    uint64_t generation = 0; // bumped per death; stale restarts are ignored
    uint32_t failures = 0;   // consecutive early deaths
    caf::actor_clock::time_point started;
  };

  pool_actor pool;
  pool_settings settings;
  std::vector<slot> slots;
  std::deque<caf::actor_clock::time_point> recent; // deaths within window
  uint64_t restarts = 0;
  std::mt19937_64 rng{std::random_device{}()};

  /// The pool's number of this supervisor's slot `index`.
  uint32_t pool_slot(uint32_t index) const {
    return settings.first_slot + index;
  }
  /// The backoff before restarting `s` after its latest death.
  caf::timespan backoff(slot& s, bool degraded);
};

supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           pool_actor pool, pool_settings settings);

} // namespace actorq
