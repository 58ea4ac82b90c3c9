// actorq's configuration: CAF's actor_system_config with actorq's options, read
// from an INI file (--config-file=FILE) and overridable as --group.key=value.
#pragma once

#include "actors/log.hpp"
#include "actors/schedules.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace actorq {

class catalog;
class metrics;

using millis = std::chrono::milliseconds;

/// How a supervisor restarts dead workers.
struct supervisor_settings {
  millis min_backoff{50};
  millis max_backoff{5000};
  double random_factor = 0.2;
  millis reset_after{30000};
  int64_t max_restarts = 20; // more within `window` marks the pool degraded
  millis window{60000};
};

/// How a pool retries failed attempts.
struct retry_settings {
  int64_t max_retries = 3; // default for tasks that do not say
  millis backoff{1000};    // default first delay for tasks that do not say
  millis max_backoff{60000};
  double jitter = 0.1; // each delay is stretched by up to this fraction
};

/// Jobs waiting in a pool's queue, shared between the pool (which drains it)
/// and the HTTP bridge (which admits work): a full pool refuses a submission
/// before anything is created. Lock-free; admission is all or nothing.
class pool_gauge {
public:
  explicit pool_gauge(int64_t limit) : limit_(limit) {}

  /// Reserves room for `n` jobs; false (and nothing reserved) if they would
  /// not fit under the limit.
  bool try_admit(int64_t n) {
    if (queued_.fetch_add(n) + n <= limit_)
      return true;
    queued_.fetch_sub(n);
    return false;
  }

  /// Jobs re-entering the queue (retries, requeues): never refused.
  void add(int64_t n) {
    queued_.fetch_add(n);
  }

  void remove(int64_t n) {
    queued_.fetch_sub(n);
  }

  int64_t queued() const {
    return queued_.load();
  }

  int64_t limit() const {
    return limit_;
  }

private:
  std::atomic<int64_t> queued_{0};
  int64_t limit_;
};

/// One pool of workers.
struct pool_settings {
  std::string name;
  uint32_t size = 1;
  bool dedicated_threads = false; // each worker on its own thread (CPU work)
  retry_settings retry;
  supervisor_settings supervisor;
  int64_t timeout_ms = 0; // default attempt timeout of its tasks; 0 = none
  // Starvation guard: a task waiting this long counts one priority level
  // higher, one more per further period; 0 = never.
  int64_t max_wait_boost_ms = 60'000;
  std::shared_ptr<pool_gauge> gauge; // null: no admission control (tests)
  // On a worker node: the workers serve the head's pool from this slot on,
  // and the node's clock means nothing to the head (no degraded window).
  uint32_t first_slot = 0;
  bool remote = false;
  std::shared_ptr<metrics> meters; // null: metrics off (or a worker node)
  bool paused = false; // by an operator before a restart (from the store)
};

/// "expected an integer, got \"80\"": what option `key` of CAF type
/// `type_name` takes, said for a person, and what it got (unless the key
/// holds a secret).
std::string expected_value(const std::string& key, caf::string_view type_name,
                           const std::string& got);

class actorq_config : public caf::actor_system_config {
public:
  actorq_config();

  /// Checks every key and value after parsing; returns the problems found,
  /// each naming the key (and the config file's line for keys read from it).
  /// Also fills the derived fields below.
  std::vector<std::string> validate();

  /// The command line as CAF should parse it (config_cli.cpp): "--KEY VALUE"
  /// joined to "--KEY=VALUE", "--KEY=0" for duration options read as "0s"
  /// (CAF only parses durations with a unit), the options of sections CAF
  /// cannot declare ahead (--pools.NAME.KEY, --kinds.NAME.KEY) taken out
  /// (validate() applies them) and --help taken out (see help_text()).
  /// Checks what CAF would report poorly or not at all and appends it to
  /// `problems`: unknown options (with the closest valid name), values CAF
  /// cannot read, stray words, and the config file's syntax (file, line and
  /// what was expected).
  std::vector<std::string> prepare_args(int argc, char** argv,
                                        std::vector<std::string>& problems);

