#include "http/codec.hpp"

#include "actors/kinds.hpp"
#include "actors/text.hpp"
#include "actors/time.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace actorq::http {

// -- rendering helpers (shared with lease_codec.cpp) -------------------------

void append_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void append_time(std::string& out, int64_t ms) {
  if (ms == 0) {
    out += "null";
    return;
  }
  out += '"'; // digits and punctuation: nothing to escape
  append_iso8601(out, ms);
  out += '"';
}


http_error invalid(std::string detail) {
  return {422, "invalid", std::move(detail)};
}

namespace {

http_error bad_json(std::string detail) {
  return {400, "bad_json", std::move(detail)};
}

/// Reads an optional integer field of the request body into `out`.
std::string read_int(const json& body, const char* field, int64_t lo,
                     int64_t hi, int64_t& out) {
  auto err = check_int(body, field, lo, hi, false);
  if (err.empty() && body.contains(field))
    out = body[field].get<int64_t>();
  return err;
}

/// "run_at" (RFC 3339 with Z or a numeric offset; null = none) and
/// "countdown_ms" into the spec; check_task checks the rest (not both, how
/// far ahead). A time before 1970 is in the past anyway: it runs now.
std::string read_delay(const json& body, task_spec& spec) {
  if (auto err = read_int(body, "countdown_ms", 0, max_countdown_ms,
                          spec.countdown_ms);
      !err.empty())
    return err;
  auto run_at = body.find("run_at");
  if (run_at == body.end() || run_at->is_null())
    return "";
  auto ms = run_at->is_string() ? parse_rfc3339(run_at->get<std::string>())
                                : std::nullopt;
  if (!ms)
    return "run_at must be an RFC 3339 date-time with Z or a numeric offset, "
           "e.g. 2026-11-25T13:00:00Z or 2026-11-25T14:00:00+01:00";
  spec.run_at = std::max<int64_t>(*ms, 1);
  return "";
}

/// A task's "callback_url" (batches have none: they answer synchronously).
std::string read_callback_url(const json& body, task_spec& spec) {
  auto url = body.find("callback_url");
  if (url == body.end())
    return "";
  if (!url->is_string())
    return "callback_url must be a string (an http or https URL)";
  spec.callback_url = url->get<std::string>();
  return "";
}

/// The fields shared by /v1/tasks and /v1/batches; `item_field` is "input" or
/// "items". Fields left out stay unset: check_task fills in the kind's and
/// pool's defaults.
parsed<task_spec> parse_options(const json& body, const codec_settings& cfg,
                                const char* item_field) {
  if (!body.is_object())
    return invalid("the request body must be a JSON object");
  // Fields of single tasks only (batches answer synchronously).
  bool single = std::string_view{item_field} == "input";
  if (!single && body.contains("callback_url"))
    return invalid("callback_url is not accepted on batches (they answer "
                   "synchronously): submit tasks to POST /v1/tasks instead");
  if (auto err = check_fields(body, {"kind", item_field, "pool", "max_retries",
                                     "backoff_ms", "timeout_ms", "priority",
                                     "run_at", "countdown_ms", "after",
                                     "after_policy", "pass_results",
                                     "callback_url"});
      !err.empty())
    return invalid(err);
  task_spec spec;
  if (auto err = read_callback_url(body, spec); !err.empty())
    return invalid(err);
  auto kind = body.find("kind");
  if (kind == body.end())
    return invalid("kind is required");
  if (!kind->is_string())
    return invalid("kind must be a string");
  spec.kind = kind->get<std::string>();
  if (auto pool = body.find("pool"); pool != body.end()) {
    if (!pool->is_string())
      return invalid("pool must be a string");
    spec.pool = pool->get<std::string>();
  }
  int64_t max_retries = -1;
  int64_t priority = default_priority;
  for (auto err :
       {read_int(body, "max_retries", 0, max_task_retries, max_retries),
        read_int(body, "backoff_ms", 0, max_delay_ms, spec.backoff_ms),
        read_int(body, "timeout_ms", 0, max_timeout_ms, spec.timeout_ms),
        read_int(body, "priority", min_priority, max_priority, priority)})
    if (!err.empty())
      return invalid(err);
  spec.max_retries = static_cast<int32_t>(max_retries);
  spec.priority = static_cast<int32_t>(priority);
  if (auto err = read_delay(body, spec); !err.empty())
    return invalid(err);
  return spec;
}

struct seed_shape {
  const char* kind;
  const char* pool;
  double delay_ms; // before scaling; 0 = none
};

seed_shape shape_of(seed_route route) {
  switch (route) {
    case seed_route::process_multiple:
      return {"double", "io", 1000};
    case seed_route::submit_task:
      return {"double", "io", 2000};
    case seed_route::submit_heavy_task:
      return {"double", "heavy", 5000};
    case seed_route::process_with_limit:
      return {"process", "limited", 2000};
    case seed_route::process_cpu_bound:
      return {"square", "cpu", 0};
    case seed_route::start_task:
      return {"double", "io", 1000};
  }
  return {"double", "io", 0};
}

int64_t scaled(double ms, const codec_settings& cfg) {
  return static_cast<int64_t>(std::llround(ms * cfg.seed_delay_scale));
}

/// A FastAPI-shaped validation error at `loc`.
http_error seed_error(json loc, std::string msg, std::string type) {
  return {422, "invalid", std::move(msg), std::move(loc), std::move(type)};
}

/// `loc` with `x` appended.
json at(json loc, json x) {
  loc.push_back(std::move(x));
  return loc;
}

/// Builds the kind input for one seed item ({"value": number, ...}); `loc`
/// names the item in errors (["body"] or ["body", i]).
parsed<json> seed_input(seed_route route, const json& item, const json& loc,
                        const codec_settings& cfg) {
  if (!item.is_object())
    return seed_error(loc, "value is not a valid dict", "type_error.dict");
  auto value = item.find("value");
  if (value == item.end())
    return seed_error(at(loc, "value"), "field required",
                      "value_error.missing");
  auto shape = shape_of(route);
  json input{{"value", *value}};
  if (shape.delay_ms > 0)
    input["delay_ms"] = scaled(shape.delay_ms, cfg);
  if (route == seed_route::start_task) {
    if (auto f = item.find("fail_times"); f != item.end())
      input["fail_times"] = *f;
  }
  auto err = find_kind(shape.kind)->validate(input);
  if (err.empty())
    return input;
  // Validators start their messages with the field: "value must be ...".
  auto field = err.substr(0, err.find(' '));
  if (item.contains(field))
    return seed_error(at(loc, field), err, "value_error");
  return seed_error(loc, err, "value_error");
}

task_spec seed_spec(seed_route route, const codec_settings& cfg) {
  auto shape = shape_of(route);
  // The seed's own policy, every field set: these specs skip check_task
  // (their inputs are checked by seed_input), and an unset timeout would
  // keep CPU-bound items from sharing a hand-off to the cpu pool's threads.
  task_spec spec;
  spec.kind = shape.kind;
  spec.pool = shape.pool;
  spec.max_retries = 0;
  spec.backoff_ms = 0;
  spec.timeout_ms = 0;
  if (route == seed_route::start_task) {
    spec.max_retries = 3;
    spec.backoff_ms = std::max<int64_t>(1, scaled(1000, cfg));
  }
  return spec;
}

void append_raw(std::string& out, const raw_json& x) {
  out += x.text.empty() ? "null" : x.text;
}

/// Chains: `,"after":[ids]` for a task made with an after list (no bytes
/// for the others).
void append_after(std::string& out, const task_view& v) {
  if (v.after.empty())
    return;
  out += ",\"after\":[";
  for (size_t i = 0; i < v.after.size(); ++i) {
    if (i > 0)
      out += ',';
    append_string(out, v.after[i].to_string());
  }
  out += ']';
}

/// `,"callback":{...}` for a task with a callback_url; nothing otherwise.
void append_callback(std::string& out, const task_view& v) {
  if (!v.callback)
    return;
  auto& cb = *v.callback;
  out += ",\"callback\":{\"url\":";
  append_string(out, valid_utf8(cb.url));
  out += ",\"status\":";
  append_string(out, cb.status);
  out += ",\"attempts\":";
  out += std::to_string(cb.attempts);
  out += ",\"last_error\":";
  if (cb.last_error)
    append_string(out, valid_utf8(*cb.last_error));
  else
    out += "null";
  out += '}';
}

void append_task(std::string& out, const task_view& v) {
  out += "{\"id\":";
  out += '"';
  v.id.append_to(out);
  out += '"';
  out += ",\"kind\":";
  append_string(out, v.kind);
  out += ",\"pool\":";
  append_string(out, v.pool);
  out += ",\"status\":";
  append_string(out, to_string(v.status));
  out += ",\"attempts\":";
  out += std::to_string(v.attempts);
  out += ",\"max_retries\":";
  out += std::to_string(v.max_retries);
  out += ",\"priority\":";
  out += std::to_string(v.priority);
  out += ",\"created_at\":";
  append_time(out, v.created_at);
  out += ",\"started_at\":";
  append_time(out, v.started_at);
  out += ",\"finished_at\":";
  append_time(out, v.finished_at);
  out += ",\"run_at\":";
  append_time(out, v.run_at);
  out += ",\"result\":";
  append_raw(out, v.result);
  out += ",\"error\":";
  if (v.error)
    append_string(out, *v.error);
  else
    out += "null";
  out += ",\"cancel_requested\":";
  out += v.cancel_requested ? "true" : "false";
  out += ",\"progress\":";
  if (v.progress) {
    out += "{\"fraction\":";
    out += json(v.progress->fraction).dump();
    out += ",\"message\":";
    append_string(out, valid_utf8(v.progress->message));
    out += ",\"at\":";
    append_time(out, v.progress->at);
    out += '}';
  } else {
    out += "null";
  }
  append_after(out, v);
  append_callback(out, v);
  out += ",\"schedule\":"; // the [schedules.NAME] that created it
  if (v.schedule.empty())
    out += "null";
  else
    append_string(out, v.schedule);
  out += '}';
}

} // namespace

