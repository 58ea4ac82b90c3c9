// The HTTP bridge's toolkit for route groups: asking actors from a handler
// thread, answering (JSON errors included), the route table and router, and
// what every handler shares (route_context). Each route group is a function
// over a router, in its own file (routes_*.cpp); server.cpp installs them.
//
// Adding a route: r.on(method, pattern, doc, handler), where doc (a route_doc,
// http/openapi.hpp) describes it for GET /openapi.json and GET /docs; a route
// cannot be registered without one. For example:
//
//   r.on("POST", R"(/v1/pools/([^/]+)/pause)",
//        route_doc{"pools", "Pause a pool"}
//            .about("Queued work waits; running work finishes.")
//            .path("name", "the pool's name")
//            .answer(200, "Pool", "the pool, paused")
//            .errors({404}),
//        [c](const httplib::Request& req, httplib::Response& res) { ... });
//
// The pattern's groups become the path parameters in order (here
// /v1/pools/{name}/pause). Schema names ("Pool") are the components/schemas
// in http/openapi.cpp: add a new body's schema there. Every operation also
// gets a "default" error answer (the Error shape) and, unless its path is
// public (public_path), a 401 and the bearer security requirement.
#pragma once

#include "actors/coordinator.hpp"
#include "http/codec.hpp"
#include "http/openapi.hpp"
#include "http/segment_routes.hpp"
#include "http/server.hpp"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace actorq::http {

using namespace std::chrono_literals;


/// Calls whose handler answers at once (get, list, submit, cancel, stats)
/// need no timer: a request still in the mailbox of an actor that dies is
/// bounced with an error. Calls answered later through a response promise
/// (wait, batch) always carry a finite timeout: CAF 0.17 has no
/// broken-promise error, so a lost promise would block the thread forever.
/// Skipping the timer saves the clock's lock and tree on every read.
inline const caf::duration immediate{caf::infinite};
constexpr auto promise_grace = std::chrono::seconds{30};

/// This thread's handle into the actor system (created on first use).
inline caf::scoped_actor& thread_self(caf::actor_system& sys) {
  thread_local std::unique_ptr<caf::scoped_actor> self;
  thread_local caf::actor_system* owner = nullptr;
  if (!self || owner != &sys) {
    self = std::make_unique<caf::scoped_actor>(sys);
    owner = &sys;
  }
  return *self;
}

/// Sends one request and blocks this thread until the reply or the timeout.
template <class Result, class Handle, class Timeout, class... Ts>
parsed<Result> ask(caf::actor_system& sys, const Handle& dest,
                   const Timeout& timeout, Ts&&... xs) {
  parsed<Result> result = http_error{500, "internal", "no reply"};
  thread_self(sys)
      ->request(dest, timeout, std::forward<Ts>(xs)...)
      .receive([&](Result& x) { result = std::move(x); },
               [&](caf::error& err) { result = from_actor_error(err); });
  return result;
}

/// When the answer to a call with `timeout` is due at the latest.
inline late_answer::clock::time_point
deadline_after(const caf::duration& timeout) {
  if (!timeout.valid()) // caf::infinite
    return late_answer::clock::time_point::max();
  auto at = late_answer::clock::now();
  at += timeout; // CAF's conversion of its time units
  return at;
}
template <class Rep, class Period>
late_answer::clock::time_point
deadline_after(std::chrono::duration<Rep, Period> timeout) {
  return late_answer::clock::now() + timeout;
}

inline void reply(httplib::Response& res, int status, std::string body) {
  res.status = status;
  res.set_content(std::move(body), "application/json");
}

inline void reply(httplib::Response& res, const http_error& e) {
  if (e.status == 429)
    res.set_header("Retry-After", "1");
  reply(res, e.status, render_error(e));
}

/// Renders `x` with `render` or answers its error.
template <class T, class F>
void reply_with(httplib::Response& res, parsed<T>& x, F render,
                int status = 200) {
  if (auto err = std::get_if<http_error>(&x))
    reply(res, *err);
  else
    reply(res, status, render(std::get<T>(x)));
}

