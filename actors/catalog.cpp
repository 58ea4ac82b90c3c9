#include "actors/catalog.hpp"
#include "actors/time.hpp"

#include "actors/text.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <pwd.h>
#include <regex>
#include <thread>
#include <unistd.h>

namespace actorq {

namespace fs = std::filesystem;

namespace {

/// The runners a config kind may name, and what each does (one table for
/// parsing, errors and docs).
struct runner_row {
  runner_type type;
  const char* name;
  const char* doc;
};

constexpr runner_row config_runners[] = {
    {runner_type::exec, "exec", "a program per attempt"},
    {runner_type::http, "http", "a call per attempt"},
    {runner_type::remote, "remote", "actors of a program that joined the "
                                    "gateway"},
    {runner_type::lease, "lease", "worker processes that pull attempts over "
                                  "HTTP"},
};

/// "\"exec\", \"http\", \"remote\" or \"lease\"".
std::string runner_choices() {
  std::string out;
  size_t n = std::size(config_runners);
  for (size_t i = 0; i < n; ++i)
    out += std::string{i == 0 ? "" : i + 1 == n ? " or " : ", "} + "\""
           + config_runners[i].name + "\"";
  return out;
}

const runner_row* find_runner(const std::string& name) {
  for (auto& r : config_runners)
    if (name == r.name)
      return &r;
  return nullptr;
}

} // namespace

const char* to_string(runner_type x) {
  for (auto& r : config_runners)
    if (r.type == x)
      return r.name;
  return "builtin";
}

namespace {

// -- reading config values ----------------------------------------------------

using value = caf::config_value;

/// A value read from the configuration, or why it could not be.
template <class T>
struct read {
  std::optional<T> value;
  std::string problem; // "expected ..., got ..."
};

std::string shown(const value& v) {
  return caf::to_string(v);
}

template <class T>
read<T> wrong(const value& v, const std::string& expected) {
  return {std::nullopt, "expected " + expected + ", got " + shown(v)};
}

read<std::string> read_string(const value& v) {
  if (auto s = caf::get_if<std::string>(&v))
    return {*s, {}};
  if (auto a = caf::get_if<caf::atom_value>(&v))
    return {caf::to_string(*a), {}};
  return wrong<std::string>(v, "a string");
}

read<int64_t> read_int(const value& v, int64_t lo, int64_t hi) {
  auto i = caf::get_if<int64_t>(&v);
  if (i == nullptr)
    return wrong<int64_t>(v, "an integer");
  if (*i < lo || *i > hi)
    return {std::nullopt, std::to_string(*i) + " is not in ["
                              + std::to_string(lo) + ", " + std::to_string(hi)
                              + "]"};
  return {*i, {}};
}

read<bool> read_bool(const value& v) {
  if (auto b = caf::get_if<bool>(&v))
    return {*b, {}};
  return wrong<bool>(v, "true or false");
}

/// A duration with a unit (30s, 500ms, 2min, 1h) or a bare 0; in ms.
read<int64_t> read_duration(const value& v, int64_t max_ms) {
  int64_t ms = -1;
  if (auto t = caf::get_if<caf::timespan>(&v))
    ms = std::chrono::duration_cast<std::chrono::milliseconds>(*t).count();
  else if (auto i = caf::get_if<int64_t>(&v); i && *i == 0)
    ms = 0;
  else
    return wrong<int64_t>(v, "a duration such as 500ms, 30s, 2min or 1h");
  if (ms < 0 || ms > max_ms)
    return {std::nullopt, "must be between 0 and " + std::to_string(max_ms)
                              + " ms"};
  return {ms, {}};
}

/// A byte count: an integer, or a string with a unit (KiB, MiB, GiB).
read<int64_t> read_bytes(const value& v, int64_t lo, int64_t hi) {
  if (caf::get_if<int64_t>(&v) != nullptr)
    return read_int(v, lo, hi);
  auto s = read_string(v);
  if (!s.value)
    return wrong<int64_t>(v, "a byte count such as 1048576 or \"1MiB\"");
  static const std::regex re{R"(^\s*(\d+)\s*(B|KiB|MiB|GiB|KB|MB|GB)?\s*$)"};
  std::smatch m;
  if (!std::regex_match(*s.value, m, re))
    return wrong<int64_t>(v, "a byte count such as 1048576 or \"1MiB\"");
  int64_t unit = 1;
  auto u = m[2].str();
  if (u == "KiB" || u == "KB")
    unit = int64_t{1} << 10;
  else if (u == "MiB" || u == "MB")
    unit = int64_t{1} << 20;
  else if (u == "GiB" || u == "GB")
    unit = int64_t{1} << 30;
  auto n = std::stoll(m[1].str()) * unit;
  if (n < lo || n > hi)
    return {std::nullopt, std::to_string(n) + " bytes is not in ["
                              + std::to_string(lo) + ", " + std::to_string(hi)
                              + "]"};
  return {n, {}};
}

read<std::vector<std::string>> read_strings(const value& v) {
  auto list = caf::get_if<value::list>(&v);
  if (list == nullptr)
    return wrong<std::vector<std::string>>(v, "a list of strings");
  std::vector<std::string> out;
  for (auto& x : *list) {
    auto s = read_string(x);
    if (!s.value)
      return wrong<std::vector<std::string>>(v, "a list of strings");
    out.push_back(*s.value);
  }
  return {out, {}};
}

read<std::vector<int>> read_ints(const value& v, int lo, int hi) {
  auto list = caf::get_if<value::list>(&v);
  if (list == nullptr)
    return wrong<std::vector<int>>(v, "a list of integers");
  std::vector<int> out;
  for (auto& x : *list) {
    auto i = read_int(x, lo, hi);
    if (!i.value)
      return {std::nullopt, i.problem};
    out.push_back(static_cast<int>(*i.value));
  }
  return {out, {}};
}

bool valid_name(const std::string& name) {
  static const std::regex re{"^[a-z][a-z0-9_-]{0,63}$"};
  return std::regex_match(name, re);
}

// -- key tables ---------------------------------------------------------------

/// Collects problems, each naming its key.
struct problems_list {
  std::vector<std::string>& out;

