#include "actors/exec_runner.hpp"

#include "actors/text.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>

namespace actorq {

namespace {

using steady = std::chrono::steady_clock;

constexpr size_t stderr_tail_bytes = 1024;
constexpr size_t stderr_line_max = 4096; // longer: not a progress line
constexpr size_t stdout_excerpt_bytes = 200;
// After the main child exits, how long to wait for EOF on its pipes before
// blaming processes it left behind.
constexpr std::chrono::milliseconds exit_drain{100};
constexpr size_t child_stack_bytes = 64 * 1024;
// Commands (mostly spawns) handled per loop turn before looking at events
// again, so that a burst of starts does not delay reaping and reading.
constexpr int commands_per_turn = 16;
constexpr size_t read_chunk = 64 * 1024;

// ---------------------------------------------------------------------------
// Child side. clone(CLONE_VM | CLONE_VFORK) runs the child in the parent's
// memory on a stack of its own while the parent thread waits for exec or
// exit, as posix_spawn does. The child may only make raw system calls: no
// malloc, no locks, no glibc wrappers with process-wide machinery (glibc's
// setuid() runs its all-threads protocol over the parent's thread list), no
// sanitizer interceptors.
// Everything it needs is prepared by the parent in spawn_args.

enum child_step {
  step_none,
  step_setpgid,
  step_stdio,
  step_setrlimit,
  step_setgroups,
  step_setgid,
  step_setuid,
  step_chdir,
  step_pdeathsig,
  step_close_range,
  step_exec,
};

struct child_limit {
  int resource;
  rlimit value;
};

struct spawn_args {
  const char* program = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* workdir = nullptr; // null: stay in the daemon's
  int stdio[3] = {-1, -1, -1};   // child ends, all >= 3
  pid_t parent = 0;
  child_limit limits[3] = {};
  int limit_count = 0;
  bool set_uid = false, set_gid = false, drop_groups = false;
  uid_t uid = 0;
  gid_t gid = 0;
  // Written by the child when it fails; read by the parent after clone().
  int failed_step = step_none;
  int failed_limit = 0; // index into limits when step_setrlimit
  int error = 0;
};

#define ACTORQ_CHILD_SIDE __attribute__((no_sanitize("address", "undefined")))

[[noreturn]] ACTORQ_CHILD_SIDE void child_fail(spawn_args* a, int step) {
  a->error = errno;
  a->failed_step = step;
  syscall(SYS_exit_group, 127);
  __builtin_unreachable();
}

// Default dispositions for every signal the daemon ignores or handles: exec
// keeps ignored ones ignored (SIGPIPE!), and a handler must not run in the
// child while it shares the parent's memory. The kernel's struct sigaction
// starts with the handler; all zeroes mean SIG_DFL, no flags, empty mask.
ACTORQ_CHILD_SIDE void reset_signal_dispositions() {
  struct {
    void* handler;
    unsigned long flags;
    void* restorer;
    uint64_t mask;
  } dfl{}, old{};
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) {
      continue;
    }
    if (syscall(SYS_rt_sigaction, sig, nullptr, &old, sizeof(uint64_t)) == 0
        && old.handler != nullptr) {
      syscall(SYS_rt_sigaction, sig, &dfl, nullptr, sizeof(uint64_t));
    }
  }
}

// setgroups before setgid before setuid: each needs the privilege the next
// one drops. With a uid but no gid, root's supplementary groups still go.
ACTORQ_CHILD_SIDE void change_ids(spawn_args* a) {
  gid_t groups[1] = {a->gid};
  if (a->set_gid || a->drop_groups) {
    if (syscall(SYS_setgroups, a->set_gid ? 1 : 0, groups) != 0) {
      child_fail(a, step_setgroups);
    }
  }
  if (a->set_gid && syscall(SYS_setgid, a->gid) != 0) {
    child_fail(a, step_setgid);
  }
  if (a->set_uid && syscall(SYS_setuid, a->uid) != 0) {
    child_fail(a, step_setuid);
  }
}

