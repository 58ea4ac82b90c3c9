#include "http/openapi.hpp"

#include "actors/kinds.hpp"
#include "http/lease_codec.hpp"
#include "http/routes.hpp"

#include <map>
#include <set>
#include <stdexcept>

namespace actorq::http {

using ojson = nlohmann::ordered_json;

// -- route_doc ----------------------------------------------------------------

route_doc& route_doc::about(std::string text) {
  description = std::move(text);
  return *this;
}

route_doc& route_doc::path(std::string name, std::string text) {
  params.push_back({"path", std::move(name), {{"type", "string"}},
                    std::move(text), true});
  return *this;
}

route_doc& route_doc::query(std::string name, schema_json schema,
                            std::string text) {
  params.push_back(
      {"query", std::move(name), std::move(schema), std::move(text), false});
  return *this;
}

route_doc& route_doc::header(std::string name, schema_json schema,
                             std::string text) {
  params.push_back(
      {"header", std::move(name), std::move(schema), std::move(text), false});
  return *this;
}

route_doc& route_doc::body(std::string schema, std::string text,
                           bool required) {
  body_schema = std::move(schema);
  body_text = std::move(text);
  body_required = required;
  return *this;
}

route_doc& route_doc::answer(int status, std::string schema,
                             std::string text) {
  responses.push_back(
      {status, std::move(schema), "application/json", std::move(text)});
  return *this;
}

route_doc& route_doc::content(int status, std::string media_type,
                              std::string text) {
  responses.push_back({status, "", std::move(media_type), std::move(text)});
  return *this;
}

namespace {

/// What each error status means on this API (the body is always Error).
const std::map<int, const char*> error_meanings = {
    {400, "Malformed request (`bad_json`: the body is not JSON; "
          "`bad_request`: framing)"},
    {401, "Missing or wrong bearer token (`unauthorized`; only when "
          "http.auth-token is set)"},
    {404, "Not found (`not_found`)"},
    {409, "Conflict with the current state (`conflict`)"},
    {413, "Body or batch too large (`too_large`)"},
    {422, "A value the request got wrong (`invalid`; `detail` names the "
          "field), or a repeated Idempotency-Key with a different request "
          "(`idempotency_mismatch`)"},
    {429, "Too many long-polls at once (`busy`); retry after Retry-After"},
    {499, "The client went away during a long-poll (`gone`)"},
    {503, "Shutting down or the store cannot write (`shutting_down`, "
          "`unavailable`)"},
    {504, "The service did not answer in time (`timeout`)"},
};

} // namespace

route_doc& route_doc::errors(std::initializer_list<int> statuses) {
  for (int status : statuses) {
    auto meaning = error_meanings.find(status);
    answer(status, "Error",
           meaning == error_meanings.end() ? "Error" : meaning->second);
  }
  return *this;
}

std::string openapi_path(const std::string& pattern, const route_doc& doc) {
  std::vector<const route_doc::param*> names;
  for (auto& p : doc.params)
    if (p.in == "path")
      names.push_back(&p);
  std::string out;
  size_t group = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char ch = pattern[i];
    if (ch == '\\' && i + 1 < pattern.size()) {
      out += pattern[++i];
    } else if (ch == '(') {
      int depth = 1;
      bool in_class = false;
      while (depth > 0 && ++i < pattern.size()) {
        char x = pattern[i];
        if (x == '\\')
          ++i;
        else if (in_class)
          in_class = x != ']';
        else if (x == '[')
          in_class = true;
        else
          depth += x == '(' ? 1 : x == ')' ? -1 : 0;
      }
      if (group >= names.size())
        throw std::logic_error("route " + pattern
                               + ": its route_doc names fewer path "
                                 "parameters than it has groups");
      out += "{" + names[group++]->name + "}";
    } else {
      out += ch;
    }
  }
  if (group != names.size())
    throw std::logic_error("route " + pattern
                           + ": its route_doc names more path parameters "
                             "than it has groups");
  return out;
}

