// Config kinds with runner = "exec": a real program per attempt, started by
// the real daemon from configs/examples.ini (plus kinds declared on the
// command line). Checks results, progress, exit statuses, signals, output
// limits, timeouts, cancel, leftover processes, the job's environment,
// concurrency, reaping, and kill -9 of actorq while a job runs.
#include "kinds_support.hpp"

#include <set>

using namespace itest;
using namespace kt;

namespace {

/// --kinds.NAME.* options of an exec kind: runner, pool, command (a JSON
/// list), then each of `extra` ("KEY=VALUE").
std::vector<std::string> exec_kind(const std::string& name, const json& command,
                                   const std::vector<std::string>& extra = {},
                                   const std::string& pool = "jobs") {
  std::vector<std::string> a{"--kinds." + name + ".runner=exec",
                             "--kinds." + name + ".pool=" + pool,
                             "--kinds." + name + ".command=" + command.dump()};
  for (auto& e : extra) a.push_back("--kinds." + name + "." + e);
  return a;
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// A shell script in a folder of its own; returns its path.
std::string script(const std::string& name, const std::string& body) {
  return write_file(temp_dir() + "/" + name, "#!/bin/sh\n" + body, true);
}

/// Waits until the task is running (REQUIREd within timeout).
json wait_running(const Server& srv, const std::string& id, std::chrono::milliseconds t = 10s) {
  return wait_status(srv, id, "running", t);
}

}  // namespace

TEST_CASE("exec kinds: cat echoes its input, an empty stdout is null, wordcount-sh counts",
          "[exec][kinds]") {
  Server srv{examples_args(exec_kind("quiet", json::array({"/bin/true"}), {"max-retries=0"}))};
  json input = json::parse(
      R"({"a":[1,2,{"b":null}],"s":"h\u00e9llo \u2603 \"quoted\"\n","n":-1.5,"t":true,"e":{}})");
  auto cat = submit(srv, {{"kind", "cat"}, {"input", input}});
  auto quiet = submit(srv, {{"kind", "quiet"}, {"input", json::object()}});
  auto wc = submit(srv, {{"kind", "wordcount-sh"}, {"input", {{"text", "one two  three\nfour"}}}});
  auto t = wait_terminal(srv, cat, 15s);
  INFO("cat: " << t.dump());
  CHECK(t["status"] == "succeeded");
  CHECK(t["kind"] == "cat");
  CHECK(t["pool"] == "jobs");
  CHECK(t["attempts"] == 1);
  CHECK(t["result"] == input);
  auto q = wait_terminal(srv, quiet, 15s);
  INFO("quiet: " << q.dump());
  CHECK(q["status"] == "succeeded");
  CHECK(q.contains("result"));
  CHECK(q["result"].is_null());
  auto w = wait_terminal(srv, wc, 15s);
  INFO("wordcount-sh: " << w.dump());
  CHECK(w["status"] == "succeeded");
  CHECK(w["result"] == json{{"words", 4}});
  // The input of a config kind must be a JSON object.
  for (auto bad : {json(5), json("text"), json::array({1})}) {
    auto r = srv.post("/v1/tasks", json{{"kind", "cat"}, {"input", bad}});
    CHECK_ERROR(r, 422, "invalid", "input");
  }
  check_no_zombies(srv.pid());
}

