#include "http/routes.hpp"

namespace actorq::http {

namespace {

/// The seed routes' answer to a submission: {"task_id": "..."}.
std::string render_task_id_only(const task_view& v) {
  std::string out = "{\"task_id\":\"";
  out += v.id.to_string();
  return out + "\"}";
}

} // namespace

/// Submitting, reading, listing and cancelling tasks. Registered first:
/// httplib tries routes in order, and these are the hot ones (the seed
/// routes' task reads included).
void task_routes(router& r, const route_context& c) {
  r.on("POST", "/v1/tasks", [c](const auto& req, auto& res) {
    with_body(req, res, [&](const json& body) {
      auto spec = parse_task(body, *c.codec);
      if (auto key = param_header(req, "Idempotency-Key"))
        set_idempotency_key(spec, *key);
      c.submit(std::move(spec), res, render_task, 202);
    });
  });
  r.on("GET", R"(/v1/tasks/([^/]+))",
       [c](const httplib::Request& req, auto& res) {
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
         // Over http.max-waiting: the current state at once (as wait_ms=0),
         // so that short requests always find a thread.
         if (wait_ms == 0)
           return c.read_task(req, res, render_task);
         wait_budget::guard place{*c.waits};
         if (!place)
           return c.read_task(req, res, render_task);
         auto view =
             ask<task_view>(*c.sys, c.actors->registry,
                            std::chrono::milliseconds{wait_ms} + promise_grace,
                            wait_atom::value, *id, wait_ms);
         reply_with(res, view, render_task);
       });
  r.on("GET", R"(/get-result/([^/]+))", [c](const auto& req, auto& res) {
    c.read_task(req, res, render_seed_result);
  });
  r.on("GET", R"(/check-task/([^/]+))", [c](const auto& req, auto& res) {
    c.read_task(req, res, render_seed_check);
  });
  r.on("GET", R"(/task-status/([^/]+))", [c](const auto& req, auto& res) {
    c.read_task(req, res, render_seed_status);
  });
  r.on("GET", "/v1/tasks", [c](const httplib::Request& req, auto& res) {
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
  r.on("POST", "/v1/batches", [c](const auto& req, auto& res) {
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
  r.on(method, pattern + "/", [](const httplib::Request& req, auto& res) {
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
        c.submit(parse_seed_task(route, body, *c.codec), res,
                 render_task_id_only, 200);
      });
    };
  };
  static const std::pair<const char*, seed_route> batches[] = {
      {"/process-multiple", seed_route::process_multiple},
      {"/process-with-limit", seed_route::process_with_limit},
      {"/process-cpu-bound", seed_route::process_cpu_bound},
  };
  static const std::pair<const char*, seed_route> submits[] = {
      {"/submit-task", seed_route::submit_task},
      {"/submit-heavy-task", seed_route::submit_heavy_task},
      {"/start-task", seed_route::start_task},
  };
  for (auto& [path, route] : batches)
    r.on("POST", path, seed_batch(route));
  for (auto& [path, route] : submits)
    r.on("POST", path, seed_submit(route));
  for (auto& [path, route] : batches)
    redirect_trailing_slash(r, "POST", path);
  for (auto& [path, route] : submits)
    redirect_trailing_slash(r, "POST", path);
  for (auto pattern : {R"(/get-result/([^/]+))", R"(/check-task/([^/]+))",
                       R"(/task-status/([^/]+))"})
    redirect_trailing_slash(r, "GET", pattern);
}

} // namespace actorq::http
