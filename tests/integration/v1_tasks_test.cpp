// v1 task API: submit, get (with wait_ms long-poll), list/filter/page, cancel,
// retries and timeouts.
#include "server.hpp"

#include <set>

using namespace itest;

namespace {

const std::vector<std::string> kTaskFields = {"id",          "kind",       "pool",    "status",
                                              "attempts",    "max_retries", "created_at",
                                              "started_at",  "finished_at", "result", "error"};

void check_task_shape(const json& t) {
  INFO("task: " << t.dump());
  REQUIRE(t.is_object());
  for (auto& f : kTaskFields) {
    INFO("field " << f);
    CHECK(t.contains(f));
  }
  CHECK(t["id"].is_string());
  CHECK(t["kind"].is_string());
  CHECK(t["pool"].is_string());
  CHECK(t["status"].is_string());
  CHECK(t["attempts"].is_number_integer());
  CHECK(t["max_retries"].is_number_integer());
  REQUIRE(t["created_at"].is_string());
  CHECK(is_iso8601_utc(t["created_at"].get<std::string>()));
  for (const char* f : {"started_at", "finished_at"}) {
    INFO("field " << f);
    CHECK((t[f].is_null() || (t[f].is_string() && is_iso8601_utc(t[f].get<std::string>()))));
  }
  CHECK((t["error"].is_null() || t["error"].is_string()));
  static const std::set<std::string> statuses = {"queued",    "running", "retrying",
                                                 "succeeded", "failed",  "cancelled"};
  CHECK(statuses.count(t["status"].get<std::string>()) == 1);
}

std::vector<std::string> ids_of(const json& tasks) {
  std::vector<std::string> out;
  for (auto& t : tasks) out.push_back(t.at("id").get<std::string>());
  return out;
}

// GET a list page; REQUIREs 200 and the {"tasks": [...], "next": ...} shape.
json list(const Server& srv, const std::string& query) {
  auto r = srv.get("/v1/tasks" + query);
  INFO("reply: " << r);
  REQUIRE(r.status == 200);
  REQUIRE(r.is_json);
  REQUIRE(r.j().is_object());
  REQUIRE(r.j().contains("tasks"));
  REQUIRE(r.j().contains("next"));
  REQUIRE(r.j()["tasks"].is_array());
  REQUIRE((r.j()["next"].is_null() || r.j()["next"].is_string()));
  return r.j();
}

// Follows `next` from `query` (optionally starting at `cursor`) to the end;
// returns every page's ids in order.
std::vector<std::vector<std::string>> all_pages(const Server& srv, const std::string& query,
                                                size_t limit, std::string cursor = "",
                                                int max_pages = 100) {
  std::vector<std::vector<std::string>> pages;
  for (int i = 0; i < max_pages; ++i) {
    auto q = query;
    if (!cursor.empty()) q += "&cursor=" + url_encode(cursor);
    json page = list(srv, q);
    auto ids = ids_of(page["tasks"]);
    INFO("page " << i << " (" << q << "): " << page.dump());
    CHECK(ids.size() <= limit);
    pages.push_back(ids);
    if (page["next"].is_null()) return pages;
    auto next = page["next"].get<std::string>();
    REQUIRE(next != cursor);  // paging must advance
    cursor = next;
  }
  FAIL("paging did not end after " << max_pages << " pages");
  return pages;
}

}  // namespace