  void bad(const std::string& key, const std::string& why) {
    out.push_back("bad value for '" + key + "': " + why);
  }
  template <class T>
  bool take(const std::string& key, read<T> r, T& into) {
    if (!r.value) {
      bad(key, r.problem);
      return false;
    }
    into = std::move(*r.value);
    return true;
  }
};

/// One key of a [pools.NAME] section.
struct pool_key {
  const char* name;
  const char* doc;
  std::function<void(const value&, pool_settings&, const std::string& key,
                     problems_list&)>
      apply;
};

const std::vector<pool_key>& pool_keys() {
  static const std::vector<pool_key> keys{
      {"size",
       "workers = the pool's concurrency limit (dedicated: 0 = one per core; "
       "shared: 0 = only what worker nodes and remote workers offer)",
       [](auto& v, auto& p, auto& key, auto& out) {
         int64_t n = 0;
         if (out.take(key, read_int(v, 0, 1'000'000), n))
           p.size = static_cast<uint32_t>(n);
       }},
      {"queue-limit", "most jobs waiting; beyond it submissions get 429",
       [](auto& v, auto& p, auto& key, auto& out) {
         int64_t n = 0;
         if (out.take(key, read_int(v, 1, 100'000'000), n))
           p.gauge = std::make_shared<pool_gauge>(n);
       }},
      {"threads",
       "\"shared\" (event-based workers on CAF's scheduler) or \"dedicated\" "
       "(each worker its own thread: CPU-bound or blocking work)",
       [](auto& v, auto& p, auto& key, auto& out) {
         auto s = read_string(v);
         if (s.value && (*s.value == "shared" || *s.value == "dedicated"))
           p.dedicated_threads = *s.value == "dedicated";
         else
           out.bad(key, "expected \"shared\" or \"dedicated\", got "
                            + shown(v));
       }},
      {"max-retries", "default retries of this pool's tasks",
       [](auto& v, auto& p, auto& key, auto& out) {
         int64_t n = 0;
         if (out.take(key, read_int(v, 0, max_task_retries), n))
           p.retry.max_retries = n;
       }},
      {"backoff", "default first retry delay of this pool's tasks",
       [](auto& v, auto& p, auto& key, auto& out) {
         int64_t ms = 0;
         if (out.take(key, read_duration(v, max_delay_ms), ms))
           p.retry.backoff = millis{ms};
       }},
      {"max-backoff", "cap on any retry delay in this pool",
       [](auto& v, auto& p, auto& key, auto& out) {
         int64_t ms = 0;
         if (out.take(key, read_duration(v, max_delay_ms), ms))
           p.retry.max_backoff = millis{ms};
       }},
      {"timeout", "default attempt timeout of this pool's tasks (0 = none)",
       [](auto& v, auto& p, auto& key, auto& out) {
         out.take(key, read_duration(v, max_timeout_ms), p.timeout_ms);
       }},
      {"max-wait-boost",
       "a task waiting this long is taken as one priority level higher, one "
       "more per further period (0 = never)",
       [](auto& v, auto& p, auto& key, auto& out) {
         out.take(key, read_duration(v, max_delay_ms), p.max_wait_boost_ms);
       }},
  };
  return keys;
}

/// A kind section as read, before it becomes a kind_info.
struct kind_draft {
  kind_info info;
  std::optional<std::string> runner;
  std::vector<std::string> command;
  std::optional<std::string> workdir;
  std::vector<std::string> env;
  exec_spec exec;
  std::optional<std::string> user;
  std::optional<std::string> url;
  http_spec http;
  std::vector<std::string> headers;
  std::optional<int64_t> burst; // joins `rate` once the section is read
  std::vector<std::string> keys_given; // for runner-specific key checks
};

/// Which kinds a key applies to.
enum class key_scope { any, config, exec, http, lease };

struct kind_key {
  const char* name;
  key_scope scope;
  const char* doc;
  std::function<void(const value&, kind_draft&, const std::string& key,
                     problems_list&)>
      apply;
};

void apply_rlimits(const value& v, kind_draft& d, const std::string& key,
                   problems_list& out) {
  auto dict = caf::get_if<value::dictionary>(&v);
  if (dict == nullptr) {
    out.bad(key, "expected { cpu = SECONDS, address-space = BYTES, "
                 "open-files = N }, got " + shown(v));
    return;
  }
  for (auto& [name, x] : *dict) {
    auto sub = key + "." + std::string{name};
    if (name == "cpu")
      out.take(sub, read_int(x, 1, 1'000'000), d.exec.rlimit_cpu_seconds);
    else if (name == "address-space")
      out.take(sub, read_bytes(x, 1 << 20, int64_t{1} << 50),
               d.exec.rlimit_address_space_bytes);
    else if (name == "open-files")
      out.take(sub, read_int(x, 3, 1'000'000), d.exec.rlimit_open_files);
    else
      out.out.push_back("unknown configuration key '" + sub
                        + "' (known: cpu, address-space, open-files)");
  }
}

const std::vector<kind_key>& kind_keys() {
  static const std::vector<kind_key> keys{
      {"runner", key_scope::config,
       "\"exec\" (a program per attempt), \"http\" (a call per attempt), "
       "\"remote\" (actors of a program that joined the gateway) or "
       "\"lease\" (worker processes pulling attempts over HTTP)",
       [](auto& v, auto& d, auto& key, auto& out) {
         std::string s;
         if (out.take(key, read_string(v), s))
           d.runner = s;
       }},
      {"pool", key_scope::any, "the pool whose workers run it (required)",
       [](auto& v, auto& d, auto& key, auto& out) {
         out.take(key, read_string(v), d.info.pool);
       }},
      {"description", key_scope::any, "shown by GET /v1/kinds",
       [](auto& v, auto& d, auto& key, auto& out) {
         out.take(key, read_string(v), d.info.description);
       }},
      {"max-retries", key_scope::any, "default retries of its tasks",
       [](auto& v, auto& d, auto& key, auto& out) {
         int64_t n = 0;
         if (out.take(key, read_int(v, 0, max_task_retries), n))
           d.info.defaults.max_retries = static_cast<int32_t>(n);
       }},
      {"backoff", key_scope::any, "default first retry delay of its tasks",
       [](auto& v, auto& d, auto& key, auto& out) {
         int64_t ms = 0;
         if (out.take(key, read_duration(v, max_delay_ms), ms))
           d.info.defaults.backoff_ms = ms;
       }},
      {"timeout", key_scope::any,
       "default attempt timeout of its tasks (0 = none)",
       [](auto& v, auto& d, auto& key, auto& out) {
         int64_t ms = 0;
         if (out.take(key, read_duration(v, max_timeout_ms), ms))
           d.info.defaults.timeout_ms = ms;
       }},
      {"rate", key_scope::any,
       "most attempts started per second, minute or hour across the "
       "cluster: \"100/s\", \"30/m\", \"500/h\"; queued tasks wait",
       [](auto& v, auto& d, auto& key, auto& out) {
         std::string s, problem;
         if (!out.take(key, read_string(v), s))
           return;
         if (auto r = parse_rate(s, problem))
           d.info.rate = std::move(r);
         else
           out.bad(key, problem);
       }},
      {"burst", key_scope::any,
       "with rate: most attempts started back to back after a quiet spell "
       "(default 1: evenly spaced)",
       [](auto& v, auto& d, auto& key, auto& out) {
         int64_t n = 0;
         if (out.take(key, read_int(v, 1, 1'000'000), n))
           d.burst = n;
       }},
      {"command", key_scope::exec,
       "argv list, run without a shell; command[0] without a slash is "
       "looked up in PATH, with one relative to workdir",
       [](auto& v, auto& d, auto& key, auto& out) {
         out.take(key, read_strings(v), d.command);
       }},
      {"workdir", key_scope::exec,
       "the job's working directory (default: the config file's folder)",
       [](auto& v, auto& d, auto& key, auto& out) {
         std::string s;
         if (out.take(key, read_string(v), s))
           d.workdir = s;
       }},
      {"env", key_scope::exec,
       "NAME (passed through from actorq's environment) or NAME=value; "
       "nothing else is passed",
       [](auto& v, auto& d, auto& key, auto& out) {
         out.take(key, read_strings(v), d.env);
       }},
      {"permanent-exit-codes", key_scope::exec,
       "exit codes that fail the task at once (default [64, 65])",
       [](auto& v, auto& d, auto& key, auto& out) {
         out.take(key, read_ints(v, 1, 255), d.exec.permanent_exit_codes);
       }},
      {"max-output-bytes", key_scope::exec,
       "most stdout bytes (default 1 MiB); beyond, the attempt fails",
       [](auto& v, auto& d, auto& key, auto& out) {
         out.take(key, read_bytes(v, 1, int64_t{1} << 30),
                  d.exec.max_output_bytes);
       }},
      {"rlimits", key_scope::exec,
       "{ cpu = SECONDS, address-space = BYTES, open-files = N } (setrlimit "
       "in the child)",
       apply_rlimits},
      {"user", key_scope::exec, "run as this user (actorq must run as root)",
       [](auto& v, auto& d, auto& key, auto& out) {
         std::string s;
         if (out.take(key, read_string(v), s))
           d.user = s;
       }},
      {"kill-grace", key_scope::exec,
       "SIGTERM, then SIGKILL after this long (default 5s)",
       [](auto& v, auto& d, auto& key, auto& out) {
         int64_t ms = 0;
         if (out.take(key, read_duration(v, max_delay_ms), ms))
           d.exec.kill_grace = millis{ms};
       }},
      {"url", key_scope::http, "http:// or https:// endpoint (required)",
       [](auto& v, auto& d, auto& key, auto& out) {
         std::string s;
         if (out.take(key, read_string(v), s))
           d.url = s;
       }},
      {"method", key_scope::http, "HTTP method (default POST)",
       [](auto& v, auto& d, auto& key, auto& out) {
         std::string s;
         if (!out.take(key, read_string(v), s))
           return;
         static const std::regex re{"^(GET|POST|PUT|PATCH|DELETE)$"};
         if (std::regex_match(s, re))
           d.http.method = s;
         else
           out.bad(key, "expected GET, POST, PUT, PATCH or DELETE, got " + s);
       }},
      {"headers", key_scope::http,
       "[\"Name: value\", ...]; ${NAME} is taken from actorq's environment "
       "at start-up",
       [](auto& v, auto& d, auto& key, auto& out) {
         out.take(key, read_strings(v), d.headers);
       }},
      {"lease-ttl", key_scope::lease,
       "most time between a lease worker's heartbeats (default 30s); a "
       "lease not renewed in time expires and its attempt is retried",
       [](auto& v, auto& d, auto& key, auto& out) {
         int64_t ms = 0;
         if (!out.take(key, read_duration(v, max_delay_ms), ms))
           return;
         if (ms < 100)
           out.bad(key, "expected at least 100ms");
         else
           d.info.lease_ttl_ms = ms;
       }},
      {"tls-verify", key_scope::http,
       "verify https certificates against the system store (default true)",
       [](auto& v, auto& d, auto& key, auto& out) {
         out.take(key, read_bool(v), d.http.tls_verify);
       }},
  };
  return keys;
}

// -- building kinds -----------------------------------------------------------

bool executable_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

/// command[0] as a path: searched in PATH without a slash, else relative to
/// the workdir.
std::string resolve_program(const std::string& name, const fs::path& workdir,
                            std::string& problem) {
  if (name.find('/') != std::string::npos) {
    auto p = (fs::path{name}.is_absolute() ? fs::path{name} : workdir / name)
                 .lexically_normal();
    if (!executable_file(p))
      problem = p.string() + " is not an executable file";
    return p.string();
  }
  auto path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    auto end = dirs.find(':', start);
    if (end == std::string::npos)
      end = dirs.size();
    auto dir = dirs.substr(start, end - start);
    auto candidate = fs::path{dir.empty() ? "." : dir} / name;
    if (executable_file(candidate))
      return fs::absolute(candidate).lexically_normal().string();
    start = end + 1;
  }
  problem = "'" + name + "' is not an executable found in PATH";
  return {};
}

bool valid_env_name(const std::string& name) {
  static const std::regex re{"^[A-Za-z_][A-Za-z0-9_]*$"};
  return std::regex_match(name, re);
}

/// Replaces ${NAME} with actorq's environment variable NAME.
std::string expand_env(const std::string& text, std::string& problem) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    auto at = text.find("${", i);
    if (at == std::string::npos) {
      out += text.substr(i);
      break;
    }
    out += text.substr(i, at - i);
    auto end = text.find('}', at);
    auto name = end == std::string::npos ? "" : text.substr(at + 2, end - at - 2);
    if (end == std::string::npos || !valid_env_name(name)) {
      problem = "malformed ${NAME} in '" + text + "'";
      return {};
    }
    auto v = std::getenv(name.c_str());
    if (v == nullptr) {
      problem = "${" + name + "} is not set in actorq's environment";
      return {};
    }
    out += v;
    i = end + 1;
  }
  return out;
}

