// Delayed tasks against the real binary: countdown_ms and run_at keep a task
// `scheduled` until its time, then it runs once; cancel and listings see the
// status; kill -9 while scheduled and restarts run it exactly once (also
// when its time passed during the downtime); bad values are 422.
#include "server.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <ctime>
#include <thread>

using namespace itest;

namespace {

/// `ms` since the epoch as RFC 3339 in local time `offset_min` east of UTC,
/// e.g. 2026-11-26T09:30:00.250+02:00.
std::string rfc3339(long long ms, int offset_min) {
  auto local = static_cast<time_t>((ms + offset_min * 60'000LL) / 1000);
  std::tm tm{};
  gmtime_r(&local, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03lld", ms % 1000);
  char off[8];
  std::snprintf(off, sizeof off, "%c%02d:%02d", offset_min < 0 ? '-' : '+',
                std::abs(offset_min) / 60, std::abs(offset_min) % 60);
  return std::string{buf} + frac + off;
}

json short_task() {
  return {{"kind", "sleep"}, {"input", {{"ms", 10}}}};
}

json with(json body, const char* field, json value) {
  body[field] = std::move(value);
  return body;
}

long long ms_of(const json& t, const char* field) {
  return iso8601_to_epoch_ms(t[field].get<std::string>());
}

} // namespace

TEST_CASE("delayed: a countdown keeps the task scheduled, then it runs",
          "[delayed]") {
  Server srv;
  auto id = submit(srv, with(short_task(), "countdown_ms", 300));
  auto t = get_task(srv, id);
  CHECK(t["status"] == "scheduled");
  CHECK(t["started_at"].is_null());
  REQUIRE(t["run_at"].is_string());
  auto created = ms_of(t, "created_at");
  CHECK(ms_of(t, "run_at") == created + 300);
  auto done = wait_terminal(srv, id);
  CHECK(done["status"] == "succeeded");
  CHECK(done["attempts"] == 1);
  CHECK(ms_of(done, "started_at") >= created + 300);
  CHECK(ms_of(done, "run_at") == created + 300);
  // A task without a delay has run_at null.
  auto now = submit(srv, short_task());
  CHECK(get_task(srv, now)["run_at"].is_null());
}

TEST_CASE("delayed: run_at with a numeric offset, and one in the past runs "
          "now",
          "[delayed]") {
  Server srv;
  auto at = now_epoch_ms() + 800;
  auto id = submit(srv, with(short_task(), "run_at", rfc3339(at, 120)));
  auto t = get_task(srv, id);
  CHECK(t["status"] == "scheduled");
  CHECK(ms_of(t, "run_at") == at);
  auto done = wait_terminal(srv, id);
  CHECK(done["status"] == "succeeded");
  CHECK(ms_of(done, "started_at") >= at);
  auto west = now_epoch_ms() + 500;
  auto id2 = submit(srv, with(short_task(), "run_at", rfc3339(west, -330)));
  CHECK(ms_of(get_task(srv, id2), "run_at") == west);
  CHECK(wait_terminal(srv, id2)["status"] == "succeeded");
  auto past = submit(srv, with(short_task(), "run_at", "2020-01-01T00:00:00Z"));
  auto p = wait_terminal(srv, past);
  CHECK(p["status"] == "succeeded");
  CHECK(p["run_at"] == "2020-01-01T00:00:00.000Z");
}

TEST_CASE("delayed: cancel while scheduled, and the listing filter",
          "[delayed]") {
  Server srv;
  auto later = submit(srv, with(short_task(), "countdown_ms", 60'000));
  auto soon = submit(srv, with(short_task(), "countdown_ms", 400));
  auto plain = submit(srv, short_task());
  wait_terminal(srv, plain);
  auto list = srv.get("/v1/tasks?status=scheduled");
  REQUIRE(list.status == 200);
  std::vector<std::string> ids;
  for (auto& t : list.j()["tasks"])
    ids.push_back(t["id"]);
  CHECK(std::count(ids.begin(), ids.end(), later) == 1);
  CHECK(std::count(ids.begin(), ids.end(), soon) == 1);
  CHECK(std::count(ids.begin(), ids.end(), plain) == 0);
  auto metrics = srv.get("/metrics");
  CHECK(metrics.body.find("\nactorq_tasks_scheduled 2\n") != std::string::npos);
  auto c = srv.del("/v1/tasks/" + soon);
  CHECK(c.status == 200);
  CHECK(c.j()["status"] == "cancelled");
  std::this_thread::sleep_for(700ms); // past its time: it stays cancelled
  auto t = get_task(srv, soon);
  CHECK(t["status"] == "cancelled");
  CHECK(t["attempts"] == 0);
  CHECK(t["started_at"].is_null());
  // Cancel many by status.
  auto many = srv.del("/v1/tasks?status=scheduled");
  REQUIRE(many.status == 200);
  CHECK(many.j()["cancelled"] == 1);
  CHECK(get_task(srv, later)["status"] == "cancelled");
  metrics = srv.get("/metrics");
  CHECK(metrics.body.find("\nactorq_tasks_scheduled 0\n") != std::string::npos);
}

TEST_CASE("delayed: kill -9 while scheduled, the task runs exactly once "
          "after the restart",
          "[delayed][kill]") {
  auto path = fresh_store_path();
  std::string id;
  long long run_at = 0;
  {
    Server srv{{"--store.path=" + path}};
    id = submit(srv, with(short_task(), "countdown_ms", 2500));
    run_at = ms_of(get_task(srv, id), "run_at");
    srv.kill(SIGKILL);
    srv.wait_exit(10s);
  }
  Server again{{"--store.path=" + path}};
  auto t = get_task(again, id);
  CHECK(t["status"] == "scheduled");
  CHECK(ms_of(t, "run_at") == run_at);
  auto done = wait_terminal(again, id);
  CHECK(done["status"] == "succeeded");
  CHECK(done["attempts"] == 1);
  CHECK(ms_of(done, "started_at") >= run_at);
  std::this_thread::sleep_for(300ms);
  CHECK(get_task(again, id)["attempts"] == 1);
}

TEST_CASE("delayed: a run_at that passed while actorq was down runs once at "
          "start",
          "[delayed][kill]") {
  auto path = fresh_store_path();
  std::string id, cancelled;
  {
    Server srv{{"--store.path=" + path}};
    id = submit(srv, with(short_task(), "countdown_ms", 600));
    cancelled = submit(srv, with(short_task(), "countdown_ms", 600));
    CHECK(srv.del("/v1/tasks/" + cancelled).status == 200);
    std::this_thread::sleep_for(200ms); // the cancel reaches the store
    srv.kill(SIGKILL);
    srv.wait_exit(10s);
  }
  std::this_thread::sleep_for(800ms);
  Server again{{"--store.path=" + path}};
  auto done = wait_terminal(again, id);
  CHECK(done["status"] == "succeeded");
  CHECK(done["attempts"] == 1);
  CHECK(get_task(again, cancelled)["status"] == "cancelled");
  std::this_thread::sleep_for(300ms);
  CHECK(get_task(again, id)["attempts"] == 1);
}

TEST_CASE("delayed: bad run_at and countdown_ms values are 422",
          "[delayed]") {
  Server srv;
  auto bad = [&](const json& body, const std::string& field) {
    auto r = srv.post("/v1/tasks", body);
    INFO(body.dump() << " -> " << r);
    check_error_reply(r, 422, "invalid", field);
  };
  for (json at : {json("tomorrow"), json("2026-11-25T10:00:00"),
                  json("2026-13-01T00:00:00Z"), json(1764000000000)})
    bad(with(short_task(), "run_at", at), "run_at");
  bad(with(short_task(), "run_at", "2999-01-01T00:00:00Z"), "run_at");
  bad(with(short_task(), "countdown_ms", -1), "countdown_ms");
  bad(with(short_task(), "countdown_ms", 31622400001LL), "countdown_ms");
  bad(with(short_task(), "countdown_ms", "10"), "countdown_ms");
  auto both = with(with(short_task(), "countdown_ms", 10), "run_at",
                   "2030-01-01T00:00:00Z");
  bad(both, "countdown_ms");
  json batch{{"kind", "sleep"},
             {"items", {{{"ms", 1}}}},
             {"countdown_ms", 100}};
  bad(batch, "countdown_ms");
  batch.erase("countdown_ms");
  batch["run_at"] = "2030-01-01T00:00:00Z";
  auto r = srv.post("/v1/batches", batch);
  check_error_reply(r, 422, "invalid", "run_at");
  // The largest countdown is accepted.
  auto id = submit(srv, with(short_task(), "countdown_ms", 31622400000LL));
  CHECK(get_task(srv, id)["status"] == "scheduled");
}

TEST_CASE("delayed: the same Idempotency-Key with another countdown is "
          "idempotency_mismatch",
          "[delayed][idempotency]") {
  Server srv;
  auto body = with(short_task(), "countdown_ms", 5000);
  auto first = post_keyed(srv, "delay-key-1", body);
  REQUIRE(first.first == 202);
  auto same = post_keyed(srv, "delay-key-1", body);
  CHECK(same.second["id"] == first.second["id"]);
  auto other = post_keyed(srv, "delay-key-1", with(short_task(), "countdown_ms", 6000));
  CHECK(other.first == 422);
  CHECK(other.second["code"] == "idempotency_mismatch");
  auto at = post_keyed(srv, "delay-key-1",
                       with(short_task(), "run_at", "2030-01-01T00:00:00Z"));
  CHECK(at.first == 422);
  auto none = post_keyed(srv, "delay-key-1", short_task());
  CHECK(none.first == 422);
}
