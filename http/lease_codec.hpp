// The lease protocol's bodies (docs/leases.md): requests in, message structs
// out; grants and answers in, JSON text out. No actor code.
#pragma once

#include "http/codec.hpp"

namespace actorq::http {

/// Most leases per request and results per batch settle.
constexpr int64_t max_leases_per_request = 1000;
/// Longest lease long-poll (as GET /v1/tasks/{id}?wait_ms).
constexpr int64_t max_lease_wait_ms = 60000;
/// Longest worker name.
constexpr size_t max_worker_name = 128;

/// POST /v1/leases → lease_request; `worker` names the worker when the
/// body does not.
parsed<lease_request> parse_lease_request(const json& body,
                                          const catalog& kinds,
                                          std::string worker);

/// POST /v1/leases/{lease}/complete|fail|heartbeat → one call. An empty
/// body is an empty object.
parsed<lease_call> parse_lease_call(std::string_view body, lease_op op,
                                    const task_id& lease);

/// POST /v1/leases/complete → calls, in order.
parsed<std::vector<lease_call>> parse_lease_results(const json& body);

std::string render_grants(const std::vector<lease_grant>& grants);
/// One settled call ({"lease", "state" | "expires_at"}); refusals are
/// answered as errors by the route.
std::string render_lease_answer(const lease_answer& a, lease_op op);
/// The batch settle's answer: one entry per call, refusals included.
std::string render_lease_answers(const std::vector<lease_answer>& xs,
                                 const std::vector<lease_op>& ops);
std::string render_workers(const std::vector<lease_worker_view>& xs);

} // namespace actorq::http
