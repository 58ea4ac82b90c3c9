// bench_http: the endpoint and the floor of the http runner (bench/runners.py,
// row "http").
//
//   bench_http serve PORT [THREADS]
//       The endpoint: answers POST /hook (any body) with `{}` at once, on a
//       cpp-httplib thread pool of THREADS (default 64) with keep-alive and
//       TCP_NODELAY.  PORT 0 binds a free port.  When ready it prints
//       `listening on PORT`.  SIGINT/SIGTERM stop it.
//   bench_http client URL N CONC
//       The bare loop: CONC threads, each with its own keep-alive
//       httplib::Client, POST `{}` to URL (e.g. http://127.0.0.1:PORT/hook)
//       until N calls are done in total (each thread's first call, its
//       connect, is made before the clock starts, one thread at a time).
//       Prints one JSON line:
//       {"calls":N,"conc":CONC,"ok":OK,"errors":E,"seconds":S,"calls_per_s":R}
//       (calls_per_s counts the 2xx answers).
#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: bench_http serve PORT [THREADS]\n"
               "       bench_http client URL N CONC\n");
  std::exit(2);
}

int serve(int port, size_t threads) {
  // Block the stop signals in every thread; one thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  httplib::Server svr;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_tcp_nodelay(true);
  svr.set_keep_alive_max_count(1'000'000);
  svr.set_keep_alive_timeout(5);
  svr.Post("/hook", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", 2, "application/json");
  });
  const std::string host = "127.0.0.1";
  int bound = port == 0 ? svr.bind_to_any_port(host) : (svr.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    std::fprintf(stderr, "bench_http: cannot bind %s:%d\n", host.c_str(), port);
    return 1;
  }
  // cpp-httplib 0.11 (Debian's compiled library) listens with a backlog of
  // 5: a burst of 50 connects (the client loop's, or actorq's http runner
  // opening its connections) overflows it, and the SYN cookies and resets
  // that follow cost whole seconds or fail calls with a read error.  A real
  // endpoint would have a proper backlog: raise it on the listening socket
  // (Linux lets listen() be called again to change it).
  for (int fd = 3; fd < 1024; ++fd) {
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening)
      ::listen(fd, 4096);
  }
  std::thread stopper([&svr, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    svr.stop();
  });
  std::printf("listening on %d\n", bound);
  std::fflush(stdout);
  svr.listen_after_bind();
  stopper.join();
  return 0;
}

int client(const std::string& url, long n, int conc) {
  // http://HOST:PORT/PATH
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) usage();
  auto slash = url.find('/', scheme.size());
  std::string origin = url.substr(0, slash);
  std::string path = slash == std::string::npos ? "/" : url.substr(slash);
  std::signal(SIGPIPE, SIG_IGN);

  std::atomic<long> next{0}, ok{0}, errors{0};
  // Each thread makes one warm-up call (its connect) before the clock
  // starts, one thread after the other, then all start together.
  std::mutex gate_mutex;
  std::condition_variable gate;
  int warmed = 0;
  bool go = false;
  std::mutex first_error_mutex;
  std::string first_error;
  std::vector<std::thread> threads;
  for (int k = 0; k < conc; ++k) {
    threads.emplace_back([&] {
      httplib::Client cli(origin);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      cli.set_connection_timeout(5);
      cli.set_read_timeout(30);
      cli.Post(path.c_str(), "{}", 2, "application/json");  // warm-up
      {
        std::unique_lock<std::mutex> lock(gate_mutex);
        ++warmed;
        gate.notify_all();
        gate.wait(lock, [&] { return go; });
      }
      while (next.fetch_add(1) < n) {
        auto res = cli.Post(path.c_str(), "{}", 2, "application/json");
        if (res && res->status >= 200 && res->status < 300) {
          ok.fetch_add(1);
          continue;
        }
        if (errors.fetch_add(1) == 0) {
          std::lock_guard<std::mutex> lock(first_error_mutex);
          first_error = res ? "HTTP status " + std::to_string(res->status)
                            : httplib::to_string(res.error());
        }
      }
    });
    std::unique_lock<std::mutex> lock(gate_mutex);
    gate.wait(lock, [&] { return warmed == k + 1; });
  }
  auto t0 = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(gate_mutex);
    go = true;
  }
  gate.notify_all();
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"calls\":%ld,\"conc\":%d,\"ok\":%ld,\"errors\":%ld,\"seconds\":%.6f,"
              "\"calls_per_s\":%.1f,\"first_error\":\"%s\"}\n",
              n, conc, ok.load(), errors.load(), secs,
              secs > 0 ? static_cast<double>(ok.load()) / secs : 0.0, first_error.c_str());
  return ok.load() > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage();
  std::string mode = argv[1];
  try {
    if (mode == "serve" && (argc == 3 || argc == 4)) {
      int port = std::stoi(argv[2]);
      size_t threads = argc == 4 ? std::stoul(argv[3]) : 64;
      if (port < 0 || port > 65535 || threads == 0) usage();
      return serve(port, threads);
    }
    if (mode == "client" && argc == 5) {
      long n = std::stol(argv[3]);
      int conc = std::stoi(argv[4]);
      if (n <= 0 || conc <= 0 || conc > 4096) usage();
      return client(argv[2], n, conc);
    }
  } catch (const std::exception&) {
    usage();
  }
  usage();
}
