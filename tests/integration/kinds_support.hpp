// Helpers for the tests of config pools and kinds (exec, http, remote runners):
// free ports, processes found through /proc (markers, zombies), a scoped
// environment for the daemon, a child process that is not actorq (the example
// worker program), requests with extra headers, scripts in a temp folder.
// Header-only (inline), shared by exec_kinds_test.cpp, http_kinds_test.cpp,
// remote_kinds_test.cpp and config_kinds_test.cpp.
#pragma once

#include "server.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace kt {

using namespace itest;

inline std::string examples_ini() { return source_dir() + "/configs/examples.ini"; }

/// actorq with configs/examples.ini, the gateway off (examples.ini asks for
/// 4242) unless `more` names --cluster.port, plus `more`.
inline std::vector<std::string> examples_args(std::vector<std::string> more = {}) {
  std::vector<std::string> args{"--config-file=" + examples_ini()};
  bool port = false;
  for (auto& a : more)
    if (a.rfind("--cluster.port=", 0) == 0) port = true;
  if (!port) args.push_back("--cluster.port=0");
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

/// A number for `sleep` that no other process on the machine has in its argv:
/// "<base>.<our pid>" (GNU sleep takes fractions).
inline std::string marker(int base) {
  return std::to_string(base) + "." + std::to_string(::getpid());
}

// --------------------------------------------------------------- /proc

struct ProcInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  pid_t pgrp = 0;
  char state = '?';
  std::vector<std::string> argv;
};