void build_exec(kind_draft& d, const std::string& key,
                const catalog_defaults& defaults, problems_list& out) {
  auto& e = d.exec;
  if (d.command.empty() || d.command.front().empty()) {
    out.bad(key + ".command", "an exec kind needs a non-empty command list");
    return;
  }
  fs::path dir = defaults.config_dir;
  if (d.workdir)
    dir = fs::path{*d.workdir}.is_absolute() ? fs::path{*d.workdir}
                                             : dir / *d.workdir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    out.bad(key + ".workdir", dir.string() + " is not a directory");
    return;
  }
  e.workdir = fs::absolute(dir).lexically_normal().string();
  std::string problem;
  e.program = resolve_program(d.command.front(), e.workdir, problem);
  if (!problem.empty())
    out.bad(key + ".command", problem);
  e.argv = d.command;
  for (auto& entry : d.env) {
    auto eq = entry.find('=');
    auto name = entry.substr(0, eq);
    if (!valid_env_name(name) || name.rfind("ACTORQ_", 0) == 0) {
      out.bad(key + ".env",
              "'" + entry + "' is not NAME or NAME=value (names ACTORQ_* are "
              "actorq's own)");
      continue;
    }
    if (eq != std::string::npos)
      e.env.push_back(entry);
    else if (auto v = std::getenv(name.c_str()))
      e.env.push_back(name + "=" + v);
  }
  if (d.user) {
    auto pw = ::getpwnam(d.user->c_str());
    if (pw == nullptr)
      out.bad(key + ".user", "no such user '" + *d.user + "'");
    else if (::geteuid() != 0 && pw->pw_uid != ::geteuid())
      out.bad(key + ".user", "actorq must run as root to run jobs as '"
                                 + *d.user + "'");
    else if (::geteuid() == 0) {
      e.uid = pw->pw_uid;
      e.gid = pw->pw_gid;
    }
  }
  d.info.exec = std::make_shared<exec_spec>(e);
}

