#include "actors/config.hpp"

#include "actors/catalog.hpp"
#include "actors/text.hpp"

#include <filesystem>

#include <algorithm>
#include <thread>
#include <unistd.h>

namespace actorq {

actorq_config::actorq_config() {
  // One shared run queue with a condition variable: work-stealing's idle
  // workers poll every 10 ms and add that much latency to a quiet service.
  set("scheduler.policy", caf::atom("sharing"));
  set("scheduler.max-threads",
      static_cast<size_t>(std::max(2u, std::thread::hardware_concurrency())));
  // The options below are actorq's: --help lists these, --long-help CAF's.
  first_own_option_ = custom_options_.size();
  // One line each: --help prints them beside their defaults.
  caf::config_option_adder{custom_options_, "http"}
      .add(http_host, "host", "address to bind")
      .add(http_port, "port", "TCP port; 0 picks a free one (printed)")
      .add(http_threads, "threads",
           "worker threads kept ready; each open connection holds one")
      .add(http_max_threads, "max-threads",
           "most worker threads; extras exit after 3 idle seconds")
      .add(http_max_waiting, "max-waiting",
           "most wait_ms long-polls at once; beyond, wait_ms answers at once")
      .add(http_max_body_bytes, "max-body-bytes",
           "largest request body (413 beyond)")
      .add(http_max_batch_items, "max-batch-items",
           "most items in one batch (413 beyond)")
      .add(http_batch_timeout, "batch-timeout",
           "longest a batch request may take")
      .add(http_auth_token, "auth-token",
           "require 'Authorization: Bearer TOKEN' on every route but /healthz");
  caf::config_option_adder{custom_options_, "store"}
      .add(store_path, "path",
           "SQLite file of the tasks; ':memory:' = none (lost on restart)")
      .add(store_result_ttl, "result-ttl",
           "ended tasks are deleted this long after they end (0 = never)")
      .add(store_sync, "sync",
           "'full': fsync every commit; 'normal': survives process crashes")
      .add(store_memory_tasks, "memory-tasks",
           "most recent tasks kept in memory; older ones are read from disk")
      .add(store_write_timeout, "write-timeout",
           "a write not done after this long answers its submissions 503");
  caf::config_option_adder{custom_options_, "cluster"}
      .add(cluster_host, "host",
           "address of the gateway (off loopback: TLS or cluster.insecure)")
      .add(cluster_port, "port",
           "publish the gateway (CAF clients, worker nodes); 0 = off")
      .add(cluster_join, "join",
           "HOST:PORT of a head: run as a worker node lending its pools")
      .add(cluster_name, "name", "this worker node's name")
      .add(cluster_insecure, "insecure",
           "let a plain (non-TLS) gateway listen off loopback (unsafe)")
      .add(cluster_worker_http, "worker-http",
           "a worker node serves GET /healthz on http.host:http.port");
  caf::config_option_adder{custom_options_, "cluster.tls"}
      .add(cluster_tls_certificate, "certificate",
           "PEM certificate of this node (TLS needs all three files)")
      .add(cluster_tls_key, "key", "PEM private key of this node")
      .add(cluster_tls_ca_file, "ca-file",
           "PEM CA certificate; peers must present a certificate it signed");
  caf::config_option_adder{custom_options_, "metrics"}
      .add(metrics_enabled, "enabled",
           "count tasks, attempts and requests for GET /metrics")
      .add(metrics_public, "public",
           "serve GET /metrics without the auth token (scrapers)");
  caf::config_option_adder{custom_options_, "shutdown"}.add(
      shutdown_grace, "grace",
      "on SIGTERM/SIGINT, how long running attempts may take to finish");
  caf::config_option_adder{custom_options_, "seed"}.add(
      seed_delay_scale, "delay-scale",
      "multiplies every simulated delay of the seed routes");
  caf::config_option_adder{custom_options_, "log"}
      .add(log_format, "format",
           "stderr lines: 'json', 'text' or 'auto' (text on a terminal)")
      .add(log_level, "level", "trace, debug, info, warn, error or off")
      .add(log_access, "access", "log every answered request (access log)");
  caf::config_option_adder{custom_options_, "retry"}
      .add(retry_max_retries, "max-retries", "default retries per task")
      .add(retry_backoff, "backoff", "default delay before the first retry")
      .add(retry_max_backoff, "max-backoff", "cap on any retry delay")
      .add(retry_jitter, "jitter", "random stretch of retry delays (0..1)");
  caf::config_option_adder{custom_options_, "callbacks"}
      .add(callbacks_secret, "secret",
           "HMAC-SHA256 key of X-Actorq-Signature; ${NAME} reads the env")
      .add(callbacks_max_attempts, "max-attempts",
           "POSTs of a completion callback before it is failed")
      .add(callbacks_allowed_prefixes, "allowed-prefixes",
           "URL prefixes a callback_url may start with; none = no callbacks")
      .add(callbacks_backoff, "backoff",
           "delay before a callback's 2nd attempt, doubled per attempt")
      .add(callbacks_max_backoff, "max-backoff", "cap on callback delays")
      .add(callbacks_timeout, "timeout", "longest one callback POST may take")
      .add(callbacks_concurrency, "concurrency",
           "callback POSTs at once (each on a thread of its own)");
  caf::config_option_adder{custom_options_, "supervisor"}
      .add(sup_min_backoff, "min-backoff", "first restart delay of a worker")
      .add(sup_max_backoff, "max-backoff", "cap on restart delays")
      .add(sup_random_factor, "random-factor",
           "random spread of restart delays (0..1)")
      .add(sup_reset_after, "reset-after",
           "a worker alive this long starts again at min-backoff")
      .add(sup_max_restarts, "max-restarts",
           "restarts within window before the pool is degraded")
      .add(sup_window, "window", "window for max-restarts");
}

namespace {

/// Collects "a.b.c" names of every leaf value in `xs`.
void leaf_keys(
    const caf::settings& xs, const std::string& prefix,
    std::vector<std::pair<std::string, const caf::config_value*>>& out) {
  for (auto& [key, value] : xs) {
    auto name = prefix.empty() ? std::string{key} : prefix + "." + key;
    if (auto dict = caf::get_if<caf::settings>(&value))
      leaf_keys(*dict, name, out);
    else
      out.emplace_back(name, &value);
  }
}

} // namespace

const caf::config_option*
actorq_config::option(const std::string& name) const {
  auto dot = name.rfind('.');
  if (dot == std::string::npos)
    return custom_options_.qualified_name_lookup("global", name);
  return custom_options_.qualified_name_lookup(
      caf::string_view{name.data(), dot},
      caf::string_view{name.data() + dot + 1, name.size() - dot - 1});
}

std::vector<std::string> actorq_config::validate() {
  std::vector<std::string> problems;
  store_option_values(problems);
  validate_server(problems);
  validate_log(problems);
  validate_defaults(problems);
  validate_callbacks(problems);
  apply_section_args(problems);
  build_catalog(problems);
  locate_problems(problems);
  return problems;
}

void actorq_config::store_option_values(std::vector<std::string>& problems) {
  // CAF stores unknown keys and silently drops values of the wrong type:
  // check the file's values, then every key against the options.
  check_file_values(problems);
  for (auto& [name, on] : flag_args_) {
    caf::put(content, name, on);
    option(name)->store(caf::config_value{on});
  }
  std::vector<std::pair<std::string, const caf::config_value*>> keys;
  leaf_keys(content, "", keys);
  for (auto& [name, value] : keys) {
    if (name == "config-file" || name == "global.config-file")
      continue; // consumed by CAF itself
    if (name.rfind("pools.", 0) == 0 || name.rfind("kinds.", 0) == 0
        || name.rfind("schedules.", 0) == 0)
      continue; // the catalog and read_schedules read these
    auto opt = option(name);
    if (opt == nullptr) {
      auto best = closest_option(name);
      problems.push_back("unknown configuration key '" + name + "'"
                         + (best.empty() ? ""
                                         : " (did you mean '" + best + "'?)"));
      continue;
    }
    // "0" means no duration (e.g. store.result-ttl = 0: keep forever); CAF
    // only reads durations with a unit.
    if (opt->type_name() == "timespan" && caf::get_if<int64_t>(value) != nullptr
        && *caf::get_if<int64_t>(value) == 0) {
      opt->store(caf::config_value{caf::timespan{0}});
      continue;
    }
    if (auto err = opt->check(*value)) {
      problems.push_back("bad value for '" + name + "': "
                         + expected_value(name, opt->type_name(),
                                          caf::to_string(*value)));
      continue;
    }
    // CAF 0.17 does not hand values of dotted INI sections ([pools.io]) to
    // their options: store every checked value ourselves.
    opt->store(*value);
  }
}

namespace {

/// The range checks of validate(), each adding its problem.
struct range_checks {
  std::vector<std::string>& problems;