/// A /proc file's contents, or nothing if the process went away meanwhile
/// (libstdc++'s filebuf throws when read() fails with ESRCH).
inline std::optional<std::string> read_proc_file(const std::string& path) {
  try {
    std::ifstream f(path, std::ios::binary);
    if (!f) return std::nullopt;
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

inline std::optional<ProcInfo> read_proc(pid_t pid) {
  ProcInfo p;
  p.pid = pid;
  std::string dir = "/proc/" + std::to_string(pid);
  {
    auto text = read_proc_file(dir + "/stat");
    if (!text) return std::nullopt;
    auto& stat = *text;
    auto close = stat.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream rest(stat.substr(close + 1));
    rest >> p.state >> p.ppid >> p.pgrp;
    if (!rest) return std::nullopt;
  }
  auto text = read_proc_file(dir + "/cmdline");
  if (!text) return std::nullopt;
  auto& cmd = *text;
  size_t start = 0;
  while (start < cmd.size()) {
    auto end = cmd.find('\0', start);
    if (end == std::string::npos) end = cmd.size();
    p.argv.push_back(cmd.substr(start, end - start));
    start = end + 1;
  }
  return p;
}

inline std::vector<ProcInfo> all_processes() {
  std::vector<ProcInfo> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  while (auto* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || pid <= 0) continue;
    if (auto p = read_proc(static_cast<pid_t>(pid))) out.push_back(std::move(*p));
  }
  ::closedir(d);
  return out;
}

/// Live processes running `sleep <mark>` (argv[0]'s base name is "sleep" and
/// an argument equals the marker; actorq's own argv, which holds the marker
/// inside an option, does not count). Zombies do not count: they are gone.
inline std::vector<pid_t> sleepers(const std::string& mark) {
  std::vector<pid_t> out;
  for (auto& p : all_processes()) {
    if (p.state == 'Z' || p.argv.size() < 2) continue;
    auto base = p.argv[0].substr(p.argv[0].find_last_of('/') + 1);
    if (base != "sleep") continue;
    for (size_t i = 1; i < p.argv.size(); ++i)
      if (p.argv[i] == mark) {
        out.push_back(p.pid);
        break;
      }
  }
  return out;
}

inline bool sleeper_running(const std::string& mark) { return !sleepers(mark).empty(); }

/// Waits until no `sleep <mark>` is left; true if so within `timeout`.
inline bool wait_sleeper_gone(const std::string& mark, std::chrono::milliseconds timeout) {
  return wait_until([&] { return !sleeper_running(mark); }, timeout, 20ms);
}

/// Kills whatever `sleep <mark>` is left (cleanup after a failed check).
inline void kill_sleepers(const std::string& mark) {
  for (auto pid : sleepers(mark)) ::kill(pid, SIGKILL);
}

/// Children of `parent` that are zombies (state Z): exited, never reaped.
inline std::vector<ProcInfo> zombie_children(pid_t parent) {
  std::vector<ProcInfo> out;
  for (auto& p : all_processes())
    if (p.ppid == parent && p.state == 'Z') out.push_back(p);
  return out;
}

/// Every child process of `parent`.
inline std::vector<ProcInfo> children(pid_t parent) {
  std::vector<ProcInfo> out;
  for (auto& p : all_processes())
    if (p.ppid == parent) out.push_back(p);
  return out;
}

inline std::string describe(const std::vector<ProcInfo>& ps) {
  std::string s;
  for (auto& p : ps) {
    s += std::to_string(p.pid) + " [" + p.state + "]";
    for (auto& a : p.argv) s += " " + a;
    s += "\n";
  }
  return s;
}

/// REQUIREs that actorq has no zombie children (allowing `settle` for a
/// child that exited just now to be reaped).
inline void check_no_zombies(pid_t daemon, std::chrono::milliseconds settle = 2s) {
  std::vector<ProcInfo> z;
  bool none = wait_until(
      [&] {
        z = zombie_children(daemon);
        return z.empty();
      },
      settle, 50ms);
  INFO("zombie children of actorq (pid " << daemon << "):\n" << describe(z));
  CHECK(none);
}

// --------------------------------------------------------- environment

/// Sets (or unsets) environment variables of the test process for the
/// daemons started while it lives (the harness execs with environ), and
/// restores them after.
class ScopedEnv {
 public:
  ScopedEnv(std::vector<std::pair<std::string, std::optional<std::string>>> vars) {
    for (auto& [name, value] : vars) {
      const char* old = std::getenv(name.c_str());
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      if (value)
        ::setenv(name.c_str(), value->c_str(), 1);
      else
        ::unsetenv(name.c_str());
    }
  }
  ~ScopedEnv() {
    for (auto& [name, value] : saved_) {
      if (value)
        ::setenv(name.c_str(), value->c_str(), 1);
      else
        ::unsetenv(name.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// ---------------------------------------------------------- requests

/// One request with extra headers (Authorization, Idempotency-Key).
inline Reply send(const Server& srv, const std::string& method, const std::string& path,
                  const httplib::Headers& headers, const std::string& body = "") {
  Reply r;
  r.method = method;
  r.path = path;
  auto cli = srv.client();
  auto t0 = Clock::now();
  httplib::Result res{nullptr, httplib::Error::Unknown};
  if (method == "GET")
    res = cli.Get(path.c_str(), headers);
  else if (method == "POST")
    res = cli.Post(path.c_str(), headers, body, "application/json");
  else if (method == "DELETE")
    res = cli.Delete(path.c_str(), headers);
  else
    throw std::invalid_argument("unsupported method " + method);
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  if (!res) {
    r.error = httplib::to_string(res.error());
    return r;
  }
  r.status = res->status;
  r.body = res->body;
  r.headers = res->headers;
  if (!r.body.empty()) {
    r.body_json = json::parse(r.body, nullptr, false);
    r.is_json = !r.body_json.is_discarded();
  }
  return r;
}

/// The task's progress, or null.
inline json progress_of(const json& task) {
  return task.contains("progress") ? task["progress"] : json();
}

/// A progress object as the README describes it: {"fraction" 0..1,
/// "message" string, "at" a time (ISO-8601 or ms since the epoch)}.
inline void check_progress_shape(const json& p) {
  INFO("progress: " << p.dump());
  REQUIRE(p.is_object());
  REQUIRE(p.contains("fraction"));
  REQUIRE(p["fraction"].is_number());
  CHECK(p["fraction"].get<double>() >= 0.0);
  CHECK(p["fraction"].get<double>() <= 1.0);
  REQUIRE(p.contains("message"));
  CHECK(p["message"].is_string());
  REQUIRE(p.contains("at"));
  long long at = -1;
  if (p["at"].is_string())
    at = iso8601_to_epoch_ms(p["at"].get<std::string>());
  else if (p["at"].is_number_integer())
    at = p["at"].get<long long>();
  CHECK(at > 0);
  CHECK(std::llabs(at - now_epoch_ms()) < 120000);
}

inline std::string error_of(const json& task) {
  return task.contains("error") && task["error"].is_string() ? task["error"].get<std::string>()
                                                             : std::string();
}

inline bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// ------------------------------------------------------------- files

/// A folder of its own for scripts and INI files (removed with the test
/// process's store folder: it lives next to the fresh store paths).
inline std::string temp_dir() {
  auto dir = fresh_store_path() + ".d";
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string write_file(const std::string& path, const std::string& text,
                              bool executable = false) {
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
  }
  if (executable) ::chmod(path.c_str(), 0755);
  return path;
}

// ------------------------------------------------------------ Proc

/// A child process that is not actorq (the example worker program): argv as
/// given, stdin from /dev/null, stdout and stderr read into one string.
/// Killed (SIGKILL) when destroyed if still running.
class Proc {
 public:
  explicit Proc(std::vector<std::string> argv) : argv_(std::move(argv)) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    std::vector<char*> args;
    for (auto& a : argv_) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(126);
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, 0);
      ::dup2(p[1], 1);
      ::dup2(p[1], 2);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(p[1]);
    fd_ = p[0];
    drain_ = std::thread([this] { drain(); });
  }
  ~Proc() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      wait_exit(5s);
    }
    if (drain_.joinable()) drain_.join();
    ::close(fd_);
  }
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;

  pid_t pid() const { return pid_; }
  void kill(int sig) {
    if (!reaped_) ::kill(pid_, sig);
  }
  bool running() { return !reap(false); }
  ExitStatus wait_exit(std::chrono::milliseconds timeout = 10s) {
    auto deadline = Clock::now() + timeout;
    while (!reap(false)) {
      if (Clock::now() >= deadline) {
        ExitStatus st;
        st.timed_out = true;
        return st;
      }
      std::this_thread::sleep_for(5ms);
    }
    return status_;
  }
  std::string output() const {
    std::lock_guard<std::mutex> lk(mu_);
    return out_;
  }
  bool wait_output(const std::string& text, std::chrono::milliseconds timeout = 10s,
                   size_t occurrences = 1) {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, timeout, [&] {
      size_t n = 0;
      for (size_t pos = out_.find(text); pos != std::string::npos;
           pos = out_.find(text, pos + text.size()))
        ++n;
      return n >= occurrences;
    });
  }

 private:
  void drain() {
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n > 0) {
        std::lock_guard<std::mutex> lk(mu_);
        out_.append(buf, static_cast<size_t>(n));
        if (out_.size() > (1u << 20)) out_.erase(0, out_.size() - (1u << 20));
        cv_.notify_all();
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
  }
  bool reap(bool block) {
    if (reaped_) return true;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, block ? 0 : WNOHANG);
    if (r == pid_ || r < 0) {
      if (r == pid_) {
        if (WIFEXITED(st)) {
          status_.exited = true;
          status_.code = WEXITSTATUS(st);
        } else if (WIFSIGNALED(st)) {
          status_.signal = WTERMSIG(st);
        }
      }
      reaped_ = true;
      return true;
    }
    return false;
  }

  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
  ExitStatus status_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string out_;
  std::thread drain_;
};

}  // namespace kt