void build_http(kind_draft& d, const std::string& key, problems_list& out) {
  if (!d.url) {
    out.bad(key + ".url", "an http kind needs a url");
    return;
  }
  auto& h = d.http;
  if (auto problem = parse_http_url(*d.url, h); !problem.empty()) {
    out.bad(key + ".url", problem);
    return;
  }
  h.url = *d.url;
  for (auto& line : d.headers) {
    auto colon = line.find(':');
    static const std::regex name_re{"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"};
    auto name = line.substr(0, colon);
    if (colon == std::string::npos || !std::regex_match(name, name_re)) {
      out.bad(key + ".headers", "'" + line + "' is not 'Name: value'");
      continue;
    }
    auto raw = line.substr(colon + 1);
    raw.erase(0, raw.find_first_not_of(" \t"));
    std::string problem;
    auto v = expand_env(raw, problem);
    if (!problem.empty()) {
      out.bad(key + ".headers", problem);
      continue;
    }
    h.headers.emplace_back(name, v);
  }
  d.info.http = std::make_shared<http_spec>(h);
}

/// The names of a key table, for "did you mean" and help.
template <class Key>
std::vector<std::string> key_names(const std::vector<Key>& keys) {
  std::vector<std::string> out;
  for (auto& k : keys)
    out.emplace_back(k.name);
  return out;
}

