// The registry owns every task's state. It creates tasks, hands them to their
// pool, follows their progress (job_event) and answers reads, long-polls
// (wait) and cancellations. Nothing else touches task state.
#pragma once

#include "actors/actors.hpp"

#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

namespace actorq {

struct registry_state {
  static inline const char* name = "actorq.registry";

  /// One task, kept compact: a retained terminal task costs ~150 bytes.
  struct record {
    task_id id;
    uint16_t kind = 0; // index into all_kinds()
    uint8_t pool = 0;  // index into pool_names
    task_status status = task_status::queued;
    bool cancel_requested = false;
    int32_t attempts = 0;
    int32_t max_retries = 0;
    int64_t created_at = 0;
    int64_t started_at = 0;
    int64_t finished_at = 0;
    std::string result; // compact JSON text; empty = null
    std::string error;  // empty = null
  };

  struct waiter {
    uint64_t id;
    caf::typed_response_promise<task_view> promise;
  };

  std::vector<std::string> pool_names;
  std::vector<pool_actor> pools;
  std::deque<record> records; // records[seq - 1]
  std::unordered_map<task_id, uint64_t, task_id_hash> by_id; // id → seq
  std::unordered_map<uint64_t, std::vector<waiter>> waiters; // seq → waiters
  uint64_t next_waiter = 0;

  record* find(const task_id& id);
  task_view view(const record& r) const;
};

registry_actor::behavior_type
registry(registry_actor::stateful_pointer<registry_state> self,
         std::vector<std::pair<std::string, pool_actor>> pools);

} // namespace actorq