ACTORQ_CHILD_SIDE int child_main(void* arg) {
  auto* a = static_cast<spawn_args*>(arg);
  // All signals are blocked here (inherited from the runner's thread) until
  // just before exec, so nothing runs a handler in the shared memory.
  if (syscall(SYS_setpgid, 0, 0) != 0) {
    child_fail(a, step_setpgid);
  }
  reset_signal_dispositions();
  for (int fd = 0; fd < 3; ++fd) {
    if (syscall(SYS_dup3, a->stdio[fd], fd, 0) < 0) {
      child_fail(a, step_stdio);
    }
  }
  for (int i = 0; i < a->limit_count; ++i) {
    const child_limit& l = a->limits[i];
    if (syscall(SYS_prlimit64, 0, l.resource, &l.value, nullptr) != 0) {
      a->failed_limit = i;
      child_fail(a, step_setrlimit);
    }
  }
  change_ids(a);
  // After the id change, so that permissions are the job's own.
  if (a->workdir != nullptr && syscall(SYS_chdir, a->workdir) != 0) {
    child_fail(a, step_chdir);
  }
  // After the id change too, which clears the parent-death signal. Then
  // check the parent is still there: it may have died before prctl.
  if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
    child_fail(a, step_pdeathsig);
  }
  if (syscall(SYS_getppid) != a->parent) {
    syscall(SYS_exit_group, 127);
  }
  // Descriptors of other threads that lack O_CLOEXEC must not leak.
  if (syscall(SYS_close_range, 3, ~0U, 0) != 0) {
    child_fail(a, step_close_range);
  }
  uint64_t no_signals = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &no_signals, nullptr,
          sizeof(no_signals));
  syscall(SYS_execve, a->program, a->argv, a->envp);
  child_fail(a, step_exec);
}

// ---------------------------------------------------------------------------
// Parent side of spawning.

void close_fd(int& fd) {
  if (fd >= 0) {
    close(fd);
    fd = -1;
  }
}

void wake(int event_fd) {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(event_fd, &one, sizeof one);
}

// The three pipes of a child. Index 0 is stdin, 1 stdout, 2 stderr. All
// ends are >= 3 (a daemon may have 0-2 closed), so the child's dup3()
// onto 0-2 never overwrites another end, and O_CLOEXEC.
struct stdio_pipes {
  int child[3] = {-1, -1, -1};
  int parent[3] = {-1, -1, -1};

  ~stdio_pipes() {
    for (int i = 0; i < 3; ++i) {
      close_fd(child[i]);
      close_fd(parent[i]);
    }
  }

  bool open() {
    for (int i = 0; i < 3; ++i) {
      int fds[2];
      if (pipe2(fds, O_CLOEXEC) != 0) {
        return false;
      }
      bool child_reads = i == 0;
      child[i] = fds[child_reads ? 0 : 1];
      parent[i] = fds[child_reads ? 1 : 0];
      if (!above_stdio(child[i]) || !above_stdio(parent[i])
          || fcntl(parent[i], F_SETFL, O_NONBLOCK) != 0) {
        return false;
      }
    }
    return true;
  }

  static bool above_stdio(int& fd) {
    if (fd >= 3) {
      return true;
    }
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    fd = moved;
    return fd >= 0;
  }
};

