// The lease desk: hands attempts of lease kinds to workers that ask over
// HTTP (POST /v1/leases) and settles them (docs/leases.md). Pools keep the
// jobs; the desk takes attempts from a pool only when a worker asks, so a
// waiting task stays queued while no worker is connected, and a pool's size
// bounds its leases. Settles, expiries and releases go back to the pool as
// attempt_done on lease_slot, where retries and timeouts work as for every
// other attempt.
#pragma once

#include "actors/actors.hpp"
#include "actors/lease_book.hpp"
#include "actors/pool.hpp"

#include <map>
#include <vector>

namespace actorq {

struct lease_desk_state {
  static inline const char* name = "actorq.lease_desk";

  /// A lease request being answered (long-polling while `got` is empty).
  struct request {
    caf::typed_response_promise<std::vector<lease_grant>> promise;
    // The pools of its kinds: (pool index, its kinds' catalog indices).
    std::vector<std::pair<uint32_t, std::vector<uint32_t>>> pools;
    size_t asked = 0;      // first pass: pools asked so far, in order
    uint32_t max = 1;
    uint32_t worker = 0;   // lease_book's index
    std::vector<lease_grant> got;
    int64_t taking = -1;   // pool index of the take out, if any
    bool over = false;     // its wait_ms has passed
  };

  std::vector<pool_ref> pools; // in the catalog's order
  lease_book book;
  std::map<uint64_t, request> requests; // by id: oldest first
  uint64_t next_request = 0;
  // Per pool, the kinds of which it said attempts wait that no waiting
  // request took (those that wanted them had a take out elsewhere).
  std::vector<std::vector<uint32_t>> ready;
  bool sweeping = false; // a sweep timer is set
  bool paused = false;   // draining: requests are answered at once
};

lease_desk_actor::behavior_type
lease_desk(lease_desk_actor::stateful_pointer<lease_desk_state> self,
           std::vector<pool_ref> pools);

} // namespace actorq