/// Answers `e` and ends the connection after the answer. For requests whose
/// body was not read to its end: httplib would read the rest as the next
/// request. httplib 0.11 closes a connection only when a write fails, so the
/// body is written by a content provider that then reports failure.
inline void reply_and_close(httplib::Response& res, const http_error& e) {
  if (e.status == 429)
    res.set_header("Retry-After", "1");
  res.status = e.status;
  res.set_header("Connection", "close");
  auto body = std::make_shared<const std::string>(render_error(e));
  res.set_content_provider(
      body->size(), "application/json",
      [body](size_t offset, size_t length, httplib::DataSink& sink) {
        sink.write(body->data() + offset, length);
        return false; // written; now close
      });
}

/// Answers before the body is read: closes the connection if there is one.
inline void reply_early(const httplib::Request& req, httplib::Response& res,
                 const http_error& e) {
  bool body = req.has_header("Transfer-Encoding")
              || (req.has_header("Content-Length")
                  && req.get_header_value("Content-Length") != "0");
  if (body)
    reply_and_close(res, e);
  else
    reply(res, e);
}

inline const http_error task_not_found{404, "not_found", "Task not found"};

inline const http_error body_too_large{
    413, "too_large", "the request body is larger than http.max-body-bytes"};

/// A body over the limit is still read (and dropped) up to this much past it,
/// so that clients that send their whole body before reading get the 413;
/// beyond, the connection is closed unread.
constexpr uint64_t drain_bytes = 4u << 20;

/// Where the path's segment starts when the pre-routing handler served the
/// request's route by prefix (segment_dispatch); 0 when httplib matched it
/// (req.matches). Per thread, reset before each request's routing.
inline size_t& segment_at() {
  thread_local size_t at = 0;
  return at;
}

/// The route's ([^/]+): a task's id, a pool's name.
inline std::string path_param(const httplib::Request& req) {
  if (auto at = segment_at())
    return req.path.substr(at);
  return req.matches[1].str();
}

/// Validates an id before any lookup: only canonical UUIDs reach actors.
inline std::optional<task_id> path_id(const httplib::Request& req) {
  return task_id::parse(path_param(req));
}

/// The value of header `name`, if the request has it.
inline std::optional<std::string> param_header(const httplib::Request& req,
                                        const char* name) {
  if (!req.has_header(name))
    return std::nullopt;
  return req.get_header_value(name);
}

inline const std::string* param(const httplib::Request& req,
                                const char* name) {
  auto i = req.params.find(name);
  return i == req.params.end() ? nullptr : &i->second;
}

/// Routes served without the token (http.auth-token): probes and pages that
/// hold no data (server.cpp).
bool public_path(const std::string& path);

/// Every route: its pattern and method, for answering 405 with an Allow
/// header, and its description, for the OpenAPI document.
struct route_table {
  struct entry {
    std::string pattern;
    std::regex re;
    std::string method;
    route_doc doc;
  };
  std::vector<entry> entries;
  /// Set once GET /openapi.json has rendered the table: a route added later
  /// would be missing from the document, so adding one throws.
  bool sealed = false;

  void add(const std::string& pattern, const std::string& method,
           route_doc doc) {
    if (sealed)
      throw std::logic_error("route " + pattern + " registered after "
                             "openapi_routes(), which must come last");
    openapi_path(pattern, doc); // throws if groups and parameters differ
    entries.push_back({pattern, std::regex{pattern}, method, std::move(doc)});
  }

  bool has(const std::string& pattern, const std::string& method) const {
    for (auto& e : entries)
      if (e.pattern == pattern && e.method == method)
        return true;
    return false;
  }

  std::vector<std::string> patterns() const {
    std::vector<std::string> out;
    for (auto& e : entries)
      if (std::find(out.begin(), out.end(), e.pattern) == out.end())
        out.push_back(e.pattern);
    return out;
  }

  /// The methods served on `path`, e.g. "GET, DELETE".
  std::string allowed(const std::string& path) const {
    std::string methods;
    for (auto& e : entries)
      if (std::regex_match(path, e.re)
          && methods.find(e.method) == std::string::npos)
        methods += (methods.empty() ? "" : ", ") + e.method;
    return methods;
  }

  /// Whether `method` is served on `path`.
  bool serves(const std::string& path, const std::string& method) const {
    for (auto& e : entries)
      if (e.method == method && std::regex_match(path, e.re))
        return true;
    return false;
  }
};


/// The route pattern the current request matched, on its handler thread
/// (set by router::on before the handler runs, cleared before routing):
/// metrics and the access log name routes by pattern, never by raw path.
inline const std::string*& current_route() {
  thread_local const std::string* route = nullptr;
  return route;
}

