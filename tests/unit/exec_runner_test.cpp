// The exec runner against real processes: protocol, limits, cancellation,
// leftovers, environment, and that no child is ever left a zombie.
#include "actors/exec_runner.hpp"

#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

using namespace actorq;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

std::shared_ptr<exec_spec> program(std::vector<std::string> argv) {
  auto spec = std::make_shared<exec_spec>();
  spec->program = argv.at(0);
  spec->argv = std::move(argv);
  spec->workdir = "/tmp";
  return spec;
}

std::shared_ptr<exec_spec> shell(const std::string& script) {
  return program({"/bin/sh", "-c", script});
}

run_order order(std::string input = "{}") {
  run_order o;
  o.kind = "test";
  o.input = std::move(input);
  o.attempt_id = "attempt-1";
  return o;
}

// An attempt whose `done` fulfils a future.
struct pending_run {
  uint64_t handle = 0;
  std::future<run_result> result;

  run_result get(std::chrono::seconds limit = 10s) {
    REQUIRE(result.wait_for(limit) == std::future_status::ready);
    return result.get();
  }
};

pending_run start(exec_runner& runner, std::shared_ptr<const exec_spec> spec,
                  run_order o = order(), run_callbacks cb = {}) {
  auto promise = std::make_shared<std::promise<run_result>>();
  pending_run p;
  p.result = promise->get_future();
  cb.done = [promise](run_result r) {
    promise->set_value(std::move(r));
  };
  p.handle = runner.start(std::move(spec), std::move(o), std::move(cb));
  return p;
}

run_result run(exec_runner& runner, std::shared_ptr<const exec_spec> spec,
               run_order o = order(), run_callbacks cb = {}) {
  return start(runner, std::move(spec), std::move(o), std::move(cb)).get();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// State letter of a process ('?' if gone) and its parent.
std::pair<char, pid_t> process_state(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(f, stat)) {
    return {'?', 0};
  }
  // The command name may hold spaces and parentheses: skip to the last ')'.
  std::istringstream rest(stat.substr(stat.rfind(')') + 1));
  char state = '?';
  pid_t ppid = 0;
  rest >> state >> ppid;
  return {state, ppid};
}

std::vector<pid_t> zombie_children() {
  std::vector<pid_t> zombies;
  DIR* proc = opendir("/proc");
  REQUIRE(proc != nullptr);
  while (dirent* e = readdir(proc)) {
    pid_t pid = static_cast<pid_t>(atoi(e->d_name));
    if (pid <= 0) {
      continue;
    }
    auto [state, ppid] = process_state(pid);
    if (state == 'Z' && ppid == getpid()) {
      zombies.push_back(pid);
    }
  }
  closedir(proc);
  return zombies;
}

// Gone, or a zombie of someone else's (init reaps it soon).
bool dies_within(pid_t pid, std::chrono::milliseconds limit) {
  auto until = steady::now() + limit;
  do {
    char state = process_state(pid).first;
    if (state == '?' || state == 'Z' || state == 'X') {
      return true;
    }
    std::this_thread::sleep_for(10ms);
  } while (steady::now() < until);
  return false;
}

struct temp_dir {
  std::string path;
  temp_dir() {
    char name[] = "/tmp/exec_runner_test.XXXXXX";
    REQUIRE(mkdtemp(name) != nullptr);
    path = name;
  }
  ~temp_dir() {
    std::filesystem::remove_all(path);
  }
  std::string read(const std::string& file) const {
    std::ifstream f(path + "/" + file);
    std::string text;
    std::getline(f, text);
    return text;
  }
};

std::string repo_root() {
  return ACTORQ_SOURCE_DIR; // from CMake (__FILE__ may be relative)
}

} // namespace

TEST_CASE("exec runner: parse_progress_line", "[exec_runner]") {
  run_progress p;
  REQUIRE(parse_progress_line("::progress 0.42 resizing page 3 of 7", p));
  CHECK(p.fraction == Approx(0.42));
  CHECK(p.message == "resizing page 3 of 7");
  REQUIRE(parse_progress_line("::progress 1", p));
  CHECK(p.fraction == 1);
  CHECK(p.message.empty());
  REQUIRE(parse_progress_line("::progress 0 \r", p));
  CHECK(p.message.empty());
  CHECK_FALSE(parse_progress_line("::progress 1.5 too far", p));
  CHECK_FALSE(parse_progress_line("::progress -0.1", p));
  CHECK_FALSE(parse_progress_line("::progress nan", p));
  CHECK_FALSE(parse_progress_line("::progress 42%", p));
  CHECK_FALSE(parse_progress_line("::progress", p));
  CHECK_FALSE(parse_progress_line("::progressive 0.5", p));
  CHECK_FALSE(parse_progress_line("progress 0.5", p));
}

