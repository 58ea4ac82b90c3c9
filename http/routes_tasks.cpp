#include "http/routes.hpp"

namespace actorq::http {

namespace {

/// The seed routes' answer to a submission: {"task_id": "..."}.
std::string render_task_id_only(const task_view& v) {
  std::string out = "{\"task_id\":\"";
  out += v.id.to_string();
  return out + "\"}";
}

/// GET /v1/tasks/{id}[?wait_ms=W]: the task now, or (long-poll) when it
/// ends or W ms have passed, whichever is first.
void read_or_wait(const route_context& c, const httplib::Request& req,
                  httplib::Response& res) {
  auto wait = param(req, "wait_ms");
  if (wait == nullptr)
    return c.read_task(req, res, render_task);
  auto ms = parse_int_param("wait_ms", *wait, 0, 60000);
  if (auto err = std::get_if<http_error>(&ms))
    return reply(res, *err);
  auto id = path_id(req);
  if (!id)
    return reply(res, task_not_found);
  auto wait_ms = std::get<int64_t>(ms);
  if (wait_ms == 0)
    return c.read_task(req, res, render_task);
  // Ended already (the common case for a client that polls): its view at
  // once, without the registry.
  task_view now;
  auto source = c.read_here(*id, now);
  if (source == view_source::not_found)
    return reply(res, task_not_found);
  if (source == view_source::memory && is_terminal(now.status))
    return reply(res, 200, render_task(now));
  // Over http.max-waiting: the current state at once (as wait_ms=0), so
  // that short requests always find a thread.
  wait_budget::guard place{*c.waits};
  if (!place)
    return c.read_task(req, res, render_task);
  // Answered late where the connection allows it: the registry's thread
  // writes the answer when the task ends or wait_ms passes, and the place
  // in the budget is given back then.
  auto held = std::make_shared<wait_budget::guard>(std::move(place));
  ask_and_answer<task_view>(
      *c.sys, req, res, std::chrono::milliseconds{wait_ms} + promise_grace,
      [held](parsed<task_view>& view, httplib::Response& res) mutable {
        held.reset();
        reply_with(res, view, render_task);
      },
      c.actors->registry, wait_atom::value, *id, wait_ms);
}

/// The Python service's task reads: the same task, in its shapes.
struct seed_read {
  const char* pattern;
  const char* summary;
  const char* schema; // of the 200 answer, in the OpenAPI components
  const char* answer;
  std::string (*render)(const task_view&);
};

const seed_read seed_reads[] = {
    {R"(/get-result/([^/]+))", "A seed task's result", "SeedResult",
     "The result, or its status", render_seed_result},
    {R"(/check-task/([^/]+))", "A seed task's status and result", "SeedCheck",
     "Its status", render_seed_check},
    {R"(/task-status/([^/]+))", "A seed task's state", "SeedStatus",
     "Its state, as the seed's TaskState", render_seed_status},
};

} // namespace

/// Submitting, reading, listing and cancelling tasks. Registered first:
/// httplib tries routes in order, and these are the hot ones (the seed
/// routes' task reads included).
void task_routes(router& r, const route_context& c) {
  r.on("POST", "/v1/tasks",
       route_doc{"tasks", "Submit a task"}
           .about("Queues one task of a kind; answers at once with the task "
                  "(status queued). Poll GET /v1/tasks/{id}, or long-poll "
                  "with ?wait_ms.")
           .header("Idempotency-Key",
                   {{"type", "string"}, {"minLength", 1}, {"maxLength", 255}},
                   "Submitting again with the same key answers the first "
                   "task instead of a new one; with a different request "
                   "(kind, pool, input, max_retries, backoff_ms, timeout_ms) "
                   "it answers 422 idempotency_mismatch")
           .body("TaskRequest", "The task")
           .answer(202, "Task", "Queued (Location: /v1/tasks/{id})")
           .errors({400, 409, 422, 429, 503}),
       [c](const auto& req, auto& res) {
    with_body(req, res, [&](const json& body) {
      auto spec = parse_task(body, *c.codec);
      if (auto key = param_header(req, "Idempotency-Key"))
        set_idempotency_key(spec, *key);
      c.submit(req, std::move(spec), res, render_task, 202);
    });
  });
  r.on("GET", R"(/v1/tasks/([^/]+))",
       route_doc{"tasks", "Read a task"}
           .path("id", "The task's id")
           .query("wait_ms",
                  {{"type", "integer"}, {"minimum", 0}, {"maximum", 60000}},
                  "Long-poll: answer when the task ends or after this many "
                  "milliseconds, whichever is first (at once when "
                  "http.max-waiting requests are already waiting)")
           .answer(200, "Task", "The task")
           .errors({404, 422}),
       [c](const httplib::Request& req, auto& res) {
         read_or_wait(c, req, res);
       });
  for (auto& s : seed_reads)
    r.on("GET", s.pattern,
         route_doc{"seed", s.summary}
             .path("task_id", "The task's id")
             .answer(200, s.schema, s.answer)
             .errors({404}),
         [c, render = s.render](const auto& req, auto& res) {
           c.read_task(req, res, render);
         });
  r.on("GET", "/v1/tasks",
       route_doc{"tasks", "List tasks"}
           .about("Newest first, a page at a time: pass `next` of one page "
                  "as `cursor` for the next.")
           .query("status", {{"$ref", "#/components/schemas/TaskStatus"}},
                  "Only tasks with this status")
           .query("kind", {{"type", "string"}}, "Only tasks of this kind")
           .query("limit",
                  {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}},
                  "Tasks per page (default 100)")
           .query("cursor", {{"type", "string"}},
                  "`next` of the previous page")
           .answer(200, "TaskPage", "One page")
           .errors({422}),
       [c](const httplib::Request& req, auto& res) {
    auto filter = parse_filter(param(req, "status"), param(req, "kind"),
                               param(req, "limit"), param(req, "cursor"),
                               *c.codec->kinds);
    if (auto err = std::get_if<http_error>(&filter))
      return reply(res, *err);
    auto page = ask<task_page>(*c.sys, c.actors->registry, immediate,
                               list_atom::value, std::get<task_filter>(filter));
    reply_with(res, page, render_page);
  });
  r.on("DELETE", R"(/v1/tasks/([^/]+))",
       route_doc{"tasks", "Cancel a task"}
           .about("A queued or retrying task is cancelled at once (200); a "
                  "running one is asked to stop (202, cancel_requested; it "
                  "ends cancelled). An ended task: 409.")
           .path("id", "The task's id")
           .answer(200, "Task", "The task, cancelled")
           .answer(202, "Task", "The task, asked to stop")
           .errors({404, 409}),
       [c](const httplib::Request& req, auto& res) {
         auto id = path_id(req);
         if (!id)
           return reply(res, task_not_found);
         auto view = ask<task_view>(*c.sys, c.actors->registry, immediate,
                                    cancel_atom::value, *id);
         auto running = std::holds_alternative<task_view>(view)
                        && !is_terminal(std::get<task_view>(view).status);
         reply_with(res, view, render_task, running ? 202 : 200);
       });
}

