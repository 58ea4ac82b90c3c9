// libFuzzer target for the HTTP bridge's request layer: every body, query
// value and path id a client can send goes through the same parse/validate/
// render code as in http/codec.cpp. Run by ctest for a bounded time; run it
// longer by hand: build/bin/codec_fuzz -max_total_time=600 fuzz/corpus
#include "actors/actors.hpp"
#include "actors/config.hpp"
#include "http/codec.hpp"
#include "http/lease_codec.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

using namespace actorq;
using namespace actorq::http;

namespace {

const codec_settings& settings() {
  static const codec_settings cfg = [] {
    codec_settings c; // the built-in catalog: pools io, cpu, limited, heavy
    c.max_batch_items = 1000;
    return c;
  }();
  return cfg;
}

/// Every error the codec produces must render as JSON with detail and code:
/// a string detail, or on the seed routes FastAPI's [{loc, msg, type}].
void check_error(const http_error& e) {
  auto text = render_error(e);
  auto j = json::parse(text); // throws (and the fuzzer reports) if invalid
  auto& detail = j.at("detail");
  bool fastapi = detail.is_array() && detail.size() == 1
                 && detail[0].at("loc").is_array()
                 && detail[0].at("msg").is_string()
                 && detail[0].at("type").is_string();
  if (!(detail.is_string() || fastapi) || !j.at("code").is_string()
      || e.status < 400 || e.status > 599)
    __builtin_trap();
}

template <class T, class F>
void visit(parsed<T>& x, F on_value) {
  if (auto err = std::get_if<http_error>(&x))
    check_error(*err);
  else
    on_value(std::get<T>(x));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto& cfg = settings();
  // Path ids and query parameters.
  if (auto id = task_id::parse(text)) {
    auto again = task_id::parse(id->to_string());
    if (!again || !(*again == *id))
      __builtin_trap();
  }
  auto filter = parse_filter(&text, &text, &text, &text, *cfg.kinds);
  visit(filter, [](task_filter&) {});
  auto wait = parse_int_param("wait_ms", text, 0, 60000);
  visit(wait, [](int64_t) {});
  // Lease calls take any body (empty = {}).
  for (auto op : {lease_op::complete, lease_op::fail, lease_op::heartbeat}) {
    auto call = parse_lease_call(text, op, task_id::random());
    visit(call, [](lease_call&) {});
  }
  auto seed_body = parse_seed_body(text);
  visit(seed_body, [](json&) {});
  // Bodies.
  auto body = parse_body(text);
  visit(body, [&](json& j) {
    auto task = parse_task(j, cfg);
    visit(task, [](task_spec& spec) {
      // A valid task renders as a valid view.
      task_view v;
      v.kind = spec.kind;
      v.pool = spec.pool;
      v.result.text = spec.input.value.dump(-1, ' ', false,
                                            json::error_handler_t::replace);
      (void) json::parse(render_task(v));
    });
    auto batch = parse_batch(j, cfg);
    visit(batch, [](batch_spec& b) {
      batch_result r;
      for (auto& item : b.items) {
        r.results.push_back(item);
        r.errors.emplace_back();
      }
      (void) json::parse(render_batch(r));
    });
    auto leases = parse_lease_request(j, *cfg.kinds, "fuzz");
    visit(leases, [](lease_request&) {});
    auto results = parse_lease_results(j);
    visit(results, [](std::vector<lease_call>& calls) {
      std::vector<lease_answer> answers(calls.size());
      std::vector<lease_op> ops;
      for (size_t i = 0; i < calls.size(); ++i) {
        answers[i].lease = calls[i].lease;
        ops.push_back(calls[i].op);
      }
      (void) json::parse(render_lease_answers(answers, ops));
    });
    for (auto route : {seed_route::process_multiple, seed_route::submit_task,
                       seed_route::start_task, seed_route::process_cpu_bound}) {
      auto one = parse_seed_task(route, j, cfg);
      visit(one, [](task_spec&) {});
      auto many = parse_seed_batch(route, j, cfg);
      visit(many, [](batch_spec&) {});
    }
  });
  return 0;
}
