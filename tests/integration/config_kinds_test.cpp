// Pools and kinds declared in the configuration: start-up errors (exit 2
// naming the key), pools defined by options, GET /v1/kinds and /v1/pools,
// tasks naming missing pools, relative paths in a config file, and a restart
// with a changed config.
#include "kinds_support.hpp"

using namespace itest;
using namespace kt;

namespace {

struct BadStart {
  std::vector<std::string> args;
  std::vector<std::string> says;  // the output mentions each
};

void check_refused(const BadStart& c) {
  std::string shown;
  for (auto& a : c.args) shown += a + " ";
  INFO("args: " << shown);
  auto fs = start_expect_failure(c.args);
  INFO("output: " << fs.output);
  CHECK_FALSE(fs.started);
  CHECK(fs.status.exited);
  CHECK(fs.status.code == 2);
  for (auto& s : c.says) CHECK_THAT(fs.output, Catch::Contains(s));
}

std::map<std::string, json> kinds(const Server& srv) {
  auto r = srv.get("/v1/kinds");
  REQUIRE_STATUS(r, 200);
  REQUIRE(r.j().is_array());
  std::map<std::string, json> out;
  for (auto& k : r.j()) {
    INFO(k.dump());
    REQUIRE(k.contains("name"));
    CHECK(out.count(k["name"].get<std::string>()) == 0);
    out[k["name"].get<std::string>()] = k;
  }
  return out;
}

}  // namespace

TEST_CASE("config kinds: bad pool and kind declarations stop start-up with exit 2 naming the key",
          "[config][kinds]") {
  ScopedEnv env{{{"ITEST_UNSET_NAME_5521", std::nullopt}}};
  const std::string cat = R"(["/bin/cat"])";
  const std::vector<BadStart> cases = {
      {{"--kinds.x.runner=magic", "--kinds.x.pool=io"}, {"kinds.x.runner", "magic"}},
      {{"--kinds.x.pool=io"}, {"kinds.x.runner"}},
      {{"--kinds.x.runner=exec", "--kinds.x.pool=io", "--kinds.x.command=[]"}, {"kinds.x.command"}},
      {{"--kinds.x.runner=exec", "--kinds.x.pool=io", R"(--kinds.x.command=[""])"},
       {"kinds.x.command"}},
      {{"--kinds.x.runner=exec", "--kinds.x.pool=io"}, {"kinds.x.command"}},
      {{"--kinds.x.runner=exec", "--kinds.x.pool=io",
        R"(--kinds.x.command=["/nonexistent/itest-program"])"},
       {"kinds.x.command", "/nonexistent/itest-program"}},
      {{"--kinds.x.runner=exec", "--kinds.x.command=" + cat}, {"kinds.x.pool"}},
      {{"--kinds.x.runner=exec", "--kinds.x.pool=nosuch", "--kinds.x.command=" + cat},
       {"kinds.x.pool", "nosuch"}},
      {{"--kinds.x.runner=remote", "--kinds.x.pool=nosuch"}, {"kinds.x.pool", "nosuch"}},
      {{"--kinds.x.runner=http", "--kinds.x.pool=io", "--kinds.x.url=ftp://example.com/"},
       {"kinds.x.url"}},
      {{"--kinds.x.runner=http", "--kinds.x.pool=io", "--kinds.x.url=http://127.0.0.1:9/x",
        R"(--kinds.x.headers=["X-Secret: ${ITEST_UNSET_NAME_5521}"])"},
       {"kinds.x.headers", "ITEST_UNSET_NAME_5521"}},
      {{"--pools.Bad_Name.size=1"}, {"Bad_Name"}},
      {{"--pools.9pool.size=1"}, {"9pool"}},
      {{"--kinds.9lives.runner=remote", "--kinds.9lives.pool=io"}, {"9lives"}},
      {{"--kinds.echo.runner=exec"}, {"kinds.echo.runner"}},
      {{"--kinds.echo.command=" + cat}, {"kinds.echo.command"}},
      {{"--pools.gpu.size=1", "--pools.gpu.colour=red"}, {"pools.gpu.colour"}},
      {{"--pools.io.colour=red"}, {"pools.io.colour"}},
      {{"--kinds.x.runner=remote", "--kinds.x.pool=io", "--kinds.x.colour=red"}, {"kinds.x.colour"}},
      {{"--kinds.x.runner=exec", "--kinds.x.pool=io", "--kinds.x.command=" + cat,
        "--kinds.x.url=http://127.0.0.1:9/x"},
       {"kinds.x.url"}},
      {{"--kinds.x.runner=exec", "--kinds.x.pool=io", "--kinds.x.command=" + cat,
        "--kinds.x.max-output-bytes=lots"},
       {"kinds.x.max-output-bytes"}},
      {{"--kinds.x.runner=exec", "--kinds.x.pool=io", "--kinds.x.command=" + cat,
        R"(--kinds.x.env=["ACTORQ_TASK_ID=forged"])"},
       {"kinds.x.env"}},
      {{"--pools.gpu.size=-1"}, {"pools.gpu.size"}},
      {{"--kinds.x.runner=exec", "--kinds.x.pool=io", "--kinds.x.command=" + cat,
        "--kinds.x.timeout=soon"},
       {"kinds.x.timeout"}},
  };
  for (auto& c : cases) check_refused(c);
}

