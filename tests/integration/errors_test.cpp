// Errors and hostile input: every error is JSON {"detail","code"}, and the
// service goes on serving after each one.
#include "server.hpp"

using namespace itest;

namespace {

const std::vector<std::string> kPostRoutes = {
    "/v1/tasks",          "/v1/batches",       "/process-multiple", "/submit-task",
    "/submit-heavy-task", "/process-with-limit", "/process-cpu-bound", "/start-task",
};

std::string nested_arrays(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

std::string nested_objects(size_t depth) {
  std::string s;
  s.reserve(depth * 6 + 2);
  for (size_t i = 0; i < depth; ++i) s += "{\"a\":";
  s += "1";
  s += std::string(depth, '}');
  return s;
}

// A string literal that contains NUL bytes, kept whole.
template <size_t N>
std::string with_nul(const char (&lit)[N]) {
  return std::string(lit, N - 1);
}

}  // namespace

bool is_seed_route(const std::string& route) { return route.rfind("/v1/", 0) != 0; }

/// v1 routes: 400 bad_json; seed routes: 422 in FastAPI's shape (code
/// bad_json, or invalid for an empty body: "field required").
void check_malformed(const Reply& r, const std::string& route, bool empty) {
  if (!is_seed_route(route))
    return check_error_reply(r, 400, "bad_json", "");
  check_error_reply(r, 422, empty ? "invalid" : "bad_json", "");
  CHECK(r.j()["detail"].is_array());
}

TEST_CASE("errors: malformed JSON bodies are 400 bad_json on every v1 POST route, 422 in "
          "FastAPI's shape on the seed routes",
          "[errors]") {
  Server srv;
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"truncated object", "{"},
      {"empty body", ""},
      {"plain text", "not json"},
      {"trailing comma", R"({"kind":"echo",})"},
      {"invalid UTF-8 bytes", "\xff\xfe\xfd"},
      {"invalid UTF-8 inside a string", "{\"kind\":\"echo\",\"input\":{\"s\":\"\xc3\x28\"}}"},
      {"overlong UTF-8 encoding", "{\"kind\":\"echo\",\"input\":{\"s\":\"\xc0\xaf\"}}"},
      {"lone surrogate escape", R"({"kind":"echo","input":{"s":"\ud800"}})"},
      {"unterminated array", "[1,2"},
      {"trailing garbage", R"({"value":1}garbage)"},
      {"bad literal", "nul"},
      {"NUL byte", with_nul("{\"value\":1\0}")},
      {"unterminated string", "\"abc"},
  };
  for (auto& route : kPostRoutes) {
    for (auto& b : bodies) {
      INFO("POST " << route << " with " << b.first);
      auto r = srv.post(route, b.second);
      INFO("reply: " << r);
      check_malformed(r, route, b.second.empty());
    }
    check_alive(srv);
  }
}

TEST_CASE("errors: deeply nested JSON is 400 bad_json, never a crash", "[errors][hostile]") {
  Server srv;
  const std::string deep_arrays = nested_arrays(100000);
  const std::string deep_objects = nested_objects(100000);
  const std::string unclosed = std::string(1000000, '[');
  const std::string deep_in_input =
      R"({"kind":"echo","input":{"x":)" + nested_arrays(100000) + "}}";
  const std::string deep_in_items = R"({"kind":"echo","items":[{"x":)" + nested_arrays(100000) + "}]}";
  for (auto& route : kPostRoutes) {
    for (auto* body : {&deep_arrays, &deep_objects, &unclosed}) {
      INFO("POST " << route << " with " << body->size() << " bytes of nesting");
      auto r = srv.post(route, *body);
      INFO("reply: " << r);
      check_malformed(r, route, false);
    }
    check_alive(srv);
  }
  CHECK_ERROR(srv.post("/v1/tasks", deep_in_input), 400, "bad_json", "");
  CHECK_ERROR(srv.post("/v1/batches", deep_in_items), 400, "bad_json", "");
  check_alive(srv);

  SECTION("moderate nesting is still accepted") {
    // Assumption: a depth of 20 is well inside the limit.
    json v = 1;
    for (int i = 0; i < 20; ++i) v = json::array({v});
    auto id = submit(srv, {{"kind", "echo"}, {"input", {{"x", v}}}});
    auto t = wait_terminal(srv, id);
    CHECK(t["status"] == "succeeded");
    CHECK(t["result"] == json({{"x", v}}));
  }
  SECTION("the service still runs tasks afterwards") {
    auto id = submit(srv, {{"kind", "double"}, {"input", {{"value", 50}}}});
    CHECK(wait_terminal(srv, id)["result"] == json({{"result", 100}}));
  }
}

