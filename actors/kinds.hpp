// The built-in kinds: each a plain function plus a validator, listed in
// kinds.cpp (adding one touches kinds.cpp only). Kinds declared in the
// configuration (exec, http, remote) join them in the catalog (catalog.hpp).
#pragma once

#include "actors/actors.hpp"

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace actorq {

/// What one run of a kind produced. A kind that throws kills its worker.
struct kind_run {
  outcome result;
  /// Simulated I/O: the worker reports the result after this many
  /// milliseconds without blocking a thread.
  int64_t delay_ms = 0;
};

/// Checks an input at submission; returns "" when valid, else a message that
/// starts with the offending field ("value must be …") or, for the input as a
/// whole, with "must"; field_error() puts the path in front.
using kind_validate_fn = std::string (*)(const json& input);

/// Runs one attempt; `attempt` counts from 1.
using kind_run_fn = kind_run (*)(const json& input, int32_t attempt);

struct kind_def {
  std::string_view name;
  std::string_view pool; // default pool
  std::string_view description;
  bool cpu_bound; // must run on a pool of dedicated threads
  kind_validate_fn validate;
  kind_run_fn run;
};

/// Limits of a task spec, checked by check_task() (catalog.hpp) and the
/// HTTP codec.
constexpr int64_t max_task_retries = 100;
constexpr int64_t max_delay_ms = 3'600'000;           // delays and backoff
constexpr int64_t max_timeout_ms = 24 * max_delay_ms; // per attempt
// A delayed task starts at most this far ahead (countdown_ms, run_at).
constexpr int64_t max_countdown_ms = 366 * 24 * max_delay_ms; // 366 days
constexpr size_t max_after = 1000; // entries of a task's `after` list

/// Validation helpers shared by the kinds and the HTTP codec. Each returns ""
/// or a message that starts with the field's name.

/// `in[field]` is an integer in [lo, hi]; absent is fine unless `required`.
std::string check_int(const json& in, const char* field, int64_t lo, int64_t hi,
                      bool required);

/// Every field of the object `in` is one of `allowed` (typos do not pass).
std::string check_fields(const json& in,
                         std::initializer_list<std::string_view> allowed);

/// All built-in kinds, in documentation order.
const std::vector<kind_def>& all_kinds();

/// The built-in kind with this name, or nullptr (config kinds: catalog).
const kind_def* find_kind(std::string_view name);

/// Prefixes a validator's message with the path of the value checked:
/// ("input", "value must …") → "input.value must …".
std::string field_error(const std::string& path, const std::string& error);

/// An Idempotency-Key a client may use: 1 to 255 visible ASCII characters.
bool valid_idempotency_key(const std::string& key);

/// A hash of what a submission asks for, once its defaults are filled in
/// (kind, pool, input, max_retries, backoff_ms, timeout_ms, priority, and
/// countdown_ms or run_at as sent, if given): a repeated
/// Idempotency-Key with another hash is a different request
/// (idempotency_mismatch). Stable across runs (FNV-1a over canonical JSON,
/// whose object keys are sorted), so a stored task's spec gives it again.
uint64_t request_hash(const task_spec& spec);


} // namespace actorq