TEST_CASE("config kinds: errors in a config file name the key too", "[config][kinds]") {
  auto dir = temp_dir();
  auto ini = write_file(dir + "/bad.ini",
                        "[pools.p]\nsize = 2\nshape = \"round\"\n"
                        "[kinds.k]\nrunner = \"exec\"\npool = \"p\"\ncommand = []\n");
  check_refused({{"--config-file=" + ini}, {"pools.p.shape", "kinds.k.command"}});
  auto ini2 = write_file(dir + "/bad2.ini", "[kinds.k]\nrunner = \"exec\"\npool = \"nope\"\n"
                                            "command = [\"/bin/cat\"]\n");
  check_refused({{"--config-file=" + ini2}, {"kinds.k.pool", "nope"}});
}

TEST_CASE("config kinds: relative paths of a config file start at its folder", "[config][kinds]") {
  auto dir = temp_dir();
  std::filesystem::create_directories(dir + "/jobs");
  write_file(dir + "/jobs/where.sh", "#!/bin/sh\necho \"{\\\"pwd\\\": \\\"$(pwd)\\\"}\"\n", true);
  auto ini = write_file(dir + "/my.ini",
                        "[pools.mine]\nsize = 2\n"
                        "[kinds.where]\nrunner = \"exec\"\npool = \"mine\"\n"
                        "command = [\"./where.sh\"]\nworkdir = \"jobs\"\n"
                        "[kinds.there]\nrunner = \"exec\"\npool = \"mine\"\n"
                        "command = [\"./jobs/where.sh\"]\n");
  Server srv{{"--config-file=" + ini}};
  auto a = wait_terminal(srv, submit(srv, {{"kind", "where"}}), 15s);
  INFO(a.dump());
  CHECK(a["status"] == "succeeded");
  CHECK(a["result"]["pwd"] == std::filesystem::canonical(dir + "/jobs").string());
  auto b = wait_terminal(srv, submit(srv, {{"kind", "there"}}), 15s);
  INFO(b.dump());
  CHECK(b["status"] == "succeeded");
  CHECK(b["result"]["pwd"] == std::filesystem::canonical(dir).string());
}

TEST_CASE("config kinds: --pools.gpu.size=3 defines a pool and a task naming a missing pool is 422",
          "[config][kinds][pools]") {
  Server srv{{"--pools.gpu.size=3", "--pools.gpu.max-retries=0"}};
  auto ps = pools(srv);
  INFO(json(ps).dump());
  REQUIRE(ps.count("gpu") == 1);
  CHECK(ps["gpu"]["size"] == 3);
  CHECK(ps["gpu"]["busy"] == 0);
  CHECK(ps["gpu"]["queued"] == 0);
  for (auto name : {"io", "cpu", "limited", "heavy"}) CHECK(ps.count(name) == 1);
  // Built-in kinds may run on it when asked.
  auto id = submit(srv, {{"kind", "echo"}, {"pool", "gpu"}, {"input", {{"a", 1}}}});
  auto t = wait_terminal(srv, id, 10s);
  CHECK(t["pool"] == "gpu");
  CHECK(t["result"] == json{{"a", 1}});
  CHECK(t["max_retries"] == 0);  // the pool's default
  CHECK_ERROR(srv.post("/v1/tasks", json{{"kind", "echo"}, {"pool", "tpu"}}), 422, "invalid", "tpu");
  CHECK_ERROR(srv.post("/v1/batches", json{{"kind", "echo"}, {"pool", "tpu"}, {"items", json::array({json::object()})}}),
              422, "invalid", "tpu");
  CHECK_ERROR(srv.post("/v1/tasks", json{{"kind", "nosuchkind"}}), 422, "invalid", "nosuchkind");
}