namespace {

/// The tags operations are grouped by, in the order /docs shows them.
const std::pair<const char*, const char*> tags[] = {
    {"tasks", "Submit, read, list, cancel and retry tasks (`/v1/tasks`)."},
    {"batches", "Run many inputs of one kind and wait for all results."},
    {"kinds", "The task kinds this server runs, with their defaults."},
    {"pools", "Worker pools: size, load, restarts; pausing and resuming."},
    {"nodes", "The cluster: this node and the worker nodes that joined."},
    {"leases",
     "The lease protocol (docs/leases.md): workers in any language pull "
     "attempts of lease kinds over HTTP and settle them."},
    {"health", "Liveness and readiness probes (always public)."},
    {"stats", "Throughput and failure rate over the last minutes."},
    {"metrics", "Prometheus metrics."},
    {"seed",
     "The Python service's routes, answered as it does (FastAPI shapes: "
     "validation errors are 422 with `detail: [{loc, msg, type}]`; a "
     "trailing slash is redirected with 307)."},
    {"dashboard", "The dashboard page and its static files (public)."},
    {"docs", "This description and the page showing it (public)."},
};

/// components/schemas. Limits that the code defines are set below from
/// their constants, not repeated here.
constexpr const char* schemas_text = R"json({
  "Error": {
    "type": "object",
    "description": "Every error answer, whatever the status.",
    "required": ["detail", "code"],
    "properties": {
      "detail": {"type": "string", "description": "What went wrong, for people."},
      "code": {"type": "string", "description": "What went wrong, for programs: bad_json, bad_request, unauthorized, not_found, method_not_allowed, conflict, too_large, invalid, idempotency_mismatch, busy, gone, shutting_down, unavailable, timeout, internal."}
    },
    "examples": [{"detail": "kind is required", "code": "invalid"}]
  },
  "SeedValidationError": {
    "type": "object",
    "description": "A seed route's validation error, shaped as FastAPI's (with `code` beside it).",
    "required": ["detail", "code"],
    "properties": {
      "detail": {
        "type": "array",
        "items": {
          "type": "object",
          "required": ["loc", "msg", "type"],
          "properties": {
            "loc": {"type": "array", "items": {"type": ["string", "integer"]}, "description": "Where: [\"body\"], [\"body\", \"value\"], [\"body\", 2, \"value\"]"},
            "msg": {"type": "string"},
            "type": {"type": "string", "description": "e.g. value_error.missing, value_error.jsondecode, type_error.list, value_error"}
          }
        }
      },
      "code": {"type": "string", "description": "invalid, or bad_json for a body that is not JSON"}
    },
    "examples": [{"detail": [{"loc": ["body", "value"], "msg": "field required", "type": "value_error.missing"}], "code": "invalid"}]
  },
  "TaskStatus": {
    "type": "string",
    "enum": ["queued", "running", "retrying", "succeeded", "failed", "cancelled", "scheduled", "waiting"]
  },
  "Timestamp": {
    "type": ["string", "null"],
    "format": "date-time",
    "description": "ISO 8601 in UTC with milliseconds; null when it has not happened.",
    "examples": ["2026-11-25T20:46:06.712Z"]
  },
  "Progress": {
    "type": "object",
    "description": "The last progress a running attempt reported.",
    "required": ["fraction", "message", "at"],
    "properties": {
      "fraction": {"type": "number", "minimum": 0, "maximum": 1},
      "message": {"type": "string"},
      "at": {"$ref": "#/components/schemas/Timestamp"}
    }
  },
  "Task": {
    "type": "object",
    "required": ["id", "kind", "pool", "status", "attempts", "max_retries", "priority", "created_at", "started_at", "finished_at", "run_at", "result", "error", "cancel_requested", "progress"],
    "properties": {
      "id": {"type": "string", "format": "uuid"},
      "kind": {"type": "string"},
      "pool": {"type": "string"},
      "status": {"$ref": "#/components/schemas/TaskStatus"},
      "attempts": {"type": "integer", "minimum": 0, "description": "Attempts started so far."},
      "max_retries": {"type": "integer", "minimum": 0},
      "priority": {"type": "integer", "minimum": 0, "maximum": 9, "description": "Higher first; 5 by default."},
      "created_at": {"$ref": "#/components/schemas/Timestamp"},
      "started_at": {"$ref": "#/components/schemas/Timestamp"},
      "finished_at": {"$ref": "#/components/schemas/Timestamp"},
      "run_at": {"type": ["string", "null"], "format": "date-time", "description": "A delayed task's time to start (countdown_ms resolved at creation), in UTC; null for a task that runs at once. Until then its status is scheduled."},
      "result": {"description": "The kind's result (any JSON) once succeeded, else null."},
      "error": {"type": ["string", "null"], "description": "Why the last attempt failed."},
      "cancel_requested": {"type": "boolean"},
      "progress": {"oneOf": [{"$ref": "#/components/schemas/Progress"}, {"type": "null"}]},
      "after": {"type": "array", "items": {"type": "string", "format": "uuid"}, "description": "Chains: the tasks it waited for (only for a task submitted with after)."}
    },
    "examples": [{"id": "0d6c4b1e-8f3a-4c55-9a57-2b1f5e7d9c10", "kind": "double", "pool": "io", "status": "succeeded", "attempts": 1, "max_retries": 3, "priority": 5, "created_at": "2026-11-25T20:46:06.712Z", "started_at": "2026-11-25T20:46:06.713Z", "finished_at": "2026-11-25T20:46:07.715Z", "run_at": null, "result": {"result": 42}, "error": null, "cancel_requested": false, "progress": null}]
  },
  "TaskRequest": {
    "type": "object",
    "required": ["kind"],
    "additionalProperties": false,
    "properties": {
      "input": {"description": "The kind's input (any JSON the kind accepts); {} when left out."}
    },
    "examples": [{"kind": "double", "input": {"value": 21}, "max_retries": 2}]
  },
  "TaskPage": {
    "type": "object",
    "required": ["tasks", "next"],
    "properties": {
      "tasks": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}, "description": "Newest first."},
      "next": {"type": ["string", "null"], "description": "The cursor of the next page; null on the last one."}
    }
  },
  "CancelledCount": {
    "type": "object",
    "required": ["cancelled"],
    "properties": {"cancelled": {"type": "integer", "minimum": 0}},
    "examples": [{"cancelled": 12}]
  },
  "BatchRequest": {
    "type": "object",
    "required": ["kind", "items"],
    "additionalProperties": false,
    "properties": {
      "items": {"type": "array", "items": {"description": "One task's input."}}
    },
    "examples": [{"kind": "double", "items": [{"value": 1}, {"value": 2}]}]
  },
  "BatchResult": {
    "type": "object",
    "required": ["results", "errors", "succeeded", "failed"],
    "properties": {
      "results": {"type": "array", "items": {"description": "Item i's result, null if it failed."}, "description": "In input order."},
      "errors": {"type": "array", "items": {"type": ["string", "null"]}, "description": "Item i's error, null if it succeeded."},
      "succeeded": {"type": "integer", "minimum": 0},
      "failed": {"type": "integer", "minimum": 0}
    },
    "examples": [{"results": [{"result": 2}, null], "errors": [null, "value must be an integer"], "succeeded": 1, "failed": 1}]
  },
  "Kind": {
    "type": "object",
    "required": ["name", "runner", "pool", "description", "defaults"],
    "properties": {
      "name": {"type": "string"},
      "runner": {"type": "string", "description": "builtin, or a configured kind's runner: exec, http, remote, lease."},
      "pool": {"type": "string"},
      "description": {"type": "string"},
      "defaults": {
        "type": "object",
        "required": ["max_retries", "backoff_ms", "timeout_ms"],
        "properties": {
          "max_retries": {"type": "integer"},
          "backoff_ms": {"type": "integer"},
          "timeout_ms": {"type": "integer"}
        }
      },
      "lease_ttl_ms": {"type": "integer", "description": "Lease kinds only."},
      "rate": {"type": "string", "description": "Kinds with a rate only: most attempts started per second, minute or hour, e.g. 100/s."},
      "burst": {"type": "integer", "minimum": 1, "description": "Kinds with a rate only: its bucket size."},
      "workers": {"type": "integer", "description": "Remote kinds only: workers connected for it."}
    }
  },
  "Kinds": {"type": "array", "items": {"$ref": "#/components/schemas/Kind"}},
  "Pool": {
    "type": "object",
    "required": ["name", "size", "busy", "queued", "completed", "failed", "restarts", "state", "paused"],
    "properties": {
      "name": {"type": "string"},
      "size": {"type": "integer", "description": "Workers."},
      "busy": {"type": "integer"},
      "queued": {"type": "integer"},
      "completed": {"type": "integer"},
      "failed": {"type": "integer"},
      "restarts": {"type": "integer", "description": "Worker restarts after crashes."},
      "state": {"type": "string", "description": "ok or degraded (restarting workers too often); other states may be added."},
      "paused": {"type": "boolean", "description": "Paused by an operator (POST /v1/pools/{name}/pause): starts nothing queued until resumed."}
    },
    "examples": [{"name": "io", "size": 8, "busy": 2, "queued": 0, "completed": 120, "failed": 3, "restarts": 0, "state": "ok", "paused": false}]
  },

  "Pools": {"type": "array", "items": {"$ref": "#/components/schemas/Pool"}},
  "Node": {
    "type": "object",
    "required": ["id", "address", "state", "pools", "completed", "failed"],
    "properties": {
      "id": {"type": "string", "description": "\"head\" or the name a worker node joined with."},
      "address": {"type": "string", "description": "host:port it connected from (\"local\" for the head)."},
      "state": {"type": "string", "enum": ["up", "down"]},
      "pools": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "Pool name to workers."},
      "completed": {"type": "integer"},
      "failed": {"type": "integer"}
    }
  },
  "Nodes": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
  "Health": {
    "type": "object",
    "required": ["status"],
    "properties": {
      "status": {"type": "string", "enum": ["ok", "degraded", "store_unavailable"]},
      "detail": {"type": "string", "description": "With store_unavailable: the store's error."}
    }
  },
  "Readiness": {
    "type": "object",
    "required": ["status"],
    "properties": {
      "status": {"type": "string", "description": "ready, or why not: starting, draining, store_unavailable."},
      "detail": {"type": "string"}
    }
  },
  "Stats": {
    "type": "object",
    "required": ["window_s", "step_s", "end", "points", "total"],
    "properties": {
      "window_s": {"type": "integer"},
      "step_s": {"type": "integer"},
      "end": {"type": "string", "format": "date-time"},
      "points": {
        "type": "array",
        "items": {
          "type": "object",
          "required": ["at", "completed", "failed", "throughput", "failure_rate"],
          "properties": {
            "at": {"type": "string", "format": "date-time", "description": "The bucket's start."},
            "completed": {"type": "integer"},
            "failed": {"type": "integer"},
            "throughput": {"type": "number", "description": "Jobs ended per second."},
            "failure_rate": {"type": ["number", "null"], "description": "failed / ended; null when none ended."}
          }
        }
      },
      "total": {
        "type": "object",
        "required": ["completed", "failed", "throughput", "failure_rate"],
        "properties": {
          "completed": {"type": "integer"},
          "failed": {"type": "integer"},
          "throughput": {"type": "number"},
          "failure_rate": {"type": ["number", "null"]}
        }
      }
    }
  },
  "AnyJSON": {"description": "Any JSON value."},
  "LeaseRequest": {
    "type": "object",
    "required": ["kinds"],
    "additionalProperties": false,
    "properties": {
      "kinds": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1000, "description": "Lease kinds this worker runs."},
      "max": {"type": "integer", "minimum": 1, "default": 1, "description": "Most attempts to take."},
      "wait_ms": {"type": "integer", "minimum": 0, "default": 0, "description": "Long-poll this long when none is queued."},
      "worker": {"type": "string", "minLength": 1, "description": "The worker's name; its address when left out."}
    },
    "examples": [{"kinds": ["resize"], "max": 4, "wait_ms": 20000, "worker": "host-a/1"}]
  },
  "LeaseGrants": {
    "type": "object",
    "required": ["leases"],
    "properties": {
      "leases": {
        "type": "array",
        "items": {
          "type": "object",
          "required": ["lease", "expires_at", "task"],
          "properties": {
            "lease": {"type": "string", "format": "uuid"},
            "expires_at": {"$ref": "#/components/schemas/Timestamp"},
            "task": {
              "type": "object",
              "required": ["id", "kind", "input", "attempt", "attempt_id"],
              "properties": {
                "id": {"type": ["string", "null"]},
                "kind": {"type": "string"},
                "input": {"description": "The task's input."},
                "attempt": {"type": "integer"},
                "attempt_id": {"type": "string"}
              }
            }
          }
        }
      }
    }
  },
  "LeaseComplete": {
    "type": "object",
    "additionalProperties": false,
    "properties": {"result": {"description": "The task's result (any JSON)."}}
  },
  "LeaseFail": {
    "type": "object",
    "required": ["error"],
    "additionalProperties": false,
    "properties": {
      "error": {"type": "string"},
      "retry": {"type": "boolean", "description": "false: fail the task now, no retry."}
    }
  },
  "LeaseHeartbeat": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
      "progress": {
        "type": ["object", "null"],
        "additionalProperties": false,
        "required": ["fraction"],
        "properties": {
          "fraction": {"type": "number", "minimum": 0, "maximum": 1},
          "message": {"type": "string"}
        }
      }
    }
  },
  "LeaseAnswer": {
    "type": "object",
    "required": ["lease"],
    "properties": {
      "lease": {"type": "string", "format": "uuid"},
      "state": {"type": "string", "enum": ["completed", "failed"], "description": "complete and fail."},
      "expires_at": {"$ref": "#/components/schemas/Timestamp", "description": "heartbeat: the lease's new end."}
    }
  },
  "LeaseResults": {
    "type": "object",
    "required": ["results"],
    "additionalProperties": false,
    "properties": {
      "results": {
        "type": "array",
        "minItems": 1,
        "items": {
          "type": "object",
          "required": ["lease"],
          "properties": {
            "lease": {"type": "string", "format": "uuid"},
            "result": {"description": "Completes the lease with this result."},
            "error": {"type": "string", "description": "Fails the lease instead."},
            "retry": {"type": "boolean"}
          }
        }
      }
    }
  },
  "LeaseResultsAnswer": {
    "type": "object",
    "required": ["results"],
    "properties": {
      "results": {
        "type": "array",
        "description": "One per call, in order; a refused call has status, code and detail.",
        "items": {
          "type": "object",
          "required": ["lease"],
          "properties": {
            "lease": {"type": "string", "format": "uuid"},
            "state": {"type": "string", "enum": ["completed", "failed"]},
            "status": {"type": "integer"},
            "code": {"type": "string"},
            "detail": {"type": "string"}
          }
        }
      }
    }
  },
  "Workers": {
    "type": "object",
    "required": ["workers"],
    "properties": {
      "workers": {
        "type": "array",
        "items": {
          "type": "object",
          "required": ["name", "kinds", "leases", "completed", "failed", "last_seen"],
          "properties": {
            "name": {"type": "string"},
            "kinds": {"type": "array", "items": {"type": "string"}},
            "leases": {"type": "integer", "description": "Leases it holds now."},
            "completed": {"type": "integer"},
            "failed": {"type": "integer"},
            "last_seen": {"type": "string", "format": "date-time"}
          }
        }
      }
    }
  },
  "SeedItem": {
    "type": "object",
    "required": ["value"],
    "properties": {
      "value": {"type": "number", "description": "Any JSON number (integers within 64 bits)."},
      "fail_times": {"type": "integer", "minimum": 0, "description": "/start-task only: fail this many attempts first."}
    },
    "examples": [{"value": 21}]
  },
  "SeedItems": {"type": "array", "items": {"$ref": "#/components/schemas/SeedItem"}, "examples": [[{"value": 1}, {"value": 2}]]},
  "SeedTaskId": {
    "type": "object",
    "required": ["task_id"],
    "properties": {"task_id": {"type": "string", "format": "uuid"}}
  },
  "SeedBatchResults": {
    "type": "array",
    "description": "Item i's result (as the kind returns it, e.g. {\"result\": 2}) or {\"error\": ...}, in input order.",
    "items": {"description": "A result, or {\"error\": string}."}
  },
  "SeedResult": {
    "description": "The result itself once completed; else {\"status\": \"processing\"} or {\"status\": \"failed\", \"error\": ...}.",
    "examples": [{"status": "processing"}]
  },
  "SeedCheck": {
    "type": "object",
    "required": ["status"],
    "properties": {
      "status": {"type": "string", "enum": ["processing", "completed", "failed"]},
      "result": {"description": "With completed."},
      "error": {"type": "string", "description": "With failed."}
    }
  },
  "SeedStatus": {
    "type": "object",
    "required": ["status", "started_at", "result", "error"],
    "properties": {
      "status": {"type": "string", "enum": ["processing", "completed", "failed"]},
      "started_at": {"type": "string", "description": "When the task was created, as Python's datetime.isoformat() writes it.", "examples": ["2026-11-25T20:46:06.712000+00:00"]},
      "result": {"description": "The result, or null."},
      "error": {"type": ["string", "null"]}
    }
  },
  "OpenAPI": {"type": "object", "description": "An OpenAPI 3.1 document."}
})json";

