// GET routes served by prefix: only LITERAL([^/]+) patterns that no earlier
// pattern can take paths from, and for each path the route httplib's regex
// dispatch (first match in registration order) would pick.
#include "http/segment_routes.hpp"

#include <catch2/catch.hpp>

#include <regex>
#include <string>
#include <vector>

using namespace actorq::http;

namespace {

/// The index (in registration order) of the first pattern that matches
/// `path` as httplib's dispatch finds it, or -1.
int httplib_pick(const std::vector<std::string>& patterns,
                 const std::string& path) {
  for (size_t i = 0; i < patterns.size(); ++i)
    if (std::regex_match(path, std::regex{patterns[i]}))
      return static_cast<int>(i);
  return -1;
}

} // namespace

TEST_CASE("segment routes take only a literal prefix and one segment") {
  segment_routes t;
  CHECK(t.add(R"(/v1/tasks/([^/]+))") == 0);
  CHECK(t.add(R"(/v1/tasks/([^/]+)/input)") == -1); // a suffix
  CHECK(t.add("/v1/kinds") == -1);                   // no segment
  CHECK(t.add(R"(/v1/(tasks|runs)/([^/]+))") == -1); // not literal
  CHECK(t.add(R"(/get-result/([^/]+))") == 1);
  CHECK(t.add(R"(([^/]+))") == -1); // no prefix
}

TEST_CASE("segment routes find one non-empty segment without a slash") {
  segment_routes t;
  REQUIRE(t.add(R"(/v1/tasks/([^/]+))") == 0);
  REQUIRE(t.add(R"(/task-status/([^/]+))") == 1);
  auto m = t.find("/v1/tasks/abc");
  CHECK(m.index == 0);
  CHECK(m.segment_at == 10);
  CHECK(t.find("/task-status/x").index == 1);
  CHECK(t.find("/v1/tasks/").index == -1);
  CHECK(t.find("/v1/tasks").index == -1);
  CHECK(t.find("/v1/tasks/abc/").index == -1);
  CHECK(t.find("/v1/tasks/abc/input").index == -1);
  CHECK(t.find("/v1/tasksabc").index == -1);
  CHECK(t.find("/v2/tasks/abc").index == -1);
}

TEST_CASE("segment routes leave a route to httplib when an earlier one may "
          "take its paths") {
  segment_routes t;
  CHECK(t.add("/v1/tasks/stats") == -1);          // literal, not a route here
  CHECK(t.add(R"(/v1/tasks/([^/]+))") == -1);     // stats would come first
  CHECK(t.add(R"(/v1/p.ols/([^/]+))") == -1);     // '.' is a metacharacter
  CHECK(t.add(R"(/v1/pools/([^/]+))") == -1);     // p.ols may match
  CHECK(t.add("/v1/nodes/all/") == -1);
  CHECK(t.add(R"(/v1/nodes/([^/]+))") == 0);      // all/ has a slash after
  CHECK(t.add(R"(/v1/nodes/x([^/]+))") == -1);    // nodes/([^/]+) first
}

TEST_CASE("segment routes answer as httplib's first-match dispatch would") {
  // The order server.cpp registers actorq's GET routes in, and more.
  std::vector<std::string> patterns{
      R"(/v1/tasks/([^/]+))",     R"(/get-result/([^/]+))",
      R"(/check-task/([^/]+))",   R"(/task-status/([^/]+))",
      "/v1/tasks",                R"(/v1/tasks/([^/]+)/input)",
      R"(/get-result/([^/]+)/)",  R"(/task-status/([^/]+)/)",
      "/v1/kinds",                R"(/v1/pools/([^/]+))",
      "/openapi.json",            R"(/v1/batches/([^/]+))",
      R"(/(.*))",                 R"(/late/([^/]+))"};
  segment_routes t;
  std::vector<int> served; // pattern index by table index
  for (size_t i = 0; i < patterns.size(); ++i)
    if (t.add(patterns[i]) >= 0)
      served.push_back(static_cast<int>(i));
  CHECK(served.size() == 6); // all but /late/…, which /(.*) takes first
  for (std::string path :
       {"/v1/tasks/1b4e28ba-2fa1-11d2-883f-0016d3cca427", "/v1/tasks/x",
        "/v1/tasks/x/input", "/v1/tasks/", "/v1/tasks", "/get-result/7",
        "/get-result/7/", "/check-task/7", "/task-status/7",
        "/task-status/7/", "/v1/pools/io", "/v1/pools/io/pause",
        "/v1/batches/b", "/late/x", "/openapi.json", "/nothing",
        "/v1/tasks/a b", "/v1/tasks/%2F"}) {
    INFO(path);
    auto m = t.find(path);
    int ours = m.index < 0 ? -1 : served[static_cast<size_t>(m.index)];
    auto theirs = httplib_pick(patterns, path);
    if (m.index >= 0)
      CHECK(ours == theirs);
    else
      CHECK((theirs < 0
             || std::find(served.begin(), served.end(), theirs)
                  == served.end()));
  }
}