/// "unknown configuration key 'SECTION.NAME.KEY'", with the closest key of
/// the section's table when the key looks like a typo of one.
template <class Key>
std::string unknown_key(const std::string& prefix, const std::string& key,
                        const std::vector<Key>& keys) {
  return "unknown configuration key '" + prefix + "." + key + "'"
         + did_you_mean(key, key_names(keys), prefix + ".");
}

/// Which keys apply to which runner.
bool key_applies(key_scope scope, bool builtin, const std::string& runner) {
  switch (scope) {
    case key_scope::any:
      return true;
    case key_scope::config:
      return !builtin;
    case key_scope::exec:
      return !builtin && runner == "exec";
    case key_scope::http:
      return !builtin && runner == "http";
    case key_scope::lease:
      return !builtin && runner == "lease";
  }
  return false;
}

/// "pool, description, ... and burst": the keys a built-in kind takes.
std::string builtin_kind_keys() {
  std::vector<std::string> names;
  for (auto& k : kind_keys())
    if (k.scope == key_scope::any)
      names.emplace_back(k.name);
  std::string out;
  for (size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  return out;
}

/// Joins `burst` to `rate` and gives a limited kind its bucket.
void build_rate(kind_draft& d, problems_list& out) {
  if (d.burst && !d.info.rate)
    out.bad("kinds." + d.info.name + ".burst",
            "burst sizes a rate's bucket: set rate too");
  if (!d.info.rate)
    return;
  d.info.rate->burst = d.burst.value_or(1);
  d.info.limiter = std::make_shared<rate_limiter>(*d.info.rate);
}

/// Reads one [kinds.NAME] section into `d`.
void read_kind_section(const std::string& name, const value::dictionary& xs,
                       kind_draft& d, bool builtin, problems_list& out) {
  auto prefix = "kinds." + name;
  // The runner decides which other keys apply: read it first.
  if (auto r = xs.find(caf::string_view{"runner"}); r != xs.end()) {
    if (builtin) {
      out.bad(prefix + ".runner", "'" + name
                                      + "' is a built-in kind; its runner "
                                        "cannot be changed");
    } else {
      std::string s;
      if (out.take(prefix + ".runner", read_string(r->second), s)) {
        if (find_runner(s) != nullptr)
          d.runner = s;
        else
          out.bad(prefix + ".runner",
                  "expected " + runner_choices() + ", got \"" + s + "\"");
      }
    }
  } else if (!builtin) {
    out.bad(prefix + ".runner", "a kind needs a runner: " + runner_choices());
  }
  auto runner = d.runner.value_or("");
  for (auto& [key_view, v] : xs) {
    std::string key{key_view};
    if (key == "runner")
      continue;
    auto full = prefix + "." + key;
    auto def = std::find_if(kind_keys().begin(), kind_keys().end(),
                            [&](auto& k) { return key == k.name; });
    if (def == kind_keys().end()) {
      out.out.push_back(unknown_key(prefix, key, kind_keys()));
      continue;
    }
    if (!key_applies(def->scope, builtin, runner)) {
      out.bad(full, builtin ? "a built-in kind takes only "
                                  + builtin_kind_keys()
                            : "not a key of runner = \"" + runner + "\"");
      continue;
    }
    def->apply(v, d, full, out);
  }
}

/// The built-in pools, with their defaults: the seed routes use them.
std::vector<pool_settings> builtin_pools(const catalog_defaults& defaults) {
  struct row {
    const char* name;
    uint32_t size;
    bool dedicated;
    int64_t queue_limit;
  };
  static const row rows[] = {
      {"io", 10000, false, 200000},
      {"cpu", 0, true, 200000}, // 0 = one thread per core
      {"limited", 5, false, 10000},
      {"heavy", 2, false, 10000},
  };
  std::vector<pool_settings> out;
  for (auto& r : rows) {
    pool_settings p;
    p.name = r.name;
    p.size = r.size;
    p.dedicated_threads = r.dedicated;
    p.retry = defaults.retry;
    p.supervisor = defaults.supervisor;
    p.gauge = std::make_shared<pool_gauge>(r.queue_limit);
    out.push_back(std::move(p));
  }
  return out;
}

/// A config pool starts from these.
pool_settings new_pool(const std::string& name,
                       const catalog_defaults& defaults) {
  pool_settings p;
  p.name = name;
  p.size = 1;
  p.retry = defaults.retry;
  p.supervisor = defaults.supervisor;
  p.gauge = std::make_shared<pool_gauge>(200000);
  return p;
}

const value::dictionary* section(const caf::settings& content,
                                 const char* name) {
  auto i = content.find(caf::string_view{name, std::strlen(name)});
  if (i == content.end())
    return nullptr;
  return caf::get_if<value::dictionary>(&i->second);
}

/// Calls `f(name, keys)` for each well-formed [SECTION.NAME] of `content`
/// ("pools", "kinds"); bad names and non-sections are problems.
template <class F>
void for_each_section(const caf::settings& content, const char* section_name,
                      const char* what, problems_list& out, F f) {
  auto xs = section(content, section_name);
  if (xs == nullptr)
    return;
  for (auto& [name_view, v] : *xs) {
    std::string name{name_view};
    if (!valid_name(name)) {
      out.out.push_back(std::string{"bad "} + what + " name '" + name
                        + "': 1-64 of a-z 0-9 _ -, starting with a letter");
      continue;
    }
    auto dict = caf::get_if<value::dictionary>(&v);
    if (dict == nullptr) {
      out.out.push_back(std::string{"unknown configuration key '"}
                        + section_name + "." + name + "'");
      continue;
    }
    f(name, *dict);
  }
}

void read_pools(const caf::settings& content, const catalog_defaults& defaults,
                std::vector<pool_settings>& pools, problems_list& out) {
  for_each_section(content, "pools", "pool", out,
                   [&](const std::string& name, const value::dictionary& xs) {
    auto p = std::find_if(pools.begin(), pools.end(),
                          [&](auto& x) { return x.name == name; });
    if (p == pools.end()) {
      pools.push_back(new_pool(name, defaults));
      p = pools.end() - 1;
    }
    for (auto& [key_view, x] : xs) {
      std::string key{key_view};
      auto full = "pools." + name + "." + key;
      auto def = std::find_if(pool_keys().begin(), pool_keys().end(),
                              [&](auto& k) { return key == k.name; });
      if (def == pool_keys().end())
        out.out.push_back(unknown_key("pools." + name, key, pool_keys()));
      else
        def->apply(x, *p, full, out);
    }
  });
}

/// Turns a config kind's draft into its runner's spec.
void build_config_kind(kind_draft& d, const value::dictionary& xs,
                       const catalog_defaults& defaults, problems_list& out) {
  auto key = "kinds." + d.info.name;
  if (xs.find(caf::string_view{"pool"}) == xs.end())
    out.bad(key + ".pool", "a kind needs a pool");
  auto runner = find_runner(d.runner.value_or(""));
  if (runner == nullptr)
    return;
  d.info.runner = runner->type;
  if (runner->type == runner_type::exec)
    build_exec(d, key, defaults, out);
  else if (runner->type == runner_type::http)
    build_http(d, key, out);
}

} // namespace