parsed<json> parse_body(std::string_view body) {
  if (body.empty())
    return bad_json("the request body is empty; expected JSON");
  if (json_nesting_depth(body, max_json_depth) > max_json_depth)
    return bad_json("the request body is nested deeper than "
                    + std::to_string(max_json_depth) + " levels");
  try {
    return json::parse(body);
  } catch (const json::exception& e) {
    return bad_json(std::string{"the request body is not valid JSON: "}
                    + e.what());
  }
}

/// Chains: "after" (task ids), "after_policy", "pass_results" into `spec`;
/// "" or what is wrong. The list's length and the input's shape are
/// check_task's; that the ids exist, the registry's.
static std::string parse_after(const json& body, task_spec& spec) {
  auto after = body.find("after");
  if (after == body.end()) {
    for (auto field : {"after_policy", "pass_results"})
      if (body.contains(field))
        return std::string{field} + " needs after (a list of task ids)";
    return "";
  }
  if (!after->is_array())
    return "after must be an array of task ids";
  if (after->size() > max_after)
    return "after has " + std::to_string(after->size())
           + " entries; at most " + std::to_string(max_after)
           + " are allowed";
  spec.after.reserve(after->size());
  for (size_t i = 0; i < after->size(); ++i) {
    auto& x = (*after)[i];
    auto id = x.is_string() ? task_id::parse(x.get<std::string>())
                            : std::nullopt;
    if (!id)
      return "after[" + std::to_string(i) + "] is not a task id";
    spec.after.push_back(*id);
  }
  if (auto p = body.find("after_policy"); p != body.end()) {
    if (*p == "ended")
      spec.after_if = after_policy::ended;
    else if (*p != "succeeded")
      return "after_policy must be \"succeeded\" or \"ended\"";
  }
  if (auto p = body.find("pass_results"); p != body.end()) {
    if (!p->is_boolean())
      return "pass_results must be true or false";
    spec.pass_results = p->get<bool>();
  }
  return "";
}