TEST_CASE("errors: invalid task submissions are 422 naming the field", "[errors]") {
  Server srv;
  struct Case {
    std::string body;
    std::string field;
  };
  const std::vector<Case> cases = {
      {R"({})", "kind"},
      {R"({"kind":5})", "kind"},
      {R"({"kind":null})", "kind"},
      {R"({"kind":"nope"})", "kind"},
      {R"({"kind":"DOUBLE","input":{"value":1}})", "kind"},
      {R"({"kind":"double"})", "value"},
      {R"({"kind":"double","input":{}})", "value"},
      {R"({"kind":"double","input":{"value":"x"}})", "value"},
      {R"({"kind":"double","input":{"value":1e301}})", "value"},
      {R"({"kind":"double","input":{"value":true}})", "value"},
      {R"({"kind":"double","input":{"value":18446744073709551615}})", "value"},
      {R"({"kind":"double","input":{"value":[1.5]}})", "value"},
      {R"({"kind":"double","input":{"value":1,"delay_ms":"x"}})", "delay_ms"},
      {R"({"kind":"double","input":{"value":1,"delay_ms":-1}})", "delay_ms"},
      {R"({"kind":"double","input":[1]})", "input"},
      {R"({"kind":"double","input":"value"})", "input"},
      {R"({"kind":"double","input":{"value":1},"pool":"nope"})", "pool"},
      {R"({"kind":"double","input":{"value":1},"pool":5})", "pool"},
      {R"({"kind":"double","input":{"value":1},"max_retries":-1})", "max_retries"},
      {R"({"kind":"double","input":{"value":1},"max_retries":"3"})", "max_retries"},
      {R"({"kind":"double","input":{"value":1},"max_retries":1.5})", "max_retries"},
      {R"({"kind":"double","input":{"value":1},"backoff_ms":-5})", "backoff_ms"},
      {R"({"kind":"double","input":{"value":1},"backoff_ms":"x"})", "backoff_ms"},
      {R"({"kind":"double","input":{"value":1},"timeout_ms":-5})", "timeout_ms"},
      {R"({"kind":"double","input":{"value":1},"timeout_ms":"x"})", "timeout_ms"},
      {R"({"kind":"square","input":{"value":3037000500}})", "value"},
      {R"({"kind":"square","input":{"value":-3037000500}})", "value"},
      {R"({"kind":"square","input":{"value":9223372036854775807}})", "value"},
      {R"({"kind":"square","input":{"value":"3"}})", "value"},
      {R"({"kind":"primes","input":{"below":100000001}})", "below"},
      {R"({"kind":"primes","input":{"below":"10"}})", "below"},
      {R"({"kind":"primes","input":{}})", "below"},
      {R"({"kind":"sleep","input":{"ms":3600001}})", "ms"},
      {R"({"kind":"sleep","input":{"ms":-1}})", "ms"},
      {R"({"kind":"sleep","input":{"ms":"1"}})", "ms"},
      {R"({"kind":"sleep","input":{}})", "ms"},
      {R"({"kind":"flaky","input":{"fail_times":-1}})", "fail_times"},
      {R"({"kind":"flaky","input":{"fail_times":"1"}})", "fail_times"},
      {R"({"kind":"echo","input":"str"})", "input"},
      {R"({"kind":"echo","input":[1,2]})", "input"},
      {R"([1,2,3])", ""},
      {R"("just a string")", ""},
      {R"(null)", ""},
      {R"(42)", ""},
  };
  for (auto& c : cases) {
    INFO("POST /v1/tasks " << c.body);
    CHECK_ERROR(srv.post("/v1/tasks", c.body), 422, "invalid", c.field);
  }
  check_alive(srv);

  SECTION("boundary values are accepted") {
    auto sq = submit(srv, {{"kind", "square"}, {"input", {{"value", 3037000499LL}}}});
    CHECK(wait_terminal(srv, sq)["result"] == json({{"result", 9223372030926249001LL}}));
    auto sq2 = submit(srv, {{"kind", "square"}, {"input", {{"value", -3037000499LL}}}});
    CHECK(wait_terminal(srv, sq2)["result"] == json({{"result", 9223372030926249001LL}}));
    auto fl = submit(srv, {{"kind", "flaky"}, {"input", {{"fail_times", 0}}}, {"max_retries", 0}});
    CHECK(wait_terminal(srv, fl)["status"] == "succeeded");
    auto sl = submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 3600000}}}});
    auto d = srv.del("/v1/tasks/" + sl);
    INFO("reply: " << d);
    CHECK((d.status == 200 || d.status == 202));
    CHECK(wait_terminal(srv, sl)["status"] == "cancelled");
  }
}

