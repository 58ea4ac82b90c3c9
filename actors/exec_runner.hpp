// The exec runner: one program per attempt, run without a shell. One thread
// of its own runs an event loop (epoll over pipes and pidfds): it spawns
// children, feeds their stdin, reads stdout and stderr, reaps them and kills
// them on timeout, cancel or shutdown. No CAF scheduler thread ever blocks on
// a child. See README, Runners.
#pragma once

#include "actors/runner.hpp"

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace actorq {

/// A config kind's program and limits, resolved at start-up.
struct exec_spec {
  std::string program;               // absolute path of command[0]
  std::vector<std::string> argv;     // command as configured (argv[0] too)
  std::string workdir;               // absolute; the job's working directory
  std::vector<std::string> env;      // NAME=value, resolved at start-up
  std::vector<int> permanent_exit_codes{64, 65};
  int64_t max_output_bytes = 1 << 20; // stdout beyond: killed, failed
  std::chrono::milliseconds kill_grace{5000}; // SIGTERM → SIGKILL
  // setrlimit in the child; 0 = not set.
  int64_t rlimit_cpu_seconds = 0;
  int64_t rlimit_address_space_bytes = 0;
  int64_t rlimit_open_files = 0;
  // Run as this user (only when actorq runs as root).
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
};

/// Errors it reports (run_result::error): "exit status N: <stderr tail>",
/// "killed by signal S (SIGNAME): <tail>", "exit status 0 but stdout is not
/// JSON: <first 200 bytes>", "printed more than N bytes on stdout",
/// "exited but left processes running in its process group (killed them)",
/// "cannot run <program>: <reason>", "cancelled". The tail is the last KiB of
/// stderr without progress lines; all of them are valid UTF-8.
///
/// Whatever is left of a child's process group when the child exits is
/// killed. It is reported only when it kept the child's stdout or stderr
/// open (EOF not within 100 ms of the exit); telling a quiet leftover from
/// an empty group would take a /proc scan per attempt. Processes that leave
/// the group (setsid, setpgid) are out of reach.
class exec_runner {
public:
  /// Starts the event-loop threads (`loops`; 0 = twice the cores, 2 to 8).
  explicit exec_runner(size_t loops = 0);
  /// Kills every child's process group (SIGKILL), reaps them, joins.
  ~exec_runner();
  exec_runner(const exec_runner&) = delete;
  exec_runner& operator=(const exec_runner&) = delete;

  /// Starts one attempt; returns a handle for cancel(). Never blocks on the
  /// child. The callbacks run on the runner's thread.
  uint64_t start(std::shared_ptr<const exec_spec> spec, run_order order,
                 run_callbacks callbacks);

  /// Ends the attempt's process group: SIGTERM, then SIGKILL after the
  /// kind's kill_grace; `done` follows (error "cancelled") once the child is
  /// reaped. Unknown or finished handles are ignored.
  void cancel(uint64_t handle);

  /// Like cancel() for every running attempt (shutdown).
  void cancel_all();

  /// Attempts whose child has not been reaped yet.
  size_t running() const;

private:
  struct impl;
  // Several event loops, each on its own thread: spawning blocks the
  // spawning thread until the child has exec'd (~0.1–1 ms on these VMs), so
  // one loop caps a busy pool at one spawn at a time. Attempts go round
  // robin; a handle names its loop in its low bits.
  std::vector<std::unique_ptr<impl>> loops_;
  std::atomic<uint64_t> next_loop_{0};
};

} // namespace actorq