parsed<task_spec> parse_task(const json& body, const codec_settings& cfg) {
  auto result = parse_options(body, cfg, "input");
  if (auto spec = std::get_if<task_spec>(&result)) {
    if (auto err = parse_after(body, *spec); !err.empty())
      return invalid(err);
    auto input = body.find("input");
    spec->input.value = input == body.end() ? json::object() : *input;
    if (auto err = check_task(*spec, *cfg.kinds); !err.empty())
      return invalid(err);
  }
  return result;
}

void set_idempotency_key(parsed<task_spec>& spec, const std::string& key) {
  if (!valid_idempotency_key(key)) {
    spec = invalid("Idempotency-Key must be 1 to 255 visible ASCII "
                   "characters");
    return;
  }
  if (auto s = std::get_if<task_spec>(&spec))
    s->idempotency_key = key;
}

parsed<batch_spec> parse_batch(const json& body, const codec_settings& cfg) {
  auto result = parse_options(body, cfg, "items");
  if (auto err = std::get_if<http_error>(&result))
    return *err;
  for (auto field : {"after", "after_policy", "pass_results"})
    if (body.contains(field))
      return invalid(std::string{field}
                     + ": chains are for single tasks (POST /v1/tasks), "
                       "not batches");
  batch_spec batch;
  batch.task = std::get<task_spec>(std::move(result));
  auto items = body.find("items");
  if (items == body.end())
    return invalid("items is required");
  if (!items->is_array())
    return invalid("items must be an array of inputs");
  if (static_cast<int64_t>(items->size()) > cfg.max_batch_items)
    return http_error{
        413, "too_large",
        "items has " + std::to_string(items->size()) + " entries; at most "
            + std::to_string(cfg.max_batch_items) + " are allowed per batch"};
  // Check the options once with an empty input, then each item's input.
  batch.task.input.value = json::object();
  auto options_err = check_task(batch.task, *cfg.kinds);
  if (options_err.empty() || options_err.rfind("input", 0) == 0)
    options_err = check_batch_task(batch.task);
  if (!options_err.empty() && options_err.rfind("input", 0) != 0)
    return invalid(options_err);
  auto& kind = *cfg.kinds->find_kind(batch.task.kind);
  batch.items.reserve(items->size());
  for (size_t i = 0; i < items->size(); ++i) {
    auto& item = (*items)[i];
    auto err = check_input(kind, item);
    if (!err.empty())
      return invalid(field_error("items[" + std::to_string(i) + "]", err));
    batch.items.push_back(json_value{std::move(item)});
  }
  return batch;
}

