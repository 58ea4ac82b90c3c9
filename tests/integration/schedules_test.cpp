// Periodic schedules ([schedules.NAME]) against the real binary: firing,
// overlap, config errors, exactly once per slot across kill -9, and
// GET /v1/schedules.
#include "server.hpp"

#include <algorithm>
#include <csignal>
#include <fstream>
#include <set>
#include <thread>

using namespace itest;

namespace {

/// Writes an INI file next to a fresh store and returns its path.
std::string write_ini(const std::string& text) {
  auto path = fresh_store_path() + ".ini";
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  return path;
}

/// Every task schedule `name` created, oldest first.
std::vector<json> scheduled_tasks(const Server& srv, const std::string& name) {
  auto r = srv.get("/v1/tasks?limit=1000");
  REQUIRE_STATUS(r, 200);
  std::vector<json> out;
  for (auto& t : r.j()["tasks"])
    if (t["schedule"] == name)
      out.push_back(t);
  std::sort(out.begin(), out.end(), [](const json& a, const json& b) {
    return iso8601_to_epoch_ms(a["created_at"]) < iso8601_to_epoch_ms(b["created_at"]);
  });
  return out;
}

long long created(const json& t) {
  return iso8601_to_epoch_ms(t["created_at"].get<std::string>());
}

/// Sleeps until `offset_ms` past the next multiple of `every_ms` (epoch).
void sleep_until_phase(long long every_ms, long long offset_ms) {
  auto now = now_epoch_ms();
  auto target = (now / every_ms + 1) * every_ms + offset_ms;
  std::this_thread::sleep_for(std::chrono::milliseconds(target - now));
}

std::string failure_output(const std::string& ini) {
  auto f = start_expect_failure({"--config-file=" + write_ini(ini)});
  INFO(f.output);
  CHECK_FALSE(f.started);
  CHECK(f.status.exited);
  CHECK(f.status.code != 0);
  return f.output;
}

} // namespace

TEST_CASE("schedules: every 1s fires about once a second, tasks carry the schedule",
          "[schedules]") {
  auto ini = write_ini("[schedules.tick]\n"
                       "kind = \"echo\"\n"
                       "input = \"{\\\"n\\\": 1}\"\n"
                       "every = \"1s\"\n");
  Server srv{{"--config-file=" + ini}};
  std::this_thread::sleep_for(4500ms);
  auto tasks = scheduled_tasks(srv, "tick");
  INFO(srv.output());
  CHECK(tasks.size() >= 3);
  CHECK(tasks.size() <= 6);
  std::set<long long> slots;
  for (auto& t : tasks) {
    CHECK(t["kind"] == "echo");
    CHECK(t["schedule"] == "tick");
    slots.insert(created(t) / 1000);
  }
  CHECK(slots.size() == tasks.size()); // one task per slot
  auto done = wait_terminal(srv, tasks.back()["id"]);
  CHECK(done["result"] == json{{"n", 1}});
  // A client's task has no schedule.
  auto mine = get_task(srv, submit(srv, {{"kind", "echo"}, {"input", json::object()}}));
  CHECK(mine["schedule"].is_null());

  auto r = srv.get("/v1/schedules");
  REQUIRE_STATUS(r, 200);
  REQUIRE(r.j().is_array());
  REQUIRE(r.j().size() == 1);
  auto& s = r.j()[0];
  CHECK(s["name"] == "tick");
  CHECK(s["kind"] == "echo");
  CHECK(s["pool"] == "io");
  CHECK(s["spec"] == json{{"every", "1s"}, {"timezone", "UTC"}});
  CHECK(s["overlap"] == "skip");
  CHECK(s["catch_up"] == "one");
  REQUIRE(s["next_run"].is_string());
  CHECK(iso8601_to_epoch_ms(s["next_run"]) % 1000 == 0);
  CHECK(iso8601_to_epoch_ms(s["next_run"]) > now_epoch_ms() - 1000);
  REQUIRE(s["last_task"].is_object());
  CHECK(is_uuid4(s["last_task"]["id"]));
  CHECK(s["last_task"]["status"].is_string());
  CHECK(s["last_run"].is_string());
}