TEST_CASE("exec kinds: thumbnail's progress is visible while it runs and kept after the end",
          "[exec][kinds][progress]") {
  Server srv{examples_args()};
  auto id = submit(srv, {{"kind", "thumbnail"}, {"input", {{"pages", 6}, {"ms_per_page", 250}}}});
  json running_view;
  bool seen = wait_until(
      [&] {
        auto t = get_task(srv, id);
        auto p = progress_of(t);
        if (t["status"] == "running" && p.is_object() && p.value("fraction", 0.0) > 0.0 &&
            p.value("fraction", 1.0) < 1.0) {
          running_view = t;
          return true;
        }
        return is_terminal(t["status"].get<std::string>());
      },
      15s, 20ms);
  REQUIRE(seen);
  INFO("seen while running: " << running_view.dump());
  REQUIRE(running_view.is_object());
  auto p = progress_of(running_view);
  check_progress_shape(p);
  CHECK_THAT(p["message"].get<std::string>(), Catch::Matches("resizing page [1-5] of 6"));
  // The listing shows it too.
  auto list = srv.get("/v1/tasks?kind=thumbnail");
  REQUIRE_STATUS(list, 200);
  REQUIRE(list.j()["tasks"].size() == 1);
  CHECK(list.j()["tasks"][0].contains("progress"));

  auto done = wait_terminal(srv, id, 15s);
  INFO("ended: " << done.dump());
  CHECK(done["status"] == "succeeded");
  CHECK(done["result"] == json{{"pages", 6}});
  auto last = progress_of(done);
  check_progress_shape(last);
  CHECK(last["fraction"].get<double>() == Approx(1.0));
  CHECK(last["message"] == "resizing page 6 of 6");
  // Still there on a later read.
  std::this_thread::sleep_for(100ms);
  CHECK(progress_of(get_task(srv, id)) == last);
}

TEST_CASE("exec kinds: a failing job is retried and its error holds the exit status and stderr",
          "[exec][kinds]") {
  auto noisy = script("noisy.sh",
                      "printf 'BEGIN-OF-STDERR' >&2\n"
                      "i=0; while [ $i -lt 100 ]; do printf 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\\n' >&2; i=$((i+1)); done\n"
                      "printf 'END-OF-STDERR\\n' >&2\nexit 3\n");
  Server srv{examples_args(exec_kind("noisy", json::array({noisy}), {"max-retries=0"}))};
  // fail: pool jobs' max-retries = 2, the kind's backoff 100ms.
  auto three = submit(srv, {{"kind", "fail"}, {"input", {{"code", 3}, {"message", "disk-on-fire"}}}});
  auto perm = submit(srv, {{"kind", "fail"}, {"input", {{"code", 64}, {"message", "bad-usage"}}}});
  auto perm65 = submit(srv, {{"kind", "fail"}, {"input", {{"code", 65}}}});
  auto ok = submit(srv, {{"kind", "fail"}, {"input", {{"code", 0}}}});
  auto t = wait_terminal(srv, three, 15s);
  {
    INFO("code 3: " << t.dump());
    CHECK(t["status"] == "failed");
    CHECK(t["attempts"] == 3);
    CHECK(t["max_retries"] == 2);
    auto err = error_of(t);
    CHECK(starts_with(err, "exit status 3: "));
    CHECK_THAT(err, Catch::Contains("disk-on-fire"));
  }
  auto p = wait_terminal(srv, perm, 15s);
  {
    INFO("code 64: " << p.dump());
    CHECK(p["status"] == "failed");
    CHECK(p["attempts"] == 1);
    CHECK(starts_with(error_of(p), "exit status 64: "));
    CHECK_THAT(error_of(p), Catch::Contains("bad-usage"));
  }
  auto p65 = wait_terminal(srv, perm65, 15s);
  {
    INFO("code 65: " << p65.dump());
    CHECK(p65["status"] == "failed");
    CHECK(p65["attempts"] == 1);
    CHECK(starts_with(error_of(p65), "exit status 65"));
  }
  auto o = wait_terminal(srv, ok, 15s);
  CHECK(o["status"] == "succeeded");
  CHECK(o["result"].is_null());
  // The tail: the last KiB of stderr, not the beginning.
  auto n = wait_terminal(srv, submit(srv, {{"kind", "noisy"}}), 15s);
  {
    INFO("noisy: " << n.dump());
    CHECK(n["status"] == "failed");
    auto err = error_of(n);
    CHECK(starts_with(err, "exit status 3: "));
    CHECK_THAT(err, Catch::Contains("END-OF-STDERR"));
    CHECK_THAT(err, !Catch::Contains("BEGIN-OF-STDERR"));
    CHECK(err.size() <= 1024 + 64);
  }
}

