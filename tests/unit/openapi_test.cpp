// The OpenAPI document's pieces: route patterns to OpenAPI paths, and the
// mistakes in a route_doc that must stop the server rather than be served.
#include "http/routes.hpp"

#include <catch2/catch.hpp>

using namespace actorq;
using namespace actorq::http;

TEST_CASE("openapi: openapi_path turns a pattern's groups into the named path parameters") {
  CHECK(openapi_path("/v1/tasks", route_doc{"tasks", "x"}) == "/v1/tasks");
  CHECK(openapi_path(R"(/v1/tasks/([^/]+))", route_doc{"tasks", "x"}.path("id", "")) ==
        "/v1/tasks/{id}");
  CHECK(openapi_path(R"(/v1/leases/([^/]+)/complete)",
                     route_doc{"leases", "x"}.query("q", {}, "").path("lease", "")) ==
        "/v1/leases/{lease}/complete");
  CHECK(openapi_path(R"(/a/(x|(y))/b/([0-9]+))",
                     route_doc{"tasks", "x"}.path("one", "").path("two", "")) ==
        "/a/{one}/b/{two}");
  CHECK(openapi_path(R"(/dashboard/chart\.min\.js)", route_doc{"dashboard", "x"}) ==
        "/dashboard/chart.min.js");
  CHECK_THROWS_AS(openapi_path(R"(/v1/tasks/([^/]+))", route_doc{"tasks", "x"}),
                  std::logic_error);
  CHECK_THROWS_AS(openapi_path("/v1/tasks", route_doc{"tasks", "x"}.path("id", "")),
                  std::logic_error);
}

TEST_CASE("openapi: a route table renders, and a route_doc naming an unknown tag or schema does not") {
  route_table table;
  table.add(R"(/v1/tasks/([^/]+))", "GET",
            route_doc{"tasks", "Read"}.path("id", "").answer(200, "Task", "it").errors({404}));
  auto doc = json::parse(render_openapi(table));
  CHECK(doc["openapi"] == "3.1.0");
  auto& op = doc["paths"]["/v1/tasks/{id}"]["get"];
  CHECK(op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] ==
        "#/components/schemas/Task");
  CHECK(op["responses"].contains("404"));
  CHECK(op["responses"].contains("default"));
  CHECK(op["parameters"][0]["in"] == "path");
  CHECK(doc["components"]["schemas"].contains("Task"));

  route_table bad_tag;
  bad_tag.add("/x", "GET", route_doc{"no-such-tag", "x"});
  CHECK_THROWS_AS(render_openapi(bad_tag), std::logic_error);
  route_table bad_schema;
  bad_schema.add("/x", "GET", route_doc{"tasks", "x"}.answer(200, "NoSuchSchema", ""));
  CHECK_THROWS_AS(render_openapi(bad_schema), std::logic_error);
  route_table twice;
  twice.add("/x", "GET", route_doc{"tasks", "x"});
  twice.add("/x", "GET", route_doc{"tasks", "y"});
  CHECK_THROWS_AS(render_openapi(twice), std::logic_error);

  // Once the document is rendered, a late route would be missing from it.
  table.sealed = true;
  CHECK_THROWS_AS(table.add("/late", "GET", route_doc{"tasks", "late"}), std::logic_error);
}