parsed<int64_t> parse_int_param(const std::string& name,
                                const std::string& text, int64_t lo,
                                int64_t hi) {
  int64_t value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < lo
      || value > hi)
    return invalid(name + " must be an integer between " + std::to_string(lo)
                   + " and " + std::to_string(hi));
  return value;
}

parsed<task_filter> parse_filter(const std::string* status,
                                 const std::string* kind,
                                 const std::string* limit,
                                 const std::string* cursor,
                                 const catalog& kinds) {
  task_filter filter;
  if (status != nullptr && !status->empty()) {
    auto s = parse_task_status(*status);
    if (!s)
      return invalid("status must be one of queued, running, retrying, "
                     "succeeded, failed, cancelled, scheduled, waiting");
    filter.status = *s;
  }
  if (kind != nullptr && !kind->empty()) {
    if (kinds.find_kind(*kind) == nullptr)
      return invalid("kind: unknown kind '" + *kind + "'");
    filter.kind = *kind;
  }
  if (limit != nullptr) {
    auto n = parse_int_param("limit", *limit, 1, 1000);
    if (auto err = std::get_if<http_error>(&n))
      return *err;
    filter.limit = static_cast<uint32_t>(std::get<int64_t>(n));
  }
  if (cursor != nullptr && !cursor->empty()) {
    auto n = parse_int_param("cursor", *cursor, 1, INT64_MAX);
    if (std::holds_alternative<http_error>(n))
      return invalid("cursor is not a cursor this server handed out");
    filter.cursor = static_cast<uint64_t>(std::get<int64_t>(n));
  }
  return filter;
}