TEST_CASE("exec kinds: a job printing something that is not JSON fails its attempt",
          "[exec][kinds]") {
  Server srv{examples_args(exec_kind("chatty", json::array({"/bin/echo", "hello, not json"})))};
  auto id = submit(srv, {{"kind", "chatty"}, {"max_retries", 1}, {"backoff_ms", 10}});
  auto t = wait_terminal(srv, id, 15s);
  INFO(t.dump());
  CHECK(t["status"] == "failed");
  CHECK(t["attempts"] == 2);  // an ordinary failed attempt: retried
  CHECK_THAT(error_of(t), Catch::Contains("not JSON"));
  CHECK_THAT(error_of(t), Catch::Contains("hello, not json"));
}

TEST_CASE("exec kinds: a job flooding stdout beyond max-output-bytes is killed and failed",
          "[exec][kinds][limits]") {
  Server srv{examples_args(
      exec_kind("flood", json::array({"/usr/bin/yes"}), {"max-output-bytes=65536", "max-retries=0"}))};
  auto t0 = Clock::now();
  auto id = submit(srv, {{"kind", "flood"}});
  auto t = wait_terminal(srv, id, 15s);
  INFO(t.dump());
  CHECK(t["status"] == "failed");
  CHECK(t["attempts"] == 1);
  CHECK_THAT(error_of(t), Catch::Contains("65536"));
  CHECK(ms_since(t0) < 10000);
  // actorq still serves, and runs jobs.
  check_alive(srv);
  auto cat = wait_terminal(srv, submit(srv, {{"kind", "cat"}, {"input", {{"x", 1}}}}), 15s);
  CHECK(cat["result"] == json{{"x", 1}});
  // No `yes` left behind.
  bool gone = wait_until(
      [&] {
        for (auto& c : children(srv.pid()))
          if (!c.argv.empty() && c.argv[0] == "/usr/bin/yes") return false;
        return true;
      },
      5s, 20ms);
  CHECK(gone);
  check_no_zombies(srv.pid());
}

TEST_CASE("exec kinds: a job killed by a signal fails with the signal in its error",
          "[exec][kinds]") {
  Server srv{examples_args(
      exec_kind("suicide", json::array({"/bin/sh", "-c", "echo dying >&2; kill -9 $$"}), {"max-retries=0"}))};
  auto t = wait_terminal(srv, submit(srv, {{"kind", "suicide"}}), 15s);
  INFO(t.dump());
  CHECK(t["status"] == "failed");
  CHECK(t["attempts"] == 1);
  CHECK(starts_with(error_of(t), "killed by signal 9"));
  check_no_zombies(srv.pid());
}

TEST_CASE("exec kinds: a hanging job times out and its whole process group goes",
          "[exec][kinds][timeout]") {
  auto mark = marker(777);
  auto mark2 = marker(7770);
  // The job and a child of its own in its process group.
  Server srv{examples_args(exec_kind(
      "hang", json::array({"/bin/sh", "-c", "/bin/sleep " + mark2 + " & /bin/sleep " + mark + "; wait"}),
      {"kill-grace=1s"}))};
  auto t0 = Clock::now();
  auto id = submit(srv, {{"kind", "hang"}, {"timeout_ms", 400}, {"max_retries", 0}});
  REQUIRE(wait_until([&] { return sleeper_running(mark) && sleeper_running(mark2); }, 10s));
  auto t = wait_terminal(srv, id, 15s);
  INFO(t.dump());
  CHECK(t["status"] == "failed");
  CHECK_THAT(error_of(t), Catch::Contains("timed out"));
  CHECK(ms_since(t0) < 10000);
  CHECK(wait_sleeper_gone(mark, 8s));
  CHECK(wait_sleeper_gone(mark2, 8s));
  kill_sleepers(mark);
  kill_sleepers(mark2);
  check_no_zombies(srv.pid());
}

