// A coordinator serves one batch: it fans the items out to a pool in one
// message, collects the tagged replies in input order and answers once.
// (No per-item request/then handlers: CAF 0.17 slows down quadratically with
// the number of outstanding requests of one actor.)
#pragma once

#include "actors/actors.hpp"
#include "actors/pool.hpp"

namespace actorq {

struct coordinator_state {
  static inline const char* name = "actorq.coordinator";
  pool_ref pool;
  batch_result result;
  size_t pending = 0;
  caf::typed_response_promise<batch_result> promise;
};

coordinator_actor::behavior_type
coordinator(coordinator_actor::stateful_pointer<coordinator_state> self,
            pool_ref pool);

} // namespace actorq
