#include "http/routes.hpp"

#include <mutex>

namespace actorq::http {

/// GET /openapi.json: the document of every route in the table. Rendered
/// once, on the first request: by then every route group has registered its
/// routes, whatever order server.cpp installs them in. (The page showing it,
/// GET /docs, is one of the dashboard's files: routes_dashboard.cpp.)
void openapi_routes(router& r) {
  struct cached {
    std::once_flag once;
    std::string text;
  };
  auto doc = std::make_shared<cached>();
  r.on("GET", "/openapi.json",
       route_doc{"docs", "This API's OpenAPI 3.1 document"}
           .about("Rendered from the same table that installs the routes: "
                  "every route is here. Generate a client from it, or read "
                  "it at GET /docs.")
           .answer(200, "OpenAPI", "The document"),
       [table = r.table, doc](const auto&, auto& res) {
         std::call_once(doc->once,
                        [&] { doc->text = render_openapi(*table); });
         res.set_header("Cache-Control", "no-cache");
         reply(res, 200, doc->text);
       });
}

} // namespace actorq::http