parsed<task_filter> parse_cancel_filter(const std::string* status,
                                        const std::string* kind,
                                        const catalog& kinds) {
  auto given = [](const std::string* p) { return p != nullptr && !p->empty(); };
  if (!given(status) && !given(kind))
    return invalid("give status and/or kind (e.g. ?status=queued&kind=K): "
                   "cancelling every task needs a filter");
  if (given(status)) {
    auto s = parse_task_status(*status);
    if (!s || is_terminal(*s))
      return invalid("status must be one of queued, running, retrying, "
                     "scheduled, waiting (only unfinished tasks can be "
                     "cancelled)");
  }
  return parse_filter(status, kind, nullptr, nullptr, kinds);
}

parsed<json> parse_seed_body(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return seed_error(json::array({"body"}), "field required",
                      "value_error.missing");
  auto parsed_body = parse_body(body);
  if (auto err = std::get_if<http_error>(&parsed_body)) {
    auto e = seed_error(json::array({"body"}), err->detail,
                        "value_error.jsondecode");
    e.code = err->code;
    return e;
  }
  return parsed_body;
}

parsed<task_spec> parse_seed_task(seed_route route, const json& body,
                                  const codec_settings& cfg) {
  auto input = seed_input(route, body, json::array({"body"}), cfg);
  if (auto err = std::get_if<http_error>(&input))
    return *err;
  auto spec = seed_spec(route, cfg);
  spec.input.value = std::get<json>(std::move(input));
  return spec;
}

parsed<batch_spec> parse_seed_batch(seed_route route, const json& body,
                                    const codec_settings& cfg) {
  if (!body.is_array())
    return seed_error(json::array({"body"}),
                      "value is not a valid list: the body must be a JSON "
                      "array of objects like {\"value\": 1}",
                      "type_error.list");
  if (static_cast<int64_t>(body.size()) > cfg.max_batch_items)
    return http_error{
        413, "too_large",
        "the list has " + std::to_string(body.size()) + " items; at most "
            + std::to_string(cfg.max_batch_items) + " are allowed"};
  batch_spec batch;
  batch.task = seed_spec(route, cfg);
  batch.items.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    auto input = seed_input(route, body[i], json::array({"body", i}), cfg);
    if (auto err = std::get_if<http_error>(&input))
      return *err;
    batch.items.push_back(json_value{std::get<json>(std::move(input))});
  }
  return batch;
}

std::string render_error(const http_error& e) {
  if (!e.loc.is_null()) {
    json entry{{"loc", e.loc}, {"msg", valid_utf8(e.detail)}, {"type", e.type}};
    return json{{"detail", json::array({std::move(entry)})}, {"code", e.code}}
        .dump(-1, ' ', false, json::error_handler_t::replace);
  }
  std::string out = "{\"detail\":";
  // Details may quote client bytes (e.g. the parser's "last read"): keep
  // the answer valid UTF-8 whatever the client sent.
  append_string(out, valid_utf8(e.detail));
  out += ",\"code\":";
  append_string(out, e.code);
  out += '}';
  return out;
}

