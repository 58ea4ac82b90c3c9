// POST /v1/batches: input order, per-item errors, counts, validation.
#include "server.hpp"

using namespace itest;

namespace {

// POSTs a batch, REQUIREs 200 and the {results, errors, succeeded, failed} shape.
json run_batch(const Server& srv, const json& body) {
  auto r = srv.post("/v1/batches", body);
  INFO("batch " << body.dump().substr(0, 500) << " -> " << r);
  REQUIRE(r.status == 200);
  REQUIRE(r.is_json);
  REQUIRE(r.j().is_object());
  for (const char* f : {"results", "errors", "succeeded", "failed"}) {
    INFO("field " << f);
    REQUIRE(r.j().contains(f));
  }
  REQUIRE(r.j()["results"].is_array());
  REQUIRE(r.j()["errors"].is_array());
  REQUIRE(r.j()["succeeded"].is_number_integer());
  REQUIRE(r.j()["failed"].is_number_integer());
  size_t n = body.at("items").size();
  REQUIRE(r.j()["results"].size() == n);
  REQUIRE(r.j()["errors"].size() == n);
  // Consistency: each item is either a result with a null error, or the reverse.
  long long ok = 0, bad = 0;
  for (size_t i = 0; i < n; ++i) {
    INFO("item " << i);
    auto& res = r.j()["results"][i];
    auto& err = r.j()["errors"][i];
    if (err.is_null()) {
      CHECK(!res.is_null());
      ++ok;
    } else {
      CHECK(err.is_string());
      CHECK(res.is_null());
      ++bad;
    }
  }
  CHECK(r.j()["succeeded"] == ok);
  CHECK(r.j()["failed"] == bad);
  return r.j();
}

}  // namespace

TEST_CASE("batch: double items come back in input order with null errors", "[batch]") {
  Server srv;
  json items = json::array();
  json expected = json::array();
  const int n = 50;
  for (int i = 0; i < n; ++i) {
    // Later items finish first: the coordinator must still keep input order.
    items.push_back({{"value", i - 10}, {"delay_ms", (n - i) * 4}});
    expected.push_back({{"result", 2 * (i - 10)}});
  }
  auto b = run_batch(srv, {{"kind", "double"}, {"items", items}});
  CHECK(b["results"] == expected);
  CHECK(b["errors"] == json(std::vector<std::nullptr_t>(n, nullptr)));
  CHECK(b["succeeded"] == n);
  CHECK(b["failed"] == 0);
}

TEST_CASE("batch: one failing item never fails the others", "[batch]") {
  Server srv;

  SECTION("flaky items with max_retries 1") {
    auto b = run_batch(srv, {{"kind", "flaky"},
                             {"items", json::array({{{"fail_times", 0}},
                                                    {{"fail_times", 5}},
                                                    {{"fail_times", 1}},
                                                    {{"fail_times", 2}}})},
                             {"max_retries", 1},
                             {"backoff_ms", 10}});
    CHECK(b["results"] == json::array({{{"attempt", 1}}, nullptr, {{"attempt", 2}}, nullptr}));
    CHECK(b["errors"] == json::array({nullptr, "injected failure", nullptr, "injected failure"}));
    CHECK(b["succeeded"] == 2);
    CHECK(b["failed"] == 2);
  }
  SECTION("a timed-out item among fast ones") {
    auto t0 = Clock::now();
    auto b = run_batch(srv, {{"kind", "sleep"},
                             {"items", json::array({{{"ms", 10}}, {{"ms", 2000}}, {{"ms", 20}}})},
                             {"timeout_ms", 200},
                             {"max_retries", 0}});
    CHECK(b["results"][0] == json({{"slept_ms", 10}}));
    CHECK(b["results"][1].is_null());
    CHECK(b["results"][2] == json({{"slept_ms", 20}}));
    CHECK(b["errors"][0].is_null());
    CHECK(b["errors"][1].is_string());
    CHECK(b["errors"][2].is_null());
    CHECK(b["succeeded"] == 2);
    CHECK(b["failed"] == 1);
    CHECK(ms_since(t0) < 1500);  // cut by the timeout, not by the 2 s sleep
  }
  SECTION("crashing items fail alone and the pool keeps serving") {
    auto b = run_batch(srv, {{"kind", "crash"},
                             {"items", json::array({json::object(), json::object()})},
                             {"max_retries", 0}});
    CHECK(b["results"] == json::array({nullptr, nullptr}));
    CHECK(b["errors"][0].is_string());
    CHECK(b["errors"][1].is_string());
    CHECK(b["succeeded"] == 0);
    CHECK(b["failed"] == 2);
    auto d = run_batch(srv, {{"kind", "double"},
                             {"items", json::array({{{"value", 1}}, {{"value", 2}}})}});
    CHECK(d["results"] == json::array({{{"result", 2}}, {{"result", 4}}}));
    CHECK(d["failed"] == 0);
  }
  check_alive(srv);
}