TEST_CASE("config kinds: GET /v1/kinds lists built-in and config kinds with runner, pool, "
          "description and defaults",
          "[config][kinds]") {
  Server srv{examples_args()};
  auto ks = kinds(srv);
  for (auto& [name, k] : ks) {
    INFO(k.dump());
    for (auto f : {"name", "runner", "pool", "description", "defaults"}) CHECK(k.contains(f));
    CHECK(k["defaults"].contains("max_retries"));
    CHECK(k["defaults"].contains("backoff_ms"));
    CHECK(k["defaults"].contains("timeout_ms"));
  }
  struct Want {
    std::string name, runner, pool;
    long long max_retries, backoff_ms, timeout_ms;
  };
  // Kind's own defaults, else its pool's, else [retry]'s (3, 1s, no timeout).
  const std::vector<Want> wants = {
      {"double", "builtin", "io", 3, 1000, 0},
      {"square", "builtin", "cpu", 3, 1000, 0},
      {"echo", "builtin", "io", 1, 1000, 0},
      {"thumbnail", "exec", "jobs", 2, 500, 120000},
      {"cat", "exec", "jobs", 0, 500, 300000},
      {"fail", "exec", "jobs", 2, 100, 300000},
      {"wordcount-sh", "exec", "jobs", 2, 500, 300000},
      {"notify", "http", "web", 3, 1000, 10000},
      {"wordcount", "remote", "text", 3, 1000, 0},
  };
  for (auto& w : wants) {
    INFO("kind " << w.name);
    REQUIRE(ks.count(w.name) == 1);
    auto& k = ks[w.name];
    INFO(k.dump());
    CHECK(k["runner"] == w.runner);
    CHECK(k["pool"] == w.pool);
    CHECK(k["defaults"]["max_retries"] == w.max_retries);
    CHECK(k["defaults"]["backoff_ms"] == w.backoff_ms);
    CHECK(k["defaults"]["timeout_ms"] == w.timeout_ms);
  }
  CHECK(ks["cat"]["description"] == "any object -> the same object (/bin/cat)");
  CHECK(ks["echo"]["description"] == "any object -> the same object (built in)");
  CHECK(ks["wordcount"]["workers"] == 0);
  CHECK(!ks["double"]["description"].get<std::string>().empty());
  // Defaults reach the tasks.
  auto t = get_task(srv, submit(srv, {{"kind", "cat"}, {"input", json::object()}}));
  CHECK(t["max_retries"] == 0);
  auto ps = pools(srv);
  CHECK(ps["jobs"]["size"] == 8);
  CHECK(ps["web"]["size"] == 32);
  CHECK(ps["text"]["size"] == 0);
}

TEST_CASE("config kinds: after a restart without its kind or pool a recovered task ends failed "
          "saying so, and actorq starts",
          "[config][kinds][restart]") {
  auto store = fresh_store_path();
  std::string remote_id, pooled_id;
  {
    Server first{examples_args({"--store.path=" + store, "--pools.gone.size=0"})};
    // Queued: no worker program, and no worker on pool gone.
    remote_id = submit(first, {{"kind", "wordcount"}, {"input", {{"text", "a b"}}}});
    pooled_id = submit(first, {{"kind", "echo"}, {"pool", "gone"}, {"input", {{"a", 1}}}});
    CHECK(get_task(first, remote_id)["status"] == "queued");
    CHECK(get_task(first, pooled_id)["status"] == "queued");
    first.kill(SIGTERM);
    auto st = first.wait_exit(15s);
    CHECK(st.exited);
    CHECK(st.code == 0);
  }
  Server second{{"--store.path=" + store}};
  auto r = get_task(second, remote_id);
  INFO(r.dump());
  CHECK(r["status"] == "failed");
  CHECK_THAT(error_of(r), Catch::Contains("wordcount"));
  auto p = get_task(second, pooled_id);
  INFO(p.dump());
  CHECK(p["status"] == "failed");
  CHECK_THAT(error_of(p), Catch::Contains("gone"));
  check_alive(second);
  // And the store serves the ended tasks the same way after another restart.
  second.kill(SIGTERM);
  CHECK(second.wait_exit(15s).code == 0);
  Server third{{"--store.path=" + store}};
  CHECK(get_task(third, remote_id) == r);
}