/// POST /v1/batches: fan out, gather, answer in input order.
void batch_routes(router& r, const route_context& c) {
  r.on("POST", "/v1/batches",
       route_doc{"batches", "Run a batch"}
           .about("Runs one task per item and answers when all have ended "
                  "(or after http.batch-timeout), results in input order.")
           .body("BatchRequest", "The kind, options and items")
           .answer(200, "BatchResult", "Every item's result or error")
           .errors({400, 413, 422, 503, 504}),
       [c](const auto& req, auto& res) {
    with_body(req, res, [&](const json& body) {
      c.run_batch(parse_batch(body, *c.codec), res, render_batch);
    });
  });
}

/// Parses a seed route's body and calls `f` with it, or answers as FastAPI
/// would (422, "detail": [{"loc", "msg", "type"}]).
template <class F>
void with_seed_body(const httplib::Request& req, httplib::Response& res, F f) {
  auto body = parse_seed_body(req.body);
  if (auto err = std::get_if<http_error>(&body))
    return reply(res, *err);
  f(std::get<json>(body));
}

/// FastAPI answers a path with a trailing slash by 307 to the one without
/// (redirect_slashes); clients of the Python service may rely on it.
void redirect_trailing_slash(router& r, const std::string& method,
                             const std::string& pattern) {
  route_doc doc{"seed", "Redirects to the path without the slash"};
  doc.about("As FastAPI does (redirect_slashes): 307 keeps the method and "
            "body.");
  if (pattern.find('(') != std::string::npos)
    doc.path("task_id", "The task's id");
  doc.answer(307, "", "Location: the path without the slash");
  r.on(method, pattern + "/", std::move(doc),
       [](const httplib::Request& req, auto& res) {
    auto target = req.target.empty() ? req.path : req.target;
    auto query = target.find('?');
    auto path = target.substr(0, query);
    while (path.size() > 1 && path.back() == '/')
      path.pop_back();
    res.status = 307;
    res.set_header("Location", query == std::string::npos
                                   ? path
                                   : path + target.substr(query));
  });
}