TEST_CASE("exec runner: protocol", "[exec_runner]") {
  exec_runner runner;

  SECTION("cat echoes its input") {
    auto r =
        run(runner, program({"/bin/cat"}), order(R"({"a":[1,2,3],"b":"x"})"));
    REQUIRE(r.ok);
    CHECK(r.result == nlohmann::json{{"a", {1, 2, 3}}, {"b", "x"}});
  }
  SECTION("an input larger than the pipe buffer goes through") {
    std::string big(300 * 1024, 'x');
    auto r =
        run(runner, program({"/bin/cat"}), order(nlohmann::json(big).dump()));
    REQUIRE(r.ok);
    CHECK(r.result == big);
  }
  SECTION("a child that does not read its input is fine") {
    auto r = run(runner, program({"/bin/true"}),
                 order(nlohmann::json(std::string(1 << 20, 'x')).dump()));
    CHECK(r.ok);
    CHECK(r.result.is_null());
  }
  SECTION("empty or blank stdout is null") {
    auto r = run(runner, shell("printf ' \\n\\t'"));
    REQUIRE(r.ok);
    CHECK(r.result.is_null());
  }
  SECTION("stdout that is not JSON fails the attempt") {
    auto r = run(runner, shell("echo hello; echo world"));
    CHECK_FALSE(r.ok);
    CHECK(r.error == "exit status 0 but stdout is not JSON: hello\nworld\n");
  }
  SECTION("exit status with the tail of stderr") {
    auto r = run(runner, shell("echo first >&2; echo oops >&2; exit 3"));
    CHECK_FALSE(r.ok);
    CHECK_FALSE(r.permanent);
    CHECK(r.error == "exit status 3: first\noops");
  }
  SECTION("the stderr tail is the last KiB") {
    auto r = run(runner, shell("i=0; while [ $i -lt 300 ]; do "
                               "echo line $i >&2; i=$((i+1)); done; exit 1"));
    CHECK_FALSE(r.ok);
    CHECK(r.error.size() <= std::string("exit status 1: ").size() + 1024);
    CHECK(contains(r.error, "line 299"));
    CHECK_FALSE(contains(r.error, "line 1\n"));
  }
  SECTION("a permanent exit code") {
    auto r = run(runner, shell("exit 64"));
    CHECK_FALSE(r.ok);
    CHECK(r.permanent);
    CHECK(r.error == "exit status 64");
  }
  SECTION("killed by a signal (the child's mask is empty)") {
    auto r = run(runner, shell("echo bye >&2; kill -TERM $$; sleep 5"));
    CHECK_FALSE(r.ok);
    CHECK(r.error == "killed by signal 15 (SIGTERM): bye");
  }
  SECTION("stdout beyond max_output_bytes kills the child") {
    auto spec = program({"/usr/bin/yes"});
    auto begin = steady::now();
    auto r = run(runner, spec);
    CHECK(steady::now() - begin < 5s);
    CHECK_FALSE(r.ok);
    CHECK(r.error == "printed more than 1048576 bytes on stdout");
  }
  SECTION("progress lines reach the callback, other lines the error") {
    std::mutex mu;
    std::vector<run_progress> seen;
    run_callbacks cb;
    cb.progress = [&](run_progress p) {
      std::lock_guard<std::mutex> lock(mu);
      seen.push_back(std::move(p));
    };
    auto r = run(runner,
                 shell("echo '::progress 0.5 half way' >&2; "
                       "echo 'not progress' >&2; "
                       "printf '::progress 1' >&2; echo 7"),
                 order(), cb);
    REQUIRE(r.ok);
    CHECK(r.result == 7);
    std::lock_guard<std::mutex> lock(mu);
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].fraction == 0.5);
    CHECK(seen[0].message == "half way");
    CHECK(seen[1].fraction == 1);
    CHECK(seen[1].message.empty());
  }
  CHECK(runner.running() == 0);
}