TEST_CASE("errors: query parameters are validated (wait_ms 0..60000, limit 1..1000)",
          "[errors]") {
  Server srv;
  auto id = submit(srv, {{"kind", "double"}, {"input", {{"value", 1}}}});
  wait_terminal(srv, id);
  for (std::string bad : {"-1", "60001", "abc", "1.5", "99999999999999999999", "%ff"}) {
    INFO("wait_ms=" << bad);
    CHECK_ERROR(srv.get("/v1/tasks/" + id + "?wait_ms=" + bad), 422, "invalid", "wait_ms");
  }
  auto ok0 = srv.get("/v1/tasks/" + id + "?wait_ms=0");
  CHECK_STATUS(ok0, 200);
  auto ok60 = srv.get("/v1/tasks/" + id + "?wait_ms=60000");
  CHECK_STATUS(ok60, 200);
  for (std::string bad : {"0", "1001", "-5", "x", "99999999999999999999"}) {
    INFO("limit=" << bad);
    CHECK_ERROR(srv.get("/v1/tasks?limit=" + bad), 422, "invalid", "limit");
  }
  check_alive(srv);
}

TEST_CASE("errors: a wrong method on a known path is 405 with a JSON body", "[errors]") {
  Server srv;
  auto id = submit(srv, {{"kind", "double"}, {"input", {{"value", 1}}}});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"PUT", "/v1/tasks"},
      {"PATCH", "/v1/tasks/" + id},
      {"GET", "/v1/tasks/" + id + "/retry"},
      {"GET", "/v1/pools/io/pause"},
      {"DELETE", "/v1/pools/io/resume"},
      {"POST", "/v1/tasks/" + id},
      {"PUT", "/v1/tasks/" + id},
      {"GET", "/v1/batches"},
      {"DELETE", "/v1/kinds"},
      {"POST", "/v1/kinds"},
      {"POST", "/v1/pools"},
      {"POST", "/healthz"},
      {"DELETE", "/healthz"},
      {"GET", "/process-multiple"},
      {"GET", "/submit-task"},
      {"GET", "/submit-heavy-task"},
      {"GET", "/process-with-limit"},
      {"GET", "/process-cpu-bound"},
      {"PUT", "/start-task"},
      {"POST", "/get-result/" + random_uuid4()},
      {"DELETE", "/check-task/" + random_uuid4()},
      {"POST", "/task-status/" + random_uuid4()},
  };
  for (auto& c : cases) {
    auto r = srv.request(c.first, c.second, c.first == "GET" || c.first == "DELETE" ? "" : "{}");
    CHECK_ERROR(r, 405, "", "");
  }
  check_alive(srv);
}