// -- catalog ------------------------------------------------------------------

catalog::catalog() {
  catalog_defaults defaults;
  for (auto& p : builtin_pools(defaults))
    add_pool(std::move(p));
  for (auto& k : all_kinds()) {
    kind_info info;
    info.name = std::string{k.name};
    info.pool = std::string{k.pool};
    info.description = std::string{k.description};
    info.builtin = &k;
    add_kind(std::move(info));
  }
}

void catalog::add_pool(pool_settings p) {
  if (p.dedicated_threads && p.size == 0)
    p.size = std::max(1u, std::thread::hardware_concurrency());
  pools_.push_back(std::move(p));
}

void catalog::add_kind(kind_info k) {
  kind_by_name_[k.name] = static_cast<int>(kinds_.size());
  kinds_.push_back(std::move(k));
}

std::shared_ptr<catalog> catalog::build(const caf::settings& content,
                                        const catalog_defaults& defaults,
                                        std::vector<std::string>& problems) {
  problems_list out{problems};
  auto result = std::make_shared<catalog>();
  auto& cat = *result;
  // Pools: the built-ins with the global defaults, then every section.
  std::vector<pool_settings> pools = builtin_pools(defaults);
  read_pools(content, defaults, pools, out);
  // The registry keeps a task's pool in one byte and its kind in two.
  if (pools.size() > 200)
    out.out.push_back("too many pools: " + std::to_string(pools.size())
                      + " (at most 200)");
  cat.pools_.clear();
  for (auto& p : pools)
    cat.add_pool(std::move(p));
  // Kinds: the built-ins, changed or extended by [kinds.NAME].
  std::vector<kind_draft> drafts;
  for (auto& k : cat.kinds_) {
    kind_draft d;
    d.info = k;
    drafts.push_back(std::move(d));
  }
  for_each_section(content, "kinds", "kind", out,
                   [&](const std::string& name, const value::dictionary& xs) {
    auto d = std::find_if(drafts.begin(), drafts.end(),
                          [&](auto& x) { return x.info.name == name; });
    bool builtin = d != drafts.end();
    if (!builtin) {
      drafts.emplace_back();
      d = drafts.end() - 1;
      d->info.name = name;
    }
    read_kind_section(name, xs, *d, builtin, out);
    build_rate(*d, out);
    if (!builtin)
      build_config_kind(*d, xs, defaults, out);
  });
  if (drafts.size() > 60000)
    out.out.push_back("too many kinds: " + std::to_string(drafts.size())
                      + " (at most 60000)");
  cat.kinds_.clear();
  cat.kind_by_name_.clear();
  for (auto& d : drafts) {
    auto pool = cat.find_pool(d.info.pool);
    if (pool == nullptr && !d.info.pool.empty())
      out.bad("kinds." + d.info.name + ".pool",
              "no pool named '" + d.info.pool + "' (pools: "
                  + cat.pool_names() + ")");
    else if (pool != nullptr && d.info.cpu_bound() && !pool->dedicated_threads)
      out.bad("kinds." + d.info.name + ".pool",
              "'" + d.info.name + "' is CPU-bound and needs a pool with "
                  "threads = \"dedicated\"");
    cat.add_kind(std::move(d.info));
  }
  return result;
}