TEST_CASE("v1: POST /v1/tasks answers 202 queued with Location, GET returns the task",
          "[v1]") {
  Server srv;
  auto before = now_epoch_ms();
  auto r = srv.post("/v1/tasks", json{{"kind", "double"}, {"input", {{"value", 21}}}});
  REQUIRE_STATUS(r, 202);
  CHECK(r.header("Content-Type").rfind("application/json", 0) == 0);
  REQUIRE(r.is_json);
  REQUIRE(r.j().contains("id"));
  REQUIRE(r.j()["id"].is_string());
  auto id = r.j()["id"].get<std::string>();
  CHECK(!id.empty());
  CHECK(r.j()["status"] == "queued");
  CHECK(r.header("Location") == "/v1/tasks/" + id);

  auto t = wait_terminal(srv, id);
  check_task_shape(t);
  CHECK(t["id"] == id);
  CHECK(t["kind"] == "double");
  CHECK(t["pool"] == "io");
  CHECK(t["status"] == "succeeded");
  CHECK(t["attempts"] == 1);
  CHECK(t["max_retries"] == 3);  // retry.max-retries default
  CHECK(t["result"] == json({{"result", 42}}));
  CHECK(t["error"].is_null());
  REQUIRE(t["started_at"].is_string());
  REQUIRE(t["finished_at"].is_string());
  auto created = iso8601_to_epoch_ms(t["created_at"].get<std::string>());
  auto started = iso8601_to_epoch_ms(t["started_at"].get<std::string>());
  auto finished = iso8601_to_epoch_ms(t["finished_at"].get<std::string>());
  CHECK(created >= before - 2000);
  CHECK(created <= started);
  CHECK(started <= finished);
  CHECK(finished <= now_epoch_ms() + 2000);

  SECTION("a second submission gets another id") {
    auto id2 = submit(srv, {{"kind", "double"}, {"input", {{"value", 1}}}});
    CHECK(id2 != id);
  }
  SECTION("a task not yet finished has no result and no finished_at") {
    auto id2 = submit(srv, {{"kind", "double"}, {"input", {{"value", 4}, {"delay_ms", 200}}}});
    auto t2 = get_task(srv, id2);
    check_task_shape(t2);
    CHECK((t2["status"] == "queued" || t2["status"] == "running"));
    CHECK(t2["result"].is_null());
    CHECK(t2["finished_at"].is_null());
    auto d = wait_terminal(srv, id2);
    CHECK(d["status"] == "succeeded");
    CHECK(d["result"] == json({{"result", 8}}));
  }
  SECTION("the pool field overrides the kind's pool") {
    auto id2 = submit(srv, {{"kind", "double"}, {"input", {{"value", 5}}}, {"pool", "limited"}});
    auto d = wait_terminal(srv, id2);
    CHECK(d["pool"] == "limited");
    CHECK(d["status"] == "succeeded");
    CHECK(d["result"] == json({{"result", 10}}));
  }
  SECTION("explicit max_retries is reported") {
    auto id2 = submit(srv, {{"kind", "echo"}, {"input", json::object()}, {"max_retries", 7}});
    auto d = wait_terminal(srv, id2);
    CHECK(d["max_retries"] == 7);
    CHECK(d["result"] == json::object());
  }
}

TEST_CASE("v1: wait_ms returns early when the task finishes", "[v1][wait]") {
  Server srv;
  auto id = submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 200}}}});
  auto t0 = Clock::now();
  auto r = srv.get("/v1/tasks/" + id + "?wait_ms=10000");
  auto ms = ms_since(t0);
  REQUIRE_STATUS(r, 200);
  INFO("reply: " << r);
  CHECK(r.j()["status"] == "succeeded");
  CHECK(r.j()["result"] == json({{"slept_ms", 200}}));
  CHECK(ms >= 100);
  CHECK(ms < 5000);

  SECTION("on a terminal task wait_ms answers at once") {
    auto t1 = Clock::now();
    auto again = srv.get("/v1/tasks/" + id + "?wait_ms=60000");
    REQUIRE_STATUS(again, 200);
    CHECK(again.j()["status"] == "succeeded");
    CHECK(ms_since(t1) < 2000);
  }
  SECTION("several concurrent long-polls all return when the task finishes") {
    auto id2 = submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 300}}}});
    std::vector<std::thread> ths;
    std::vector<Reply> replies(4);
    auto t1 = Clock::now();
    for (size_t i = 0; i < replies.size(); ++i)
      ths.emplace_back([&, i] { replies[i] = srv.get("/v1/tasks/" + id2 + "?wait_ms=20000"); });
    for (auto& th : ths) th.join();
    auto all_ms = ms_since(t1);
    for (auto& rr : replies) {
      INFO("reply: " << rr);
      CHECK(rr.status == 200);
      CHECK(rr.is_json);
      if (rr.is_json) CHECK(rr.j()["status"] == "succeeded");
    }
    CHECK(all_ms < 10000);
  }
}

