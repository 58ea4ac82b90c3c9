// Configuration (CAF actor_system_config: INI file + --group.key=value),
// startup line and clean shutdown.
#include "server.hpp"

#include <signal.h>
#include <unistd.h>

#include <fstream>

using namespace itest;

namespace {

std::string default_ini() { return source_dir() + "/configs/default.ini"; }

// A temporary file removed at scope exit.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& content) {
    char tmpl[] = "/tmp/actorq-itest-XXXXXX.ini";
    int fd = ::mkstemps(tmpl, 4);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = tmpl;
    std::ofstream(path) << content;
  }
  ~TempFile() { ::unlink(path.c_str()); }
};

void check_refused(const std::vector<std::string>& args, const std::string& key) {
  auto fs = start_expect_failure(args);
  std::string cmd;
  for (auto& a : args) cmd += a + " ";
  INFO("args: " << cmd << "\n" << fs.status << "\noutput:\n" << fs.output);
  CHECK_FALSE(fs.started);
  CHECK_FALSE(fs.status.timed_out);
  CHECK(fs.status.exited);
  CHECK(fs.status.code != 0);
  CHECK_THAT(fs.output, Catch::Contains(key));
}

}  // namespace

TEST_CASE("config: the daemon prints one listening line with the real port", "[config]") {
  Server srv;
  INFO("line: " << srv.listening_line());
  CHECK(srv.host() == "127.0.0.1");  // http.host default
  CHECK(srv.port() > 0);
  CHECK(srv.port() < 65536);
  CHECK(srv.listening_line() ==
        "actorq listening on http://127.0.0.1:" + std::to_string(srv.port()));
  CHECK_STATUS(srv.get("/healthz"), 200);
  auto out = srv.stdout_text();
  size_t count = 0;
  for (auto pos = out.find("actorq listening on "); pos != std::string::npos;
       pos = out.find("actorq listening on ", pos + 1))
    ++count;
  CHECK(count == 1);
}

TEST_CASE("config: --pools.<name>.size overrides pool sizes", "[config]") {
  SECTION("--pools.limited.size=2 is reflected in /v1/pools and enforced") {
    Server srv({"--seed.delay-scale=0.05", "--pools.limited.size=2"});
    auto ps = pools(srv);
    CHECK(ps["limited"]["size"] == 2);
    CHECK(ps["heavy"]["size"] == 2);
    CHECK(ps["io"]["size"] == 10000);
    // 4 items of 100 ms on 2 workers: two waves.
    PoolSampler sampler(srv);
    auto t0 = Clock::now();
    auto r = srv.post("/process-with-limit",
                      json::parse(R"([{"value":1},{"value":2},{"value":3},{"value":4}])"));
    auto ms = ms_since(t0);
    sampler.stop();
    REQUIRE_STATUS(r, 200);
    CHECK(r.j() == json::parse(R"([{"processed":1},{"processed":2},{"processed":3},{"processed":4}])"));
    CHECK(ms >= 200);
    CHECK(sampler.max_busy("limited") <= 2);
  }
  SECTION("every pool size can be set") {
    Server srv({"--pools.io.size=3", "--pools.cpu.size=1", "--pools.limited.size=7",
                "--pools.heavy.size=1"});
    auto ps = pools(srv);
    CHECK(ps["io"]["size"] == 3);
    CHECK(ps["cpu"]["size"] == 1);
    CHECK(ps["limited"]["size"] == 7);
    CHECK(ps["heavy"]["size"] == 1);
  }
  SECTION("--pools.cpu.size=0 means the number of cores") {
    Server srv({"--pools.cpu.size=0"});
    unsigned n = std::thread::hardware_concurrency();
    CHECK(pools(srv)["cpu"]["size"] == (n == 0 ? 1 : n));
  }
}

TEST_CASE("config: every documented key is accepted", "[config]") {
  Server srv({"--http.host=127.0.0.1", "--http.threads=4", "--seed.delay-scale=0.05",
              "--pools.io.size=100", "--pools.cpu.size=2", "--pools.limited.size=5",
              "--pools.heavy.size=2", "--retry.max-retries=5", "--supervisor.min-backoff=50ms",
              "--supervisor.max-backoff=5s", "--supervisor.random-factor=0.2",
              "--supervisor.reset-after=30s", "--supervisor.max-restarts=20",
              "--supervisor.window=60s", "--store.result-ttl=0", "--store.sync=normal",
              "--store.memory-tasks=1000", "--shutdown.grace=0"});
  CHECK(srv.host() == "127.0.0.1");
  // retry.max-retries is the default max_retries of a task.
  auto id = submit(srv, {{"kind", "double"}, {"input", {{"value", 1}}}});
  auto t = wait_terminal(srv, id);
  CHECK(t["max_retries"] == 5);
  CHECK(pools(srv)["io"]["size"] == 100);
}

TEST_CASE("config: an unknown key stops startup with a message naming it", "[config]") {
  check_refused({"--pools.io.sise=3"}, "pools.io.sise");
  check_refused({"--http.bogus=1"}, "http.bogus");
  // (--pools.NAME.size defines a pool now: config_kinds_test.cpp.)
  check_refused({"--pools.gpu.size=2", "--pools.gpu.cores=2"},
                "pools.gpu.cores");
  check_refused({"--kinds.echo.sise=2"}, "kinds.echo.sise");
  check_refused({"--seed.delay-scal=0.5"}, "seed.delay-scal");
}