TEST_CASE("exec runner: programs that cannot run", "[exec_runner]") {
  exec_runner runner;
  temp_dir dir;

  SECTION("not executable") {
    std::string path = dir.path + "/plain";
    std::ofstream(path) << "#!/bin/sh\necho 1\n";
    auto r = run(runner, program({path}));
    CHECK_FALSE(r.ok);
    CHECK(r.error == "cannot run " + path + ": Permission denied");
  }
  SECTION("missing") {
    auto r = run(runner, program({dir.path + "/missing"}));
    CHECK(r.error
          == "cannot run " + dir.path + "/missing: No such file or directory");
  }
  SECTION("missing workdir") {
    auto spec = program({"/bin/true"});
    spec->workdir = dir.path + "/nowhere";
    auto r = run(runner, spec);
    CHECK(r.error
          == "cannot run /bin/true: chdir " + spec->workdir
                 + ": No such file or directory");
  }
  CHECK(zombie_children().empty());
}

TEST_CASE("exec runner: child environment and limits", "[exec_runner]") {
  exec_runner runner;

  SECTION("only the kind's variables and ACTORQ_*") {
    setenv("ACTORQ_TEST_LEAK", "1", 1);
    auto spec = program({"/usr/bin/env"});
    spec->env = {"FOO=bar", "ACTORQ_KIND=shadowed"};
    run_order o = order();
    o.kind = "resize";
    o.attempt = 2;
    o.attempt_id = "att-9";
    auto r = run(runner, spec, o);
    // env prints lines, not JSON: the error carries them.
    std::string prefix = "exit status 0 but stdout is not JSON: ";
    REQUIRE(r.error.substr(0, prefix.size()) == prefix);
    std::istringstream lines(r.error.substr(prefix.size()));
    std::set<std::string> vars;
    for (std::string line; std::getline(lines, line);) {
      vars.insert(line);
    }
    CHECK(vars
          == std::set<std::string>{
              "FOO=bar", "ACTORQ_KIND=resize", "ACTORQ_ATTEMPT=2",
              "ACTORQ_ATTEMPT_ID=att-9", "ACTORQ_TASK_ID="});
    unsetenv("ACTORQ_TEST_LEAK");
  }
  SECTION("workdir") {
    temp_dir dir;
    auto spec = shell("printf '\"%s\"' \"$(pwd -P)\"");
    spec->workdir = dir.path;
    auto r = run(runner, spec);
    REQUIRE(r.ok);
    CHECK(r.result == std::filesystem::canonical(dir.path).string());
  }
  SECTION("RLIMIT_NOFILE") {
    auto spec = shell("ulimit -n");
    spec->rlimit_open_files = 64;
    auto r = run(runner, spec);
    REQUIRE(r.ok);
    CHECK(r.result == 64);
  }
  SECTION("RLIMIT_AS") {
    auto spec = program(
        {"/usr/bin/python3", "-c", "b = bytearray(1 << 30); print(len(b))"});
    spec->rlimit_address_space_bytes = 256 << 20;
    auto r = run(runner, spec);
    CHECK(contains(r.error, "exit status 1: "));
    CHECK(contains(r.error, "MemoryError"));
  }
  SECTION("RLIMIT_CPU") {
    auto spec = shell("while :; do :; done");
    spec->rlimit_cpu_seconds = 1;
    auto r = run(runner, spec);
    CHECK(r.error == "killed by signal 24 (SIGXCPU)");
  }
  SECTION("uid and gid (when root)") {
    if (geteuid() != 0) {
      WARN("not root: uid/gid not tested");
      return;
    }
    auto spec = shell("echo \"[$(id -u), $(id -g), \\\"$(id -G)\\\"]\"");
    spec->uid = 65534;
    spec->gid = 65534;
    auto r = run(runner, spec);
    REQUIRE(r.ok);
    CHECK(r.result == nlohmann::json{65534, 65534, "65534"});
    // The child shares our memory until exec; its ids are its own.
    CHECK(geteuid() == 0);
    CHECK(getegid() == 0);
  }
  SECTION("no descriptor leaks into the child") {
    int null_fd = open("/dev/null", O_RDONLY);
    int leaked = fcntl(null_fd, F_DUPFD, 100); // no FD_CLOEXEC
    close(null_fd);
    REQUIRE(leaked >= 100);
    std::string path = "/proc/self/fd/" + std::to_string(leaked);
    auto r = run(runner, shell("[ -e " + path
                               + " ] && echo true"
                                 " || echo false"));
    close(leaked);
    REQUIRE(r.ok);
    CHECK(r.result == false);
  }
}