TEST_CASE("v1: wait_ms returns the current non-terminal state after N ms", "[v1][wait]") {
  Server srv;
  auto id = submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 2000}}}});
  wait_status(srv, id, "running");

  auto t0 = Clock::now();
  auto r = srv.get("/v1/tasks/" + id + "?wait_ms=300");
  auto ms = ms_since(t0);
  REQUIRE_STATUS(r, 200);
  INFO("reply: " << r);
  CHECK(r.j()["status"] == "running");
  CHECK(r.j()["result"].is_null());
  CHECK(ms >= 290);
  CHECK(ms < 1900);

  auto t1 = Clock::now();
  auto r0 = srv.get("/v1/tasks/" + id + "?wait_ms=0");
  REQUIRE_STATUS(r0, 200);
  CHECK(r0.j()["status"] == "running");
  CHECK(ms_since(t1) < 1000);

  auto d = srv.del("/v1/tasks/" + id);
  CHECK_STATUS(d, 202);
}

TEST_CASE("v1: GET /v1/tasks lists with status and kind filters", "[v1][list]") {
  // One server for all checks (the running sleeps would slow down a server per section).
  Server srv;
  std::set<std::string> echo_ids, double_ids, sleep_ids;
  for (int i = 0; i < 7; ++i) echo_ids.insert(submit(srv, {{"kind", "echo"}, {"input", {{"i", i}}}}));
  for (int i = 0; i < 3; ++i)
    double_ids.insert(submit(srv, {{"kind", "double"}, {"input", {{"value", i}}}}));
  for (int i = 0; i < 2; ++i)
    sleep_ids.insert(submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 2000}}}}));
  for (auto& id : echo_ids) CHECK(wait_terminal(srv, id)["status"] == "succeeded");
  for (auto& id : double_ids) CHECK(wait_terminal(srv, id)["status"] == "succeeded");
  for (auto& id : sleep_ids) wait_status(srv, id, "running");

  auto as_set = [](const json& page) {
    auto v = ids_of(page["tasks"]);
    return std::set<std::string>(v.begin(), v.end());
  };
  {
    INFO("no filter: every task, default limit 100, no next page");
    auto page = list(srv, "");
    CHECK(page["tasks"].size() == 12);
    CHECK(page["next"].is_null());
    for (auto& t : page["tasks"]) {
      INFO("listed task: " << t.dump());
      CHECK(t.contains("id"));
      CHECK(t.contains("kind"));
      CHECK(t.contains("status"));
    }
  }
  {
    INFO("kind filter");
    auto page = list(srv, "?kind=echo");
    CHECK(as_set(page) == echo_ids);
    CHECK(page["tasks"].size() == 7);
    for (auto& t : page["tasks"]) CHECK(t["kind"] == "echo");
  }
  {
    INFO("status filter");
    auto page = list(srv, "?status=running");
    CHECK(as_set(page) == sleep_ids);
    for (auto& t : page["tasks"]) CHECK(t["status"] == "running");
    auto none = list(srv, "?status=failed");
    CHECK(none["tasks"].empty());
    CHECK(none["next"].is_null());
  }
  {
    INFO("status and kind together");
    auto page = list(srv, "?status=succeeded&kind=double");
    CHECK(as_set(page) == double_ids);
    auto page2 = list(srv, "?status=running&kind=echo");
    CHECK(page2["tasks"].empty());
    auto page3 = list(srv, "?status=succeeded");
    std::set<std::string> both = echo_ids;
    both.insert(double_ids.begin(), double_ids.end());
    CHECK(as_set(page3) == both);
  }
  {
    INFO("bad filter values are 422 naming the parameter");
    CHECK_ERROR(srv.get("/v1/tasks?status=bogus"), 422, "invalid", "status");
    CHECK_ERROR(srv.get("/v1/tasks?kind=bogus"), 422, "invalid", "kind");
    CHECK_ERROR(srv.get("/v1/tasks?status=%ff"), 422, "invalid", "status");
    check_alive(srv);
  }
  for (auto& id : sleep_ids) CHECK_STATUS(srv.del("/v1/tasks/" + id), 202);
}