/// Asks `dest` and renders its reply (or error) with `finish`: answered
/// late where the connection allows it (late_answer.hpp), by the thread
/// that delivers the reply; else here, blocking up to `timeout`.
template <class Result, class Handle, class Timeout, class... Ts>
void ask_and_answer(caf::actor_system& sys, const httplib::Request& req,
                    httplib::Response& res, const Timeout& timeout,
                    late_answer::finish_fn<Result> finish, const Handle& dest,
                    Ts&&... xs) {
  if (auto* later = late_answer::here())
    return later->ask<Result>(sys, req, current_route(),
                              deadline_after(timeout), std::move(finish), dest,
                              std::forward<Ts>(xs)...);
  auto reply = ask<Result>(sys, dest, timeout, std::forward<Ts>(xs)...);
  finish(reply, res);
}

/// GET routes served by prefix before httplib's regex dispatch (see
/// segment_routes.hpp), with their handlers by index; the pre-routing
/// handler answers them.
struct segment_dispatch {
  segment_routes routes;
  std::vector<httplib::Server::Handler> handlers;
};

/// Registers routes and remembers them in the route table (for 405 answers
/// and the OpenAPI document).
struct router {
  http_server& http;
  uint64_t max_body; // http.max-body-bytes, however the body is sent
  std::shared_ptr<route_table> table = std::make_shared<route_table>();
  std::shared_ptr<segment_dispatch> segments
    = std::make_shared<segment_dispatch>();

  void on(const std::string& method, const std::string& pattern, route_doc doc,
          httplib::Server::Handler handler) {
    table->add(pattern, method, std::move(doc));
    auto route = std::make_shared<const std::string>(pattern);
    httplib::Server::Handler h = [route, handler = std::move(handler)](
                                     const httplib::Request& req,
                                     httplib::Response& res) {
      current_route() = route.get();
      handler(req, res);
    };
    if (method == "GET") {
      if (segments->routes.add(pattern) >= 0)
        segments->handlers.push_back(h);
      http.Get(pattern, std::move(h));
    } else if (method == "POST")
      // Read the body ourselves: httplib would otherwise treat bodies sent
      // as form data (curl's default) as forms and cap them at 8 KiB.
      // Counts the bytes: httplib limits only a declared Content-Length,
      // not chunked bodies; past the limit it stops reading (413).
      http.Post(pattern,
                [h, max = max_body](const httplib::Request& req,
                                    httplib::Response& res,
                                    const httplib::ContentReader& read) {
                  // Neither length nor chunks: no body (RFC 9112; httplib
                  // would read until the client closes).
                  if (!req.has_header("Content-Length")
                      && !req.has_header("Transfer-Encoding"))
                    return h(req, res);
                  auto& body = const_cast<std::string&>(req.body);
                  uint64_t seen = 0;
                  bool complete = read([&](const char* data, size_t n) {
                    seen += n;
                    if (seen <= max) {
                      body.append(data, n);
                      return true;
                    }
                    std::string{}.swap(body); // drop, keep nothing more
                    return seen <= max + drain_bytes;
                  });
                  // Read to its end (or skipped by httplib): the connection
                  // goes on; else it ends with the answer.
                  if (seen > max || res.status == 413)
                    return complete || res.status == 413
                               ? reply(res, body_too_large)
                               : reply_and_close(res, body_too_large);
                  if (!complete)
                    return reply_and_close(
                        res, {400, "bad_request",
                              "the request body could not be read"});
                  h(req, res);
                });
    else if (method == "DELETE")
      http.Delete(pattern, std::move(h));
  }
};

/// What the handlers share. Handlers outlive the registration: they keep a
/// copy of this, which points into the server (it outlives its handlers).
struct route_context {
  caf::actor_system* sys;
  const codec_settings* codec;
  const backend* actors;
  caf::timespan batch_timeout;
  wait_budget* waits; // long-polls waiting at once
  const std::atomic<bool>* draining; // SIGTERM: no new work
  const std::atomic<bool>* ready;    // start-up recovery is over

  pool_ref find_pool(const std::string& name) const {
    for (auto& p : actors->pools)
      if (p.name == name)
        return p;
    return {};
  }