TEST_CASE("errors: unknown paths are 404 JSON not_found", "[errors]") {
  Server srv;
  // (GET / is the dashboard.)
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"GET", "/nope"},
      {"GET", "/v1"},
      {"GET", "/v1/unknown"},
      {"GET", "/v2/tasks"},
      {"POST", "/v2/tasks"},
      {"GET", "/v1/tasks/a/b"},
      {"DELETE", "/nothing/here"},
      {"GET", "/%00"},
      {"GET", "/" + std::string(2000, 'x')},
  };
  for (auto& c : cases) {
    auto r = srv.request(c.first, c.second, c.first == "POST" ? "{}" : "");
    CHECK_ERROR(r, 404, "not_found", "");
  }
  check_alive(srv);
}

TEST_CASE("errors: protocol abuse on the socket does not stop the service",
          "[errors][hostile]") {
  Server srv;
  const std::string h = srv.connect_host();
  const int p = srv.port();
  const std::vector<std::pair<std::string, std::string>> abuse = {
      {"garbage request line", "GARBAGE\r\n\r\n"},
      {"nothing at all", ""},
      {"half a request line", "GET /heal"},
      {"huge header", "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: " + std::string(200000, 'b') +
                          "\r\n\r\n"},
      {"many headers", [] {
         std::string s = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
         for (int i = 0; i < 5000; ++i) s += "X-H" + std::to_string(i) + ": v\r\n";
         return s + "\r\n";
       }()},
      {"body shorter than Content-Length",
       "POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
       "Content-Length: 100\r\n\r\n{\"kind\""},
      {"negative Content-Length",
       "POST /v1/tasks HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: -1\r\n\r\n{}"},
      {"bad chunk size",
       "POST /v1/tasks HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
      {"raw bytes in the path", "GET /v1/tasks/\xff\xfe\x01 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
      {"raw NUL in the path", with_nul("GET /v1/tasks/a\0b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")},
      {"huge URI", "GET /v1/tasks/" + std::string(100000, 'a') + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
      {"HTTP/0.9 style", "GET /healthz\r\n\r\n"},
  };
  for (auto& a : abuse) {
    INFO("abuse: " << a.first);
    auto resp = raw_exchange(h, p, a.second, 500ms);
    INFO("response: " << resp.substr(0, 400));
    // Any error answer is still JSON {"detail","code"}.
    if (resp.rfind("HTTP/1.1 4", 0) == 0 || resp.rfind("HTTP/1.1 5", 0) == 0) {
      auto body_at = resp.find("\r\n\r\n");
      REQUIRE(body_at != std::string::npos);
      auto body = resp.substr(body_at + 4);
      json j = json::parse(body, nullptr, false);
      CHECK(j.is_object());
      if (j.is_object()) {
        CHECK(j.value("detail", json()).is_string());
        CHECK(j.value("code", json()).is_string());
      }
    }
    check_alive(srv);
  }

  SECTION("a well-formed chunked request still works") {
    std::string body = R"({"kind":"double","input":{"value":4}})";
    char len[16];
    std::snprintf(len, sizeof len, "%zx", body.size());
    std::string req = "POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                      std::string(len) + "\r\n" + body + "\r\n0\r\n\r\n";
    auto resp = raw_exchange(h, p, req, 5s);
    INFO("response: " << resp);
    CHECK(resp.rfind("HTTP/1.1 202", 0) == 0);
  }
}

TEST_CASE("errors: many bad requests in parallel with good ones", "[errors][hostile]") {
  Server srv;
  std::atomic<int> bad_json_ok{0}, good_ok{0}, other{0};
  std::vector<std::thread> ths;
  for (int t = 0; t < 4; ++t) {
    ths.emplace_back([&, t] {
      auto cli = srv.client();
      for (int i = 0; i < 25; ++i) {
        if ((i + t) % 2 == 0) {
          auto r = cli.Post("/v1/tasks", "{\"kind\":", "application/json");
          if (r && r->status == 400) ++bad_json_ok;
          else ++other;
        } else {
          auto r = cli.Post("/process-multiple", R"([{"value":1},{"value":2}])", "application/json");
          if (r && r->status == 200 && r->body.find("\"result\"") != std::string::npos) ++good_ok;
          else ++other;
        }
      }
    });
  }
  for (auto& th : ths) th.join();
  CHECK(bad_json_ok == 50);
  CHECK(good_ok == 50);
  CHECK(other == 0);
  check_alive(srv);
}
