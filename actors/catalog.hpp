// The catalog: every pool and every kind this actorq runs, built once at
// start-up from the configuration — the built-in pools and kinds, changed
// and extended by [pools.NAME] and [kinds.NAME] sections (or --pools.NAME.KEY
// and --kinds.NAME.KEY options) — and read by everything else: validation,
// the pools, the workers, /v1/kinds and /v1/pools, worker nodes.
//
// Adding a pool or a kind is a config edit. Each key is defined once, in the
// key tables of catalog.cpp (name, type, default, doc), which drive parsing,
// validation and documentation alike.
#pragma once

#include "actors/actors.hpp"
#include "actors/config.hpp"
#include "actors/exec_runner.hpp"
#include "actors/http_runner.hpp"
#include "actors/kinds.hpp"
#include "actors/rate_limiter.hpp"

#include <caf/all.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace actorq {

/// How a kind's attempts run.
enum class runner_type : uint8_t {
  builtin, // a function compiled into actorq (kinds.cpp)
  exec,    // a program per attempt (exec_runner)
  http,    // an HTTP call per attempt (http_runner)
  remote,  // an actor on another CAF node that joined the gateway
  lease,   // worker processes that pull attempts over HTTP (POST /v1/leases)
};

const char* to_string(runner_type x);

/// How long a lease lives without a heartbeat, unless the kind says.
constexpr int64_t default_lease_ttl_ms = 30'000;

/// Task defaults a kind may set; unset fields fall back to its pool's.
struct kind_defaults {
  std::optional<int32_t> max_retries;
  std::optional<int64_t> backoff_ms;
  std::optional<int64_t> timeout_ms;
};

/// One kind: a built-in one or one declared in the configuration.
struct kind_info {
  std::string name;
  runner_type runner = runner_type::builtin;
  std::string pool;
  std::string description;
  kind_defaults defaults;
  const kind_def* builtin = nullptr;      // runner == builtin
  std::shared_ptr<const exec_spec> exec;  // runner == exec
  std::shared_ptr<const http_spec> http;  // runner == http
  int64_t lease_ttl_ms = default_lease_ttl_ms; // runner == lease
  std::optional<rate_spec> rate; // its `rate` and `burst` keys, if set
  // The bucket its attempts start from, shared by every pool (set with rate).
  std::shared_ptr<rate_limiter> limiter;

  /// Must run on a pool of dedicated threads (CPU-bound built-ins).
  bool cpu_bound() const {
    return builtin != nullptr && builtin->cpu_bound;
  }
  /// Local workers (of the head or a worker node) can run it.
  bool runs_locally() const {
    return runner != runner_type::remote && runner != runner_type::lease;
  }
};

/// Global defaults the catalog starts from (the [retry] and [supervisor]
/// sections).
struct catalog_defaults {
  retry_settings retry;
  supervisor_settings supervisor;
  std::string config_dir = "."; // workdir of exec kinds unless they say
  // callbacks.allowed-prefixes: what a task's callback_url may start with.
  std::vector<std::string> callback_prefixes;
};

class catalog {
public:
  /// The built-in pools and kinds only, with their defaults.
  catalog();

  /// Builds the catalog from a configuration's content (its "pools" and
  /// "kinds" dictionaries). Every problem is appended to `problems`, naming
  /// the key; the result is only meant to be used when there are none.
  static std::shared_ptr<catalog> build(const caf::settings& content,
                                        const catalog_defaults& defaults,
                                        std::vector<std::string>& problems);

  const std::vector<pool_settings>& pools() const {
    return pools_;
  }
  const std::vector<kind_info>& kinds() const {
    return kinds_;
  }

  /// The kind with this name, or null.
  const kind_info* find_kind(std::string_view name) const;
  /// Its index in kinds(), or -1.
  int kind_index(std::string_view name) const;
  /// The pool with this name, or null.
  const pool_settings* find_pool(std::string_view name) const;
  int pool_index(std::string_view name) const;

  /// callbacks.allowed-prefixes (check_task checks callback_url with them).
  const std::vector<std::string>& callback_prefixes() const {
    return callback_prefixes_;
  }

  /// "a, b, c": the names, for error messages.
  std::string kind_names() const;
  std::string pool_names() const;

  /// Config kinds whose runner a node must share with the head (exec,
  /// http): name → runner. Sent by worker nodes when they join.
  std::vector<std::pair<std::string, std::string>> config_kinds() const;

private:
  void add_pool(pool_settings p);
  void add_kind(kind_info k);

  std::vector<pool_settings> pools_;
  std::vector<kind_info> kinds_;
  std::unordered_map<std::string, int> kind_by_name_;
  std::vector<std::string> callback_prefixes_;
};

/// The catalog in use in this process: the built-ins until install() is
/// called (once, at start-up, before the actor system runs).
const catalog& current_catalog();
void install_catalog(std::shared_ptr<const catalog> c);

/// One key of a [pools.NAME] or [kinds.NAME] section, from the key tables of
/// catalog.cpp, for actorq --help.
struct section_key_doc {
  std::string name;
  std::string applies_to; // "" = every kind; "exec", "http", ... otherwise
  std::string doc;
};
std::vector<section_key_doc> pool_key_docs();
std::vector<section_key_doc> kind_key_docs();

/// Checks a task spec and fills in what it leaves to defaults: the kind's
/// pool, then max_retries, backoff_ms and timeout_ms from the kind, else its
/// pool (negative = not given). The one place that validates a task, for
/// HTTP, the gateway and batches alike. Returns "" or a message naming the
/// field (input fields as "input.NAME").
std::string check_task(task_spec& spec, const catalog& cat);

/// The delay of a spec (part of check_task): countdown_ms -1 (none) or
/// 0..max_countdown_ms, not both it and run_at, run_at at most that far ahead.
std::string check_delay(const task_spec& spec);

/// What a batch's shared spec may not carry (a batch runs at once, answered
/// synchronously): run_at, countdown_ms. "" or why not.
std::string check_batch_task(const task_spec& spec);
/// Replaces each ${NAME} in `text` with actorq's environment variable NAME;
/// sets `problem` (and returns "") if one is malformed or unset.
std::string expand_env_refs(const std::string& text, std::string& problem);

/// Checks one input of a spec already checked by check_task (batch items).
std::string check_input(const kind_info& kind, const json& input);

} // namespace actorq