  /// Runs a batch on a fresh coordinator and renders its result.
  void run_batch(parsed<batch_spec>&& batch, httplib::Response& res,
                 std::string (*render)(const batch_result&)) const {
    if (auto err = std::get_if<http_error>(&batch))
      return reply(res, *err);
    auto& spec = std::get<batch_spec>(batch);
    auto coord = sys->spawn(coordinator, find_pool(spec.task.pool));
    auto result =
        ask<batch_result>(*sys, coord, batch_timeout, std::move(spec));
    if (std::holds_alternative<http_error>(result))
      caf::anon_send_exit(coord, caf::exit_reason::user_shutdown);
    reply_with(res, result, render);
  }

  /// Submits a task and renders it; a 202 answer gets a Location header.
  /// Answered late where the connection allows it (late_answer.hpp): a
  /// durable submission's answer waits for its commit, and the registry's
  /// thread writes it then.
  void submit(const httplib::Request& req, parsed<task_spec>&& spec,
              httplib::Response& res, std::string (*render)(const task_view&),
              int status) const {
    if (auto err = std::get_if<http_error>(&spec))
      return reply(res, *err);
    auto answer = [render, status](parsed<task_view>& view,
                                   httplib::Response& res) {
      if (auto v = std::get_if<task_view>(&view); v && status == 202)
        res.set_header("Location", "/v1/tasks/" + v->id.to_string());
      reply_with(res, view, render, status);
    };
    ask_and_answer<task_view>(*sys, req, res, immediate, answer,
                              actors->registry, submit_atom::value,
                              std::get<task_spec>(std::move(spec)));
  }

  /// Reads task `id` on this thread (registry_reads): its view in `out`,
  /// not_found, or `store` when only the registry can answer.
  view_source read_here(const task_id& id, task_view& out) const {
    return actors->reads ? actors->reads->read(id, out) : view_source::store;
  }

  /// Reads one task by the id in the path and renders it with `render`:
  /// from memory on this thread, else (evicted to the store) by the registry.
  void read_task(const httplib::Request& req, httplib::Response& res,
                 std::string (*render)(const task_view&)) const {
    auto id = path_id(req);
    if (!id)
      return reply(res, task_not_found);
    task_view v;
    switch (read_here(*id, v)) {
      case view_source::memory:
        return reply(res, 200, render(v));
      case view_source::not_found:
        return reply(res, task_not_found);
      case view_source::store:
        break;
    }
    auto view =
        ask<task_view>(*sys, actors->registry, immediate, get_atom::value, *id);
    reply_with(res, view, render);
  }

  /// The stats of every pool, in configuration order.
  parsed<std::vector<pool_stats>> all_stats() const {
    std::vector<pool_stats> out;
    for (auto& pool : actors->pools) {
      auto stats =
          ask<pool_stats>(*sys, pool.handle, immediate, stats_atom::value);
      if (auto err = std::get_if<http_error>(&stats))
        return *err;
      out.push_back(std::get<pool_stats>(std::move(stats)));
    }
    return out;
  }
};

/// Parses the JSON body and calls `f` with it, or answers the parse error.
template <class F>
void with_body(const httplib::Request& req, httplib::Response& res, F f) {
  auto body = parse_body(req.body);
  if (auto err = std::get_if<http_error>(&body))
    return reply(res, *err);
  f(std::get<json>(body));
}

// -- route groups (routes_*.cpp) ----------------------------------------------

/// Submitting, reading, listing and cancelling tasks (routes_tasks.cpp).
void task_routes(router& r, const route_context& c);
/// Operator actions: retry, cancel many, pause and resume a pool
/// (routes_operator.cpp).
void operator_routes(router& r, const route_context& c);
/// POST /v1/batches (routes_tasks.cpp).
void batch_routes(router& r, const route_context& c);
/// The Python service's batch and submit routes (routes_tasks.cpp).
void seed_routes(router& r, const route_context& c);
/// Kinds, pools, nodes and health (routes_info.cpp).
void info_routes(router& r, const route_context& c);
/// The lease protocol (routes_leases.cpp).
void lease_routes(router& r, const route_context& c);
/// GET /metrics: Prometheus text exposition (routes_metrics.cpp).
void metrics_routes(router& r, const route_context& c);
/// The dashboard page (GET /) and its assets, GET /v1/stats and
/// GET /v1/tasks/{id}/input (routes_dashboard.cpp).
void dashboard_routes(router& r, const route_context& c);
/// GET /openapi.json (routes_openapi.cpp). Registered last: it renders the
/// table of every route (throwing on a mistake in a route_doc) and seals it.
void openapi_routes(router& r);

} // namespace actorq::http
