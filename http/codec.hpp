// The HTTP bridge's codec: request bodies and query strings in, message
// structs out; replies in, JSON text out. No actor code and no task logic.
#pragma once

#include "actors/actors.hpp"
#include "actors/catalog.hpp"
#include "actors/config.hpp"
#include "actors/scheduler.hpp"

#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace actorq::http {

/// An error answer: {"detail": ..., "code": ...} with this status.
struct http_error {
  http_error(int status, std::string code, std::string detail,
             json loc = nullptr, std::string type = {})
      : status(status), code(std::move(code)), detail(std::move(detail)),
        loc(std::move(loc)), type(std::move(type)) {}

  int status;
  std::string code;
  std::string detail;
  // Seed routes answer validation errors as FastAPI does: with `loc` set (a
  // JSON array such as ["body", 1, "value"]), "detail" is
  // [{"loc", "msg": detail, "type"}] and "code" stays beside it.
  json loc;
  std::string type;
};

/// Either a parsed value or the error to answer with.
template <class T>
using parsed = std::variant<T, http_error>;

/// Deepest JSON nesting accepted in a request.
constexpr int max_json_depth = 64;

/// 422 `invalid` with this detail (a value the request got wrong).
http_error invalid(std::string detail);

/// Parses a request body as JSON: 400 bad_json when empty, malformed, not
/// UTF-8 or nested deeper than max_json_depth.
parsed<json> parse_body(std::string_view body);

/// What the codec checks requests against. Task defaults come from the
/// catalog (check_task), not from here.
struct codec_settings {
  std::shared_ptr<const catalog> kinds = std::make_shared<catalog>();
  int64_t max_batch_items = 100000;
  double seed_delay_scale = 1.0;
};

/// POST /v1/tasks body → task_spec.
parsed<task_spec> parse_task(const json& body, const codec_settings& cfg);

/// Adds the Idempotency-Key header's value to a parsed task: 1–255 visible
/// ASCII characters, else 422.
void set_idempotency_key(parsed<task_spec>& spec, const std::string& key);

/// POST /v1/batches body → batch_spec.
parsed<batch_spec> parse_batch(const json& body, const codec_settings& cfg);

/// GET /v1/tasks query → task_filter.
parsed<task_filter> parse_filter(const std::string* status,
                                 const std::string* kind,
                                 const std::string* limit,
                                 const std::string* cursor,
                                 const catalog& kinds);

/// DELETE /v1/tasks?status=&kind=: at least one of them, an unfinished
/// status, a known kind.
parsed<task_filter> parse_cancel_filter(const std::string* status,
                                        const std::string* kind,
                                        const catalog& kinds);

/// A non-negative integer query parameter in [lo, hi].
parsed<int64_t> parse_int_param(const std::string& name,
                                const std::string& text, int64_t lo,
                                int64_t hi);

/// The seed routes' bodies. `item_kind` decides the result shape.
enum class seed_route {
  process_multiple,   // double, 1000 ms, pool io
  submit_task,        // double, 2000 ms, pool io
  submit_heavy_task,  // double, 5000 ms, pool heavy
  process_with_limit, // process, 2000 ms, pool limited
  process_cpu_bound,  // square, pool cpu
  start_task,         // double, 1000 ms, fail_times, 3 retries from 1 s
};

/// A seed route's body: JSON, or a FastAPI-shaped 422 (empty: "field
/// required"; malformed: "value_error.jsondecode", code bad_json).
parsed<json> parse_seed_body(std::string_view body);

/// A seed route's single-item body ({"value": int, ...}) → task_spec.
parsed<task_spec> parse_seed_task(seed_route route, const json& body,
                                  const codec_settings& cfg);

/// A seed route's list body ([{"value": int}, ...]) → batch_spec.
parsed<batch_spec> parse_seed_batch(seed_route route, const json& body,
                                    const codec_settings& cfg);

// -- rendering ----------------------------------------------------------------

/// Appends `s` as a JSON string (quoted, escaped).
void append_string(std::string& out, std::string_view s);
/// Appends an ISO-8601 time, or null for 0.
void append_time(std::string& out, int64_t ms);

std::string render_error(const http_error& e);
std::string render_task(const task_view& v);
std::string render_page(const task_page& p);
std::string render_batch(const batch_result& r);
std::string render_pools(const std::vector<pool_stats>& xs);
/// One pool as in GET /v1/pools (the answer to pause and resume).
std::string render_pool(const pool_stats& p);
/// GET /v1/kinds; `serving`: remote kind → workers connected for it.
std::string render_kinds(
    const catalog& kinds,
    const std::vector<std::pair<std::string, uint32_t>>& serving);
std::string render_nodes(const std::vector<node_view>& xs);
/// GET /v1/schedules.
std::string render_schedules(const std::vector<schedule_view>& xs);

/// The seed's list answer: the results alone, in order ([{"result": ...}]).
std::string render_seed_batch(const batch_result& r);

/// GET /get-result/{id}: {"status": "processing"} or the result itself.
std::string render_seed_result(const task_view& v);
/// GET /check-task/{id}: processing | completed + result | failed + error.
std::string render_seed_check(const task_view& v);
/// GET /task-status/{id}: the seed's TaskState.
std::string render_seed_status(const task_view& v);

/// Maps an error from the actor system to an HTTP error.
http_error from_actor_error(const caf::error& err);

} // namespace actorq::http