/// The fields POST /v1/tasks and POST /v1/batches share (parse_options in
/// codec.cpp): left out, the kind's and pool's defaults apply.
ojson task_options() {
  auto count = [](const char* text, int64_t max) {
    return ojson{{"type", "integer"},
                 {"minimum", 0},
                 {"maximum", max},
                 {"description", text}};
  };
  return {{"kind", {{"type", "string"}, {"description", "A kind of GET /v1/kinds."}}},
          {"pool", {{"type", "string"},
                    {"description", "Run in this pool instead of the kind's."}}},
          {"max_retries", count("Retries after a failed attempt.",
                                max_task_retries)},
          {"backoff_ms", count("First retry's delay; doubles per retry.",
                               max_delay_ms)},
          {"timeout_ms", count("Per attempt; 0 for none.", max_timeout_ms)},
          {"priority",
           {{"type", "integer"},
            {"minimum", min_priority},
            {"maximum", max_priority},
            {"default", default_priority},
            {"description", "Its pool starts the highest waiting priority "
                            "first, FIFO within one (a task waiting "
                            "pools.NAME.max-wait-boost rises a level per "
                            "period)."}}}};
}

/// POST /v1/tasks only (a batch runs at once): when a delayed task starts.
void add_delay_fields(ojson& props) {
  props["run_at"] = {
      {"type", {"string", "null"}},
      {"format", "date-time"},
      {"description", "Start at this time (RFC 3339 with Z or a numeric "
                      "offset, at most 366 days ahead; a past time runs "
                      "now). Until then the task is scheduled. Not with "
                      "countdown_ms."},
      {"examples", {"2026-11-25T14:00:00+01:00"}}};
  props["countdown_ms"] = {
      {"type", "integer"},
      {"minimum", 0},
      {"maximum", max_countdown_ms},
      {"description", "Start this long after creation (at most 366 days). "
                      "Not with run_at."}};
}

