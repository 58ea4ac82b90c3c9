// Operator actions: retry a failed or cancelled task, cancel many tasks at
// once, pause and resume a pool. Each is durable (the registry writes it to
// the store) and each is also in the dashboard and actorq-cli.
#include "http/routes.hpp"

namespace actorq::http {

/// POST /v1/tasks/{id}/retry, DELETE /v1/tasks?status=&kind=,
/// POST /v1/pools/{name}/pause and /resume.
void operator_routes(router& r, const route_context& c) {
  r.on("POST", R"(/v1/tasks/([^/]+)/retry)",
       route_doc{"tasks", "Retry a failed or cancelled task"}
           .about("Runs the task again as a new cycle of attempts: same id, "
                  "status queued, its attempts counting on (the cycle may "
                  "make 1 + max_retries attempts of its own); the previous "
                  "cycle's result, error and times are cleared. Durable: a "
                  "restart resumes it. Needs a store (with "
                  "store.path = :memory: the input of an ended task is gone: "
                  "409).")
           .path("id", "The task's id")
           .answer(202, "Task", "Queued again")
           .errors({404, 409, 429, 503}),
       [c](const httplib::Request& req, auto& res) {
         auto id = path_id(req);
         if (!id)
           return reply(res, task_not_found);
         auto view = ask<task_view>(*c.sys, c.actors->registry, immediate,
                                    retry_atom::value, *id);
         reply_with(res, view, render_task, 202);
       });
  r.on("DELETE", "/v1/tasks",
       route_doc{"tasks", "Cancel many tasks"}
           .about("Cancels every unfinished task that matches: queued and "
                  "retrying ones at once, running ones when their attempt "
                  "is stopped (as DELETE /v1/tasks/{id}). At least one of "
                  "status and kind is required, so nothing cancels every "
                  "task by accident.")
           .query("status",
                  {{"type", "string"},
                   {"enum", {"queued", "running", "retrying", "scheduled", "waiting"}}},
                  "Only tasks in this state")
           .query("kind", {{"type", "string"}}, "Only tasks of this kind")
           .answer(200, "CancelledCount", "How many were cancelled (running ones: cancel requested)")
           .errors({422}),
       [c](const httplib::Request& req, auto& res) {
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
         paused ? route_doc{"pools", "Pause a pool"}
                      .about("While paused the pool starts nothing queued "
                             "(not on its workers, worker nodes or remote "
                             "workers, nor as leases): running work "
                             "finishes, submissions are still accepted and "
                             "queue. Kept in the store: a restart keeps the "
                             "pool paused.")
                      .path("name", "The pool's name")
                      .answer(200, "Pool", "The pool, paused")
                      .errors({404, 503})
                : route_doc{"pools", "Resume a paused pool"}
                      .about("Starts the pool's queued work again.")
                      .path("name", "The pool's name")
                      .answer(200, "Pool", "The pool, running")
                      .errors({404, 503}),
         [c, paused = paused](const httplib::Request& req, auto& res) {
           auto stats =
               ask<pool_stats>(*c.sys, c.actors->registry, immediate,
                               hold_atom::value, path_param(req), paused);
           reply_with(res, stats, render_pool);
         });
}

} // namespace actorq::http