TEST_CASE("v1: GET /v1/tasks pages with limit and cursor without duplicates",
          "[v1][list]") {
  Server srv;
  std::set<std::string> echo_ids, other_ids;
  for (int i = 0; i < 7; ++i) echo_ids.insert(submit(srv, {{"kind", "echo"}, {"input", {{"i", i}}}}));
  for (int i = 0; i < 5; ++i)
    other_ids.insert(submit(srv, {{"kind", "double"}, {"input", {{"value", i}}}}));
  for (auto& id : echo_ids) wait_terminal(srv, id);
  for (auto& id : other_ids) wait_terminal(srv, id);

  SECTION("limit=3 over 7 echo tasks: pages of 3, 3, 1 and then next is null") {
    auto pages = all_pages(srv, "?kind=echo&limit=3", 3);
    REQUIRE(pages.size() == 3);
    CHECK(pages[0].size() == 3);
    CHECK(pages[1].size() == 3);
    CHECK(pages[2].size() == 1);
    std::vector<std::string> flat;
    for (auto& p : pages) flat.insert(flat.end(), p.begin(), p.end());
    std::set<std::string> uniq(flat.begin(), flat.end());
    CHECK(uniq.size() == flat.size());  // no duplicates
    CHECK(uniq == echo_ids);
  }
  SECTION("limit=1 walks every task once") {
    auto pages = all_pages(srv, "?limit=1", 1, "", 50);
    std::vector<std::string> flat;
    for (auto& p : pages) {
      CHECK(p.size() <= 1);
      flat.insert(flat.end(), p.begin(), p.end());
    }
    std::set<std::string> uniq(flat.begin(), flat.end());
    CHECK(flat.size() == 12);
    CHECK(uniq.size() == flat.size());
    std::set<std::string> all = echo_ids;
    all.insert(other_ids.begin(), other_ids.end());
    CHECK(uniq == all);
  }
  SECTION("tasks created between pages cause no duplicates and lose no old task") {
    auto first = list(srv, "?kind=echo&limit=3");
    REQUIRE(first["tasks"].size() == 3);
    REQUIRE(first["next"].is_string());
    std::vector<std::string> flat = ids_of(first["tasks"]);
    std::set<std::string> fresh;
    for (int i = 0; i < 4; ++i) fresh.insert(submit(srv, {{"kind", "echo"}, {"input", json::object()}}));
    auto rest = all_pages(srv, "?kind=echo&limit=3", 3, first["next"].get<std::string>());
    for (auto& p : rest) flat.insert(flat.end(), p.begin(), p.end());
    std::set<std::string> uniq(flat.begin(), flat.end());
    CHECK(uniq.size() == flat.size());
    for (auto& id : echo_ids) {
      INFO("old task " << id);
      CHECK(uniq.count(id) == 1);
    }
  }
  SECTION("limit bounds: 1 and 1000 accepted, 0/1001/-1/abc rejected naming limit") {
    CHECK(list(srv, "?limit=1")["tasks"].size() == 1);
    CHECK(list(srv, "?limit=1000")["tasks"].size() == 12);
    for (std::string bad : {"0", "1001", "-1", "abc", "1.5"}) {
      INFO("limit=" << bad);
      CHECK_ERROR(srv.get("/v1/tasks?limit=" + bad), 422, "invalid", "limit");
    }
    check_alive(srv);
  }
  SECTION("a garbage cursor is 422 naming cursor") {
    CHECK_ERROR(srv.get("/v1/tasks?cursor=not-a-cursor%00%ff"), 422, "invalid", "cursor");
    check_alive(srv);
  }
}

TEST_CASE("v1: DELETE a queued task cancels it (200)", "[v1][cancel]") {
  // One io worker: the second sleep waits in the queue behind the first.
  Server srv({"--pools.io.size=1"});
  auto blocker = submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 1500}}}});
  wait_status(srv, blocker, "running");
  auto queued = submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 50}}}});
  auto t = get_task(srv, queued);
  CHECK(t["status"] == "queued");
  CHECK(t["attempts"] == 0);
  CHECK(t["started_at"].is_null());

  auto d = srv.del("/v1/tasks/" + queued);
  REQUIRE_STATUS(d, 200);
  REQUIRE(d.is_json);
  CHECK(d.j().value("status", "") == "cancelled");

  auto after = get_task(srv, queued);
  CHECK(after["status"] == "cancelled");
  CHECK(after["result"].is_null());
  CHECK(after["attempts"] == 0);

  // Cancelling again: it is terminal now.
  CHECK_ERROR(srv.del("/v1/tasks/" + queued), 409, "conflict", "");

  // Cancelling the blocker frees the worker; the next task runs.
  CHECK_STATUS(srv.del("/v1/tasks/" + blocker), 202);
  auto next = submit(srv, {{"kind", "double"}, {"input", {{"value", 2}}}});
  auto n = wait_terminal(srv, next);
  CHECK(n["status"] == "succeeded");
  CHECK(get_task(srv, queued)["status"] == "cancelled");
}