TEST_CASE("exec kinds: DELETE of a running job cancels it and its process group goes",
          "[exec][kinds][cancel]") {
  auto polite = marker(780);
  auto stubborn = marker(779);
  // stubborn ignores SIGTERM (so does the sleep it becomes): only the
  // SIGKILL after kill-grace ends it.
  auto stubborn_sh = script("stubborn.sh", "trap '' TERM\nexec /bin/sleep " + stubborn + "\n");
  Server srv{examples_args(exec_kind("polite", json::array({"/bin/sleep", polite}), {"kill-grace=30s"}) +
                           exec_kind("stubborn", json::array({stubborn_sh}), {"kill-grace=1500ms"}))};
  SECTION("a job that ends on SIGTERM") {
    auto id = submit(srv, {{"kind", "polite"}});
    wait_running(srv, id);
    REQUIRE(wait_until([&] { return sleeper_running(polite); }, 10s));
    auto t0 = Clock::now();
    auto r = srv.del("/v1/tasks/" + id);
    CHECK_STATUS(r, 202);
    auto t = wait_terminal(srv, id, 10s);
    INFO(t.dump());
    CHECK(t["status"] == "cancelled");
    CHECK(wait_sleeper_gone(polite, 8s));
    CHECK(ms_since(t0) < 8000); // SIGTERM did it: its kill-grace is 30 s
    kill_sleepers(polite);
  }
  SECTION("a job that ignores SIGTERM is killed after kill-grace") {
    auto id = submit(srv, {{"kind", "stubborn"}});
    wait_running(srv, id);
    REQUIRE(wait_until([&] { return sleeper_running(stubborn); }, 10s));
    auto t0 = Clock::now();
    auto r = srv.del("/v1/tasks/" + id);
    CHECK_STATUS(r, 202);
    std::this_thread::sleep_for(400ms);
    CHECK(sleeper_running(stubborn));  // SIGTERM alone does not end it
    // Loose upper bound: CI runs tests two at a time on two cores.
    CHECK(wait_sleeper_gone(stubborn, 1500ms + 8500ms));
    auto gone_after = ms_since(t0);
    CHECK(gone_after >= 1200);
    auto t = wait_terminal(srv, id, 10s);
    INFO(t.dump());
    CHECK(t["status"] == "cancelled");
    kill_sleepers(stubborn);
  }
  check_no_zombies(srv.pid());
}

TEST_CASE("exec kinds: a job that leaves a child behind fails its attempt and the child goes",
          "[exec][kinds]") {
  auto mark = marker(555);
  Server srv{examples_args(
      exec_kind("leaver", json::array({"/bin/sh", "-c", "/bin/sleep " + mark + " & echo {}"}), {"max-retries=0"}))};
  auto t = wait_terminal(srv, submit(srv, {{"kind", "leaver"}}), 15s);
  INFO(t.dump());
  CHECK(t["status"] == "failed");
  CHECK_THAT(error_of(t), Catch::Contains("left processes"));
  CHECK(wait_sleeper_gone(mark, 8s));
  kill_sleepers(mark);
  check_no_zombies(srv.pid());
}