  /// -h, -? or --help was given.
  bool help_requested() const {
    return help_requested_;
  }

  /// actorq's own options grouped by section, one line each with its
  /// default, then the keys of [pools.NAME] and [kinds.NAME]. CAF's own
  /// options are left to --long-help.
  std::string help_text() const;

  /// The pools and kinds to run, built by validate() (the built-ins before).
  std::shared_ptr<const catalog> kinds() const;

  /// The pools to start, in display order (from kinds()).
  const std::vector<pool_settings>& pools() const;

  /// The [schedules.NAME] sections, checked by validate().
  const std::vector<schedule_def>& schedules() const {
    return schedules_;
  }

  /// http.max-waiting when not set: http.max-threads - 64, or half of it
  /// below 128 threads, so short requests always find a thread.
  static int64_t default_max_waiting(int64_t max_threads);

private:
  /// The declared option "group.name" (or "name" in group global), or null.
  const caf::config_option* option(const std::string& name) const;

  /// Checks every key of the file and the command line against the
  /// declared options and stores the valid values (the sections' keys are
  /// left to the catalog and the schedules).
  void store_option_values(std::vector<std::string>& problems);

  /// Checks of the [http], [store], [cluster], [shutdown] and [seed] keys.
  void validate_server(std::vector<std::string>& problems);

  /// Range checks of the [retry] and [supervisor] defaults.
  void validate_defaults(std::vector<std::string>& problems);

  /// Builds the catalog (pools and kinds) and the schedules from their
  /// sections, with the defaults the flat keys set.
  void build_catalog(std::vector<std::string>& problems);

  /// Prefixes each problem about a key read from the config file with
  /// "FILE:LINE: ".
  void locate_problems(std::vector<std::string>& problems) const;

  /// Checks log.level and log.format; sets log_min and log_lines.
  void validate_log(std::vector<std::string>& problems);

  /// Checks the [callbacks] keys; resolves ${NAME} in callbacks.secret.
  void validate_callbacks(std::vector<std::string>& problems);

  /// Puts the --pools.* / --kinds.* options into `content` (over the file's).
  void apply_section_args(std::vector<std::string>& problems);

  /// Checks one --NAME=VALUE of the command line; "" or the problem.
  std::string check_arg(const std::string& name, std::string& value) const;

  /// One --NAME[=VALUE] of the command line, kept for CAF in `args` (the
  /// sections' keys for validate()); "" or the problem.
  std::string take_option(const std::string& name,
                          std::optional<std::string> value,
                          std::vector<std::string>& args);

  /// Reads the config file with CAF's INI parser but no options, so that
  /// syntax errors can be told with their line and values CAF would drop
  /// for their type are kept for validate() to report.
  void read_config_file(const std::string& file, bool named,
                        std::vector<std::string>& problems);

  /// "FILE:LINE: cannot read `LINE`: what was expected" for where CAF's INI
  /// parser stopped in the config file.
  std::string ini_syntax_error(caf::pec code, int line, int column) const;

  /// Checks the config file's values of declared options, which CAF drops
  /// without a word when their type is wrong; a bare 0 for a duration goes
  /// back into `content` for validate().
  void check_file_values(std::vector<std::string>& problems);

  /// "FILE:LINE: " for a key read from the config file, else "" (also when
  /// the command line gave the key, unless `even_if_overridden`).
  std::string file_location(const std::string& key,
                            bool even_if_overridden = false) const;

  /// The declared option an unknown name is probably a typo of, or "".
  std::string closest_option(const std::string& name) const;

  /// Every declared option as written after "--" (http.port, config-file).
  std::vector<std::string> option_names() const;

