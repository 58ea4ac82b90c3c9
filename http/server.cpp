#include "http/server.hpp"

#include "actors/coordinator.hpp"
#include "actors/kinds.hpp"
#include "actors/store.hpp"
#include "http/lease_codec.hpp"
#include "http/task_queue.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <regex>
#include <strings.h>
#include <sys/socket.h>

namespace actorq::http {

namespace {

using namespace std::chrono_literals;

/// Calls whose handler answers at once (get, list, submit, cancel, stats)
/// need no timer: a request still in the mailbox of an actor that dies is
/// bounced with an error. Calls answered later through a response promise
/// (wait, batch) always carry a finite timeout: CAF 0.17 has no
/// broken-promise error, so a lost promise would block the thread forever.
/// Skipping the timer saves the clock's lock and tree on every read.
const caf::duration immediate{caf::infinite};
constexpr auto promise_grace = std::chrono::seconds{30};

/// This thread's handle into the actor system (created on first use).
caf::scoped_actor& thread_self(caf::actor_system& sys) {
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

void reply(httplib::Response& res, int status, std::string body) {
  res.status = status;
  res.set_content(std::move(body), "application/json");
}

void reply(httplib::Response& res, const http_error& e) {
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
void reply_and_close(httplib::Response& res, const http_error& e) {
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
void reply_early(const httplib::Request& req, httplib::Response& res,
                 const http_error& e) {
  bool body = req.has_header("Transfer-Encoding")
              || (req.has_header("Content-Length")
                  && req.get_header_value("Content-Length") != "0");
  if (body)
    reply_and_close(res, e);
  else
    reply(res, e);
}

const http_error task_not_found{404, "not_found", "Task not found"};

const http_error body_too_large{
    413, "too_large", "the request body is larger than http.max-body-bytes"};

/// A body over the limit is still read (and dropped) up to this much past it,
/// so that clients that send their whole body before reading get the 413;
/// beyond, the connection is closed unread.
constexpr uint64_t drain_bytes = 4u << 20;

/// "Authorization: Bearer TOKEN": the scheme in any case (RFC 9110), the
/// token compared in constant time.
bool bearer_ok(const httplib::Request& req, const std::string& token) {
  auto given = req.get_header_value("Authorization");
  constexpr size_t scheme = 6; // "Bearer"
  size_t at = scheme;
  bool ok = given.size() > scheme
            && ::strncasecmp(given.c_str(), "Bearer", scheme) == 0
            && (given[at] == ' ' || given[at] == '\t');
  while (at < given.size() && (given[at] == ' ' || given[at] == '\t'))
    ++at;
  ok = ok && given.size() - at == token.size();
  unsigned char diff = ok ? 0 : 1;
  for (size_t i = 0; i < token.size(); ++i) {
    auto c = at + i < given.size() ? given[at + i] : '\0';
    diff |= static_cast<unsigned char>(c ^ token[i]);
  }
  return diff == 0;
}

/// Validates an id before any lookup: only canonical UUIDs reach actors.
std::optional<task_id> path_id(const httplib::Request& req) {
  return task_id::parse(req.matches[1].str());
}

/// The value of header `name`, if the request has it.
std::optional<std::string> param_header(const httplib::Request& req,
                                        const char* name) {
  if (!req.has_header(name))
    return std::nullopt;
  return req.get_header_value(name);
}

const std::string* param(const httplib::Request& req, const char* name) {
  auto i = req.params.find(name);
  return i == req.params.end() ? nullptr : &i->second;
}

/// Route patterns per path, for answering 405 with an Allow header.
struct route_table {
  struct entry {
    std::string pattern;
    std::regex re;
    std::string method;
  };
  std::vector<entry> entries;

  void add(const std::string& pattern, const std::string& method) {
    entries.push_back({pattern, std::regex{pattern}, method});
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

// -- request framing ----------------------------------------------------------

/// Checks how a request says its body ends, before anything reads it, and
/// answers (closing the connection) when it will not be read:
/// - more than one Content-Length (equal or not), one that is not a decimal
///   number, or Content-Length together with Transfer-Encoding: 400 (the
///   ways requests are smuggled past proxies);
/// - Transfer-Encoding other than one "chunked": 400;
/// - a declared length over http.max-body-bytes: 413 (read and dropped
///   by httplib up to drain_bytes past the limit, else unread);
/// - a body on GET or HEAD: 400 (httplib never reads it);
/// - a chunked body, or a POST/PUT/PATCH body without a length, on a route
///   without our counting reader (POST routes have one): httplib would read
///   it whole into memory, so 404, 405 or 400 without reading it.
/// Returns true when it answered.
bool refuse_framing(const httplib::Request& req, httplib::Response& res,
                    uint64_t max_body, const route_table& table) {
  auto lengths = req.get_header_value_count("Content-Length");
  auto encodings = req.get_header_value_count("Transfer-Encoding");
  const auto& m = req.method;
  bool body_method =
      m == "POST" || m == "PUT" || m == "PATCH" || m == "PRI" || m == "DELETE";
  if (lengths > 1) {
    reply_and_close(res, {400, "bad_request",
                          "the request has more than one Content-Length "
                          "header"});
    return true;
  }
  if (lengths == 1) {
    auto value = req.get_header_value("Content-Length");
    bool digits = !value.empty() && value.size() <= 18
                  && value.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || encodings > 0) {
      reply_and_close(res, {400, "bad_request",
                            digits ? "the request has both Content-Length and "
                                     "Transfer-Encoding"
                                   : "Content-Length must be a decimal number"});
      return true;
    }
    auto length = std::stoull(value);
    if (length > max_body + drain_bytes) {
      reply_and_close(res, body_too_large);
      return true;
    }
    if (length > 0 && !body_method) {
      reply_and_close(res, {400, "bad_request",
                            "a " + m.substr(0, 16)
                                + " request must not have a body"});
      return true;
    }
    return false;
  }
  if (encodings > 0) {
    if (encodings > 1
        || ::strcasecmp(req.get_header_value("Transfer-Encoding").c_str(),
                        "chunked")
             != 0) {
      reply_and_close(res, {400, "bad_request",
                            "only 'Transfer-Encoding: chunked' is accepted"});
      return true;
    }
  } else if (!body_method || m == "DELETE" || m == "POST") {
    // No body: httplib reads none for DELETE, our POST reader none either.
    return false;
  }
  // A body that only a counting reader may read.
  if (m == "POST" && table.serves(req.path, m))
    return false;
  auto allowed = table.allowed(req.path);
  if (allowed.empty()) {
    reply_and_close(res, {404, "not_found",
                          "no route for " + m.substr(0, 16) + " "
                              + req.path.substr(0, 200)});
  } else if (allowed.find(m) == std::string::npos) {
    res.set_header("Allow", allowed);
    reply_and_close(res, {405, "method_not_allowed",
                          m.substr(0, 16) + " is not allowed on "
                              + req.path.substr(0, 200)
                              + "; allowed: " + allowed});
  } else {
    reply_and_close(res, {400, "bad_request",
                          "a " + m + " request takes no chunked body"});
  }
  return true;
}

// -- route groups -------------------------------------------------------------

/// Registers routes and remembers them in the route table (for 405 answers).
struct router {
  http_server& http;
  uint64_t max_body; // http.max-body-bytes, however the body is sent
  std::shared_ptr<route_table> table = std::make_shared<route_table>();

  void on(const std::string& method, const std::string& pattern,
          httplib::Server::Handler h) {
    table->add(pattern, method);
    if (method == "GET")
      http.Get(pattern, std::move(h));
    else if (method == "POST")
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
  void submit(parsed<task_spec>&& spec, httplib::Response& res,
              std::string (*render)(const task_view&), int status) const {
    if (auto err = std::get_if<http_error>(&spec))
      return reply(res, *err);
    auto view =
        ask<task_view>(*sys, actors->registry, immediate, submit_atom::value,
                       std::get<task_spec>(std::move(spec)));
    if (auto v = std::get_if<task_view>(&view); v && status == 202)
      res.set_header("Location", "/v1/tasks/" + v->id.to_string());
    reply_with(res, view, render, status);
  }

  /// Reads one task by the id in the path and renders it with `render`.
  void read_task(const httplib::Request& req, httplib::Response& res,
                 std::string (*render)(const task_view&)) const {
    auto id = path_id(req);
    if (!id)
      return reply(res, task_not_found);
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

/// The seed routes' answer to a submission: {"task_id": "..."}.
std::string render_task_id_only(const task_view& v) {
  std::string out = "{\"task_id\":\"";
  out += v.id.to_string();
  return out + "\"}";
}

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

/// Kinds, pools, nodes and health.
void info_routes(router& r, const route_context& c) {
  r.on("GET", "/v1/kinds", [c](const auto&, auto& res) {
    // Remote kinds: how many workers the connected programs offer.
    auto nodes = ask<std::vector<node_view>>(*c.sys, c.actors->gateway,
                                            immediate, nodes_atom::value);
    std::vector<std::pair<std::string, uint32_t>> serving;
    if (auto xs = std::get_if<std::vector<node_view>>(&nodes))
      for (auto& n : *xs)
        if (n.up)
          serving.insert(serving.end(), n.kinds.begin(), n.kinds.end());
    reply(res, 200, render_kinds(*c.codec->kinds, serving));
  });
  r.on("GET", "/v1/pools", [c](const auto&, auto& res) {
    auto stats = c.all_stats();
    reply_with(res, stats, render_pools);
  });
  r.on("GET", "/v1/nodes", [c](const auto&, auto& res) {
    auto nodes = ask<std::vector<node_view>>(*c.sys, c.actors->gateway,
                                            immediate, nodes_atom::value);
    reply_with(res, nodes, render_nodes);
  });
  r.on("GET", "/healthz", [c](const auto&, auto& res) {
    if (auto problem = store_problem(); !problem.empty())
      return reply(res, 503, json{{"status", "store_unavailable"},
                                  {"detail", problem}}.dump());
    auto stats = c.all_stats();
    reply_with(res, stats, [](const std::vector<pool_stats>& xs) {
      bool degraded = false;
      for (auto& p : xs)
        degraded = degraded || p.degraded;
      return std::string{degraded ? R"({"status":"degraded"})"
                                  : R"({"status":"ok"})"};
    });
  });
}

/// The lease protocol (docs/leases.md): workers in any language pull attempts
/// of lease kinds and settle them.
void lease_routes(router& r, const route_context& c) {
  r.on("POST", "/v1/leases", [c](const httplib::Request& req, auto& res) {
    with_body(req, res, [&](const json& body) {
      auto request =
          parse_lease_request(body, *c.codec->kinds,
                              req.remote_addr + ":"
                                  + std::to_string(req.remote_port));
      if (auto err = std::get_if<http_error>(&request))
        return reply(res, *err);
      auto& lr = std::get<lease_request>(request);
      // A long-poll holds this thread: only within http.max-waiting, so
      // that short requests always find one. Beyond, workers back off.
      std::optional<wait_budget::guard> place;
      if (lr.wait_ms > 0 && !place.emplace(*c.waits))
        return reply(res, http_error{429, "busy",
                                     "too many requests are long-polling "
                                     "(http.max-waiting); retry after "
                                     "Retry-After seconds"});
      auto timeout = std::chrono::milliseconds{lr.wait_ms} + promise_grace;
      auto grants = ask<std::vector<lease_grant>>(
          *c.sys, c.actors->leases, timeout, lease_atom::value, std::move(lr));
      reply_with(res, grants, render_grants);
    });
  });
  r.on("POST", "/v1/leases/complete", [c](const auto& req, auto& res) {
    with_body(req, res, [&](const json& body) {
      auto calls = parse_lease_results(body);
      if (auto err = std::get_if<http_error>(&calls))
        return reply(res, *err);
      std::vector<lease_op> ops;
      for (auto& call : std::get<std::vector<lease_call>>(calls))
        ops.push_back(call.op);
      auto answers = ask<std::vector<lease_answer>>(
          *c.sys, c.actors->leases, immediate,
          std::get<std::vector<lease_call>>(std::move(calls)));
      reply_with(res, answers, [&](const std::vector<lease_answer>& xs) {
        return render_lease_answers(xs, ops);
      });
    });
  });
  static constexpr std::pair<const char*, lease_op> one_lease[] = {
      {R"(/v1/leases/([^/]+)/complete)", lease_op::complete},
      {R"(/v1/leases/([^/]+)/fail)", lease_op::fail},
      {R"(/v1/leases/([^/]+)/heartbeat)", lease_op::heartbeat},
  };
  for (auto [pattern, op] : one_lease)
    r.on("POST", pattern,
         [c, op = op](const httplib::Request& req, auto& res) {
           auto id = task_id::parse(req.matches[1].str());
           if (!id)
             return reply(res, http_error{404, "not_found", "no such lease"});
           auto call = parse_lease_call(req.body, op, *id);
           if (auto err = std::get_if<http_error>(&call))
             return reply(res, *err);
           auto answers = ask<std::vector<lease_answer>>(
               *c.sys, c.actors->leases, immediate,
               std::vector<lease_call>{std::get<lease_call>(std::move(call))});
           if (auto err = std::get_if<http_error>(&answers))
             return reply(res, *err);
           auto& a = std::get<std::vector<lease_answer>>(answers).at(0);
           if (a.status != 200)
             return reply(res, http_error{a.status, a.code, a.detail});
           reply(res, 200, render_lease_answer(a, op));
         });
  r.on("GET", "/v1/workers", [c](const auto&, auto& res) {
    auto workers = ask<std::vector<lease_worker_view>>(
        *c.sys, c.actors->leases, immediate, workers_atom::value);
    reply_with(res, workers, render_workers);
  });
}

/// The Python service's batch and submit routes (its task reads are among
/// the hot task routes).
void seed_routes(router& r, const route_context& c) {
  auto seed_batch = [c](seed_route route) {
    return [c, route](const httplib::Request& req, httplib::Response& res) {
      with_body(req, res, [&](const json& body) {
        c.run_batch(parse_seed_batch(route, body, *c.codec), res,
                    render_seed_batch);
      });
    };
  };
  auto seed_submit = [c](seed_route route) {
    return [c, route](const httplib::Request& req, httplib::Response& res) {
      with_body(req, res, [&](const json& body) {
        c.submit(parse_seed_task(route, body, *c.codec), res,
                 render_task_id_only, 200);
      });
    };
  };
  r.on("POST", "/process-multiple", seed_batch(seed_route::process_multiple));
  r.on("POST", "/process-with-limit",
       seed_batch(seed_route::process_with_limit));
  r.on("POST", "/process-cpu-bound", seed_batch(seed_route::process_cpu_bound));
  r.on("POST", "/submit-task", seed_submit(seed_route::submit_task));
  r.on("POST", "/submit-heavy-task",
       seed_submit(seed_route::submit_heavy_task));
  r.on("POST", "/start-task", seed_submit(seed_route::start_task));
}

/// Before any route: with a token configured, every route but /healthz needs
/// "Authorization: Bearer TOKEN" (compared in constant time; never logged);
/// while draining, POSTs (new work) get 503, reads and cancels go on.
/// Refusals before the body is read end the connection (its body unread).
void access_control(http_server& http, std::string token,
                    const std::atomic<bool>* draining, uint64_t max_body,
                    std::shared_ptr<const route_table> table) {
  http.set_pre_routing_handler([token, draining, max_body, table](
                                   const httplib::Request& req,
                                   httplib::Response& res) {
    if (refuse_framing(req, res, max_body, *table))
      return httplib::Server::HandlerResponse::Handled;
    if (!token.empty() && req.path != "/healthz" && !bearer_ok(req, token)) {
      res.set_header("WWW-Authenticate", "Bearer");
      reply_early(req, res,
                  http_error{401, "unauthorized",
                             "this route needs the header 'Authorization: "
                             "Bearer <token>' with the configured token"});
      return httplib::Server::HandlerResponse::Handled;
    }
    // Shutting down: no new work; reads, cancels and settling leases (the
    // work already handed out) go on.
    if (*draining && req.method == "POST"
        && req.path.rfind("/v1/leases/", 0) != 0) {
      reply_early(req, res,
                  http_error{503, "shutting_down",
                             "the service is shutting down; retry against "
                             "the next instance"});
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
}

/// A known path with another method: 405 with an Allow header. Registered
/// after every route, for each method a path does not serve.
void method_not_allowed(http_server& http,
                        const std::shared_ptr<route_table>& table) {
  auto not_allowed = [table](const httplib::Request& req,
                             httplib::Response& res) {
    auto allowed = table->allowed(req.path);
    res.set_header("Allow", allowed);
    reply(res, http_error{405, "method_not_allowed",
                          req.method + " is not allowed on " + req.path
                              + "; allowed: " + allowed});
  };
  for (auto& pattern : table->patterns()) {
    for (auto method : {"GET", "POST", "DELETE", "PUT", "PATCH"}) {
      if (table->has(pattern, method))
        continue;
      if (method == std::string{"GET"})
        http.Get(pattern, not_allowed);
      else if (method == std::string{"POST"})
        http.Post(pattern, not_allowed);
      else if (method == std::string{"DELETE"})
        http.Delete(pattern, not_allowed);
      else if (method == std::string{"PUT"})
        http.Put(pattern, not_allowed);
      else
        http.Patch(pattern, not_allowed);
    }
  }
}

/// Every error answer is JSON: fills in the ones httplib produced itself,
/// and answers exceptions from handlers with 500.
void error_handlers(http_server& http,
                    const std::shared_ptr<route_table>& table) {
  using error_handler = httplib::Server::HandlerWithResponse;
  http.set_error_handler(error_handler{[table](const httplib::Request& req,
                                               httplib::Response& res) {
    if (!res.body.empty() || res.content_length_ > 0) // answered already
      return httplib::Server::HandlerResponse::Unhandled;
    http_error e{res.status, "error", "request failed"};
    switch (res.status) {
      case 404:
        e = {404, "not_found",
             "no route for " + req.method + " " + req.path.substr(0, 200)};
        break;
      case 413:
        e = {413, "too_large", "the request body is larger than allowed"};
        break;
      case 414:
        e = {414, "too_large", "the request URI is too long"};
        break;
      case 400: {
        // httplib answers 400 to a PUT or PATCH without a body before any
        // routing: still say what is wrong with the route.
        auto allowed = table->allowed(req.path);
        if (!allowed.empty() && allowed.find(req.method) == std::string::npos) {
          res.set_header("Allow", allowed);
          e = {405, "method_not_allowed",
               req.method + " is not allowed on " + req.path
                   + "; allowed: " + allowed};
        } else if (allowed.empty() && !req.method.empty() && req.path.size() > 0
                   && req.path[0] == '/') {
          e = {404, "not_found",
               "no route for " + req.method + " " + req.path.substr(0, 200)};
        } else {
          e = {400, "bad_request", "the HTTP request is malformed"};
        }
        break;
      }
      default:
        break;
    }
    reply(res, e);
    return httplib::Server::HandlerResponse::Handled;
  }});
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                                std::exception_ptr e) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      what = x.what();
    } catch (...) {
    }
    reply(res, http_error{500, "internal", "internal error: " + what});
  });
}

} // namespace

server::server(caf::actor_system& sys, const actorq_config& cfg, backend actors)
    : sys_(sys), cfg_(cfg), actors_(std::move(actors)),
      waits_(cfg.http_max_waiting >= 0
                 ? cfg.http_max_waiting
                 : actorq_config::default_max_waiting(std::max(
                     cfg.http_threads, cfg.http_max_threads))) {
  codec_.kinds = cfg.kinds();
  codec_.max_batch_items = cfg.http_max_batch_items;
  codec_.seed_delay_scale = cfg.seed_delay_scale;
  // Threads on demand: from http.threads up to http.max-threads when all
  // are busy (each open connection holds one), back down when idle.
  elastic_task_queue::settings threads;
  threads.min_threads = static_cast<size_t>(cfg.http_threads);
  threads.max_threads = static_cast<size_t>(
      std::max(cfg.http_threads, cfg.http_max_threads));
  threads.idle_timeout = std::chrono::seconds{3};
  http_.new_task_queue = [threads] { return new elastic_task_queue(threads); };
  // Without TCP_NODELAY every response waits ~40 ms for Nagle.
  http_.set_tcp_nodelay(true);
  http_.set_keep_alive_max_count(1'000'000);
  http_.set_keep_alive_timeout(5);
  http_.set_read_timeout(30, 0);
  http_.set_write_timeout(30, 0);
  http_.set_payload_max_length(static_cast<size_t>(cfg.http_max_body_bytes));
  routes();
}

server::~server() {
  stop();
}

bool http_server::set_backlog(int backlog) {
  return ::listen(svr_sock_, backlog) == 0;
}

int server::bind() {
  auto host = cfg_.http_host;
  int port = -1;
  if (cfg_.http_port == 0)
    port = http_.bind_to_any_port(host);
  else if (http_.bind_to_port(host, static_cast<int>(cfg_.http_port)))
    port = static_cast<int>(cfg_.http_port);
  if (port > 0)
    http_.set_backlog(SOMAXCONN);
  return port;
}

void server::run() {
  http_.listen_after_bind();
}

void server::stop() {
  http_.stop();
}

void server::drain() {
  draining_ = true;
}

void server::routes() {
  auto max_body = static_cast<uint64_t>(cfg_.http_max_body_bytes);
  router r{http_, max_body};
  route_context c{&sys_, &codec_, &actors_, cfg_.http_batch_timeout, &waits_};
  // In this order: httplib tries routes in the order they were registered.
  task_routes(r, c);
  batch_routes(r, c);
  info_routes(r, c);
  lease_routes(r, c);
  seed_routes(r, c);

  auto token = cfg_.http_auth_token;
  if (token.empty())
    if (auto env = std::getenv("ACTORQ_AUTH_TOKEN"))
      token = env;
  access_control(http_, std::move(token), &draining_, max_body, r.table);
  method_not_allowed(http_, r.table);
  error_handlers(http_, r.table);
}

} // namespace actorq::http
