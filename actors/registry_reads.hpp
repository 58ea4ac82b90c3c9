// How HTTP threads read task state without a trip through the registry's
// mailbox (issue 14): the registry publishes its state here and stays its
// only writer. Kept apart from registry.hpp so that the HTTP layer sees only
// this, not the registry's internals.
#pragma once

#include "actors/actors.hpp"
#include "actors/read_gate.hpp"

namespace actorq {

struct registry_state;

/// Where the view of a task id comes from (registry_state::find_view).
enum class view_source {
  memory,    // the task is in memory: its view is filled in
  not_found, // no such task (or not acknowledged yet, or expired): 404
  store,     // not in memory, and a store exists: only the store knows
};

/// What HTTP threads read of the registry's state without a trip through its
/// mailbox (GET /v1/tasks/{id}, the seed routes' reads, a long-poll of a task
/// that already ended). The registry stays the only writer: registry_impl
/// holds `gate` exclusively while it handles each message; a reader holds it
/// shared while it builds one view (about a microsecond). `state` is null
/// before the registry runs and after it ended: readers then ask it.
struct registry_reads {
  read_gate gate;
  const registry_state* state = nullptr;

  /// The task's view as the registry's get handler answers it, read on the
  /// calling thread; `store` also when the registry is not running.
  view_source read(const task_id& id, task_view& out) const;
};

} // namespace actorq