TEST_CASE("exec runner: children start with default signal handling",
          "[exec_runner]") {
  // As in the daemon: SIGPIPE ignored, SIGINT/SIGTERM blocked.
  struct sigaction ignore = {};
  struct sigaction old_pipe = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old_pipe);
  sigset_t blocked, old_mask;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &blocked, &old_mask);
  {
    exec_runner runner;
    auto r = run(runner, shell("grep -E '^Sig(Blk|Ign)' /proc/$$/status"
                               " | tr '\\t\\n' ':,' | sed 's/^/\"/; s/$/\"/'"));
    REQUIRE(r.ok);
    CHECK(r.result == "SigBlk::0000000000000000,SigIgn::0000000000000000,");
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  sigaction(SIGPIPE, &old_pipe, nullptr);
}

TEST_CASE("exec runner: cancellation", "[exec_runner]") {
  exec_runner runner;

  SECTION("a plain sleep ends at once") {
    auto begin = steady::now();
    auto p = start(runner, program({"/bin/sleep", "30"}));
    runner.cancel(p.handle);
    auto r = p.get();
    CHECK(steady::now() - begin < 2s);
    CHECK_FALSE(r.ok);
    CHECK(r.error == "cancelled");
  }
  SECTION("SIGTERM ignored: SIGKILL after kill_grace") {
    auto spec = shell("trap '' TERM; echo '::progress 0 ready' >&2; sleep 30");
    spec->kill_grace = 200ms;
    std::promise<void> ready;
    auto ready_future = ready.get_future();
    run_callbacks cb;
    cb.progress = [&](run_progress) {
      ready.set_value();
    };
    auto p = start(runner, spec, order(), cb);
    REQUIRE(ready_future.wait_for(5s) == std::future_status::ready);
    auto begin = steady::now();
    runner.cancel(p.handle);
    auto r = p.get();
    auto took = steady::now() - begin;
    CHECK(took >= 190ms);
    CHECK(took < 2s);
    CHECK(r.error == "cancelled");
  }
  SECTION("cancel_all") {
    std::vector<pending_run> runs;
    for (int i = 0; i < 3; ++i) {
      runs.push_back(start(runner, program({"/bin/sleep", "30"})));
    }
    runner.cancel_all();
    for (auto& p : runs) {
      CHECK(p.get(2s).error == "cancelled");
    }
  }
  SECTION("unknown handles are ignored") {
    runner.cancel(123456);
    CHECK(run(runner, program({"/bin/true"})).ok);
  }
  CHECK(runner.running() == 0);
  CHECK(zombie_children().empty());
}

TEST_CASE("exec runner: the destructor kills and reports", "[exec_runner]") {
  pending_run p;
  auto begin = steady::now();
  {
    exec_runner runner;
    p = start(runner, program({"/bin/sleep", "30"}));
    std::this_thread::sleep_for(50ms);
  }
  CHECK(steady::now() - begin < 2s);
  CHECK(p.get(0s).error == "cancelled");
  CHECK(zombie_children().empty());
}

TEST_CASE("exec runner: children die with the daemon", "[exec_runner]") {
  temp_dir dir;
  // The forked child plays the daemon: it only makes a runner (glibc keeps
  // malloc usable after fork) and waits to be killed.
  pid_t daemon = fork();
  REQUIRE(daemon >= 0);
  if (daemon == 0) {
    exec_runner runner;
    auto spec = shell("echo $$ > pid.tmp && mv pid.tmp pid && exec sleep 30");
    spec->workdir = dir.path;
    runner.start(spec, order(), {});
    pause();
    _exit(0);
  }
  auto until = steady::now() + 5s;
  while (dir.read("pid").empty() && steady::now() < until) {
    std::this_thread::sleep_for(10ms);
  }
  std::string pid = dir.read("pid");
  kill(daemon, SIGKILL);
  waitpid(daemon, nullptr, 0);
  REQUIRE_FALSE(pid.empty());
  CHECK(dies_within(std::stoi(pid), 2s));
}

