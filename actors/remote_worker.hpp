// A remote worker's stand-in in the head's pool. A program serving remote
// kinds (examples/worker.cpp) offers kind_worker actors when it joins the
// gateway; for each, the gateway spawns one of these in the kind's pool. It
// speaks the pool's worker protocol on one side (attempt, attempt_done,
// cancel) and the public one on the other (work_item, work_result,
// work_progress), and ends when its remote actor is gone, so the pool counts
// the attempt it was running as lost.
#pragma once

#include "actors/actors.hpp"

namespace actorq {

struct remote_worker_state {
  static inline const char* name = "actorq.remote_worker";
  uint32_t slot = 0;
  pool_actor pool;
  kind_worker_actor target;
  std::vector<uint64_t> pending; // seqs at the remote actor, not reported
};

worker_actor::behavior_type
remote_worker(worker_actor::stateful_pointer<remote_worker_state> self,
              uint32_t slot, pool_actor pool, kind_worker_actor target);

} // namespace actorq