/// Chains: the fields of a single task (not of batches).
ojson chain_options() {
  return {{"after",
           {{"type", "array"},
            {"maxItems", max_after},
            {"items", {{"type", "string"}, {"format", "uuid"}}},
            {"description",
             "Tasks that must end first (they must exist: 422 naming an "
             "unknown id). Until then this task is waiting."}}},
          {"after_policy",
           {{"type", "string"},
            {"enum", {"succeeded", "ended"}},
            {"default", "succeeded"},
            {"description",
             "succeeded: if one of them fails or is cancelled, this task "
             "ends cancelled naming it; ended: it runs once all ended, "
             "whatever their outcome."}}},
          {"pass_results",
           {{"type", "boolean"},
            {"default", false},
            {"description",
             "Its input (an object) gets \"_after\": [{id, status, "
             "result}, ...] in the order of after when it is queued."}}}};
}

ojson make_schemas() {
  auto s = ojson::parse(schemas_text);
  for (auto name : {"TaskRequest", "BatchRequest"}) {
    auto& props = s[name]["properties"];
    auto own = props;
    props = task_options();
    props.update(own);
  }
  add_delay_fields(s["TaskRequest"]["properties"]);
  s["TaskRequest"]["properties"].update(chain_options());
  auto& lease = s["LeaseRequest"]["properties"];
  lease["max"]["maximum"] = max_leases_per_request;
  lease["wait_ms"]["maximum"] = max_lease_wait_ms;
  lease["worker"]["maxLength"] = max_worker_name;
  s["LeaseResults"]["properties"]["results"]["maxItems"] =
      max_leases_per_request;
  return s;
}

