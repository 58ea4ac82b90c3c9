// Operator actions: retry a failed or cancelled task, cancel many tasks at
// once, pause and resume a pool. Each is durable (the registry writes it to
// the store) and each is also in the dashboard and actorq-cli.
#include "http/routes.hpp"

namespace actorq::http {

/// POST /v1/tasks/{id}/retry, DELETE /v1/tasks?status=&kind=,
/// POST /v1/pools/{name}/pause and /resume.
void operator_routes(router& r, const route_context& c) {
  r.on("POST", R"(/v1/tasks/([^/]+)/retry)",
       [c](const httplib::Request& req, auto& res) {
         auto id = path_id(req);
         if (!id)
           return reply(res, task_not_found);
         auto view = ask<task_view>(*c.sys, c.actors->registry, immediate,
                                    retry_atom::value, *id);
         reply_with(res, view, render_task, 202);
       });
  r.on("DELETE", "/v1/tasks", [c](const httplib::Request& req, auto& res) {
    auto filter = parse_cancel_filter(param(req, "status"), param(req, "kind"),
                                      *c.codec->kinds);
    if (auto err = std::get_if<http_error>(&filter))
      return reply(res, *err);
    auto n = ask<uint64_t>(*c.sys, c.actors->registry, immediate,
                           cancel_atom::value, std::get<task_filter>(filter));
    reply_with(res, n, [](uint64_t count) {
      return json{{"cancelled", count}}.dump();
    });
  });
  for (auto [verb, paused] : {std::pair{"pause", true}, {"resume", false}})
    r.on("POST", std::string{R"(/v1/pools/([^/]+)/)"} + verb,
         [c, paused = paused](const httplib::Request& req, auto& res) {
           auto stats =
               ask<pool_stats>(*c.sys, c.actors->registry, immediate,
                               hold_atom::value, req.matches[1].str(), paused);
           reply_with(res, stats, [](const pool_stats& p) {
             auto all = json::parse(render_pools({p}));
             return all[0].dump();
           });
         });
}

} // namespace actorq::http