TEST_CASE("exec kinds: a job gets only its declared environment, never actorq's token",
          "[exec][kinds][env]") {
  // Prints the environment it was started with, as JSON.
  auto dir = temp_dir();
  auto envdump = write_file(dir + "/envdump.py",
                            "import json\n"
                            "raw = open('/proc/self/environ', 'rb').read().split(b'\\0')\n"
                            "print(json.dumps(dict(x.decode().split('=', 1) for x in raw if x)))\n");
  const std::string token = "itest-secret-token-4f1c";
  ScopedEnv env{{{"ACTORQ_AUTH_TOKEN", token},
                 {"ITEST_PASSED", "passed through"},
                 {"ITEST_HIDDEN", "must not be seen"},
                 {"ITEST_NOT_SET_ANYWHERE", std::nullopt}}};
  Server srv{examples_args(exec_kind(
      "envdump", json::array({"/usr/bin/python3", envdump}),
      {R"(env=["ITEST_PASSED","FOO=bar baz","ITEST_NOT_SET_ANYWHERE"])", "max-retries=0"}))};
  httplib::Headers auth{{"Authorization", "Bearer " + token}};
  // The token is in force: without it, 401.
  CHECK(srv.post("/v1/tasks", json{{"kind", "envdump"}}).status == 401);
  auto r = send(srv, "POST", "/v1/tasks", auth, json{{"kind", "envdump"}}.dump());
  REQUIRE_STATUS(r, 202);
  auto id = r.j()["id"].get<std::string>();
  json t;
  REQUIRE(wait_until(
      [&] {
        auto g = send(srv, "GET", "/v1/tasks/" + id + "?wait_ms=2000", auth);
        REQUIRE(g.status == 200);
        t = g.j();
        return is_terminal(t["status"].get<std::string>());
      },
      15s));
  INFO(t.dump());
  REQUIRE(t["status"] == "succeeded");
  auto e = t["result"];
  REQUIRE(e.is_object());
  std::set<std::string> names;
  for (auto& [k, v] : e.items()) names.insert(k);
  const std::set<std::string> expected{"ITEST_PASSED",   "FOO",           "ACTORQ_KIND",
                                       "ACTORQ_ATTEMPT", "ACTORQ_ATTEMPT_ID", "ACTORQ_TASK_ID"};
  CHECK(names == expected);
  CHECK(e["ITEST_PASSED"] == "passed through");
  CHECK(e["FOO"] == "bar baz");
  CHECK(e["ACTORQ_KIND"] == "envdump");
  CHECK(e["ACTORQ_ATTEMPT"] == "1");
  CHECK(e["ACTORQ_TASK_ID"] == id);
  CHECK(!e.value("ACTORQ_ATTEMPT_ID", std::string()).empty());
  CHECK(e.dump().find(token) == std::string::npos);
  CHECK(e.dump().find("must not be seen") == std::string::npos);
  // Batch items have no task id; every attempt has its own attempt id.
  auto b = send(srv, "POST", "/v1/batches", auth,
                json{{"kind", "envdump"}, {"items", json::array({json::object(), json::object()})}}.dump());
  REQUIRE_STATUS(b, 200);
  auto& res = b.j()["results"];
  REQUIRE(res.size() == 2);
  CHECK(res[0]["ACTORQ_TASK_ID"] == "");
  CHECK(res[1]["ACTORQ_TASK_ID"] == "");
  CHECK(res[0]["ACTORQ_ATTEMPT_ID"] != res[1]["ACTORQ_ATTEMPT_ID"]);
  CHECK(res[0]["ACTORQ_ATTEMPT_ID"] != e["ACTORQ_ATTEMPT_ID"]);
  CHECK(b.body.find(token) == std::string::npos);
}

TEST_CASE("exec kinds: 100 one-second jobs on a pool of 100 run at once while /healthz stays fast",
          "[exec][kinds][concurrency]") {
  Server srv{examples_args(std::vector<std::string>{"--pools.sleepy.size=100"} +
                           exec_kind("sl", json::array({"/bin/sleep", "1"}), {}, "sleepy"))};
  json items = json::array();
  for (int i = 0; i < 100; ++i) items.push_back(json::object());
  std::atomic<bool> done{false};
  std::vector<long long> health_ms;
  int health_bad = 0;
  std::thread pinger([&] {
    while (!done) {
      auto r = srv.get("/healthz");
      if (r.status != 200) ++health_bad;
      health_ms.push_back(r.elapsed.count());
      std::this_thread::sleep_for(50ms);
    }
  });
  auto t0 = Clock::now();
  auto r = srv.post("/v1/batches", json{{"kind", "sl"}, {"items", items}});
  auto wall = ms_since(t0);
  done = true;
  pinger.join();
  REQUIRE_STATUS(r, 200);
  CHECK(r.j()["succeeded"] == 100);
  CHECK(r.j()["failed"] == 0);
  INFO("batch wall " << wall << " ms");
  CHECK(wall >= 950);
  CHECK(wall < 10000);
  REQUIRE(!health_ms.empty());
  auto worst = *std::max_element(health_ms.begin(), health_ms.end());
  INFO("healthz samples " << health_ms.size() << ", worst " << worst << " ms");
  CHECK(health_bad == 0);
  CHECK(worst < 1000);
  check_no_zombies(srv.pid());
}

