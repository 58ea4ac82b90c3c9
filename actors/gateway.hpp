// The gateway is what other CAF nodes talk to (include/actorq/gateway.hpp):
// C++ clients submit and read tasks through it (the same registry and ids as
// HTTP), and worker nodes join through it, lending their workers to the
// head's pools. It keeps the list of nodes for GET /v1/nodes.
#pragma once

#include "actors/actors.hpp"
#include "actors/config.hpp"
#include "actors/pool.hpp"

#include <string>
#include <vector>

namespace actorq {

struct gateway_state {
  static inline const char* name = "actorq.gateway";

  struct node {
    node_view view;        // counters filled in on demand
    caf::actor_addr agent; // the node's actor the head monitors
    std::vector<worker_actor> stand_ins; // a worker program's, in our pools
    uint32_t joins = 0; // times a node of this name joined (rejoins: > 1)
  };

  registry_actor registry;
  std::vector<pool_ref> pools;
  std::vector<node> nodes;         // nodes[0] is the head
  size_t max_batch_items = 100000; // as http.max-batch-items
};

gateway_actor::behavior_type
gateway(gateway_actor::stateful_pointer<gateway_state> self,
        registry_actor registry, std::vector<pool_ref> pools,
        size_t max_batch_items);

} // namespace actorq