// NAME=value strings for the child: the kind's env plus the ACTORQ_* ones,
// which win over a kind's entries of the same name.
std::vector<std::string> child_environment(const exec_spec& spec,
                                           const run_order& order) {
  std::vector<std::string> env{
      "ACTORQ_KIND=" + order.kind,
      "ACTORQ_ATTEMPT=" + std::to_string(order.attempt),
      "ACTORQ_ATTEMPT_ID=" + order.attempt_id,
      "ACTORQ_TASK_ID=" + order.task_id,
  };
  size_t ours = env.size();
  for (const auto& entry : spec.env) {
    bool shadowed = false;
    for (size_t i = 0; i < ours; ++i) {
      size_t name_and_eq = env[i].find('=') + 1;
      shadowed |= entry.compare(0, name_and_eq, env[i], 0, name_and_eq) == 0;
    }
    if (!shadowed) {
      env.push_back(entry);
    }
  }
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

void add_limit(spawn_args& a, int resource, int64_t value, int64_t hard) {
  if (value > 0) {
    a.limits[a.limit_count++] = {
        resource, {static_cast<rlim_t>(value), static_cast<rlim_t>(hard)}};
  }
}

// Limits and ids of the kind. RLIMIT_CPU gets a hard limit one second
// above the soft one, so the job sees SIGXCPU before the kernel's SIGKILL.
void set_limits_and_ids(spawn_args& a, const exec_spec& spec) {
  add_limit(a, RLIMIT_CPU, spec.rlimit_cpu_seconds,
            spec.rlimit_cpu_seconds + 1);
  add_limit(a, RLIMIT_AS, spec.rlimit_address_space_bytes,
            spec.rlimit_address_space_bytes);
  add_limit(a, RLIMIT_NOFILE, spec.rlimit_open_files, spec.rlimit_open_files);
  if (geteuid() == 0 && (spec.uid || spec.gid)) {
    a.set_uid = spec.uid.has_value();
    a.uid = spec.uid.value_or(0);
    a.set_gid = spec.gid.has_value();
    a.gid = spec.gid.value_or(0);
    a.drop_groups = true;
  }
}

const char* limit_name(int resource) {
  switch (resource) {
    case RLIMIT_CPU:
      return "RLIMIT_CPU";
    case RLIMIT_AS:
      return "RLIMIT_AS";
    default:
      return "RLIMIT_NOFILE";
  }
}

std::string describe_spawn_failure(const spawn_args& a) {
  std::string what;
  switch (a.failed_step) {
    case step_setpgid:
      what = "setpgid: ";
      break;
    case step_stdio:
      what = "dup3: ";
      break;
    case step_setrlimit:
      what = std::string("setrlimit ")
             + limit_name(a.limits[a.failed_limit].resource) + ": ";
      break;
    case step_setgroups:
      what = "setgroups: ";
      break;
    case step_setgid:
      what = "setgid " + std::to_string(a.gid) + ": ";
      break;
    case step_setuid:
      what = "setuid " + std::to_string(a.uid) + ": ";
      break;
    case step_chdir:
      what = std::string("chdir ") + a.workdir + ": ";
      break;
    case step_pdeathsig:
      what = "prctl: ";
      break;
    case step_close_range:
      what = "close_range: ";
      break;
    default:
      break;
  }
  return "cannot run " + std::string(a.program) + ": " + what
         + strerror(a.error);
}

// ---------------------------------------------------------------------------
// Text for people: errors end up in JSON, which must be valid UTF-8, while
// a child may print anything. Invalid sequences become U+FFFD.

std::string_view trim_end(std::string_view s) {
  while (!s.empty()
         && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '
             || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// A child's stderr, split into lines: progress reports go to the callback,
// other lines to a bounded tail for the error message.
class stderr_lines {
public:
  void feed(std::string_view chunk, const run_callbacks& cb) {
    while (!chunk.empty()) {
      size_t nl = chunk.find('\n');
      if (nl == std::string_view::npos) {
        partial_.append(chunk);
        if (partial_.size() > stderr_line_max) {
          keep(partial_);
          partial_.clear();
        }
        return;
      }
      partial_.append(chunk.substr(0, nl));
      line(cb);
      chunk.remove_prefix(nl + 1);
    }
  }

  /// At EOF: the last line, if it has no newline.
  void flush(const run_callbacks& cb) {
    if (!partial_.empty()) {
      line(cb);
    }
  }

  std::string tail() const {
    std::string_view t = trim_end(tail_);
    if (t.size() > stderr_tail_bytes) {
      t = t.substr(t.size() - stderr_tail_bytes);
    }
    return valid_utf8(t);
  }

private:
  void line(const run_callbacks& cb) {
    run_progress p;
    if (parse_progress_line(partial_, p)) {
      if (cb.progress) {
        try {
          cb.progress(std::move(p));
        } catch (...) {
          // A throwing callback must not end the loop thread (and with
          // it the daemon); the report is lost, the attempt goes on.
        }
      }
    } else {
      keep(partial_);
      tail_ += '\n';
    }
    partial_.clear();
  }

  void keep(std::string_view text) {
    tail_.append(text);
    // Trim in big steps so that keeping the tail stays O(1) per byte.
    if (tail_.size() > 4 * stderr_tail_bytes) {
      tail_.erase(0, tail_.size() - stderr_tail_bytes);
    }
  }

  std::string partial_;
  std::string tail_;
};

std::string signal_description(int sig) {
  std::string s = "signal " + std::to_string(sig);
  if (const char* abbrev = sigabbrev_np(sig)) {
    s += std::string(" (SIG") + abbrev + ")";
  }
  return s;
}

std::string with_tail(std::string head, const std::string& tail) {
  return tail.empty() ? head : head + ": " + tail;
}

run_result failure(std::string error, bool permanent = false) {
  run_result r;
  r.error = std::move(error);
  r.permanent = permanent;
  return r;
}

bool only_json_whitespace(const std::string& s) {
  return s.find_first_not_of(" \t\r\n") == std::string::npos;
}

run_result parse_stdout(const std::string& out) {
  run_result r;
  if (only_json_whitespace(out)) {
    r.ok = true;
    return r;
  }
  r.result = nlohmann::json::parse(out, nullptr, false);
  if (r.result.is_discarded()) {
    std::string_view excerpt(out);
    return failure("exit status 0 but stdout is not JSON: "
                   + valid_utf8(excerpt.substr(0, stdout_excerpt_bytes)));
  }
  r.ok = true;
  return r;
}

// ---------------------------------------------------------------------------
// One attempt, from spawn to reap.

enum fd_tag : uint64_t { tag_stdin = 1, tag_stdout, tag_stderr, tag_exit };

struct attempt {
  uint64_t handle = 0;
  std::shared_ptr<const exec_spec> spec;
  run_order order;
  run_callbacks callbacks;
  // Also the process group id. While the attempt exists the main child is
  // not reaped, so no other process can get this id: signalling the group
  // is always safe.
  pid_t pid = -1;
  int pidfd = -1;
  int in = -1, out = -1, err = -1; // our ends; -1 once closed
  bool in_watched = false;         // waiting for EPOLLOUT on `in`
  size_t in_written = 0;
  std::string stdout_text;
  stderr_lines stderr_text;
  bool exited = false; // main child is a zombie
  bool cancelled = false;
  bool overflowed = false;
  bool drain_expired = false;
  std::optional<steady::time_point> kill_at, drain_until;
};

struct command {
  enum class type { start, cancel, cancel_all } what;
  uint64_t handle = 0;
  std::unique_ptr<attempt> work; // start
};

} // namespace

// ---------------------------------------------------------------------------
// The event loop. Only the loop thread touches anything below `queue_`.

struct exec_runner::impl {
  impl();
  ~impl();
  void release();

  void enqueue(command c);
  void request_stop();

  // Loop thread.
  void loop();
  void dispatch(const epoll_event& ev);
  int next_timeout_ms() const;
  bool run_commands(); // false: stop
  void execute(command& c);
  void start(std::unique_ptr<attempt> a);
  bool spawn(attempt& a, std::string& error);
  void watch(attempt& a, int fd, fd_tag tag, uint32_t events);
  void unwatch_and_close(int& fd);
  void close_input(attempt& a);
  void write_input(attempt& a);
  void read_stdout(attempt& a);
  void read_stderr(attempt& a);
  void on_exit(attempt& a);
  void on_timer(attempt& a);
  void cancel(attempt& a);
  void kill_group(const attempt& a, int sig);
  void add_timer(attempt& a, steady::time_point at);
  void fire_timers();
  void maybe_finish(attempt& a);
  void finish(attempt& a);
  run_result outcome(attempt& a, const siginfo_t& info, bool left_running);
  void complete(std::unique_ptr<attempt> a, run_result r);
  void shut_down();

  int epfd_ = -1;
  int wakefd_ = -1;
  void* stack_ = MAP_FAILED;
  std::atomic<uint64_t> next_handle_{1};
  std::atomic<size_t> running_{0};

  std::mutex mu_;
  std::vector<command> queue_; // guarded by mu_
  bool stopping_ = false;      // guarded by mu_

  bool woken_ = false;
  std::deque<command> pending_;
  std::unordered_map<uint64_t, std::unique_ptr<attempt>> attempts_;
  // Deadlines (kill grace, exit drain); stale entries are skipped.
  std::multimap<steady::time_point, uint64_t> timers_;
  std::vector<char> buffer_ = std::vector<char>(read_chunk);

  std::thread thread_;
};

exec_runner::impl::impl() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wakefd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  stack_ = mmap(nullptr, child_stack_bytes, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0; // handle 0: the wake-up eventfd
  if (epfd_ < 0 || wakefd_ < 0 || stack_ == MAP_FAILED
      || epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev) != 0) {
    int e = errno;
    release();
    throw std::system_error(e, std::generic_category(), "exec_runner");
  }
  // The loop thread blocks every signal: the daemon's handlers run
  // elsewhere, and children start with everything blocked until exec.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  try {
    thread_ = std::thread([this] { loop(); });
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    release();
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

exec_runner::impl::~impl() {
  request_stop();
  thread_.join();
  release();
}

void exec_runner::impl::release() {
  close_fd(epfd_);
  close_fd(wakefd_);
  if (stack_ != MAP_FAILED) {
    munmap(stack_, child_stack_bytes);
  }
}

void exec_runner::impl::enqueue(command c) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    was_empty = queue_.empty();
    queue_.push_back(std::move(c));
  }
  // The loop drains the eventfd before it takes the queue, so one wake-up
  // per non-empty queue is enough.
  if (was_empty) {
    wake(wakefd_);
  }
}