TEST_CASE("exec kinds: 10000 cat jobs in one batch leave no zombie behind",
          "[exec][kinds][reap]") {
  Server srv{examples_args()};
  json items = json::array();
  for (int i = 0; i < 10000; ++i) items.push_back({{"i", i}, {"s", std::string(i % 50, 'x')}});
  auto r = srv.post("/v1/batches", json{{"kind", "cat"}, {"items", items}});
  REQUIRE_STATUS(r, 200);
  CHECK(r.j()["succeeded"] == 10000);
  REQUIRE(r.j()["results"].size() == 10000);
  size_t wrong = 0;
  for (size_t i = 0; i < 10000; ++i)
    if (r.j()["results"][i] != items[i]) ++wrong;
  CHECK(wrong == 0);
  check_no_zombies(srv.pid());
  // Nothing left running either.
  std::vector<ProcInfo> left;
  bool none = wait_until(
      [&] {
        left = children(srv.pid());
        return left.empty();
      },
      2s, 50ms);
  INFO("children of actorq:\n" << describe(left));
  CHECK(none);
}

TEST_CASE("exec kinds: kill -9 of actorq kills its job, and after a restart the task reruns "
          "and counts the lost attempt",
          "[exec][kinds][kill]") {
  auto mark = marker(781);
  // Attempt 1 hangs (exec: the sleep is actorq's child itself), later ones
  // answer at once.
  auto rerun = script("rerun.sh",
                      "if [ \"$ACTORQ_ATTEMPT\" = 1 ]; then exec /bin/sleep " + mark + "; fi\n"
                      "echo \"{\\\"attempt\\\": $ACTORQ_ATTEMPT}\"\n");
  auto store = fresh_store_path();
  auto args = examples_args(std::vector<std::string>{"--store.path=" + store} +
                            exec_kind("rerun", json::array({rerun})));
  std::string id;
  {
    Server first{args};
    id = submit(first, {{"kind", "rerun"}, {"max_retries", 2}, {"backoff_ms", 10}});
    wait_running(first, id);
    REQUIRE(wait_until([&] { return sleeper_running(mark); }, 10s));
    std::this_thread::sleep_for(200ms);  // the started state reaches the disk
    first.kill(SIGKILL);
    auto st = first.wait_exit(5s);
    CHECK(st.signal == SIGKILL);
    // PR_SET_PDEATHSIG: the job dies with actorq.
    CHECK(wait_sleeper_gone(mark, 8s));
    kill_sleepers(mark);
  }
  Server second{args};
  auto t = wait_terminal(second, id, 15s);
  INFO(t.dump());
  CHECK(t["status"] == "succeeded");
  CHECK(t["attempts"] == 2);
  CHECK(t["result"] == json{{"attempt", 2}});
}