TEST_CASE("v1: DELETE a retrying task cancels it (200) and it is not retried", "[v1][cancel]") {
  Server srv;
  auto id = submit(srv, {{"kind", "flaky"},
                         {"input", {{"fail_times", 5}}},
                         {"max_retries", 5},
                         {"backoff_ms", 600}});
  auto t = wait_status(srv, id, "retrying");
  CHECK(t["attempts"] == 1);

  auto d = srv.del("/v1/tasks/" + id);
  REQUIRE_STATUS(d, 200);
  REQUIRE(d.is_json);
  CHECK(d.j().value("status", "") == "cancelled");
  CHECK(get_task(srv, id)["status"] == "cancelled");

  // Past the backoff, no further attempt was made.
  std::this_thread::sleep_for(900ms);
  auto later = get_task(srv, id);
  CHECK(later["status"] == "cancelled");
  CHECK(later["attempts"] == 1);
  CHECK(later["result"].is_null());
}

TEST_CASE("v1: DELETE a running task answers 202 and it ends cancelled", "[v1][cancel]") {
  Server srv;
  auto id = submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 1000}}}});
  wait_status(srv, id, "running");
  auto t0 = Clock::now();
  auto d = srv.del("/v1/tasks/" + id);
  REQUIRE_STATUS(d, 202);
  CHECK(d.is_json);
  auto t = wait_terminal(srv, id);
  CHECK(t["status"] == "cancelled");
  CHECK(t["result"].is_null());  // the result is discarded
  CHECK(ms_since(t0) < 5000);

  // Even after the sleep would have finished, it stays cancelled.
  std::this_thread::sleep_for(std::chrono::milliseconds(std::max<long long>(0, 1200 - ms_since(t0))));
  auto later = get_task(srv, id);
  CHECK(later["status"] == "cancelled");
  CHECK(later["result"].is_null());
  CHECK_ERROR(srv.del("/v1/tasks/" + id), 409, "conflict", "");
}

TEST_CASE("v1: DELETE a terminal task is 409 conflict", "[v1][cancel]") {
  Server srv;
  auto ok = submit(srv, {{"kind", "double"}, {"input", {{"value", 3}}}});
  auto bad = submit(srv, {{"kind", "flaky"}, {"input", {{"fail_times", 1}}}, {"max_retries", 0}});
  CHECK(wait_terminal(srv, ok)["status"] == "succeeded");
  CHECK(wait_terminal(srv, bad)["status"] == "failed");
  CHECK_ERROR(srv.del("/v1/tasks/" + ok), 409, "conflict", "");
  CHECK_ERROR(srv.del("/v1/tasks/" + bad), 409, "conflict", "");
  auto t = get_task(srv, ok);
  CHECK(t["status"] == "succeeded");
  CHECK(t["result"] == json({{"result", 6}}));
}

TEST_CASE("v1: unknown and malformed ids on GET/DELETE /v1/tasks/{id}", "[v1][errors]") {
  Server srv;
  for (int i = 0; i < 3; ++i) {
    auto id = random_uuid4();
    CHECK_ERROR(srv.get("/v1/tasks/" + id), 404, "not_found", "");
    CHECK_ERROR(srv.get("/v1/tasks/" + id + "?wait_ms=100"), 404, "not_found", "");
    CHECK_ERROR(srv.del("/v1/tasks/" + id), 404, "not_found", "");
  }
  const std::vector<std::string> ids = {
      "not-a-uuid", "..%2F..%2Fetc%2Fpasswd", "%2E%2E", "%00", "abc%00def", "%ff%fe",
      "%20", "'%3B%20DROP%20TABLE%20tasks%3B--", std::string(1000, 'a'),
      std::string(10000, 'a'), "-1", "0", "null",
  };
  for (auto& id : ids) {
    for (const char* m : {"GET", "DELETE"}) {
      auto r = srv.request(m, "/v1/tasks/" + id);
      // Past cpp-httplib's 8 KiB URI limit the answer is 414 too_large.
      if (id.size() > 8192)
        check_error_reply_any(r, {414}, {"too_large"});
      else
        check_error_reply_any(r, {404, 422}, {"not_found", "invalid"});
    }
  }
  auto r = srv.get("/v1/tasks/../etc/passwd");
  check_error_reply_any(r, {404, 422}, {"not_found", "invalid"});
  check_alive(srv);
}