void exec_runner::impl::request_stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake(wakefd_);
}

void exec_runner::impl::loop() {
  epoll_event events[64];
  for (;;) {
    int n = epoll_wait(epfd_, events, 64, next_timeout_ms());
    for (int i = 0; i < n; ++i) {
      dispatch(events[i]);
    }
    fire_timers();
    if (!run_commands()) {
      break;
    }
  }
  shut_down();
}

int exec_runner::impl::next_timeout_ms() const {
  if (!pending_.empty()) {
    return 0;
  }
  if (timers_.empty()) {
    return -1;
  }
  auto wait = timers_.begin()->first - steady::now();
  if (wait <= steady::duration::zero()) {
    return 0;
  }
  // Round up: waking early would only spin.
  return static_cast<int>(
      std::chrono::ceil<std::chrono::milliseconds>(wait).count());
}

void exec_runner::impl::dispatch(const epoll_event& ev) {
  uint64_t handle = ev.data.u64 >> 3;
  if (handle == 0) {
    uint64_t count;
    [[maybe_unused]] ssize_t n = read(wakefd_, &count, sizeof count);
    woken_ = true;
    return;
  }
  auto it = attempts_.find(handle);
  if (it == attempts_.end()) {
    return; // finished earlier in this batch of events
  }
  attempt& a = *it->second;
  switch (ev.data.u64 & 7) {
    case tag_stdin:
      write_input(a);
      break;
    case tag_stdout:
      read_stdout(a);
      break;
    case tag_stderr:
      read_stderr(a);
      break;
    case tag_exit:
      on_exit(a);
      break;
  }
  maybe_finish(a);
}