TEST_CASE("config: a bad value stops startup with a message naming the key", "[config]") {
  check_refused({"--http.port=abc"}, "http.port");
  check_refused({"--http.port=70000"}, "http.port");
  check_refused({"--pools.io.size=-1"}, "pools.io.size");
  check_refused({"--pools.limited.size=abc"}, "pools.limited.size");
  check_refused({"--seed.delay-scale=fast"}, "seed.delay-scale");
  check_refused({"--seed.delay-scale=-1"}, "seed.delay-scale");
  check_refused({"--store.sync=sometimes"}, "store.sync");
  check_refused({"--store.result-ttl=-5s"}, "store.result-ttl");
  check_refused({"--store.memory-tasks=0"}, "store.memory-tasks");
  check_refused({"--store.path="}, "store.path");
}

TEST_CASE("config: --config-file=configs/default.ini starts with the documented defaults",
          "[config]") {
  // The file sets http.port (8080); the command line overrides it.
  Server srv({"--config-file=" + default_ini(), "--http.port=0"});
  CHECK(srv.host() == "127.0.0.1");
  auto ps = pools(srv);
  CHECK(ps["io"]["size"] == 10000);
  CHECK(ps["limited"]["size"] == 5);
  CHECK(ps["heavy"]["size"] == 2);
  unsigned n = std::thread::hardware_concurrency();
  CHECK(ps["cpu"]["size"] == (n == 0 ? 1 : n));
  CHECK(srv.get("/healthz").j() == json({{"status", "ok"}}));

  SECTION("command-line keys override the file") {
    Server srv2({"--config-file=" + default_ini(), "--http.port=0", "--pools.limited.size=3"});
    CHECK(pools(srv2)["limited"]["size"] == 3);
  }
}

TEST_CASE("config: an unknown key in the config file stops startup naming it", "[config]") {
  TempFile f("[http]\nbogus=1\n");
  check_refused({"--config-file=" + f.path}, "bogus");
}

namespace {

// Sends `sig` and expects a clean exit (code 0) within 10 s.
void check_clean_stop(Server& srv, int sig) {
  auto t0 = Clock::now();
  srv.kill(sig);
  auto st = srv.wait_exit(10s);
  INFO("signal " << sig << ": " << st << " after " << ms_since(t0) << " ms");
  CHECK_FALSE(st.timed_out);
  CHECK(st.exited);
  CHECK(st.code == 0);
  if (st.timed_out) srv.kill(SIGKILL);  // do not wait another 10 s in ~Server
}

}  // namespace

TEST_CASE("config: SIGTERM and SIGINT stop the daemon cleanly", "[config][signals]") {
  SECTION("idle, SIGTERM") {
    Server srv;
    CHECK_STATUS(srv.get("/healthz"), 200);
    check_clean_stop(srv, SIGTERM);
  }
  SECTION("idle, SIGINT") {
    Server srv;
    CHECK_STATUS(srv.get("/healthz"), 200);
    check_clean_stop(srv, SIGINT);
  }
  SECTION("with a long task running (stops after shutdown.grace)") {
    Server srv{{"--shutdown.grace=1s"}};
    auto id = submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 20000}}}});
    wait_status(srv, id, "running");
    std::this_thread::sleep_for(500ms);  // well into the sleep
    check_clean_stop(srv, SIGTERM);
  }
  SECTION("with a cancelled long task") {
    Server srv;
    auto id = submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 3600000}}}});
    wait_status(srv, id, "running");
    CHECK_STATUS(srv.del("/v1/tasks/" + id), 202);
    CHECK(wait_terminal(srv, id)["status"] == "cancelled");
    std::this_thread::sleep_for(300ms);
    check_clean_stop(srv, SIGTERM);
  }
  SECTION("with a long-poll outstanding on a retrying task") {
    Server srv;
    auto id = submit(srv, {{"kind", "flaky"},
                           {"input", {{"fail_times", 5}}},
                           {"max_retries", 5},
                           {"backoff_ms", 20000}});
    wait_status(srv, id, "retrying");
    std::thread poller([&] { srv.get("/v1/tasks/" + id + "?wait_ms=20000"); });
    std::this_thread::sleep_for(200ms);
    check_clean_stop(srv, SIGTERM);
    poller.join();
  }
}

TEST_CASE("config: a flag takes true or false on the command line, over the file",
          "[config]") {
  // CAF reads only bare flags (--log.access); --log.access=false must still
  // turn off what the file turned on, and a non-boolean is refused.
  TempFile on("[log]\naccess = true\nformat = \"json\"\n");
  auto access_lines = [](Server& srv) {
    CHECK_STATUS(srv.get("/healthz"), 200);
    std::this_thread::sleep_for(300ms); // the async log sink
    auto out = srv.output();
    size_t n = 0;
    for (auto pos = out.find("\"event\":\"request\""); pos != std::string::npos;
         pos = out.find("\"event\":\"request\"", pos + 1))
      ++n;
    return n;
  };
  {
    Server srv({"--config-file=" + on.path, "--log.access=false"});
    CHECK(access_lines(srv) == 0);
  }
  {
    Server srv({"--config-file=" + on.path});
    CHECK(access_lines(srv) >= 1);
  }
  {
    Server srv({"--log.format=json", "--log.access=true"});
    CHECK(access_lines(srv) >= 1);
  }
  check_refused({"--log.access=maybe"}, "log.access");
}
