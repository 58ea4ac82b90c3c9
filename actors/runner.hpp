// Runners execute attempts of config kinds outside the actors: a program per
// attempt (exec_runner) or an HTTP call per attempt (http_runner). They own
// threads of their own, so a running child or a call in flight never holds a
// CAF scheduler thread. A worker hands an attempt to a runner and hears back
// through the callbacks, which run on the runner's thread and must not block
// (the worker's callbacks only send a message to the worker).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace actorq {

/// How one attempt ended, as a runner reports it.
struct run_result {
  bool ok = false;
  nlohmann::json result;       // ok: the attempt's result (null if empty)
  std::string error;           // !ok: for people, e.g. "exit status 3: ..."
  bool permanent = false;      // !ok: fail the task now, no more retries
  int64_t retry_after_ms = 0;  // !ok: least delay before the next attempt
};

/// A progress report of a running attempt (exec: a stderr line
/// "::progress 0.42 resizing page 3 of 7").
struct run_progress {
  double fraction = 0; // 0..1
  std::string message;
};

/// One attempt to run.
struct run_order {
  std::string kind;       // ACTORQ_KIND
  std::string input;      // the input as compact JSON text
  int32_t attempt = 1;    // ACTORQ_ATTEMPT, from 1
  std::string attempt_id; // ACTORQ_ATTEMPT_ID: unique per attempt
  std::string task_id;    // ACTORQ_TASK_ID: empty for batch items
  int64_t timeout_ms = 0; // 0 = none; the pool enforces it too (by cancel)
};

struct run_callbacks {
  /// Called exactly once, when the attempt is over (also after cancel: then
  /// only once the process is gone or the call aborted).
  std::function<void(run_result)> done;
  /// Called for each progress report; may be empty.
  std::function<void(run_progress)> progress;
};

/// Parses a progress line ("::progress 0.42 message"); false if `line` is
/// not one (other stderr lines only feed the error tail).
bool parse_progress_line(const std::string& line, run_progress& out);

} // namespace actorq
