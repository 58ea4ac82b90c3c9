#include "http/routes.hpp"

#include "http/lease_codec.hpp"
#include "http/peer.hpp"

namespace actorq::http {

namespace {

/// POST /v1/leases: grants up to `max` attempts, waiting up to `wait_ms`
/// for one; attempts granted to a client that has gone go back unstarted.
void take_leases(const route_context& c, const json& body,
                 const httplib::Request& req, httplib::Response& res) {
  auto request = parse_lease_request(
      body, *c.codec->kinds,
      req.remote_addr + ":" + std::to_string(req.remote_port));
  if (auto err = std::get_if<http_error>(&request))
    return reply(res, *err);
  auto& lr = std::get<lease_request>(request);
  // A long-poll holds this thread: only within http.max-waiting, so that
  // short requests always find one. Beyond, workers back off.
  std::optional<wait_budget::guard> place;
  if (lr.wait_ms > 0 && !place.emplace(*c.waits))
    return reply(res, http_error{429, "busy",
                                 "too many requests are long-polling "
                                 "(http.max-waiting); retry after "
                                 "Retry-After seconds"});
  auto timeout = std::chrono::milliseconds{lr.wait_ms} + promise_grace;
  auto asked = std::chrono::steady_clock::now();
  auto grants = ask<std::vector<lease_grant>>(
      *c.sys, c.actors->leases, timeout, lease_atom::value, std::move(lr));
  // A client that gave up a long-poll would never see these attempts: hand
  // them back unstarted rather than lose them after lease-ttl.
  auto got = std::get_if<std::vector<lease_grant>>(&grants);
  if (got != nullptr && !got->empty()
      && std::chrono::steady_clock::now() - asked > 20ms && client_gone(req)) {
    std::vector<task_id> ids;
    for (auto& g : *got)
      ids.push_back(g.lease);
    caf::anon_send(c.actors->leases, cancel_atom::value, std::move(ids));
    return reply(res, http_error{499, "gone", "the client went away"});
  }
  reply_with(res, grants, render_grants);
}

/// POST /v1/leases/{id}/complete|fail|heartbeat: one lease call, answered
/// with its own status (404 unknown, 409 expired or settled, ...).
void settle_one(const route_context& c, lease_op op,
                const httplib::Request& req, httplib::Response& res) {
  auto id = task_id::parse(path_param(req));
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
}

} // namespace

/// The lease protocol (docs/leases.md): workers in any language pull attempts
/// of lease kinds and settle them.
void lease_routes(router& r, const route_context& c) {
  r.on("POST", "/v1/leases",
       route_doc{"leases", "Lease attempts"}
           .about("Takes up to `max` queued attempts of the given lease "
                  "kinds; with `wait_ms`, waits for one. Settle each before "
                  "`expires_at` (or heartbeat), else it is retried.")
           .body("LeaseRequest", "The kinds and how many")
           .answer(200, "LeaseGrants", "The leases (none when nothing "
                                       "came in time)")
           .errors({400, 422, 429, 499, 503}),
       [c](const httplib::Request& req, auto& res) {
    with_body(req, res, [&](const json& body) {
      take_leases(c, body, req, res);
    });
  });
  r.on("POST", "/v1/leases/complete",
       route_doc{"leases", "Settle many leases"}
           .about("Completes or fails each lease; a refused call (e.g. an "
                  "expired lease) is answered in its entry, the others go "
                  "on.")
           .body("LeaseResults", "One entry per lease")
           .answer(200, "LeaseResultsAnswer", "One answer per entry")
           .errors({400, 422}),
       [c](const auto& req, auto& res) {
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
  struct one_lease_route {
    const char* pattern;
    lease_op op;
    const char* summary;
    const char* body; // schema
    const char* about;
  };
  static constexpr one_lease_route one_lease[] = {
      {R"(/v1/leases/([^/]+)/complete)", lease_op::complete,
       "Complete a lease", "LeaseComplete", "The task succeeds with `result`."},
      {R"(/v1/leases/([^/]+)/fail)", lease_op::fail, "Fail a lease",
       "LeaseFail",
       "The attempt failed: retried by the task's policy unless `retry` is "
       "false."},
      {R"(/v1/leases/([^/]+)/heartbeat)", lease_op::heartbeat,
       "Extend a lease",
       "LeaseHeartbeat",
       "Extends the lease by its kind's lease-ttl, optionally with "
       "progress."},
  };
  for (auto& one : one_lease)
    r.on("POST", one.pattern,
         route_doc{"leases", one.summary}
             .about(one.about)
             .path("lease", "The lease's id")
             .body(one.body, "An empty body is {}", false)
             .answer(200, "LeaseAnswer", "Settled or extended")
             .errors({400, 404, 409, 422}),
         [c, op = one.op](const httplib::Request& req, auto& res) {
           settle_one(c, op, req, res);
         });
  r.on("GET", "/v1/workers",
       route_doc{"leases", "List the lease workers"}
           .answer(200, "Workers", "Workers seen recently"),
       [c](const auto&, auto& res) {
    auto workers = ask<std::vector<lease_worker_view>>(
        *c.sys, c.actors->leases, immediate, workers_atom::value);
    reply_with(res, workers, render_workers);
  });
}

} // namespace actorq::http
