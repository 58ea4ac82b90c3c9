#include "http/routes.hpp"

namespace actorq::http {

/// GET /openapi.json: the document of every route in the table, rendered
/// once, here, after every other route group has registered its routes
/// (server.cpp calls this last; the table is sealed after it). A mistake in
/// a route_doc (an unknown schema or tag) stops the start-up here. The page
/// showing the document, GET /docs, is one of the dashboard's files
/// (routes_dashboard.cpp).
void openapi_routes(router& r) {
  auto text = std::make_shared<std::string>();
  r.on("GET", "/openapi.json",
       route_doc{"docs", "This API's OpenAPI 3.1 document"}
           .about("Rendered from the same table that installs the routes: "
                  "every route is here. Generate a client from it, or read "
                  "it at GET /docs.")
           .answer(200, "OpenAPI", "The document"),
       [text](const auto&, auto& res) {
         res.set_header("Cache-Control", "no-cache");
         reply(res, 200, *text);
       });
  *text = render_openapi(*r.table);
  r.table->sealed = true;
}

} // namespace actorq::http