const kind_info* catalog::find_kind(std::string_view name) const {
  auto i = kind_by_name_.find(std::string{name});
  return i == kind_by_name_.end() ? nullptr : &kinds_[i->second];
}

int catalog::kind_index(std::string_view name) const {
  auto i = kind_by_name_.find(std::string{name});
  return i == kind_by_name_.end() ? -1 : i->second;
}

const pool_settings* catalog::find_pool(std::string_view name) const {
  auto i = pool_index(name);
  return i < 0 ? nullptr : &pools_[i];
}

int catalog::pool_index(std::string_view name) const {
  for (size_t i = 0; i < pools_.size(); ++i)
    if (pools_[i].name == name)
      return static_cast<int>(i);
  return -1;
}

std::string catalog::kind_names() const {
  std::string out;
  for (auto& k : kinds_)
    out += (out.empty() ? "" : ", ") + k.name;
  return out;
}

std::string catalog::pool_names() const {
  std::string out;
  for (auto& p : pools_)
    out += (out.empty() ? "" : ", ") + p.name;
  return out;
}

std::vector<std::pair<std::string, std::string>>
catalog::config_kinds() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& k : kinds_)
    if (k.runner == runner_type::exec || k.runner == runner_type::http)
      out.emplace_back(k.name, to_string(k.runner));
  return out;
}

// -- key docs -----------------------------------------------------------------

std::vector<section_key_doc> pool_key_docs() {
  std::vector<section_key_doc> out;
  for (auto& k : pool_keys())
    out.push_back({k.name, "", k.doc});
  return out;
}

