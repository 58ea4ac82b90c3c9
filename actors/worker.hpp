// A worker runs one attempt at a time for its pool. Kinds with a simulated
// delay complete through a timer, so an I/O worker never blocks a thread.
#pragma once

#include "actors/actors.hpp"

namespace actorq {

struct worker_state {
  static inline const char* name = "actorq.worker";
  uint32_t slot = 0;
  pool_actor pool;
  uint64_t pending = 0; // seq of the attempt waiting for its delay, 0 = none
};

worker_actor::behavior_type
worker(worker_actor::stateful_pointer<worker_state> self, uint32_t slot,
       pool_actor pool);

} // namespace actorq
