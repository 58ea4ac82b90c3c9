#include "http/lease_codec.hpp"

#include "actors/kinds.hpp"
#include "actors/text.hpp"
#include "actors/time.hpp"

#include <cmath>

namespace actorq::http {

namespace {

/// `kinds`: a non-empty array of lease kinds' names.
std::string read_kinds(const json& body, const catalog& cat,
                       std::vector<std::string>& out) {
  auto kinds = body.find("kinds");
  if (kinds == body.end())
    return "kinds is required: the lease kinds this worker runs";
  if (!kinds->is_array() || kinds->empty())
    return "kinds must be a non-empty array of kind names";
  if (kinds->size() > 1000)
    return "kinds must name at most 1000 kinds";
  for (auto& k : *kinds) {
    if (!k.is_string())
      return "kinds must be a non-empty array of kind names";
    auto name = k.get<std::string>();
    auto kind = cat.find_kind(name);
    if (kind == nullptr)
      return "kinds: unknown kind '" + name.substr(0, 64) + "'";
    if (kind->runner != runner_type::lease)
      return "kinds: kind '" + name + "' is not served by leases (its runner "
             + "is " + to_string(kind->runner) + ")";
    if (std::find(out.begin(), out.end(), name) == out.end())
      out.push_back(std::move(name));
  }
  return {};
}

/// The lease id of a batch entry.
std::optional<task_id> entry_lease(const json& entry) {
  auto l = entry.find("lease");
  if (l == entry.end() || !l->is_string())
    return std::nullopt;
  return task_id::parse(l->get<std::string>());
}

/// The fields of a complete or fail call, from `body` (an object).
std::string read_call(const json& body, lease_call& call) {
  if (call.op == lease_op::complete) {
    if (auto r = body.find("result"); r != body.end())
      call.result.value = *r;
    return {};
  }
  if (call.op == lease_op::fail) {
    auto e = body.find("error");
    if (e == body.end() || !e->is_string())
      return "error is required: a string saying what went wrong";
    call.error = e->get<std::string>();
    if (auto r = body.find("retry"); r != body.end()) {
      if (!r->is_boolean())
        return "retry must be true or false";
      call.retry = r->get<bool>();
    }
    return {};
  }
  auto p = body.find("progress");
  if (p == body.end() || p->is_null())
    return {};
  if (!p->is_object())
    return "progress must be an object {\"fraction\": 0..1, \"message\"?}";
  if (auto err = check_fields(*p, {"fraction", "message"}); !err.empty())
    return "progress." + err;
  auto f = p->find("fraction");
  if (f == p->end() || !f->is_number() || !std::isfinite(f->get<double>())
      || f->get<double>() < 0 || f->get<double>() > 1)
    return "progress.fraction must be a number from 0 to 1";
  call.has_progress = true;
  call.fraction = f->get<double>();
  if (auto m = p->find("message"); m != p->end()) {
    if (!m->is_string())
      return "progress.message must be a string";
    call.message = m->get<std::string>().substr(0, 1000);
  }
  return {};
}

const char* state_of(lease_op op) {
  return op == lease_op::complete ? "completed" : "failed";
}

void append_answer(std::string& out, const lease_answer& a, lease_op op) {
  out += "{\"lease\":\"";
  out += a.lease.to_string();
  out += '"';
  if (a.status != 200) {
    out += ",\"status\":" + std::to_string(a.status) + ",\"code\":";
    append_string(out, a.code);
    out += ",\"detail\":";
    append_string(out, a.detail);
  } else if (op == lease_op::heartbeat) {
    out += ",\"expires_at\":";
    append_time(out, a.expires_at);
  } else {
    out += ",\"state\":\"";
    out += state_of(op);
    out += '"';
  }
  out += '}';
}

} // namespace

parsed<lease_request> parse_lease_request(const json& body,
                                          const catalog& kinds,
                                          std::string worker) {
  if (!body.is_object())
    return invalid("the request body must be a JSON object");
  if (auto err = check_fields(body, {"kinds", "max", "wait_ms", "worker"});
      !err.empty())
    return invalid(err);
  lease_request r;
  if (auto err = read_kinds(body, kinds, r.kinds); !err.empty())
    return invalid(err);
  int64_t max = 1;
  if (auto err = check_int(body, "max", 1, max_leases_per_request, false);
      !err.empty())
    return invalid(err);
  if (body.contains("max"))
    max = body["max"].get<int64_t>();
  r.max = static_cast<uint32_t>(max);
  if (auto err = check_int(body, "wait_ms", 0, max_lease_wait_ms, false);
      !err.empty())
    return invalid(err);
  if (body.contains("wait_ms"))
    r.wait_ms = body["wait_ms"].get<int64_t>();
  r.worker = std::move(worker);
  if (auto w = body.find("worker"); w != body.end()) {
    if (!w->is_string() || w->get<std::string>().empty()
        || w->get<std::string>().size() > max_worker_name)
      return invalid("worker must be a name of 1 to "
                     + std::to_string(max_worker_name) + " bytes");
    r.worker = w->get<std::string>();
  }
  return r;
}

parsed<lease_call> parse_lease_call(std::string_view body, lease_op op,
                                    const task_id& lease) {
  json doc = json::object();
  if (body.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    auto parsed_body = parse_body(body);
    if (auto err = std::get_if<http_error>(&parsed_body))
      return *err;
    doc = std::get<json>(std::move(parsed_body));
  }
  if (!doc.is_object())
    return invalid("the request body must be a JSON object");
  auto fields = op == lease_op::complete ? check_fields(doc, {"result"})
                : op == lease_op::fail   ? check_fields(doc, {"error", "retry"})
                                         : check_fields(doc, {"progress"});
  if (!fields.empty())
    return invalid(fields);
  lease_call call;
  call.lease = lease;
  call.op = op;
  if (auto err = read_call(doc, call); !err.empty())
    return invalid(err);
  return call;
}

parsed<std::vector<lease_call>> parse_lease_results(const json& body) {
  if (!body.is_object())
    return invalid("the request body must be a JSON object");
  if (auto err = check_fields(body, {"results"}); !err.empty())
    return invalid(err);
  auto results = body.find("results");
  if (results == body.end() || !results->is_array() || results->empty()
      || static_cast<int64_t>(results->size()) > max_leases_per_request)
    return invalid("results must be an array of 1 to "
                   + std::to_string(max_leases_per_request)
                   + " {\"lease\", \"result\"} or {\"lease\", \"error\", "
                     "\"retry\"?} entries");
  std::vector<lease_call> calls;
  calls.reserve(results->size());
  for (size_t i = 0; i < results->size(); ++i) {
    auto& entry = (*results)[i];
    auto where = "results[" + std::to_string(i) + "]";
    if (!entry.is_object())
      return invalid(where + " must be an object");
    auto lease = entry_lease(entry);
    if (!lease)
      return invalid(where + ".lease must be a lease id");
    lease_call call;
    call.lease = *lease;
    call.op = entry.contains("error") ? lease_op::fail : lease_op::complete;
    auto fields = call.op == lease_op::fail
                      ? check_fields(entry, {"lease", "error", "retry"})
                      : check_fields(entry, {"lease", "result"});
    if (!fields.empty())
      return invalid(where + "." + fields);
    if (auto err = read_call(entry, call); !err.empty())
      return invalid(where + "." + err);
    calls.push_back(std::move(call));
  }
  return calls;
}

std::string render_grants(const std::vector<lease_grant>& grants) {
  std::string out = "{\"leases\":[";
  for (size_t i = 0; i < grants.size(); ++i) {
    auto& g = grants[i];
    auto& a = g.work;
    out += i == 0 ? "{\"lease\":\"" : ",{\"lease\":\"";
    out += g.lease.to_string();
    out += "\",\"expires_at\":";
    append_time(out, g.expires_at);
    out += ",\"task\":{\"id\":";
    if (a.task.empty())
      out += "null";
    else
      append_string(out, a.task);
    out += ",\"kind\":";
    append_string(out, a.kind);
    out += ",\"input\":";
    out += a.input.value.dump(-1, ' ', false,
                              json::error_handler_t::replace);
    out += ",\"attempt\":" + std::to_string(a.number) + ",\"attempt_id\":";
    append_string(out, a.id);
    out += "}}";
  }
  return out + "]}";
}

std::string render_lease_answer(const lease_answer& a, lease_op op) {
  std::string out;
  append_answer(out, a, op);
  return out;
}

std::string render_lease_answers(const std::vector<lease_answer>& xs,
                                 const std::vector<lease_op>& ops) {
  std::string out = "{\"results\":[";
  for (size_t i = 0; i < xs.size(); ++i) {
    if (i > 0)
      out += ',';
    append_answer(out, xs[i], ops[i]);
  }
  return out + "]}";
}

std::string render_workers(const std::vector<lease_worker_view>& xs) {
  json workers = json::array();
  for (auto& w : xs)
    workers.push_back({{"name", valid_utf8(w.name)},
                       {"kinds", w.kinds},
                       {"leases", w.leases},
                       {"completed", w.completed},
                       {"failed", w.failed},
                       {"last_seen", iso8601(w.last_seen)}});
  return json{{"workers", std::move(workers)}}.dump();
}

} // namespace actorq::http