TEST_CASE("schedules: cron in a time zone and GET /v1/schedules without firings",
          "[schedules]") {
  auto ini = write_ini("[schedules.nightly]\n"
                       "kind = \"echo\"\n"
                       "cron = \"30 2 * * MON-FRI\"\n"
                       "timezone = \"Europe/Berlin\"\n"
                       "overlap = \"allow\"\n"
                       "catch-up = \"none\"\n"
                       "priority = 7\n"
                       "max-retries = 1\n");
  Server srv{{"--config-file=" + ini}};
  auto r = srv.get("/v1/schedules");
  REQUIRE_STATUS(r, 200);
  REQUIRE(r.j().size() == 1);
  auto& s = r.j()[0];
  CHECK(s["spec"] == json{{"cron", "30 2 * * MON-FRI"}, {"timezone", "Europe/Berlin"}});
  CHECK(s["overlap"] == "allow");
  CHECK(s["catch_up"] == "none");
  CHECK(s["last_task"].is_null());
  CHECK(s["last_run"].is_null());
  auto next = iso8601_to_epoch_ms(s["next_run"]);
  CHECK(next > now_epoch_ms());
  CHECK(next < now_epoch_ms() + 4LL * 86400 * 1000);
  // 02:30 in Berlin is 00:30 or 01:30 UTC.
  auto minute_of_day = next / 60000 % (24 * 60);
  CHECK((minute_of_day == 30 || minute_of_day == 90));
}

TEST_CASE("schedules: overlap skip leaves slots out while the last task runs",
          "[schedules]") {
  auto ini = write_ini("[schedules.slow]\n"
                       "kind = \"sleep\"\n"
                       "input = \"{\\\"ms\\\": 2500}\"\n"
                       "every = \"1s\"\n"
                       "[schedules.fast]\n"
                       "kind = \"sleep\"\n"
                       "input = \"{\\\"ms\\\": 2500}\"\n"
                       "every = \"1s\"\n"
                       "overlap = \"allow\"\n");
  Server srv{{"--config-file=" + ini, "--seed.delay-scale=1"}};
  std::this_thread::sleep_for(5500ms);
  auto slow = scheduled_tasks(srv, "slow");
  auto fast = scheduled_tasks(srv, "fast");
  INFO(srv.output());
  // Skip: a new task only after the last one ended (2.5 s each).
  CHECK(slow.size() >= 1);
  CHECK(slow.size() <= 3);
  for (size_t i = 1; i < slow.size(); ++i)
    CHECK(created(slow[i]) - created(slow[i - 1]) >= 2400);
  CHECK(srv.output().find("schedule_skipped") != std::string::npos);
  // Allow: one per slot, running side by side.
  CHECK(fast.size() >= 4);
  CHECK(fast.size() > slow.size() + 1);
}

TEST_CASE("schedules: configuration errors stop the start naming the problem",
          "[schedules]") {
  auto out = failure_output("[schedules.a]\nkind = \"echo\"\ncron = \"61 * * * *\"\n");
  CHECK(out.find("schedules.a.cron") != std::string::npos);
  CHECK(out.find("minute") != std::string::npos);
  out = failure_output("[schedules.b]\nkind = \"echo\"\nevery = \"1s\"\ncolour = \"red\"\n");
  CHECK(out.find("schedules.b.colour") != std::string::npos);
  out = failure_output("[schedules.c]\nkind = \"nope\"\nevery = \"1s\"\n");
  CHECK(out.find("schedules.c") != std::string::npos);
  CHECK(out.find("unknown kind 'nope'") != std::string::npos);
  out = failure_output("[schedules.d]\nkind = \"echo\"\nevery = \"1s\"\ncron = \"* * * * *\"\n");
  CHECK(out.find("schedules.d") != std::string::npos);
  CHECK(out.find("exactly one of every and cron") != std::string::npos);
  out = failure_output("[schedules.e]\nkind = \"echo\"\ncron = \"* * * * *\"\n"
                       "timezone = \"Mars/Olympus\"\n");
  CHECK(out.find("schedules.e.timezone") != std::string::npos);
  CHECK(out.find("Mars/Olympus") != std::string::npos);
  out = failure_output("[schedules.f]\nkind = \"echo\"\nevery = \"soon\"\n");
  CHECK(out.find("schedules.f.every") != std::string::npos);
  out = failure_output("[schedules.g]\nkind = \"echo\"\nevery = \"1s\"\ninput = \"{oops\"\n");
  CHECK(out.find("schedules.g.input") != std::string::npos);
}