/// The Python service's batch and submit routes (its task reads are among
/// the hot task routes).
void seed_routes(router& r, const route_context& c) {
  auto batch_doc = [](const char* summary) {
    return route_doc{"seed", summary}
        .body("SeedItems", "The items")
        .answer(200, "SeedBatchResults", "Each item's result, in order")
        .answer(422, "SeedValidationError", "A body or item is not valid")
        .errors({413, 503, 504});
  };
  auto submit_doc = [](const char* summary) {
    return route_doc{"seed", summary}
        .body("SeedItem", "The item")
        .answer(200, "SeedTaskId", "The new task's id")
        .answer(422, "SeedValidationError", "The body is not valid")
        .errors({503});
  };
  auto seed_batch = [c](seed_route route) {
    return [c, route](const httplib::Request& req, httplib::Response& res) {
      with_seed_body(req, res, [&](const json& body) {
        c.run_batch(parse_seed_batch(route, body, *c.codec), res,
                    render_seed_batch);
      });
    };
  };
  auto seed_submit = [c](seed_route route) {
    return [c, route](const httplib::Request& req, httplib::Response& res) {
      with_seed_body(req, res, [&](const json& body) {
        c.submit(req, parse_seed_task(route, body, *c.codec), res,
                 render_task_id_only, 200);
      });
    };
  };
  struct seed_path {
    const char* path;
    seed_route route;
    const char* summary;
  };
  static const seed_path batches[] = {
      {"/process-multiple", seed_route::process_multiple,
       "Double each value (1 s each, pool io)"},
      {"/process-with-limit", seed_route::process_with_limit,
       "Process each value (2 s each, pool limited)"},
      {"/process-cpu-bound", seed_route::process_cpu_bound,
       "Square each value (pool cpu)"},
  };
  static const seed_path submits[] = {
      {"/submit-task", seed_route::submit_task,
       "Submit a doubling task (2 s, pool io)"},
      {"/submit-heavy-task", seed_route::submit_heavy_task,
       "Submit a heavy doubling task (5 s, pool heavy)"},
      {"/start-task", seed_route::start_task,
       "Submit a doubling task that may fail first (3 retries)"},
  };
  for (auto& b : batches)
    r.on("POST", b.path, batch_doc(b.summary), seed_batch(b.route));
  for (auto& s : submits)
    r.on("POST", s.path, submit_doc(s.summary), seed_submit(s.route));
  for (auto& b : batches)
    redirect_trailing_slash(r, "POST", b.path);
  for (auto& s : submits)
    redirect_trailing_slash(r, "POST", s.path);
  for (auto pattern : {R"(/get-result/([^/]+))", R"(/check-task/([^/]+))",
                       R"(/task-status/([^/]+))"})
    redirect_trailing_slash(r, "GET", pattern);
}

} // namespace actorq::http