  std::vector<std::pair<std::string, std::string>> section_args_; // key, text
  std::vector<std::pair<std::string, bool>> flag_args_; // --FLAG=true|false
  std::shared_ptr<const catalog> catalog_;
  std::vector<schedule_def> schedules_;
  size_t first_own_option_ = 0; // CAF's options come before actorq's
  bool help_requested_ = false;
  std::vector<std::string> cli_keys_; // keys given on the command line
  std::optional<std::string> config_file_arg_; // --config-file
  std::string file_name_;             // the config file read, if any
  std::string file_text_;
  caf::settings file_content_; // its values as written, before type checks

public:
  // [http]
  std::string http_host = "127.0.0.1";
  int64_t http_port = 8080; // 0 = any free port
  int64_t http_threads = 128;
  // Threads added on demand when all are busy (validate() raises it to
  // http_threads at least); extra ones exit when idle.
  int64_t http_max_threads = 1024;
  // Requests that may wait at once (wait_ms long-polls); -1 until validate()
  // derives it: default_max_waiting(http_max_threads).
  int64_t http_max_waiting = -1;
  int64_t http_max_body_bytes = 1 << 20;
  int64_t http_max_batch_items = 100000;
  std::string http_auth_token; // empty: ACTORQ_AUTH_TOKEN, else no auth
  caf::timespan http_batch_timeout = std::chrono::hours{1};

  // [store]
  std::string store_path = "data/actorq.db"; // ":memory:" = not durable
  caf::timespan store_result_ttl = std::chrono::hours{24}; // 0 = forever
  std::string store_sync = "full"; // full | normal
  int64_t store_memory_tasks = 100000;
  caf::timespan store_write_timeout = std::chrono::seconds{5};

  // [cluster]
  std::string cluster_host = "127.0.0.1"; // where the head publishes
  int64_t cluster_port = 0;               // 0 = no gateway on the network
  std::string cluster_join;               // HOST:PORT: run as a worker node
  std::string cluster_name;               // worker node name; default host-pid
  bool cluster_worker_http = false; // worker node: serve GET /healthz
  bool cluster_insecure = false; // a plain (non-TLS) gateway off loopback
  // [cluster.tls]
  std::string cluster_tls_certificate;
  std::string cluster_tls_key;
  std::string cluster_tls_ca_file;

  // [metrics]
  bool metrics_enabled = true; // false: nothing counted, /metrics is 404
  bool metrics_public = false; // true: /metrics needs no token

  // [shutdown]
  caf::timespan shutdown_grace = std::chrono::seconds{10};

  // [seed]
  double seed_delay_scale = 1.0;

  // [log]
  std::string log_format = "auto"; // json | text | auto: text on a terminal
  std::string log_level = "info";
  bool log_access = false; // one line per answered request
  // What log_level and log_format say, set by validate() (auto resolved).
  log::level log_min = log::level::info;
  log::format log_lines = log::format::json;

  // [pools.NAME] and [kinds.NAME]: see catalog.hpp (any name, so CAF
  // cannot declare them as options).

  // [retry]
  int64_t retry_max_retries = 3;
  caf::timespan retry_backoff = std::chrono::milliseconds{1000};
  caf::timespan retry_max_backoff = std::chrono::seconds{60};
  double retry_jitter = 0.1;

  // [callbacks] (completion callbacks; actors/callbacks.hpp)
  std::string callbacks_secret; // HMAC key; ${NAME} = environment variable
  int64_t callbacks_max_attempts = 8;
  std::vector<std::string> callbacks_allowed_prefixes; // none: no callbacks
  caf::timespan callbacks_backoff = std::chrono::seconds{1};
  caf::timespan callbacks_max_backoff = std::chrono::minutes{5};
  caf::timespan callbacks_timeout = std::chrono::seconds{10};
  int64_t callbacks_concurrency = 4;

  // [supervisor]
  caf::timespan sup_min_backoff = std::chrono::milliseconds{50};
  caf::timespan sup_max_backoff = std::chrono::seconds{5};
  double sup_random_factor = 0.2;
  caf::timespan sup_reset_after = std::chrono::seconds{30};
  int64_t sup_max_restarts = 20;
  caf::timespan sup_window = std::chrono::seconds{60};
};

} // namespace actorq
