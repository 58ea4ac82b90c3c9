// The OpenAPI 3.1 description of the HTTP API (GET /openapi.json, shown by
// GET /docs). Every route is registered with a route_doc beside its handler
// (router::on in http/routes.hpp), so a route cannot exist undescribed; the
// document is rendered from the route table. Schemas live in openapi.cpp.
#pragma once

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <string>
#include <vector>

namespace actorq::http {

/// What one route does, for the document. Built with chained calls:
///
///   route_doc{"tasks", "Read a task"}
///       .path("id", "the task's id (a UUID)")
///       .query("wait_ms", {{"type", "integer"}}, "long-poll this long")
///       .answer(200, "Task", "the task")
///       .errors({404, 422})
///
/// Schema names ("Task") are components/schemas of openapi.cpp; "" is an
/// answer without a body. Path parameters are named in the order of the
/// pattern's groups: `/v1/tasks/([^/]+)` with .path("id") is
/// `/v1/tasks/{id}` in the document.
struct route_doc {
  /// Keeps keys in the order written (the document reads top-down).
  using schema_json = nlohmann::ordered_json;

  struct param {
    std::string in; // "path", "query" or "header"
    std::string name;
    schema_json schema;
    std::string description;
    bool required;
  };
  struct response {
    int status;
    std::string schema;     // a component name, "" for no body
    std::string media_type; // "application/json" unless said otherwise
    std::string description;
  };

  route_doc(std::string tag, std::string summary)
      : tag(std::move(tag)), summary(std::move(summary)) {}

  /// A longer description (Markdown) under the summary.
  route_doc& about(std::string text);
  /// The next group of the pattern, a string.
  route_doc& path(std::string name, std::string text);
  route_doc& query(std::string name, schema_json schema, std::string text);
  route_doc& header(std::string name, schema_json schema, std::string text);
  /// The request body: a JSON value of component `schema`.
  route_doc& body(std::string schema, std::string text, bool required = true);
  /// A JSON answer of component `schema` ("" for none).
  route_doc& answer(int status, std::string schema, std::string text);
  /// A non-JSON answer (a page, a script, text).
  route_doc& content(int status, std::string media_type, std::string text);
  /// Error answers in the common shape (component Error).
  route_doc& errors(std::initializer_list<int> statuses);

  std::string tag; // one of openapi.cpp's tags
  std::string summary;
  std::string description;
  std::vector<param> params;
  std::string body_schema; // "" for no body
  std::string body_text;
  bool body_required = true;
  std::vector<response> responses;
};

/// The OpenAPI path of a route pattern: each group of the regular expression
/// becomes the next path parameter of `doc`, escaped characters lose their
/// backslash. Throws std::logic_error when groups and parameters differ.
std::string openapi_path(const std::string& pattern, const route_doc& doc);

struct route_table;

/// The whole document (JSON text) for the routes in `table`: each one's
/// pattern, method and doc. Throws std::logic_error on an unknown tag or
/// schema name, or two routes with one path and method.
std::string render_openapi(const route_table& table);

} // namespace actorq::http