TEST_CASE("v1: flaky is retried until it succeeds and attempts are counted", "[v1][retry]") {
  Server srv;
  auto id = submit(srv, {{"kind", "flaky"},
                         {"input", {{"fail_times", 2}}},
                         {"max_retries", 3},
                         {"backoff_ms", 150}});
  std::vector<std::string> seen;
  json t;
  REQUIRE(wait_until(
      [&] {
        t = get_task(srv, id);
        auto s = t["status"].get<std::string>();
        if (seen.empty() || seen.back() != s) seen.push_back(s);
        return is_terminal(s);
      },
      10s, 5ms));
  std::string trace;
  for (auto& s : seen) trace += s + " ";
  INFO("status trace: " << trace << "final: " << t.dump());
  CHECK(t["status"] == "succeeded");
  CHECK(t["attempts"] == 3);
  CHECK(t["result"] == json({{"attempt", 3}}));
  CHECK(t["error"].is_null());
  CHECK(std::find(seen.begin(), seen.end(), "retrying") != seen.end());
  CHECK(seen.back() == "succeeded");

  SECTION("fail_times 0 succeeds on the first attempt") {
    auto id2 = submit(srv, {{"kind", "flaky"}, {"input", {{"fail_times", 0}}}});
    auto d = wait_terminal(srv, id2);
    CHECK(d["status"] == "succeeded");
    CHECK(d["attempts"] == 1);
    CHECK(d["result"] == json({{"attempt", 1}}));
  }
}

TEST_CASE("v1: flaky with max_retries < fail_times fails with injected failure",
          "[v1][retry]") {
  Server srv;
  auto id = submit(srv, {{"kind", "flaky"},
                         {"input", {{"fail_times", 3}}},
                         {"max_retries", 1},
                         {"backoff_ms", 10}});
  auto t = wait_terminal(srv, id);
  check_task_shape(t);
  CHECK(t["status"] == "failed");
  CHECK(t["attempts"] == 2);
  CHECK(t["max_retries"] == 1);
  CHECK(t["error"] == "injected failure");
  CHECK(t["result"].is_null());
  CHECK(t["finished_at"].is_string());

  SECTION("max_retries 0: one attempt only") {
    auto id2 = submit(srv, {{"kind", "flaky"}, {"input", {{"fail_times", 1}}}, {"max_retries", 0}});
    auto d = wait_terminal(srv, id2);
    CHECK(d["status"] == "failed");
    CHECK(d["attempts"] == 1);
    CHECK(d["error"] == "injected failure");
  }
}

TEST_CASE("v1: exceeding timeout_ms fails the attempt and is retried", "[v1][retry]") {
  Server srv;
  auto t0 = Clock::now();
  auto id = submit(srv, {{"kind", "sleep"},
                         {"input", {{"ms", 2000}}},
                         {"timeout_ms", 100},
                         {"max_retries", 1},
                         {"backoff_ms", 10}});
  auto t = wait_terminal(srv, id);
  auto ms = ms_since(t0);
  INFO("task: " << t.dump() << " after " << ms << " ms");
  CHECK(t["status"] == "failed");
  CHECK(t["attempts"] == 2);
  CHECK(t["result"].is_null());
  REQUIRE(t["error"].is_string());
  CHECK(!t["error"].get<std::string>().empty());
  CHECK(ms >= 150);   // two attempts of 100 ms
  CHECK(ms < 1500);   // cut by the timeout, not by the 2 s sleep

  SECTION("a task finishing within timeout_ms succeeds") {
    auto id2 = submit(srv, {{"kind", "double"},
                            {"input", {{"value", 9}, {"delay_ms", 20}}},
                            {"timeout_ms", 2000}});
    auto d = wait_terminal(srv, id2);
    CHECK(d["status"] == "succeeded");
    CHECK(d["attempts"] == 1);
    CHECK(d["result"] == json({{"result", 18}}));
  }
}
