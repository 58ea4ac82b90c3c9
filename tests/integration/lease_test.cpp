// The lease protocol (docs/leases.md) against the real daemon: this test
// process plays the HTTP workers (real sockets, no mocks); the Python
// package's tests run real worker processes (clients/python/tests).
#include "kinds_support.hpp"

#include <future>

using namespace itest;

namespace {

/// Lease pools and kinds: `leased` (size 0: as many leases as asked),
/// `small` (size 2), lease-ttl 600 ms so expiries come quickly.
std::string lease_ini(const std::string& extra = "") {
  auto dir = kt::temp_dir();
  return kt::write_file(dir + "/leases.ini", R"(
[pools.leased]
size = 0
[pools.small]
size = 2
[kinds.job]
runner = "lease"
pool = "leased"
lease-ttl = 600ms
max-retries = 2
backoff = 10ms
[kinds.capped]
runner = "lease"
pool = "small"
[kinds.slow]
runner = "lease"
pool = "leased"
timeout = 400ms
max-retries = 0
)" + extra);
}

std::vector<std::string> lease_args(std::vector<std::string> more = {}) {
  std::vector<std::string> args{"--config-file=" + lease_ini()};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

/// POST /v1/leases; REQUIREs 200 and returns the leases array.
json lease(const Server& srv, json body) {
  auto r = srv.post("/v1/leases", body);
  INFO("lease " << body.dump() << " -> " << r);
  REQUIRE(r.status == 200);
  REQUIRE(r.j()["leases"].is_array());
  return r.j()["leases"];
}

Reply settle(const Server& srv, const std::string& lease, const char* op,
             const json& body = json::object()) {
  return srv.post("/v1/leases/" + lease + "/" + op, body);
}

} // namespace

TEST_CASE("leases: a worker leases a task, sees it running, completes it, and the task has its "
          "result",
          "[leases]") {
  Server srv{lease_args()};
  auto id = submit(srv, {{"kind", "job"}, {"input", {{"n", 7}}}});
  CHECK(get_task(srv, id)["status"] == "queued"); // no worker yet
  auto leases = lease(srv, {{"kinds", {"job"}}, {"max", 10}, {"worker", "w1"}});
  REQUIRE(leases.size() == 1);
  auto& l = leases[0];
  CHECK(is_uuid4(l["lease"].get<std::string>()));
  CHECK(is_iso8601_utc(l["expires_at"].get<std::string>()));
  auto expires = iso8601_to_epoch_ms(l["expires_at"]);
  CHECK(expires > now_epoch_ms() + 200);
  CHECK(expires < now_epoch_ms() + 1000);
  CHECK(l["task"]["id"] == id);
  CHECK(l["task"]["kind"] == "job");
  CHECK(l["task"]["input"] == json{{"n", 7}});
  CHECK(l["task"]["attempt"] == 1);
  CHECK(is_uuid4(l["task"]["attempt_id"].get<std::string>()));
  wait_status(srv, id, "running"); // the view follows the grant a moment later

  auto r = settle(srv, l["lease"], "complete", {{"result", {{"n", 14}}}});
  REQUIRE_STATUS(r, 200);
  CHECK(r.j() == json{{"lease", l["lease"]}, {"state", "completed"}});
  auto t = wait_terminal(srv, id);
  CHECK(t["status"] == "succeeded");
  CHECK(t["result"] == json{{"n", 14}});
  CHECK(t["attempts"] == 1);

  // Settled once: a second complete changes nothing.
  CHECK_ERROR(settle(srv, l["lease"], "complete", {{"result", 0}}), 409, "conflict", "");
  CHECK(get_task(srv, id)["result"] == json{{"n", 14}});

  auto w = srv.get("/v1/workers");
  REQUIRE_STATUS(w, 200);
  REQUIRE(w.j()["workers"].size() == 1);
  auto& worker = w.j()["workers"][0];
  CHECK(worker["name"] == "w1");
  CHECK(worker["kinds"] == json{"job"});
  CHECK(worker["leases"] == 0);
  CHECK(worker["completed"] == 1);
  CHECK(worker["failed"] == 0);
  CHECK(is_iso8601_utc(worker["last_seen"].get<std::string>()));
}

TEST_CASE("leases: a long-poll wakes up when a task arrives, and answers an empty list after wait_ms", "[leases]") {
  Server srv{lease_args()};
  auto t0 = Clock::now();
  CHECK(lease(srv, {{"kinds", {"job"}}, {"wait_ms", 300}}).empty());
  CHECK(ms_since(t0) >= 290);
  CHECK(ms_since(t0) < 3000);

  auto waiting = std::async(std::launch::async, [&] {
    auto t = Clock::now();
    auto r = srv.post("/v1/leases", json{{"kinds", {"job"}}, {"wait_ms", 20000}, {"max", 5}});
    return std::make_pair(r, ms_since(t));
  });
  std::this_thread::sleep_for(300ms);
  auto id = submit(srv, {{"kind", "job"}, {"input", json::object()}});
  auto [r, took] = waiting.get();
  REQUIRE_STATUS(r, 200);
  REQUIRE(r.j()["leases"].size() == 1);
  CHECK(r.j()["leases"][0]["task"]["id"] == id);
  CHECK(took < 5000); // woken by the submission, not by wait_ms
}

TEST_CASE("leases: an expired lease is a lost attempt, retried on another worker, the late "
          "complete gets 409 and changes nothing",
          "[leases]") {
  Server srv{lease_args()};
  auto id = submit(srv, {{"kind", "job"}, {"input", json::object()}});
  auto first = lease(srv, {{"kinds", {"job"}}, {"worker", "a"}});
  REQUIRE(first.size() == 1);
  // Worker a goes silent; after lease-ttl (600 ms) worker b gets attempt 2.
  auto second = lease(srv, {{"kinds", {"job"}}, {"worker", "b"}, {"wait_ms", 10000}});
  REQUIRE(second.size() == 1);
  CHECK(second[0]["task"]["id"] == id);
  CHECK(second[0]["task"]["attempt"] == 2);
  CHECK(second[0]["task"]["attempt_id"] != first[0]["task"]["attempt_id"]);
  // The pool tells the registry of attempt 2 as it hands out the lease: the
  // view may trail the lease's answer by a moment.
  auto t = wait_status(srv, id, "running");
  CHECK(t["attempts"] == 2);

  auto late = settle(srv, first[0]["lease"], "complete", {{"result", "from a"}});
  CHECK_ERROR(late, 409, "conflict", "expired");
  REQUIRE_STATUS(settle(srv, second[0]["lease"], "complete", {{"result", "from b"}}), 200);
  t = wait_terminal(srv, id);
  CHECK(t["status"] == "succeeded");
  CHECK(t["result"] == "from b");
  CHECK_ERROR(settle(srv, first[0]["lease"], "fail", {{"error", "late"}}), 409, "conflict", "");
  CHECK(get_task(srv, id)["result"] == "from b");
}

TEST_CASE("leases: heartbeats keep a lease past lease-ttl and their progress shows in GET",
          "[leases]") {
  Server srv{lease_args()};
  auto id = submit(srv, {{"kind", "job"}, {"input", json::object()}});
  auto l = lease(srv, {{"kinds", {"job"}}})[0];
  auto lease_id = l["lease"].get<std::string>();
  for (int i = 1; i <= 6; ++i) { // 1.2 s: twice the ttl
    std::this_thread::sleep_for(200ms);
    auto r = settle(srv, lease_id, "heartbeat",
                    {{"progress", {{"fraction", i / 10.0}, {"message", "step " + std::to_string(i)}}}});
    REQUIRE_STATUS(r, 200);
    CHECK(r.j()["lease"] == lease_id);
    CHECK(iso8601_to_epoch_ms(r.j()["expires_at"]) > now_epoch_ms() + 300);
  }
  auto t = get_task(srv, id);
  CHECK(t["status"] == "running");
  CHECK(t["attempts"] == 1);
  REQUIRE(t["progress"].is_object());
  CHECK(t["progress"]["fraction"] == Approx(0.6));
  CHECK(t["progress"]["message"] == "step 6");
  // A heartbeat without a body just renews.
  CHECK_STATUS(srv.request("POST", "/v1/leases/" + lease_id + "/heartbeat", ""), 200);
  REQUIRE_STATUS(settle(srv, lease_id, "complete"), 200);
  t = wait_terminal(srv, id);
  CHECK(t["status"] == "succeeded");
  CHECK(t["result"].is_null());
}

TEST_CASE("leases: cancelling a leased task answers the worker's next call with 409 cancelled",
          "[leases]") {
  Server srv{lease_args()};
  auto id = submit(srv, {{"kind", "job"}, {"input", json::object()}});
  auto lease_id = lease(srv, {{"kinds", {"job"}}})[0]["lease"].get<std::string>();
  auto c = srv.del("/v1/tasks/" + id);
  CHECK((c.status == 200 || c.status == 202));
  CHECK(wait_terminal(srv, id)["status"] == "cancelled");
  CHECK_ERROR(settle(srv, lease_id, "heartbeat"), 409, "cancelled", "");
  CHECK_ERROR(settle(srv, lease_id, "complete", {{"result", 1}}), 409, "cancelled", "");
  CHECK(get_task(srv, id)["status"] == "cancelled");
}

TEST_CASE("leases: fail with retry true retries, retry false fails at once", "[leases]") {
  Server srv{lease_args()};
  auto id = submit(srv, {{"kind", "job"}, {"input", json::object()}});
  auto l1 = lease(srv, {{"kinds", {"job"}}})[0];
  auto r = settle(srv, l1["lease"], "fail", {{"error", "disk full"}});
  REQUIRE_STATUS(r, 200);
  CHECK(r.j()["state"] == "failed");
  auto l2 = lease(srv, {{"kinds", {"job"}}, {"wait_ms", 5000}})[0];
  CHECK(l2["task"]["id"] == id);
  CHECK(l2["task"]["attempt"] == 2);
  REQUIRE_STATUS(settle(srv, l2["lease"], "fail", {{"error", "bad input"}, {"retry", false}}), 200);
  auto t = wait_terminal(srv, id);
  CHECK(t["status"] == "failed");
  CHECK(t["attempts"] == 2); // max-retries 2 would have allowed a third
  CHECK(t["error"] == "bad input");
  CHECK(lease(srv, {{"kinds", {"job"}}}).empty());
}

TEST_CASE("leases: the attempt timeout still bounds a heartbeating lease", "[leases]") {
  Server srv{lease_args()};
  auto id = submit(srv, {{"kind", "slow"}, {"input", json::object()}});
  auto lease_id = lease(srv, {{"kinds", {"slow"}}})[0]["lease"].get<std::string>();
  auto t = wait_terminal(srv, id);
  CHECK(t["status"] == "failed");
  CHECK(t["error"].get<std::string>().find("timed out") != std::string::npos);
  CHECK_ERROR(settle(srv, lease_id, "complete", {{"result", 1}}), 409, "conflict", "timed out");
  CHECK(get_task(srv, id)["status"] == "failed");
}

TEST_CASE("leases: many leases settle in one request, each answered on its own", "[leases]") {
  Server srv{lease_args()};
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(submit(srv, {{"kind", "job"}, {"input", {{"i", i}}}}));
  auto leases = lease(srv, {{"kinds", {"job"}}, {"max", 100}});
  REQUIRE(leases.size() == 3);
  auto gone = random_uuid4();
  json body{{"results",
             {{{"lease", leases[0]["lease"]}, {"result", {{"ok", 0}}}},
              {{"lease", leases[1]["lease"]}, {"error", "nope"}, {"retry", false}},
              {{"lease", gone}, {"result", 1}},
              {{"lease", leases[2]["lease"]}, {"result", 2}}}}};
  auto r = srv.post("/v1/leases/complete", body);
  REQUIRE_STATUS(r, 200);
  auto& out = r.j()["results"];
  REQUIRE(out.size() == 4);
  CHECK(out[0] == json{{"lease", leases[0]["lease"]}, {"state", "completed"}});
  CHECK(out[1] == json{{"lease", leases[1]["lease"]}, {"state", "failed"}});
  CHECK(out[2]["lease"] == gone);
  CHECK(out[2]["status"] == 404);
  CHECK(out[2]["code"] == "not_found");
  CHECK(out[3]["state"] == "completed");
  std::map<std::string, std::string> status;
  for (auto& l : leases)
    status[l["task"]["id"]] = wait_terminal(srv, l["task"]["id"])["status"];
  CHECK(status[leases[0]["task"]["id"]] == "succeeded");
  CHECK(status[leases[1]["task"]["id"]] == "failed");
  CHECK(status[leases[2]["task"]["id"]] == "succeeded");
  // Again: every entry is refused now, nothing changes.
  r = srv.post("/v1/leases/complete", body);
  REQUIRE_STATUS(r, 200);
  for (auto& x : r.j()["results"])
    CHECK(x.contains("status"));
}

TEST_CASE("leases: a pool's size bounds its leases, a batch of a lease kind runs through workers",
          "[leases]") {
  Server srv{lease_args()};
  for (int i = 0; i < 5; ++i)
    submit(srv, {{"kind", "capped"}, {"input", json::object()}});
  auto got = lease(srv, {{"kinds", {"capped"}}, {"max", 10}});
  CHECK(got.size() == 2);
  CHECK(lease(srv, {{"kinds", {"capped"}}, {"max", 10}}).empty());
  auto p = pools(srv)["small"];
  CHECK(p["busy"] == 2);
  CHECK(p["queued"] == 3);
  // Room comes free: a waiting worker gets the next one.
  auto waiting = std::async(std::launch::async, [&] {
    return srv.post("/v1/leases", json{{"kinds", {"capped"}}, {"max", 10}, {"wait_ms", 10000}});
  });
  std::this_thread::sleep_for(200ms);
  REQUIRE_STATUS(settle(srv, got[0]["lease"], "complete"), 200);
  auto r = waiting.get();
  REQUIRE_STATUS(r, 200);
  REQUIRE(r.j()["leases"].size() == 1);
  // Settled, so that the daemon's stop need not wait for them.
  REQUIRE_STATUS(settle(srv, got[1]["lease"], "complete"), 200);
  REQUIRE_STATUS(settle(srv, r.j()["leases"][0]["lease"], "complete"), 200);

  // A batch: items have no task id; all results come back in order.
  auto batch = std::async(std::launch::async, [&] {
    json items = json::array();
    for (int i = 0; i < 50; ++i)
      items.push_back({{"i", i}});
    return srv.post("/v1/batches", json{{"kind", "job"}, {"items", items}});
  });
  int served = 0;
  while (served < 50) {
    auto leases = lease(srv, {{"kinds", {"job"}}, {"max", 20}, {"wait_ms", 5000}});
    REQUIRE(!leases.empty());
    json results = json::array();
    for (auto& l : leases) {
      CHECK(l["task"]["id"].is_null());
      results.push_back({{"lease", l["lease"]}, {"result", l["task"]["input"]["i"].get<int>() * 2}});
    }
    REQUIRE_STATUS(srv.post("/v1/leases/complete", json{{"results", results}}), 200);
    served += static_cast<int>(leases.size());
  }
  auto b = batch.get();
  REQUIRE_STATUS(b, 200);
  REQUIRE(b.j()["results"].size() == 50);
  for (int i = 0; i < 50; ++i)
    CHECK(b.j()["results"][i] == 2 * i);
}

TEST_CASE("leases: bad input gets clear JSON errors and changes nothing", "[leases]") {
  Server srv{lease_args()};
  auto id = submit(srv, {{"kind", "job"}, {"input", json::object()}});
  CHECK_ERROR(srv.post("/v1/leases", "nope"), 400, "bad_json", "");
  CHECK_ERROR(srv.post("/v1/leases", "[1]"), 422, "invalid", "object");
  CHECK_ERROR(srv.post("/v1/leases", json::object()), 422, "invalid", "kinds");
  CHECK_ERROR(srv.post("/v1/leases", json{{"kinds", json::array()}}), 422, "invalid", "kinds");
  CHECK_ERROR(srv.post("/v1/leases", json{{"kinds", {1}}}), 422, "invalid", "kinds");
  CHECK_ERROR(srv.post("/v1/leases", json{{"kinds", {"nope"}}}), 422, "invalid", "nope");
  CHECK_ERROR(srv.post("/v1/leases", json{{"kinds", {"double"}}}), 422, "invalid", "double");
  CHECK_ERROR(srv.post("/v1/leases", json{{"kinds", {"job"}}, {"max", 0}}), 422, "invalid", "max");
  CHECK_ERROR(srv.post("/v1/leases", json{{"kinds", {"job"}}, {"max", 1001}}), 422, "invalid", "max");
  CHECK_ERROR(srv.post("/v1/leases", json{{"kinds", {"job"}}, {"max", "3"}}), 422, "invalid", "max");
  CHECK_ERROR(srv.post("/v1/leases", json{{"kinds", {"job"}}, {"wait_ms", 60001}}), 422, "invalid",
              "wait_ms");
  CHECK_ERROR(srv.post("/v1/leases", json{{"kinds", {"job"}}, {"worker", std::string(200, 'w')}}),
              422, "invalid", "worker");
  CHECK_ERROR(srv.post("/v1/leases", json{{"kinds", {"job"}}, {"mx", 3}}), 422, "invalid", "mx");
  // Unknown lease ids: well-formed or not.
  CHECK_ERROR(settle(srv, random_uuid4(), "complete"), 404, "not_found", "");
  CHECK_ERROR(settle(srv, "not-a-lease", "fail", {{"error", "x"}}), 404, "not_found", "");
  CHECK_ERROR(settle(srv, random_uuid4(), "heartbeat"), 404, "not_found", "");
  // Nothing was leased by any of that.
  CHECK(get_task(srv, id)["status"] == "queued");

  auto lease_id = lease(srv, {{"kinds", {"job"}}})[0]["lease"].get<std::string>();
  CHECK_ERROR(srv.post("/v1/leases/" + lease_id + "/complete", "{"), 400, "bad_json", "");
  CHECK_ERROR(settle(srv, lease_id, "complete", {{"result", 1}, {"extra", 2}}), 422, "invalid", "extra");
  CHECK_ERROR(settle(srv, lease_id, "fail", json::object()), 422, "invalid", "error");
  CHECK_ERROR(settle(srv, lease_id, "fail", {{"error", "x"}, {"retry", "no"}}), 422, "invalid", "retry");
  CHECK_ERROR(settle(srv, lease_id, "heartbeat", {{"progress", {{"fraction", 1.5}}}}), 422, "invalid",
              "fraction");
  CHECK_ERROR(srv.post("/v1/leases/complete", json{{"results", json::array()}}), 422, "invalid",
              "results");
  // One bad entry refuses the whole batch: the good one is not settled.
  CHECK_ERROR(srv.post("/v1/leases/complete",
                       json{{"results", {{{"lease", lease_id}, {"result", 1}}, {{"lease", "x"}}}}}),
              422, "invalid", "results[1]");
  CHECK(get_task(srv, id)["status"] == "running");
  REQUIRE_STATUS(settle(srv, lease_id, "complete", {{"result", 1}}), 200);
  CHECK(wait_terminal(srv, id)["status"] == "succeeded");
  CHECK_ERROR(srv.get("/v1/leases"), 405, "method_not_allowed", "");
  check_alive(srv);
}

TEST_CASE("leases: the routes need the token, long-polls beyond http.max-waiting get 429 busy",
          "[leases]") {
  Server srv{lease_args({"--http.auth-token=tok-lease", "--http.max-waiting=1"})};
  httplib::Headers auth{{"Authorization", "Bearer tok-lease"}};
  CHECK_ERROR(srv.post("/v1/leases", json{{"kinds", {"job"}}}), 401, "unauthorized", "");
  CHECK_ERROR(settle(srv, random_uuid4(), "complete"), 401, "unauthorized", "");
  CHECK_ERROR(srv.get("/v1/workers"), 401, "unauthorized", "");
  auto cli = srv.client();
  auto waiting = std::async(std::launch::async, [&] {
    auto c = srv.client();
    return c.Post("/v1/leases", auth, R"({"kinds":["job"],"wait_ms":3000})", "application/json");
  });
  std::this_thread::sleep_for(300ms);
  auto busy = cli.Post("/v1/leases", auth, R"({"kinds":["job"],"wait_ms":3000})", "application/json");
  REQUIRE(busy);
  CHECK(busy->status == 429);
  CHECK(json::parse(busy->body)["code"] == "busy");
  CHECK(busy->get_header_value("Retry-After") == "1");
  // Without a wait it needs no place.
  auto now = cli.Post("/v1/leases", auth, R"({"kinds":["job"]})", "application/json");
  REQUIRE(now);
  CHECK(now->status == 200);
  auto first = waiting.get();
  REQUIRE(first);
  CHECK(first->status == 200);
  auto workers = cli.Get("/v1/workers", auth);
  REQUIRE(workers);
  CHECK(workers->status == 200);
}

TEST_CASE("leases: while draining, new leases get 503 and held ones can still be settled",
          "[leases]") {
  Server srv{lease_args({"--shutdown.grace=10s"})};
  auto id = submit(srv, {{"kind", "job"}, {"input", json::object()}});
  auto lease_id = lease(srv, {{"kinds", {"job"}}})[0]["lease"].get<std::string>();
  srv.kill(SIGTERM);
  REQUIRE(wait_until([&] {
    return srv.post("/v1/leases", json{{"kinds", {"job"}}}).status == 503;
  }, 5s));
  CHECK_ERROR(srv.post("/v1/leases", json{{"kinds", {"job"}}}), 503, "shutting_down", "");
  CHECK(srv.running()); // it waits for the leased attempt
  REQUIRE_STATUS(settle(srv, lease_id, "complete", {{"result", "done"}}), 200);
  auto st = srv.wait_exit(10s);
  CHECK(st.exited);
  CHECK(st.code == 0);
}

TEST_CASE("leases: after a restart a leased task is leased again and its old lease is unknown",
          "[leases]") {
  auto store = fresh_store_path();
  auto ini = lease_ini();
  std::string id, old_lease;
  {
    Server srv{{"--config-file=" + ini, "--store.path=" + store}};
    id = submit(srv, {{"kind", "job"}, {"input", {{"x", 1}}}});
    old_lease = lease(srv, {{"kinds", {"job"}}})[0]["lease"].get<std::string>();
    wait_status(srv, id, "running"); // the view follows the grant a moment later
    // The start is written to the store in the next group commit (ms).
    std::this_thread::sleep_for(300ms);
    srv.kill(SIGKILL);
    srv.wait_exit();
  }
  Server srv{{"--config-file=" + ini, "--store.path=" + store}};
  auto leases = lease(srv, {{"kinds", {"job"}}, {"wait_ms", 5000}});
  REQUIRE(leases.size() == 1);
  CHECK(leases[0]["task"]["id"] == id);
  CHECK(leases[0]["task"]["input"] == json{{"x", 1}});
  CHECK(leases[0]["task"]["attempt"] == 2); // the lost one counts
  CHECK_ERROR(settle(srv, old_lease, "complete", {{"result", 1}}), 404, "not_found", "");
  REQUIRE_STATUS(settle(srv, leases[0]["lease"], "complete", {{"result", 2}}), 200);
  auto t = wait_terminal(srv, id);
  CHECK(t["status"] == "succeeded");
  CHECK(t["result"] == 2);
}

TEST_CASE("leases: config errors name the key", "[leases]") {
  auto dir = kt::temp_dir();
  auto bad_ttl = kt::write_file(dir + "/ttl.ini", "[pools.p]\nsize = 0\n[kinds.k]\nrunner = \"lease\"\n"
                                                   "pool = \"p\"\nlease-ttl = 5ms\n");
  auto r = start_expect_failure({"--config-file=" + bad_ttl});
  CHECK_FALSE(r.started);
  CHECK(r.output.find("kinds.k.lease-ttl") != std::string::npos);
  auto wrong_key = kt::write_file(dir + "/key.ini", "[pools.p]\nsize = 0\n[kinds.k]\nrunner = \"exec\"\n"
                                                    "pool = \"p\"\ncommand = [\"/bin/cat\"]\nlease-ttl = 5s\n");
  r = start_expect_failure({"--config-file=" + wrong_key});
  CHECK_FALSE(r.started);
  CHECK(r.output.find("kinds.k.lease-ttl") != std::string::npos);
  // A lease kind runs on its own pool only.
  Server srv{lease_args()};
  CHECK_ERROR(srv.post("/v1/tasks", json{{"kind", "job"}, {"pool", "small"}, {"input", json::object()}}),
              422, "invalid", "pool");
}

TEST_CASE("readiness: /readyz answers ready without the token, then 503 draining while held work "
          "finishes, /healthz stays the liveness check",
          "[readyz]") {
  Server srv{lease_args({"--http.auth-token=tok-ready", "--shutdown.grace=10s"})};
  // "starting" until the registry has answered once (a few ms after the
  // listening line; longer on a loaded machine).
  auto r = srv.get("/readyz");
  for (auto t0 = Clock::now(); r.status == 503 && ms_since(t0) < 5000;
       r = srv.get("/readyz")) {
    CHECK(r.j() == json{{"status", "starting"}});
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE_STATUS(r, 200);
  CHECK(r.j() == json{{"status", "ready"}});
  httplib::Headers auth{{"Authorization", "Bearer tok-ready"}};
  auto cli = srv.client();
  auto sub = cli.Post("/v1/tasks", auth, R"({"kind":"job","input":{}})", "application/json");
  REQUIRE(sub);
  REQUIRE(sub->status == 202);
  auto got = cli.Post("/v1/leases", auth, R"({"kinds":["job"]})", "application/json");
  REQUIRE(got);
  auto lease_id = json::parse(got->body)["leases"].at(0)["lease"].get<std::string>();
  srv.kill(SIGTERM);
  REQUIRE(wait_until([&] { return srv.get("/readyz").status == 503; }, 5s));
  r = srv.get("/readyz");
  CHECK(r.j()["status"] == "draining");
  CHECK_STATUS(srv.get("/healthz"), 200); // alive: it is finishing work
  // Heartbeats keep the lease while draining; then it is settled.
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(300ms);
    auto hb = cli.Post("/v1/leases/" + lease_id + "/heartbeat", auth, "", "application/json");
    REQUIRE(hb);
    CHECK(hb->status == 200);
    CHECK(srv.running());
  }
  auto done = cli.Post("/v1/leases/" + lease_id + "/complete", auth, R"({"result":1})",
                       "application/json");
  REQUIRE(done);
  CHECK(done->status == 200);
  CHECK(srv.wait_exit(10s).code == 0);
}

TEST_CASE("leases: an attempt goes to a waiting worker of its own kind when two lease kinds share "
          "a pool, draining answers waiting long-polls at once",
          "[leases]") {
  Server srv{lease_args({"--shutdown.grace=10s"})};
  // Both wait on pool 'leased': one for 'slow', one for 'job'.
  auto wait_for = [&](const char* kind) {
    return std::async(std::launch::async, [&srv, kind] {
      auto t = Clock::now();
      auto r = srv.post("/v1/leases", json{{"kinds", {kind}}, {"wait_ms", 8000}});
      return std::make_pair(r, ms_since(t));
    });
  };
  auto slow_waiter = wait_for("slow");
  std::this_thread::sleep_for(150ms); // the older request
  auto job_waiter = wait_for("job");
  std::this_thread::sleep_for(150ms);
  auto id = submit(srv, {{"kind", "job"}, {"input", json::object()}});
  auto [r, took] = job_waiter.get();
  REQUIRE_STATUS(r, 200);
  REQUIRE(r.j()["leases"].size() == 1);
  CHECK(r.j()["leases"][0]["task"]["id"] == id);
  CHECK(took < 4000);
  REQUIRE_STATUS(settle(srv, r.j()["leases"][0]["lease"], "complete"), 200);
  // SIGTERM: the 'slow' long-poll is answered now, not after its 8 s.
  auto t0 = Clock::now();
  srv.kill(SIGTERM);
  auto [slow, _] = slow_waiter.get();
  CHECK(ms_since(t0) < 3000);
  REQUIRE_STATUS(slow, 200);
  CHECK(slow.j()["leases"].empty());
  CHECK(srv.wait_exit(10s).code == 0);
}

TEST_CASE("leases: attempts for a long-poll whose client went away go back unstarted, not lost",
          "[leases]") {
  Server srv{lease_args()};
  // A worker asks, then gives up (closes its connection) while waiting.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(srv.port()));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  std::string body = R"({"kinds":["job"],"wait_ms":3000})";
  std::string request = "POST /v1/leases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  REQUIRE(::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
  std::this_thread::sleep_for(200ms);
  ::close(fd);
  std::this_thread::sleep_for(100ms);
  auto id = submit(srv, {{"kind", "job"}, {"input", json::object()}});
  // The next worker gets it as a first attempt: the lost long-poll's lease
  // was handed back, not left to expire.
  auto leases = lease(srv, {{"kinds", {"job"}}, {"wait_ms", 5000}});
  REQUIRE(leases.size() == 1);
  CHECK(leases[0]["task"]["id"] == id);
  CHECK(leases[0]["task"]["attempt"] == 1);
  REQUIRE_STATUS(settle(srv, leases[0]["lease"], "complete", {{"result", 1}}), 200);
  auto t = wait_terminal(srv, id);
  CHECK(t["status"] == "succeeded");
  CHECK(t["attempts"] == 1);
}

TEST_CASE("leases: a paused pool grants no leases, and a worker waiting "
          "for one gets it when the pool resumes",
          "[leases][operator]") {
  Server srv{lease_args()};
  REQUIRE_STATUS(srv.post("/v1/pools/leased/pause", ""), 200);
  auto id = submit(srv, {{"kind", "job"}, {"input", {{"n", 1}}}});
  CHECK(lease(srv, {{"kinds", {"job"}}, {"max", 1}, {"wait_ms", 300}})
            .empty());
  CHECK(get_task(srv, id)["status"] == "queued");
  // Catch assertions stay on this thread.
  auto waiting = std::async(std::launch::async, [&] {
    return srv.post("/v1/leases", json{{"kinds", {"job"}}, {"max", 1},
                                       {"wait_ms", 5000}});
  });
  std::this_thread::sleep_for(300ms);
  REQUIRE_STATUS(srv.post("/v1/pools/leased/resume", ""), 200);
  auto answer = waiting.get();
  REQUIRE_STATUS(answer, 200);
  auto got = answer.j()["leases"];
  REQUIRE(got.size() == 1);
  CHECK(got[0]["task"]["id"] == id);
  wait_status(srv, id, "running"); // the view follows the grant a moment later
}
