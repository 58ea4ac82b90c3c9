// GET /openapi.json and GET /docs: public with a token set, and the document
// and the routes the server answers agree both ways. (The document's
// validity and its schemas against real answers: tests/openapi/.)
#include "server.hpp"

#include <regex>
#include <set>

using namespace itest;

namespace {

json openapi(const Server& srv) {
  auto r = srv.get("/openapi.json");
  REQUIRE_STATUS(r, 200);
  REQUIRE(r.is_json);
  return r.j();
}

/// A concrete path for a documented one: each {parameter} a made-up id.
std::string concrete(const std::string& templ) {
  static const std::regex param{"\\{[^}]+\\}"};
  return std::regex_replace(templ, param, random_uuid4());
}

bool no_route(const Reply& r) {
  return r.status == 404 && r.is_json && r.j().value("detail", "").rfind("no route", 0) == 0;
}

std::set<std::string> methods_in(const std::string& allow) {
  std::set<std::string> out;
  std::regex word{"[A-Z]+"};
  for (std::sregex_iterator i{allow.begin(), allow.end(), word}, end; i != end; ++i)
    out.insert(i->str());
  return out;
}

}  // namespace

TEST_CASE("openapi: /docs and /openapi.json are served without the token, with their content "
          "types",
          "[openapi]") {
  Server srv{{"--http.auth-token=tok-docs"}};
  auto doc = srv.get("/openapi.json");
  REQUIRE_STATUS(doc, 200);
  CHECK(doc.header("Content-Type").rfind("application/json", 0) == 0);
  REQUIRE(doc.is_json);
  CHECK(doc.j()["openapi"] == "3.1.0");
  auto page = srv.get("/docs");
  REQUIRE_STATUS(page, 200);
  CHECK(page.header("Content-Type").rfind("text/html", 0) == 0);
  CHECK(page.body.find("/dashboard/docs.js") != std::string::npos);
  for (auto [path, type] : {std::pair{"/dashboard/docs.js", "text/javascript"},
                            std::pair{"/dashboard/docs.css", "text/css"}}) {
    auto r = srv.get(path);
    CHECK_STATUS(r, 200);
    CHECK(r.header("Content-Type").rfind(type, 0) == 0);
  }
  // The data routes still need it, and the document says which do.
  CHECK_ERROR(srv.get("/v1/tasks"), 401, "unauthorized", "");
  auto& paths = doc.j()["paths"];
  CHECK(paths["/docs"]["get"]["security"] == json::array());
  CHECK(paths["/openapi.json"]["get"]["security"] == json::array());
  CHECK(paths["/v1/tasks"]["get"]["security"] == json::array({{{"bearer", json::array()}}}));
  CHECK(paths["/v1/tasks"]["get"]["responses"].contains("401"));
}

TEST_CASE("openapi: every documented operation is routed, and every path's methods are the "
          "documented ones",
          "[openapi]") {
  Server srv;
  auto doc = openapi(srv);
  size_t operations = 0;
  for (auto& [templ, item] : doc["paths"].items()) {
    auto path = concrete(templ);
    std::set<std::string> documented;
    for (auto& [method, op] : item.items()) {
      std::string m;
      for (char ch : method)
        m += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      documented.insert(m);
      ++operations;
      auto r = srv.request(m, path, m == "POST" ? "{}" : "");
      INFO(m << " " << templ << ": " << r);
      CHECK_FALSE(no_route(r));
      CHECK(r.status != 405);
    }
    // A method no route of this path serves: 405, and Allow lists exactly
    // the documented methods (a route installed without going through the
    // table, or a documented one not installed, would differ).
    auto r = srv.request("PATCH", path, "{}");
    INFO("PATCH " << templ << ": " << r);
    CHECK(r.status == 405);
    CHECK(methods_in(r.header("Allow")) == documented);
  }
  CHECK(operations >= 40);
}

TEST_CASE("openapi: paths the document does not have are 404 no route", "[openapi]") {
  Server srv;
  auto doc = openapi(srv);
  for (auto path : {"/v1", "/v2/tasks", "/v1/tasks/a/b/c", "/docs/", "/openapi.yaml",
                    "/dashboard/index.html", "/dashboard/docs.html", "/dashboard/nothing.js",
                    "/v1/leases/a/b"}) {
    CHECK_FALSE(doc["paths"].contains(path));
    for (auto method : {"GET", "POST", "DELETE"}) {
      auto r = srv.request(method, path, method == std::string{"POST"} ? "{}" : "");
      INFO(method << " " << path << ": " << r);
      CHECK(no_route(r));
    }
  }
}