namespace {

/// Runs schedule `tick` (every 2s, catch-up as given), kills actorq with
/// SIGKILL, keeps it down ~5 s (over two slots) and restarts it on the
/// same store; returns the tasks and the kill and restart times.
struct restart_run {
  std::vector<json> tasks;
  long long killed_at = 0, restarted_at = 0, restart_slot = 0;
  std::string output;
};

restart_run run_across_kill(const std::string& catch_up) {
  auto store = fresh_store_path();
  auto ini = write_ini("[schedules.tick]\nkind = \"echo\"\nevery = \"2s\"\n"
                       "catch-up = \"" + catch_up + "\"\n");
  std::vector<std::string> args{"--config-file=" + ini, "--store.path=" + store};
  restart_run run;
  {
    Server first{args};
    // Two slots fired, then die half a second after a slot.
    REQUIRE(wait_until([&] { return scheduled_tasks(first, "tick").size() >= 2; }, 8s));
    sleep_until_phase(2000, 500);
    run.killed_at = now_epoch_ms();
    first.kill(SIGKILL);
    first.wait_exit();
  }
  // Down over slots killed+1.5s and killed+3.5s; back at 300 ms past a slot.
  std::this_thread::sleep_for(4500ms);
  sleep_until_phase(2000, 300);
  run.restarted_at = now_epoch_ms();
  run.restart_slot = run.restarted_at / 2000 * 2000;
  Server again{args};
  // Until the slot after the restart has fired.
  std::this_thread::sleep_for(std::chrono::milliseconds(
      run.restart_slot + 2000 + 700 - now_epoch_ms()));
  run.tasks = scheduled_tasks(again, "tick");
  run.output = again.output();
  return run;
}

} // namespace

TEST_CASE("schedules: kill -9 and restart fire each slot once, a missed period once",
          "[schedules]") {
  auto run = run_across_kill("one");
  INFO(run.output);
  std::set<long long> slots;
  size_t during_outage = 0, caught_up = 0, after = 0;
  for (auto& t : run.tasks) {
    auto at = created(t);
    INFO("task created at " << t["created_at"]);
    CHECK(slots.insert(at / 2000).second); // never two for one slot
    if (at > run.killed_at && at < run.restarted_at)
      ++during_outage;
    else if (at >= run.restarted_at && at < run.restart_slot + 2000)
      ++caught_up;
    else if (at >= run.restart_slot + 2000)
      ++after;
  }
  CHECK(during_outage == 0);
  CHECK(caught_up == 1); // the missed period fired exactly once
  CHECK(after == 1);     // and the schedule goes on
  CHECK(run.output.find("schedule_catch_up") != std::string::npos);
}

TEST_CASE("schedules: catch-up none skips what was missed while down",
          "[schedules]") {
  auto run = run_across_kill("none");
  INFO(run.output);
  size_t caught_up = 0, after = 0;
  for (auto& t : run.tasks) {
    auto at = created(t);
    if (at >= run.restarted_at && at < run.restart_slot + 2000)
      ++caught_up;
    else if (at >= run.restart_slot + 2000)
      ++after;
  }
  CHECK(caught_up == 0);
  CHECK(after == 1);
}

TEST_CASE("schedules: configs/schedules.ini starts and lists its schedules",
          "[schedules]") {
  Server srv{{"--config-file=" + source_dir() + "/configs/schedules.ini",
              "--store.path=" + fresh_store_path()}};
  auto r = srv.get("/v1/schedules");
  REQUIRE_STATUS(r, 200);
  REQUIRE(r.j().size() == 2);
  CHECK(r.j()[0]["name"] == "heartbeat");
  CHECK(r.j()[0]["spec"]["every"] == "5m");
  CHECK(r.j()[1]["name"] == "nightly-report");
  CHECK(r.j()[1]["spec"]["timezone"] == "Europe/Berlin");
  CHECK(r.j()[1]["catch_up"] == "none");
}