std::string render_task(const task_view& v) {
  std::string out;
  // A task without result, error or progress renders to ~360 bytes: one
  // allocation, no growth.
  out.reserve(448 + v.result.text.size() + (v.error ? v.error->size() : 0));
  append_task(out, v);
  return out;
}

std::string render_page(const task_page& p) {
  std::string out = "{\"tasks\":[";
  for (size_t i = 0; i < p.tasks.size(); ++i) {
    if (i > 0)
      out += ',';
    append_task(out, p.tasks[i]);
  }
  out += "],\"next\":";
  if (p.next == 0)
    out += "null";
  else
    append_string(out, std::to_string(p.next));
  out += '}';
  return out;
}

std::string render_batch(const batch_result& r) {
  json results = json::array();
  json errors = json::array();
  for (size_t i = 0; i < r.results.size(); ++i) {
    results.push_back(r.results[i].value);
    errors.push_back(r.errors[i] ? json(*r.errors[i]) : json(nullptr));
  }
  json out{{"results", std::move(results)},
           {"errors", std::move(errors)},
           {"succeeded", r.succeeded},
           {"failed", r.failed}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string render_seed_batch(const batch_result& r) {
  // Serialized item by item: no copy of the results into a second tree.
  std::string out = "[";
  out.reserve(r.results.size() * 20);
  for (size_t i = 0; i < r.results.size(); ++i) {
    if (i > 0)
      out += ',';
    if (r.errors[i]) {
      out += "{\"error\":";
      append_string(out, valid_utf8(*r.errors[i]));
      out += '}';
    } else {
      out += r.results[i].value.dump(-1, ' ', false,
                                     json::error_handler_t::replace);
    }
  }
  out += ']';
  return out;
}

namespace {

json pool_json(const pool_stats& p) {
  return {{"name", p.name},
          {"size", p.size},
          {"busy", p.busy},
          {"queued", p.queued},
          {"completed", p.completed},
          {"failed", p.failed},
          {"restarts", p.restarts},
          {"state", p.degraded ? "degraded" : "ok"},
          {"paused", p.paused}};
}

} // namespace

std::string render_pools(const std::vector<pool_stats>& xs) {
  json out = json::array();
  for (auto& p : xs)
    out.push_back(pool_json(p));
  return out.dump();
}

std::string render_pool(const pool_stats& p) {
  return pool_json(p).dump();
}

std::string render_schedules(const std::vector<schedule_view>& xs) {
  json out = json::array();
  for (auto& x : xs) {
    json spec = json::object();
    if (!x.every.empty())
      spec["every"] = x.every;
    else
      spec["cron"] = x.cron;
    spec["timezone"] = x.timezone;
    auto time = [](int64_t ms) -> json {
      if (ms == 0)
        return nullptr;
      std::string s;
      append_time(s, ms);
      return json::parse(s);
    };
    json last = nullptr;
    if (x.last_task) {
      last = {{"id", x.last_task->to_string()}};
      last["status"] = x.last_known ? json(to_string(x.last_status)) : json();
    }
    out.push_back({{"name", x.name},
                   {"kind", x.kind},
                   {"pool", x.pool},
                   {"spec", std::move(spec)},
                   {"overlap", x.overlap ? "allow" : "skip"},
                   {"catch_up", x.catch_up ? "one" : "none"},
                   {"next_run", time(x.next_run)},
                   {"last_task", std::move(last)},
                   {"last_run", time(x.last_run)}});
  }
  return out.dump();
}

std::string render_nodes(const std::vector<node_view>& xs) {
  json out = json::array();
  for (auto& n : xs) {
    json pools = json::object();
    for (auto& [name, size] : n.pools)
      pools[name] = size;
    out.push_back({{"id", n.id},
                   {"address", n.address},
                   {"state", n.up ? "up" : "down"},
                   {"pools", std::move(pools)},
                   {"completed", n.completed},
                   {"failed", n.failed}});
  }
  return out.dump();
}

std::string render_kinds(
    const catalog& kinds,
    const std::vector<std::pair<std::string, uint32_t>>& serving) {
  json out = json::array();
  for (auto& k : kinds.kinds()) {
    // The defaults a task of this kind gets when it does not say.
    task_spec probe;
    probe.kind = k.name;
    probe.input.value = json::object();
    check_task(probe, kinds);
    json kind{{"name", k.name},
              {"runner", to_string(k.runner)},
              {"pool", k.pool},
              {"description", k.description},
              {"defaults",
               {{"max_retries", probe.max_retries},
                {"backoff_ms", probe.backoff_ms},
                {"timeout_ms", probe.timeout_ms}}}};
    if (k.runner == runner_type::lease)
      kind["lease_ttl_ms"] = k.lease_ttl_ms;
    if (k.rate) {
      kind["rate"] = k.rate->text;
      kind["burst"] = k.rate->burst;
    }
    if (k.runner == runner_type::remote) {
      uint32_t workers = 0;
      for (auto& [name, n] : serving)
        if (name == k.name)
          workers += n;
      kind["workers"] = workers;
    }
    out.push_back(std::move(kind));
  }
  return out.dump();
}

std::string render_seed_result(const task_view& v) {
  if (v.status == task_status::succeeded)
    return v.result.text.empty() ? "null" : v.result.text;
  if (is_terminal(v.status)) {
    std::string out = "{\"status\":\"failed\",\"error\":";
    append_string(out, v.error ? *v.error : std::string{to_string(v.status)});
    return out + '}';
  }
  return "{\"status\":\"processing\"}";
}

std::string render_seed_check(const task_view& v) {
  if (v.status == task_status::succeeded) {
    std::string out = "{\"status\":\"completed\",\"result\":";
    append_raw(out, v.result);
    return out + '}';
  }
  return render_seed_result(v);
}

std::string render_seed_status(const task_view& v) {
  std::string out = "{\"status\":";
  const char* status = "processing";
  if (v.status == task_status::succeeded)
    status = "completed";
  else if (is_terminal(v.status))
    status = "failed";
  append_string(out, status);
  out += ",\"started_at\":";
  // The seed stamps started_at when the task is created, and it never moves;
  // its clients parse it with datetime.fromisoformat.
  append_string(out, iso8601_python(v.created_at));
  out += ",\"result\":";
  append_raw(out, v.result);
  out += ",\"error\":";
  if (v.status == task_status::failed && v.max_retries > 0)
    append_string(out, "Max retries exceeded"); // the seed's wording
  else if (is_terminal(v.status) && v.error)
    append_string(out, *v.error);
  else if (v.status == task_status::cancelled)
    append_string(out, "cancelled");
  else
    out += "null";
  return out + '}';
}

http_error from_actor_error(const caf::error& err) {
  std::string detail;
  if (err.context().match_elements<std::string>())
    detail = err.context().get_as<std::string>(0);
  if (err.category() == caf::atom("actorq")) {
    switch (static_cast<error_code>(err.code())) {
      case error_code::not_found:
        return {404, "not_found", detail};
      case error_code::conflict:
        return {409, "conflict", detail};
      case error_code::invalid:
        return {422, "invalid", detail};
      case error_code::busy:
        return {429, "busy", detail};
      case error_code::unavailable: // the store cannot write
        return {503, "unavailable", detail};
      case error_code::shutting_down:
        return {503, "shutting_down", detail};
      case error_code::idempotency_mismatch:
        return {422, "idempotency_mismatch", detail};
      case error_code::worker_crashed:
        break;
    }
  }
  if (err == caf::sec::request_receiver_down)
    return {503, "shutting_down", "the service is shutting down"};
  if (err == caf::sec::request_timeout)
    return {504, "timeout", "the service did not answer in time"};
  return {500, "internal", "internal error: " + caf::to_string(err)};
}

} // namespace actorq::http
