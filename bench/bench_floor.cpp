// bench_floor: the HTTP floor of the benchmark suite (issue 3).
//
// A bare cpp-httplib server that answers every GET with a constant 30-byte
// JSON body, configured like actorq's HTTP bridge (TCP_NODELAY, long keep-alive,
// a fixed thread pool, its threads under SCHED_BATCH).  Whatever req/s and
// latency it reaches on this machine is the ceiling of the stack; actorq's
// HTTP figures are quoted as a ratio to it.
//
//   bench_floor [--host=127.0.0.1] [--port=0] [--threads=128]
//
// --port=0 binds a free port.  When ready it prints `listening on PORT` on
// stdout.  SIGINT/SIGTERM stop it.
#include <httplib.h>

#include <sched.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

constexpr const char kBody[] = R"({"status":"ok","value":123456})";
static_assert(sizeof(kBody) - 1 == 30, "the floor answers a 30-byte body");

bool take(const char* arg, const char* key, std::string& out) {
  const size_t n = std::strlen(key);
  if (std::strncmp(arg, key, n) != 0 || arg[n] != '=') return false;
  out = arg + n + 1;
  return true;
}

[[noreturn]] void usage(const char* bad) {
  std::fprintf(stderr, "bench_floor: bad argument '%s'\n"
                       "usage: bench_floor [--host=ADDR] [--port=N] [--threads=N]\n", bad);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 0;
  size_t threads = 128;
  for (int i = 1; i < argc; ++i) {
    std::string v;
    try {
      if (take(argv[i], "--host", v)) host = v;
      else if (take(argv[i], "--port", v)) port = std::stoi(v);
      else if (take(argv[i], "--threads", v)) threads = std::stoul(v);
      else usage(argv[i]);
    } catch (const std::exception&) {
      usage(argv[i]);
    }
  }
  if (threads == 0 || port < 0 || port > 65535) usage("--threads/--port");

  // Block the stop signals in every thread; one thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  httplib::Server svr;
  // Handler threads under SCHED_BATCH, as actorq's (http/task_queue.cpp):
  // they inherit the policy of the thread that creates them, this one.
  svr.new_task_queue = [threads] {
    sched_param normal{};
    ::sched_setscheduler(0, SCHED_BATCH, &normal);
    auto pool = new httplib::ThreadPool(threads);
    ::sched_setscheduler(0, SCHED_OTHER, &normal);
    return pool;
  };
  svr.set_tcp_nodelay(true);
  svr.set_keep_alive_max_count(1'000'000);
  svr.set_keep_alive_timeout(5);
  svr.Get(R"(/.*)", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kBody, sizeof(kBody) - 1, "application/json");
  });

  int bound = port == 0 ? svr.bind_to_any_port(host) : (svr.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    std::fprintf(stderr, "bench_floor: cannot bind %s:%d\n", host.c_str(), port);
    return 1;
  }

  std::thread stopper([&svr, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    svr.stop();
  });
  stopper.detach();

  std::printf("listening on %d\n", bound);
  std::fflush(stdout);
  return svr.listen_after_bind() ? 0 : 1;
}