TEST_CASE("exec kinds: config kinds take idempotency keys, cancel, queue limits and batches "
          "like built-ins",
          "[exec][kinds]") {
  auto mark = marker(782);
  Server srv{examples_args(
      std::vector<std::string>{"--pools.tiny.size=1", "--pools.tiny.queue-limit=1"} +
      exec_kind("hold", json::array({"/bin/sleep", mark}), {"kill-grace=500ms"}, "tiny"))};
  SECTION("idempotency keys") {
    auto body = json{{"kind", "cat"}, {"input", {{"v", 1}}}}.dump();
    auto a = send(srv, "POST", "/v1/tasks", {{"Idempotency-Key", "itest-key-1"}}, body);
    auto b = send(srv, "POST", "/v1/tasks", {{"Idempotency-Key", "itest-key-1"}}, body);
    auto c = send(srv, "POST", "/v1/tasks", {{"Idempotency-Key", "itest-key-2"}}, body);
    REQUIRE(a.status / 100 == 2);
    REQUIRE(b.status / 100 == 2);
    REQUIRE(c.status / 100 == 2);
    CHECK(a.j()["id"] == b.j()["id"]);
    CHECK(a.j()["id"] != c.j()["id"]);
    auto t = wait_terminal(srv, a.j()["id"].get<std::string>(), 15s);
    CHECK(t["result"] == json{{"v", 1}});
    // Only two tasks of kind cat exist.
    auto list = srv.get("/v1/tasks?kind=cat");
    REQUIRE_STATUS(list, 200);
    CHECK(list.j()["tasks"].size() == 2);
  }
  SECTION("cancel and queue limits") {
    auto running = submit(srv, {{"kind", "hold"}});
    wait_running(srv, running);
    REQUIRE(wait_until([&] { return sleeper_running(mark); }, 10s));
    // The pool's one worker is busy: one more may wait, the next is refused.
    auto queued = submit(srv, {{"kind", "hold"}});
    CHECK(get_task(srv, queued)["status"] == "queued");
    auto full = srv.post("/v1/tasks", json{{"kind", "hold"}});
    CHECK_ERROR(full, 429, "busy", "");
    CHECK(!full.header("Retry-After").empty());
    // Cancel: queued → 200 cancelled at once; running → 202, then cancelled.
    auto c1 = srv.del("/v1/tasks/" + queued);
    CHECK_STATUS(c1, 200);
    CHECK(get_task(srv, queued)["status"] == "cancelled");
    auto c2 = srv.del("/v1/tasks/" + running);
    CHECK_STATUS(c2, 202);
    CHECK(wait_terminal(srv, running, 10s)["status"] == "cancelled");
    CHECK(wait_sleeper_gone(mark, 8s));
    CHECK_ERROR(srv.del("/v1/tasks/" + running), 409, "conflict", "");
    // Room again.
    auto again = submit(srv, {{"kind", "hold"}});
    wait_running(srv, again);
    CHECK_STATUS(srv.del("/v1/tasks/" + again), 202);
    CHECK(wait_terminal(srv, again, 10s)["status"] == "cancelled");
    kill_sleepers(mark);
  }
  SECTION("batches") {
    json items = json::array();
    for (int i = 0; i < 50; ++i) items.push_back({{"n", i}});
    auto r = srv.post("/v1/batches", json{{"kind", "cat"}, {"items", items}});
    REQUIRE_STATUS(r, 200);
    CHECK(r.j()["results"] == items);
    CHECK(r.j()["succeeded"] == 50);
    // One failing item does not fail the others.
    auto f = srv.post("/v1/batches",
                      json{{"kind", "fail"},
                           {"max_retries", 0},
                           {"items", json::array({json{{"code", 64}, {"message", "nope"}},
                                                  json{{"code", 0}}})}});
    REQUIRE_STATUS(f, 200);
    INFO(f.body);
    CHECK(f.j()["succeeded"] == 1);
    CHECK(f.j()["failed"] == 1);
    CHECK(f.j()["results"][0].is_null());
    CHECK(f.j()["results"][1].is_null());
    REQUIRE(f.j()["errors"][0].is_string());
    CHECK(starts_with(f.j()["errors"][0].get<std::string>(), "exit status 64: "));
    CHECK(f.j()["errors"][1].is_null());
    // A pool that does not exist.
    auto np = srv.post("/v1/batches", json{{"kind", "cat"}, {"pool", "nosuch"}, {"items", items}});
    CHECK_ERROR(np, 422, "invalid", "nosuch");
  }
  check_no_zombies(srv.pid());
}