bool exec_runner::impl::run_commands() {
  if (woken_) {
    woken_ = false;
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& c : queue_) {
      pending_.push_back(std::move(c));
    }
    queue_.clear();
    if (stopping_) {
      return false;
    }
  }
  for (int i = 0; i < commands_per_turn && !pending_.empty(); ++i) {
    command c = std::move(pending_.front());
    pending_.pop_front();
    execute(c);
  }
  return true;
}

void exec_runner::impl::execute(command& c) {
  switch (c.what) {
    case command::type::start:
      start(std::move(c.work));
      break;
    case command::type::cancel: {
      auto it = attempts_.find(c.handle);
      if (it != attempts_.end()) {
        cancel(*it->second);
      }
      break;
    }
    case command::type::cancel_all: {
      // cancel() may finish an attempt, which erases it: collect first.
      std::vector<uint64_t> handles;
      for (auto& entry : attempts_) {
        handles.push_back(entry.first);
      }
      for (uint64_t h : handles) {
        auto it = attempts_.find(h);
        if (it != attempts_.end()) {
          cancel(*it->second);
        }
      }
      break;
    }
  }
}

void exec_runner::impl::start(std::unique_ptr<attempt> a) {
  std::string error;
  if (!spawn(*a, error)) {
    complete(std::move(a), failure(std::move(error)));
    return;
  }
  watch(*a, a->out, tag_stdout, EPOLLIN);
  watch(*a, a->err, tag_stderr, EPOLLIN);
  watch(*a, a->pidfd, tag_exit, EPOLLIN);
  write_input(*a);
  uint64_t handle = a->handle;
  attempts_.emplace(handle, std::move(a));
}