TEST_CASE("batch: every kind", "[batch][kinds]") {
  Server srv;
  SECTION("square") {
    auto b = run_batch(srv, {{"kind", "square"},
                             {"items", json::array({{{"value", 3}},
                                                    {{"value", -4}},
                                                    {{"value", 3037000499LL}}})}});
    CHECK(b["results"] == json::parse(R"([{"result":9},{"result":16},{"result":9223372030926249001}])"));
    CHECK(b["succeeded"] == 3);
  }
  SECTION("primes") {
    auto b = run_batch(srv, {{"kind", "primes"},
                             {"items", json::array({{{"below", 10}},
                                                    {{"below", 2}},
                                                    {{"below", 100}},
                                                    {{"below", 1000000}}})}});
    CHECK(b["results"] ==
          json::parse(R"([{"count":4},{"count":0},{"count":25},{"count":78498}])"));
  }
  SECTION("echo") {
    json items = json::parse(R"([{}, {"a":[1,2,{"b":null}]}, {"s":"h\u00e9llo","n":1.5,"t":true}])");
    auto b = run_batch(srv, {{"kind", "echo"}, {"items", items}});
    CHECK(b["results"] == items);
  }
  SECTION("sleep") {
    auto b = run_batch(srv, {{"kind", "sleep"}, {"items", json::array({{{"ms", 0}}, {{"ms", 30}}})}});
    CHECK(b["results"] == json::parse(R"([{"slept_ms":0},{"slept_ms":30}])"));
  }
}

TEST_CASE("batch: 2000 double items answer all results in order", "[batch][fanout]") {
  Server srv;
  json items = json::array();
  for (int i = 0; i < 2000; ++i) items.push_back({{"value", i}, {"delay_ms", 50}});
  auto t0 = Clock::now();
  auto b = run_batch(srv, {{"kind", "double"}, {"items", items}});
  auto ms = ms_since(t0);
  for (int i = 0; i < 2000; ++i) {
    INFO("item " << i);
    REQUIRE(b["results"][i] == json({{"result", 2 * i}}));
  }
  CHECK(b["succeeded"] == 2000);
  INFO("took " << ms << " ms");
  CHECK(ms < 5000);
}

TEST_CASE("batch: 1000 sleeps of 100 ms run concurrently without blocking threads",
          "[batch][fanout]") {
  Server srv;
  json items = json::array();
  for (int i = 0; i < 1000; ++i) items.push_back({{"ms", 100}});
  auto t0 = Clock::now();
  auto b = run_batch(srv, {{"kind", "sleep"}, {"items", items}});
  auto ms = ms_since(t0);
  CHECK(b["succeeded"] == 1000);
  CHECK(b["results"][999] == json({{"slept_ms", 100}}));
  INFO("took " << ms << " ms (sequential would be 100 s)");
  CHECK(ms >= 100);
  CHECK(ms < 5000);
}

TEST_CASE("batch: invalid batches are rejected with 422 naming the field", "[batch][errors]") {
  Server srv;
  struct Case {
    std::string body;
    std::string field;
  };
  const std::vector<Case> cases = {
      {R"({"items":[{"value":1}]})", "kind"},
      {R"({"kind":"nope","items":[{"value":1}]})", "kind"},
      {R"({"kind":7,"items":[{"value":1}]})", "kind"},
      {R"({"kind":"double"})", "items"},
      {R"({"kind":"double","items":{"value":1}})", "items"},
      {R"({"kind":"double","items":[{"value":1}],"pool":"nope"})", "pool"},
      {R"({"kind":"double","items":[{"value":1}],"max_retries":-1})", "max_retries"},
      {R"({"kind":"double","items":[{"value":1}],"max_retries":"1"})", "max_retries"},
      {R"([{"value":1}])", ""},
  };
  for (auto& c : cases) {
    INFO("body " << c.body);
    CHECK_ERROR(srv.post("/v1/batches", c.body), 422, "invalid", c.field);
  }
  check_alive(srv);

  SECTION("an invalid item: either the whole batch is 422, or only that item fails") {
    for (auto body : {json{{"kind", "double"},
                           {"items", json::array({{{"value", 1}}, {{"value", "x"}}, {{"value", 3}}})}},
                      json{{"kind", "square"},
                           {"items", json::array({{{"value", 1}}, {{"value", 3037000500LL}}, {{"value", 3}}})}}}) {
      auto r = srv.post("/v1/batches", body);
      INFO("reply: " << r);
      if (r.status == 422) {
        CHECK_ERROR(r, 422, "invalid", "");
      } else {
        REQUIRE(r.status == 200);
        auto b = r.j();
        CHECK(b["results"][0].is_object());
        CHECK(b["results"][1].is_null());
        CHECK(b["errors"][1].is_string());
        CHECK(b["results"][2].is_object());
        CHECK(b["succeeded"] == 2);
        CHECK(b["failed"] == 1);
      }
    }
    check_alive(srv);
  }
  SECTION("an empty batch: 200 with empty arrays, or 422 naming items") {
    auto r = srv.post("/v1/batches", R"({"kind":"double","items":[]})");
    INFO("reply: " << r);
    if (r.status == 422) {
      CHECK_ERROR(r, 422, "invalid", "items");
    } else {
      REQUIRE(r.status == 200);
      CHECK(r.j() == json::parse(R"({"results":[],"errors":[],"succeeded":0,"failed":0})"));
    }
  }
}