  void range(const char* key, int64_t value, int64_t lo, int64_t hi) {
    if (value < lo || value > hi)
      problems.push_back("bad value for '" + std::string{key}
                         + "': " + std::to_string(value) + " is not in ["
                         + std::to_string(lo) + ", " + std::to_string(hi)
                         + "]");
  }

  void fraction(const char* key, double value) {
    if (!(value >= 0.0 && value <= 1.0))
      problems.push_back("bad value for '" + std::string{key}
                         + "': must be between 0 and 1");
  }

  void positive(const char* key, caf::timespan value) {
    if (value.count() <= 0)
      problems.push_back("bad value for '" + std::string{key}
                         + "': must be a positive duration such as 50ms");
  }
};

bool loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]"
         || host.rfind("127.", 0) == 0;
}

} // namespace

void actorq_config::validate_server(std::vector<std::string>& problems) {
  range_checks check{problems};
  check.range("http.port", http_port, 0, 65535);
  check.range("http.threads", http_threads, 1, 10000);
  check.range("http.max-threads", http_max_threads, 1, 100000);
  // At least http.threads: an older config raising only that still works.
  http_max_threads = std::max(http_max_threads, http_threads);
  if (http_max_waiting < 0)
    http_max_waiting = default_max_waiting(http_max_threads);
  else
    check.range("http.max-waiting", http_max_waiting, 0, http_max_threads - 1);
  check.range("http.max-body-bytes", http_max_body_bytes, 1, int64_t{1} << 32);
  check.range("http.max-batch-items", http_max_batch_items, 1, 10'000'000);
  check.positive("http.batch-timeout", http_batch_timeout);
  if (store_path.empty())
    problems.push_back("bad value for 'store.path': must not be empty (use "
                       "':memory:' for no store)");
  if (store_result_ttl.count() < 0)
    problems.push_back("bad value for 'store.result-ttl': must not be "
                       "negative (0 keeps ended tasks forever)");
  if (store_sync != "full" && store_sync != "normal")
    problems.push_back("bad value for 'store.sync': expected 'full' or "
                       "'normal', got '" + store_sync + "'");
  check.range("store.memory-tasks", store_memory_tasks, 1, 1'000'000'000);
  check.positive("store.write-timeout", store_write_timeout);
  check.range("cluster.port", cluster_port, 0, 65535);
  // Plain BASP authenticates nobody and trusts the payload lengths peers
  // declare: off loopback only with TLS, or when the operator says so.
  bool tls = !cluster_tls_certificate.empty() || !cluster_tls_key.empty()
             || !cluster_tls_ca_file.empty();
  if (cluster_port > 0 && !tls && !loopback(cluster_host) && !cluster_insecure)
    problems.push_back(
        "bad value for 'cluster.host': a plain gateway listens on loopback "
        "only (got '" + cluster_host + "'); set [cluster.tls] certificate, key "
        "and ca-file, or cluster.insecure = true to accept the risk");
  if (!cluster_join.empty() && cluster_join.find(':') == std::string::npos)
    problems.push_back("bad value for 'cluster.join': expected HOST:PORT, got '"
                       + cluster_join + "'");
  if (shutdown_grace.count() < 0)
    problems.push_back("bad value for 'shutdown.grace': must not be negative");
  if (!(seed_delay_scale >= 0.0 && seed_delay_scale <= 1000.0))
    problems.push_back("bad value for 'seed.delay-scale': must be between 0 "
                       "and 1000");
}

void actorq_config::validate_defaults(std::vector<std::string>& problems) {
  range_checks check{problems};
  check.range("retry.max-retries", retry_max_retries, 0, 100);
  check.positive("retry.backoff", retry_backoff);
  check.positive("retry.max-backoff", retry_max_backoff);
  check.fraction("retry.jitter", retry_jitter);
  check.positive("supervisor.min-backoff", sup_min_backoff);
  check.positive("supervisor.max-backoff", sup_max_backoff);
  check.fraction("supervisor.random-factor", sup_random_factor);
  check.positive("supervisor.reset-after", sup_reset_after);
  check.range("supervisor.max-restarts", sup_max_restarts, 0, 1'000'000);
  check.positive("supervisor.window", sup_window);
  if (sup_min_backoff > sup_max_backoff)
    problems.push_back("supervisor.min-backoff must not exceed "
                       "supervisor.max-backoff");
}

void actorq_config::build_catalog(std::vector<std::string>& problems) {
  catalog_defaults defaults;
  auto ms = [](caf::timespan x) {
    return std::chrono::duration_cast<millis>(x);
  };
  defaults.retry = {retry_max_retries, ms(retry_backoff),
                    ms(retry_max_backoff), retry_jitter};
  defaults.supervisor = {ms(sup_min_backoff), ms(sup_max_backoff),
                         sup_random_factor,   ms(sup_reset_after),
                         sup_max_restarts,    ms(sup_window)};
  // Relative paths of [kinds.NAME] (workdir, command) start at the config
  // file's folder.
  namespace fs = std::filesystem;
  defaults.config_dir = fs::current_path().string();
  if (auto file = caf::get_if<std::string>(&content, "config-file"))
    defaults.config_dir =
        fs::absolute(fs::path{*file}).parent_path().lexically_normal().string();
  defaults.callback_prefixes = callbacks_allowed_prefixes;
  catalog_ = catalog::build(content, defaults, problems);
  schedules_ = read_schedules(content, *catalog_, problems);
}

void actorq_config::locate_problems(std::vector<std::string>& problems) const {
  // Every problem names its key first ('pools.io.size'): say where a key of
  // the config file is.
  for (auto& p : problems) {
    auto open = p.find('\'');
    auto close = p.find('\'', open + 1);
    bool located = !file_name_.empty() && p.rfind(file_name_ + ":", 0) == 0;
    if (!located && open != std::string::npos && close != std::string::npos)
      p = file_location(p.substr(open + 1, close - open - 1)) + p;
  }
}

void actorq_config::validate_log(std::vector<std::string>& problems) {
  if (auto min = log::parse_level(log_level))
    log_min = *min;
  else
    problems.push_back("bad value for 'log.level': expected one of "
                       + log::level_names() + ", got '" + log_level + "'");
  if (log_format == "auto")
    log_lines = ::isatty(STDERR_FILENO) ? log::format::text
                                        : log::format::json;
  else if (auto f = log::parse_format(log_format))
    log_lines = *f;
  else
    problems.push_back("bad value for 'log.format': expected 'json', 'text' "
                       "or 'auto', got '" + log_format + "'");
}

void actorq_config::validate_callbacks(std::vector<std::string>& problems) {
  if (callbacks_max_attempts < 1 || callbacks_max_attempts > 100)
    problems.push_back("bad value for 'callbacks.max-attempts': must be "
                       "between 1 and 100");
  if (callbacks_concurrency < 1 || callbacks_concurrency > 256)
    problems.push_back("bad value for 'callbacks.concurrency': must be "
                       "between 1 and 256");
  for (auto [key, value] :
       {std::pair{"callbacks.backoff", callbacks_backoff},
        std::pair{"callbacks.max-backoff", callbacks_max_backoff},
        std::pair{"callbacks.timeout", callbacks_timeout}})
    if (value.count() <= 0)
      problems.push_back("bad value for '" + std::string{key}
                         + "': must be a positive duration such as 1s");
  for (auto& p : callbacks_allowed_prefixes)
    if (p.rfind("http://", 0) != 0 && p.rfind("https://", 0) != 0)
      problems.push_back("bad value for 'callbacks.allowed-prefixes': '" + p
                         + "' must start with http:// or https://");
  // The secret's value never goes into a message (it may be the key itself).
  std::string problem;
  auto secret = expand_env_refs(callbacks_secret, problem);
  if (!problem.empty())
    problems.push_back("bad value for 'callbacks.secret': "
                       + (callbacks_secret.find("${") == std::string::npos
                              ? std::string{"cannot read it"}
                              : problem));
  else
    callbacks_secret = std::move(secret);
  if (callbacks_secret.empty() && !callbacks_allowed_prefixes.empty())
    problems.push_back("bad value for 'callbacks.secret': must be set when "
                       "callbacks.allowed-prefixes allows callbacks (their "
                       "receivers check the signature)");
}

int64_t actorq_config::default_max_waiting(int64_t max_threads) {
  return max_threads >= 128 ? max_threads - 64 : max_threads / 2;
}

std::shared_ptr<const catalog> actorq_config::kinds() const {
  if (!catalog_)
    return std::make_shared<catalog>();
  return catalog_;
}

const std::vector<pool_settings>& actorq_config::pools() const {
  if (!catalog_)
    return current_catalog().pools();
  return catalog_->pools();
}

void actorq_config::apply_section_args(std::vector<std::string>& problems) {
  for (auto& [key, text] : section_args_) {
    // Three parts at least: section, name, key (rlimits.cpu has four).
    if (std::count(key.begin(), key.end(), '.') < 2) {
      problems.push_back("unknown configuration key '" + key
                         + "' (expected --" + key.substr(0, key.find('.'))
                         + ".NAME.KEY=VALUE)");
      continue;
    }
    // Typed like an INI value (30s, 5, true, ["a", "b"]); anything else is
    // taken as a string, so quotes are optional on the command line.
    auto value = caf::config_value::parse(text);
    caf::put(content, key, value ? std::move(*value) : caf::config_value{text});
  }
}

} // namespace actorq