ojson schema_ref(const std::string& name, const ojson& schemas,
                 const std::string& route) {
  if (!schemas.contains(name))
    throw std::logic_error("route " + route + ": no schema named '" + name
                           + "' in http/openapi.cpp");
  return {{"$ref", "#/components/schemas/" + name}};
}

/// "get_v1_tasks_id" for GET /v1/tasks/{id}, "get_root" for GET /, and
/// "..._slash" for a path ending in '/' (the seed's redirects).
std::string operation_id(const std::string& method, const std::string& path) {
  std::string out;
  for (char ch : method)
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (char ch : path) {
    if (std::isalnum(static_cast<unsigned char>(ch)))
      out += ch;
    else if (out.back() != '_')
      out += '_';
  }
  while (out.back() == '_')
    out.pop_back();
  if (path == "/")
    out += "_root";
  else if (path.back() == '/')
    out += "_slash";
  return out;
}

ojson render_operation(const route_table::entry& e, const std::string& path,
                       const ojson& schemas) {
  auto& doc = e.doc;
  auto where = e.method + " " + e.pattern;
  ojson op{{"tags", {doc.tag}},
           {"summary", doc.summary},
           {"operationId", operation_id(e.method, path)}};
  if (!doc.description.empty())
    op["description"] = doc.description;
  if (!doc.params.empty()) {
    ojson params = ojson::array();
    for (auto& p : doc.params)
      params.push_back({{"name", p.name},
                        {"in", p.in},
                        {"required", p.required},
                        {"description", p.description},
                        {"schema", p.schema}});
    op["parameters"] = std::move(params);
  }
  if (!doc.body_schema.empty())
    op["requestBody"] = {
        {"description", doc.body_text},
        {"required", doc.body_required},
        {"content",
         {{"application/json",
           {{"schema", schema_ref(doc.body_schema, schemas, where)}}}}}};
  ojson responses = ojson::object();
  for (auto& r : doc.responses) {
    ojson answer{{"description", r.description}};
    if (r.status == 307 || (r.status == 202 && e.method == "POST"))
      answer["headers"] = {
          {"Location",
           {{"description", "Where the resource is"},
            {"schema", {{"type", "string"}}}}}};
    if (!r.schema.empty())
      answer["content"] = {
          {r.media_type, {{"schema", schema_ref(r.schema, schemas, where)}}}};
    else if (r.media_type != "application/json")
      answer["content"] = {{r.media_type, {{"schema", {{"type", "string"}}}}}};
    responses[std::to_string(r.status)] = std::move(answer);
  }
  bool open = public_path(path);
  if (!open && !responses.contains("401"))
    responses["401"] = {
        {"description", error_meanings.at(401)},
        {"content",
         {{"application/json", {{"schema", schema_ref("Error", schemas, where)}}}}}};
  responses["default"] = {
      {"description", "Any other error (e.g. 405, 413, 429, 500, 503, 504), "
                      "in the common shape"},
      {"content",
       {{"application/json", {{"schema", schema_ref("Error", schemas, where)}}}}}};
  op["responses"] = std::move(responses);
  op["security"] = open ? ojson::array() : ojson::array({{{"bearer", ojson::array()}}});
  return op;
}

} // namespace