bool exec_runner::impl::spawn(attempt& a, std::string& error) {
  const exec_spec& spec = *a.spec;
  std::vector<std::string> argv_strings = spec.argv;
  if (argv_strings.empty()) {
    argv_strings.push_back(spec.program);
  }
  std::vector<std::string> env_strings = child_environment(spec, a.order);
  std::vector<char*> argv = c_strings(argv_strings);
  std::vector<char*> envp = c_strings(env_strings);
  stdio_pipes pipes;
  if (!pipes.open()) {
    error = "cannot run " + spec.program + ": pipe: " + strerror(errno);
    return false;
  }
  spawn_args args;
  args.program = spec.program.c_str();
  args.argv = argv.data();
  args.envp = envp.data();
  args.workdir = spec.workdir.empty() ? nullptr : spec.workdir.c_str();
  std::copy(pipes.child, pipes.child + 3, args.stdio);
  args.parent = getpid();
  set_limits_and_ids(args, spec);

  int pidfd = -1;
  char* stack_top = static_cast<char*>(stack_) + child_stack_bytes;
  // The stack is free again once clone() returns: CLONE_VFORK suspends
  // this thread until the child has exec'd or exited.
  pid_t pid =
      clone(child_main, stack_top,
            CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &args, &pidfd);
  if (pid < 0) {
    error = "cannot run " + spec.program + ": clone: " + strerror(errno);
    return false;
  }
  if (args.failed_step != step_none) {
    siginfo_t info;
    while (waitid(P_PIDFD, pidfd, &info, WEXITED) != 0 && errno == EINTR) {
    }
    close(pidfd);
    error = describe_spawn_failure(args);
    return false;
  }
  a.pid = pid;
  a.pidfd = pidfd;
  std::swap(a.in, pipes.parent[0]);
  std::swap(a.out, pipes.parent[1]);
  std::swap(a.err, pipes.parent[2]);
  return true; // pipes closes the child ends
}

void exec_runner::impl::watch(attempt& a, int fd, fd_tag tag, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = (a.handle << 3) | tag;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
}

// Explicitly out of the epoll set: a process forked elsewhere in the daemon
// may still hold a copy of the fd, and then close() alone would not remove
// it.
void exec_runner::impl::unwatch_and_close(int& fd) {
  if (fd >= 0) {
    epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    close_fd(fd);
  }
}

void exec_runner::impl::write_input(attempt& a) {
  const std::string& input = a.order.input;
  while (a.in >= 0 && a.in_written < input.size()) {
    ssize_t n =
        write(a.in, input.data() + a.in_written, input.size() - a.in_written);
    if (n > 0) {
      a.in_written += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      if (!a.in_watched) {
        watch(a, a.in, tag_stdin, EPOLLOUT);
        a.in_watched = true;
      }
      return;
    } else {
      break; // EPIPE: the child did not read its input, which is its right
    }
  }
  close_input(a);
}

void exec_runner::impl::close_input(attempt& a) {
  if (a.in_watched) {
    unwatch_and_close(a.in);
  } else {
    close_fd(a.in);
  }
}