std::vector<section_key_doc> kind_key_docs() {
  auto scope_name = [](key_scope s) -> std::string {
    switch (s) {
      case key_scope::any:
        return "";
      case key_scope::config:
        return "config kinds";
      case key_scope::exec:
        return "exec";
      case key_scope::http:
        return "http";
      case key_scope::lease:
        return "lease";
    }
    return "";
  };
  std::vector<section_key_doc> out;
  for (auto& k : kind_keys())
    out.push_back({k.name, scope_name(k.scope), k.doc});
  return out;
}

// -- the installed catalog ----------------------------------------------------

namespace {

std::shared_ptr<const catalog>& installed() {
  static std::shared_ptr<const catalog> c = std::make_shared<catalog>();
  return c;
}

} // namespace

const catalog& current_catalog() {
  return *installed();
}

void install_catalog(std::shared_ptr<const catalog> c) {
  installed() = std::move(c);
}

// -- task specs ---------------------------------------------------------------

std::string check_input(const kind_info& kind, const json& input) {
  if (kind.builtin != nullptr)
    return kind.builtin->validate(input);
  // Config kinds: the job checks its fields; actorq only the shape.
  return input.is_object() ? "" : "must be a JSON object";
}

/// Chains: the `after` list's shape (that its tasks exist and are older is
/// the registry's to check).
static std::string check_after(const task_spec& spec) {
  if (spec.after.size() > max_after)
    return "after has " + std::to_string(spec.after.size())
           + " entries; at most " + std::to_string(max_after) + " are allowed";
  if (spec.after.empty() && spec.pass_results)
    return "pass_results needs a non-empty after";
  if (spec.pass_results && !spec.input.value.is_object())
    return "input must be a JSON object with pass_results (it gets the "
           "results under \"_after\")";
  return "";
}

std::string check_task(task_spec& spec, const catalog& cat) {
  auto kind = cat.find_kind(spec.kind);
  if (kind == nullptr)
    return "kind: unknown kind '" + spec.kind + "' (known: " + cat.kind_names()
           + ")";
  if (spec.pool.empty())
    spec.pool = kind->pool;
  auto pool = cat.find_pool(spec.pool);
  if (pool == nullptr)
    return "pool: unknown pool '" + spec.pool + "' (known: " + cat.pool_names()
           + ")";
  if (kind->cpu_bound() && !pool->dedicated_threads)
    return "pool: kind '" + spec.kind + "' is CPU-bound and cannot run on "
           + "pool '" + spec.pool + "' (use pool '" + kind->pool + "')";
  if (!kind->runs_locally() && spec.pool != kind->pool)
    return "pool: kind '" + spec.kind + "' runs on " + to_string(kind->runner)
           + " workers of pool '" + kind->pool + "' only";
  auto& d = kind->defaults;
  if (spec.max_retries < 0)
    spec.max_retries = d.max_retries.value_or(
        static_cast<int32_t>(pool->retry.max_retries));
  if (spec.backoff_ms < 0)
    spec.backoff_ms = d.backoff_ms.value_or(pool->retry.backoff.count());
  if (spec.timeout_ms < 0)
    spec.timeout_ms = d.timeout_ms.value_or(pool->timeout_ms);
  if (spec.max_retries > max_task_retries)
    return "max_retries must be an integer between 0 and "
           + std::to_string(max_task_retries);
  if (spec.backoff_ms > max_delay_ms)
    return "backoff_ms must be an integer between 0 and "
           + std::to_string(max_delay_ms);
  if (spec.timeout_ms > max_timeout_ms)
    return "timeout_ms must be an integer between 0 and "
           + std::to_string(max_timeout_ms);
  if (spec.priority < min_priority || spec.priority > max_priority)
    return "priority must be an integer between "
           + std::to_string(min_priority) + " and "
           + std::to_string(max_priority);
  if (!spec.idempotency_key.empty()
      && !valid_idempotency_key(spec.idempotency_key))
    return "idempotency_key must be 1 to 255 visible ASCII characters";
  if (auto err = check_delay(spec); !err.empty())
    return err;
  if (auto err = check_after(spec); !err.empty())
    return err;
  // One wait at a time: a task waits for a time or for other tasks.
  if (!spec.after.empty() && (spec.run_at != 0 || spec.countdown_ms >= 0))
    return "after cannot be combined with run_at or countdown_ms";
  return field_error("input", check_input(*kind, spec.input.value));
}

std::string check_delay(const task_spec& spec) {
  if (spec.countdown_ms != -1
      && (spec.countdown_ms < 0 || spec.countdown_ms > max_countdown_ms))
    return "countdown_ms must be an integer between 0 and "
           + std::to_string(max_countdown_ms) + " (366 days)";
  if (spec.countdown_ms >= 0 && spec.run_at != 0)
    return "run_at and countdown_ms: give one of them, not both";
  if (spec.run_at > now_ms() + max_countdown_ms)
    return "run_at must be at most 366 days ahead";
  return "";
}

std::string check_batch_task(const task_spec& spec) {
  if (spec.run_at != 0 || spec.countdown_ms != -1)
    return "run_at and countdown_ms are for single tasks (POST /v1/tasks): "
           "a batch runs at once";
  return "";
}

} // namespace actorq