std::string render_openapi(const route_table& table) {
  static const auto schemas = make_schemas();
  std::set<std::string> known_tags;
  ojson tag_list = ojson::array();
  for (auto& [name, text] : tags) {
    known_tags.insert(name);
    tag_list.push_back({{"name", name}, {"description", text}});
  }
  ojson paths = ojson::object();
  for (auto& e : table.entries) {
    if (known_tags.count(e.doc.tag) == 0)
      throw std::logic_error("route " + e.pattern + ": unknown tag '"
                             + e.doc.tag + "' (see tags in http/openapi.cpp)");
    auto path = openapi_path(e.pattern, e.doc);
    std::string method;
    for (char ch : e.method)
      method += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (paths.contains(path) && paths[path].contains(method))
      throw std::logic_error("two routes for " + e.method + " " + path);
    paths[path][method] = render_operation(e, path, schemas);
  }
  // Tags no operation uses (yet) are left out of the list.
  ojson used = ojson::array();
  for (auto& t : tag_list) {
    bool any = false;
    for (auto& e : table.entries)
      any = any || e.doc.tag == t["name"].get<std::string>();
    if (any)
      used.push_back(t);
  }
  ojson doc{
      {"openapi", "3.1.0"},
      {"info",
       {{"title", "actorq"},
        {"version", "1"},
        {"summary", "A task-running daemon: tasks, batches, pools, leases."},
        {"description",
         "Every route of this server, rendered from the table that installs "
         "them. Errors are JSON objects `{\"detail\", \"code\"}` (the seed "
         "routes' validation errors: FastAPI's `detail: [{loc, msg, type}]`). "
         "With `http.auth-token` set, every route but the public ones needs "
         "`Authorization: Bearer <token>`. Every GET route answers HEAD too."}}},
      {"servers", {{{"url", "/"}, {"description", "this server"}}}},
      {"tags", std::move(used)},
      {"paths", std::move(paths)},
      {"components",
       {{"schemas", schemas},
        {"securitySchemes",
         {{"bearer",
           {{"type", "http"},
            {"scheme", "bearer"},
            {"description", "The configured http.auth-token (or "
                            "ACTORQ_AUTH_TOKEN); needed only when set."}}}}}}}};
  return doc.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

} // namespace actorq::http