void exec_runner::impl::read_stdout(attempt& a) {
  while (a.out >= 0) {
    ssize_t n = read(a.out, buffer_.data(), buffer_.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      return;
    }
    if (n <= 0) {
      unwatch_and_close(a.out);
      return;
    }
    int64_t total = static_cast<int64_t>(a.stdout_text.size()) + n;
    if (total > a.spec->max_output_bytes) {
      a.overflowed = true;
      kill_group(a, SIGKILL);
      unwatch_and_close(a.out);
      return;
    }
    a.stdout_text.append(buffer_.data(), static_cast<size_t>(n));
  }
}

void exec_runner::impl::read_stderr(attempt& a) {
  while (a.err >= 0) {
    ssize_t n = read(a.err, buffer_.data(), buffer_.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      return;
    }
    if (n <= 0) {
      a.stderr_text.flush(a.callbacks);
      unwatch_and_close(a.err);
      return;
    }
    a.stderr_text.feed({buffer_.data(), static_cast<size_t>(n)}, a.callbacks);
  }
}

// The main child is a zombie. Its own ends of the pipes closed before it
// became one, so whatever is left to read is there now; EOF that does not
// come means other processes still hold the pipes.
void exec_runner::impl::on_exit(attempt& a) {
  a.exited = true;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, a.pidfd, nullptr);
  close_input(a);
  read_stdout(a);
  read_stderr(a);
  if ((a.out >= 0 || a.err >= 0) && !a.cancelled) {
    a.drain_until = steady::now() + exit_drain;
    add_timer(a, *a.drain_until);
  }
}

void exec_runner::impl::cancel(attempt& a) {
  if (a.cancelled) {
    return;
  }
  a.cancelled = true;
  if (a.exited) {
    maybe_finish(a); // erases a
    return;
  }
  kill_group(a, SIGTERM);
  if (a.spec->kill_grace.count() <= 0) {
    kill_group(a, SIGKILL);
    return;
  }
  a.kill_at = steady::now() + a.spec->kill_grace;
  add_timer(a, *a.kill_at);
}

void exec_runner::impl::kill_group(const attempt& a, int sig) {
  kill(-a.pid, sig);
}

void exec_runner::impl::add_timer(attempt& a, steady::time_point at) {
  timers_.emplace(at, a.handle);
}

void exec_runner::impl::fire_timers() {
  auto now = steady::now();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    uint64_t handle = timers_.begin()->second;
    timers_.erase(timers_.begin());
    auto it = attempts_.find(handle);
    if (it != attempts_.end()) {
      on_timer(*it->second);
    }
  }
}

void exec_runner::impl::on_timer(attempt& a) {
  auto now = steady::now();
  if (a.kill_at && *a.kill_at <= now) {
    a.kill_at.reset();
    kill_group(a, SIGKILL);
  }
  if (a.drain_until && *a.drain_until <= now) {
    a.drain_until.reset();
    a.drain_expired = true;
  }
  maybe_finish(a);
}

void exec_runner::impl::maybe_finish(attempt& a) {
  bool streams_open = a.out >= 0 || a.err >= 0;
  if (a.exited
      && (!streams_open || a.cancelled || a.overflowed || a.drain_expired)) {
    finish(a); // erases a
  }
}

// Kills what is left of the process group, then reaps the main child, in
// that order: once reaped, its pid (the group id) could be reused. The
// kill also ends leftovers that closed their pipes; those cannot be told
// from an empty group without scanning /proc, so they go unreported.
void exec_runner::impl::finish(attempt& a) {
  bool left_running = a.out >= 0 || a.err >= 0;
  kill_group(a, SIGKILL);
  siginfo_t info{};
  int reaped;
  while ((reaped = waitid(P_PIDFD, a.pidfd, &info, WEXITED)) != 0
         && errno == EINTR) {
  }
  if (reaped != 0) {
    // ECHILD: someone set SIGCHLD to SIG_IGN, the kernel reaped it.
    info.si_code = 0;
  }
  if (a.err >= 0) {
    a.stderr_text.flush(a.callbacks);
  }
  run_result r = outcome(a, info, left_running);
  unwatch_and_close(a.pidfd);
  close_input(a);
  unwatch_and_close(a.out);
  unwatch_and_close(a.err);
  auto it = attempts_.find(a.handle);
  std::unique_ptr<attempt> owned = std::move(it->second);
  attempts_.erase(it);
  complete(std::move(owned), std::move(r));
}