TEST_CASE("exec runner: processes left in the group", "[exec_runner]") {
  exec_runner runner;
  temp_dir dir;

  SECTION("holding the pipes: killed, and the attempt fails") {
    auto spec = shell("sleep 100 & echo $! > pid; echo {}");
    spec->workdir = dir.path;
    auto begin = steady::now();
    auto r = run(runner, spec);
    CHECK(steady::now() - begin < 1s);
    CHECK_FALSE(r.ok);
    CHECK(r.error
          == "exited but left processes running in its process group "
             "(killed them)");
    CHECK(dies_within(std::stoi(dir.read("pid")), 2s));
  }
  SECTION("with the pipes closed: killed all the same") {
    auto spec = shell("sleep 100 >/dev/null 2>&1 & echo $! > pid; echo {}");
    spec->workdir = dir.path;
    auto r = run(runner, spec);
    CHECK(r.ok);
    CHECK(dies_within(std::stoi(dir.read("pid")), 2s));
  }
}

TEST_CASE("exec runner: no zombies after many quick runs", "[exec_runner]") {
  exec_runner runner;
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0, failed = 0;
  for (int i = 0; i < 1000; ++i) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return in_flight < 4; });
    ++in_flight;
    lock.unlock();
    run_callbacks cb;
    cb.done = [&](run_result r) {
      std::lock_guard<std::mutex> guard(mu);
      --in_flight;
      failed += r.ok ? 0 : 1;
      cv.notify_one();
    };
    runner.start(program({"/bin/true"}), order(), cb);
  }
  std::unique_lock<std::mutex> lock(mu);
  REQUIRE(cv.wait_for(lock, 30s, [&] { return in_flight == 0; }));
  CHECK(failed == 0);
  CHECK(runner.running() == 0);
  CHECK(zombie_children().empty());
}

TEST_CASE("exec runner: 100 sleeps at once", "[exec_runner]") {
  exec_runner runner;
  auto spec = program({"/bin/sleep", "1"});
  auto begin = steady::now();
  std::vector<pending_run> runs;
  for (int i = 0; i < 100; ++i) {
    runs.push_back(start(runner, spec));
  }
  CHECK(runner.running() == 100);
  int ok = 0;
  for (auto& p : runs) {
    ok += p.get().ok ? 1 : 0;
  }
  CHECK(ok == 100);
  CHECK(steady::now() - begin < 10s);
  CHECK(zombie_children().empty());
}

TEST_CASE("exec runner: example jobs", "[exec_runner]") {
  std::string jobs = repo_root() + "/examples/jobs/";
  REQUIRE(std::filesystem::exists(jobs + "echo.py"));
  exec_runner runner;

  SECTION("echo.py") {
    auto r = run(runner, program({"/usr/bin/python3", jobs + "echo.py"}),
                 order(R"({"x":[1,"two"]})"));
    REQUIRE(r.ok);
    CHECK(r.result == nlohmann::json{{"x", {1, "two"}}});
  }
  SECTION("thumbnail.py reports progress") {
    std::mutex mu;
    std::vector<run_progress> seen;
    run_callbacks cb;
    cb.progress = [&](run_progress p) {
      std::lock_guard<std::mutex> lock(mu);
      seen.push_back(std::move(p));
    };
    auto r =
        run(runner,
            program({"/usr/bin/python3", jobs + "thumbnail.py", "--size=256"}),
            order(R"({"pages":3,"ms_per_page":10})"), cb);
    REQUIRE(r.ok);
    CHECK(r.result == nlohmann::json{{"pages", 3}});
    std::lock_guard<std::mutex> lock(mu);
    REQUIRE(seen.size() == 3);
    CHECK(seen[2].fraction == 1);
    CHECK(seen[2].message == "resizing page 3 of 3");
  }
  SECTION("wordcount.sh") {
    auto r = run(runner, program({jobs + "wordcount.sh"}),
                 order(R"({"text":"the quick  brown\nfox"})"));
    REQUIRE(r.ok);
    CHECK(r.result == nlohmann::json{{"words", 4}});
  }
  SECTION("fail.sh") {
    auto r = run(runner, program({jobs + "fail.sh"}),
                 order(R"({"code":64,"message":"bad input"})"));
    CHECK_FALSE(r.ok);
    CHECK(r.permanent);
    CHECK(r.error == "exit status 64: bad input");
  }
}
