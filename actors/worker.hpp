// A worker runs one attempt at a time for its pool. A built-in kind reports
// its result at once, with its simulated delay for the pool to hold it (so
// an I/O worker never blocks a thread); exec and http kinds run in their
// runner (threads of its own) and report back through messages.
#pragma once

#include "actors/actors.hpp"
#include "actors/exec_runner.hpp"
#include "actors/http_runner.hpp"

namespace actorq {

/// A worker's state lives beside the actor, made on its first message and
/// shared by its handlers: a worker actor with no state of its own is 1 024
/// bytes with its control block, a stateful one 1 072, which tcmalloc
/// rounds up to 1 152 (1.3 MB of an idle daemon's 10 000 I/O workers).
struct worker_state {
  worker_actor::pointer self = nullptr; // valid while its handlers run
  uint32_t slot = 0;
  pool_actor pool;
  uint64_t pending = 0; // seq of the attempt waiting for its end, 0 = none
  // The pending attempt runs in a runner: cancel goes there, and the
  // attempt is reported when the runner says it ended.
  enum class where : uint8_t { exec, http } runs_in = where::exec;
  uint64_t handle = 0; // the runner's handle of the pending attempt
};

worker_actor::behavior_type
worker(worker_actor::pointer self, uint32_t slot, pool_actor pool);

/// The process's runners, started on first use; stop_runners() ends their
/// attempts (shutdown) and waits up to `patience` for exec children to go.
exec_runner& exec_runner_instance();
http_runner& http_runner_instance();
void stop_runners(std::chrono::milliseconds patience);

} // namespace actorq