run_result exec_runner::impl::outcome(attempt& a, const siginfo_t& info,
                                      bool left_running) {
  if (a.cancelled) {
    return failure("cancelled");
  }
  if (a.overflowed) {
    return failure("printed more than "
                   + std::to_string(a.spec->max_output_bytes)
                   + " bytes on stdout");
  }
  std::string tail = a.stderr_text.tail();
  if (info.si_code == CLD_EXITED && info.si_status != 0) {
    const auto& codes = a.spec->permanent_exit_codes;
    bool permanent =
        std::find(codes.begin(), codes.end(), info.si_status) != codes.end();
    return failure(
        with_tail("exit status " + std::to_string(info.si_status), tail),
        permanent);
  }
  if (info.si_code == 0) {
    return failure(with_tail("exit status unknown (not reapable)", tail));
  }
  if (info.si_code != CLD_EXITED) {
    return failure(
        with_tail("killed by " + signal_description(info.si_status), tail));
  }
  if (left_running) {
    return failure(with_tail("exited but left processes running in its "
                             "process group (killed them)",
                             tail));
  }
  return parse_stdout(a.stdout_text);
}

void exec_runner::impl::complete(std::unique_ptr<attempt> a, run_result r) {
  // Before done: whoever waits for done may then look at running().
  running_.fetch_sub(1);
  try {
    if (a->callbacks.done) {
      a->callbacks.done(std::move(r));
    }
  } catch (...) {
    // Must not end the loop thread; see stderr_lines::line.
  }
}

void exec_runner::impl::shut_down() {
  for (auto& entry : attempts_) {
    kill_group(*entry.second, SIGKILL);
  }
  while (!attempts_.empty()) {
    attempt& a = *attempts_.begin()->second;
    a.cancelled = true;
    finish(a);
  }
  for (auto& c : pending_) {
    if (c.what == command::type::start) {
      complete(std::move(c.work), failure("cancelled"));
    }
  }
  pending_.clear();
}

// ---------------------------------------------------------------------------

namespace {

/// Bits of a handle that name its loop (at most 8 loops).
constexpr uint64_t loop_bits = 3;

} // namespace

exec_runner::exec_runner(size_t loops) {
  if (loops == 0)
    loops = std::clamp<size_t>(2 * std::thread::hardware_concurrency(), 2, 8);
  loops = std::clamp<size_t>(loops, 1, size_t{1} << loop_bits);
  for (size_t i = 0; i < loops; ++i)
    loops_.push_back(std::make_unique<impl>());
}

exec_runner::~exec_runner() = default;

uint64_t exec_runner::start(std::shared_ptr<const exec_spec> spec,
                            run_order order, run_callbacks callbacks) {
  auto index = next_loop_.fetch_add(1) % loops_.size();
  auto& loop = *loops_[index];
  auto a = std::make_unique<attempt>();
  a->handle = loop.next_handle_.fetch_add(1);
  a->spec = std::move(spec);
  a->order = std::move(order);
  a->callbacks = std::move(callbacks);
  uint64_t handle = a->handle;
  loop.running_.fetch_add(1);
  loop.enqueue(command{command::type::start, handle, std::move(a)});
  return (handle << loop_bits) | index;
}

void exec_runner::cancel(uint64_t handle) {
  auto index = handle & ((uint64_t{1} << loop_bits) - 1);
  if (index < loops_.size())
    loops_[index]->enqueue(
        command{command::type::cancel, handle >> loop_bits, nullptr});
}

void exec_runner::cancel_all() {
  for (auto& loop : loops_)
    loop->enqueue(command{command::type::cancel_all, 0, nullptr});
}

size_t exec_runner::running() const {
  size_t n = 0;
  for (auto& loop : loops_)
    n += loop->running_.load();
  return n;
}

} // namespace actorq
