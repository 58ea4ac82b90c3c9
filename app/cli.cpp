// actorq-cli: a client of a running actorq, over its HTTP API (--url, or
// $ACTORQ_URL, default http://127.0.0.1:8080) or over CAF to its gateway
// (--connect HOST:PORT, the head's --cluster.port). The command line is
// CLI11's: subcommands with their own --help, "--flag value" and
// "--flag=value", and anything it does not know is an error (exit 2), with
// the closest valid name: a mistyped flag must never be dropped silently.
#include "app/cli.hpp"

#include "actors/kinds.hpp"
#include "actors/text.hpp"
#include "actors/time.hpp"
#include "actorq/gateway.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace actorq::cli {

namespace {

/// Everything the command line can say.
struct request {
  connection conn;
  std::string kind;
  std::string input = "{}";
  std::string id;
  std::string pool; // pause, resume
  std::string file;
  task_options task;
  list_options list;
  size_t chunk = 500;
  int64_t wait_seconds = 0; // submit --wait
  int64_t timeout_seconds = 600;
};

/// One subcommand: its name, one line of help, its arguments, what it does.
struct command {
  const char* name;
  const char* help;
  void (*define)(CLI::App&, request&);
  int (*run)(backend&, request&);
};

[[noreturn]] void fail_usage(const std::string& why) {
  std::cerr << "actorq-cli: " << why
            << "\nRun 'actorq-cli --help' or 'actorq-cli COMMAND --help'."
            << std::endl;
  std::exit(exit_usage);
}

/// Task ids are checked here, so both ways to reach actorq get valid ones.
const CLI::Validator task_id_check{
    [](std::string& text) -> std::string {
      return task_id::parse(text) ? ""
                                  : "not a task id: '" + text + "' (ids look "
                                    "like 0cc4478c-72de-4342-b766-3b6d7e1c13ae)";
    },
    "TASK_ID"};

void add_id(CLI::App& sub, request& r) {
  sub.add_option("id", r.id, "the task's id")->required()->check(task_id_check);
}

/// Task fields: left out, the server applies the kind's, pool's or
/// [retry]'s defaults; out-of-range values are refused here already.
void add_task_options(CLI::App& sub, task_options& t) {
  sub.add_option("--pool", t.pool, "run on this pool (default: the kind's)");
  sub.add_option("--max-retries", t.max_retries,
                 "retries after a failed attempt (default: the kind's, "
                 "pool's or [retry]'s)")
    ->check(CLI::Range(int64_t{0}, max_task_retries));
  sub.add_option("--backoff-ms", t.backoff_ms,
                 "first retry delay in ms, doubled per retry")
    ->check(CLI::Range(int64_t{0}, max_delay_ms));
  sub.add_option("--timeout-ms", t.timeout_ms,
                 "limit per attempt in ms; 0 = none")
    ->check(CLI::Range(int64_t{0}, max_timeout_ms));
  sub.add_option("--priority", t.priority,
                 "0..9, higher starts first (default 5)")
    ->check(CLI::Range(int64_t{min_priority}, int64_t{max_priority}));
  sub.add_option("--idempotency-key", t.idempotency_key,
                 "a repeated key gets the first task back, not a second one");
}

/// A delayed task: --run-at or --countdown-ms (submit only; a batch runs
/// at once).
void add_delay_options(CLI::App& sub, task_options& t) {
  auto at = sub.add_option("--run-at", t.run_at,
                           "start at this RFC 3339 time (Z or a numeric "
                           "offset); scheduled until then")
              ->check(CLI::Validator(
                  [](std::string& text) -> std::string {
                    return parse_rfc3339(text)
                             ? ""
                             : "not an RFC 3339 time with Z or an offset, "
                               "e.g. 2026-11-25T14:00:00+01:00";
                  },
                  "TIME"));
  sub.add_option("--countdown-ms", t.countdown_ms,
                 "start this many ms after creation; scheduled until then")
    ->check(CLI::Range(int64_t{0}, max_countdown_ms))
    ->excludes(at);
}

/// Chains: the task waits for others (submit only, not batches).
void add_chain_options(CLI::App& sub, task_options& t) {
  sub.add_option("--after", t.after,
                 "ID of a task that must end first (repeatable)")
    ->check(CLI::Validator(
        [](std::string& text) {
          return task_id::parse(text) ? std::string{}
                                      : "not a task id: " + text;
        },
        "ID"));
  sub.add_option("--after-policy", t.after_policy,
                 "succeeded (default: cancelled if one does not succeed) or "
                 "ended (runs once all ended)")
    ->check(CLI::IsMember({"succeeded", "ended"}));
  sub.add_flag("--pass-results", t.pass_results,
               "their results go into the input under \"_after\"");
}

int run_submit(backend& b, request& r) {
  auto input = json::parse(r.input, nullptr, false);
  if (input.is_discarded())
    fail_usage("INPUT is not JSON: " + r.input);
  return b.submit(r.kind, input, r.task, std::chrono::seconds{r.wait_seconds});
}

/// Batch inputs: a JSON array, or one JSON value per line ("-" = stdin).
std::vector<json> read_inputs(const std::string& file) {
  std::string text;
  if (file == "-") {
    text.assign(std::istreambuf_iterator<char>{std::cin}, {});
  } else {
    std::ifstream in{file};
    if (!in)
      fail_usage("cannot read " + file);
    text.assign(std::istreambuf_iterator<char>{in}, {});
  }
  auto whole = json::parse(text, nullptr, false);
  if (!whole.is_discarded() && whole.is_array())
    return whole.get<std::vector<json>>();
  std::vector<json> out;
  std::istringstream lines{text};
  std::string line;
  for (size_t number = 1; std::getline(lines, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    auto x = json::parse(line, nullptr, false);
    if (x.is_discarded())
      fail_usage(file + ":" + std::to_string(number) + ": not JSON");
    out.push_back(std::move(x));
  }
  return out;
}

const std::vector<std::string> task_statuses{
    "queued",    "running",   "retrying",  "succeeded",
    "failed",    "cancelled", "scheduled", "waiting"};
const std::vector<std::string> unfinished_statuses{
    "queued", "running", "retrying", "scheduled", "waiting"};

const command commands[] = {
    {"submit", "submit a task and print it (with --wait: once it has ended)",
     [](CLI::App& sub, request& r) {
       sub.add_option("kind", r.kind, "the task's kind (see 'kinds')")
         ->required();
       sub.add_option("input", r.input, "the input as JSON (default {})");
       add_task_options(sub, r.task);
       add_delay_options(sub, r.task);
       add_chain_options(sub, r.task);
       sub.add_option("--wait", r.wait_seconds,
                      "wait up to SECONDS for the end and print the task then")
         ->check(CLI::Range(int64_t{1}, int64_t{86400}));
     },
     run_submit},
    {"status", "print a task as it is now",
     [](CLI::App& sub, request& r) {
       sub.alias("get");
       add_id(sub, r);
     },
     [](backend& b, request& r) { return b.status(r.id); }},
    {"wait", "print a task once it has ended (at most --timeout seconds)",
     add_id,
     [](backend& b, request& r) { return b.wait(r.id, r.conn.timeout); }},
    {"cancel", "cancel a task (queued: at once; running: its result is "
               "discarded), or with --status/--kind every unfinished task "
               "that matches",
     [](CLI::App& sub, request& r) {
       sub.add_option("id", r.id, "the task's id")->check(task_id_check);
       sub.add_option("--status", r.list.status,
                      "cancel every task in this state (HTTP only)")
         ->check(CLI::IsMember(unfinished_statuses));
       sub.add_option("--kind", r.list.kind,
                      "cancel every unfinished task of this kind (HTTP only)");
     },
     [](backend& b, request& r) {
       bool many = !r.list.status.empty() || !r.list.kind.empty();
       if (many == !r.id.empty())
         fail_usage(many ? "cancel takes a task id or --status/--kind, not "
                           "both"
                         : "cancel needs a task id, or --status and/or "
                           "--kind to cancel many");
       return many ? b.cancel_many(r.list.status, r.list.kind)
                   : b.cancel(r.id);
     }},
    {"retry", "run a failed or cancelled task again: same id, its attempts "
              "go on (HTTP only)",
     add_id, [](backend& b, request& r) { return b.retry(r.id); }},
    {"pause", "pause a pool: it starts no queued work, running work "
              "finishes, submissions still queue (HTTP only)",
     [](CLI::App& sub, request& r) {
       sub.add_option("pool", r.pool, "the pool's name")->required();
     },
     [](backend& b, request& r) { return b.pause(r.pool, true); }},
    {"resume", "resume a paused pool (HTTP only)",
     [](CLI::App& sub, request& r) {
       sub.add_option("pool", r.pool, "the pool's name")->required();
     },
     [](backend& b, request& r) { return b.pause(r.pool, false); }},
    {"batch", "run many inputs of one kind; results in input order",
     [](CLI::App& sub, request& r) {
       sub.add_option("kind", r.kind, "the kind of every item")->required();
       sub.add_option("file", r.file,
                      "inputs: a JSON array or one JSON value per line; - = "
                      "stdin")
         ->required();
       add_task_options(sub, r.task);
       sub.add_option("--chunk", r.chunk, "items per request")
         ->check(CLI::Range(size_t{1}, size_t{10'000'000}));
     },
     [](backend& b, request& r) {
       return b.batch(r.kind, read_inputs(r.file), r.task, r.chunk);
     }},
    {"nodes", "the head and its worker nodes", [](CLI::App&, request&) {},
     [](backend& b, request&) { return b.nodes(); }},
    {"list", "tasks, newest first (HTTP only)",
     [](CLI::App& sub, request& r) {
       sub.add_option("--status", r.list.status, "only tasks in this state")
         ->check(CLI::IsMember(task_statuses));
       sub.add_option("--kind", r.list.kind, "only tasks of this kind");
       sub.add_option("--limit", r.list.limit, "tasks per page (default 100)")
         ->check(CLI::Range(int64_t{1}, int64_t{1000}));
       sub.add_option("--cursor", r.list.cursor,
                      "the page after this one (a listing's \"next\")");
       sub.add_flag("--all", r.list.all, "every page, as one listing");
     },
     [](backend& b, request& r) { return b.list(r.list); }},
    {"kinds", "the kinds, their pools and defaults (HTTP only)",
     [](CLI::App&, request&) {},
     [](backend& b, request&) { return b.info("kinds"); }},
    {"pools", "the pools: size, busy, queued, restarts (HTTP only)",
     [](CLI::App&, request&) {},
     [](backend& b, request&) { return b.info("pools"); }},
    {"workers", "lease workers seen in the last minute (HTTP only)",
     [](CLI::App&, request&) {},
     [](backend& b, request&) { return b.info("workers"); }},
};

/// Options of the program, before or after the command.
void add_connection_options(CLI::App& app, request& r) {
  auto& c = r.conn;
  app.add_option("--url", c.url,
                 "actorq's HTTP API (default $ACTORQ_URL, else "
                 "http://127.0.0.1:8080)");
  app.add_option("--connect", c.connect,
                 "HOST:PORT of a head's gateway (--cluster.port): talk CAF "
                 "instead of HTTP");
  app.add_option("--token", c.token, "Bearer token for the HTTP API")
    ->envname("ACTORQ_AUTH_TOKEN");
  app.add_option("--timeout", r.timeout_seconds,
                 "longest any one call may take, and wait's limit, in seconds")
    ->check(CLI::Range(int64_t{1}, int64_t{86400}));
  app.add_option("--tls.certificate", c.tls_certificate,
                 "with --connect over TLS: this client's PEM certificate");
  app.add_option("--tls.key", c.tls_key, "its PEM private key");
  app.add_option("--tls.ca-file", c.tls_ca_file,
                 "the PEM CA that signed the head's certificate");
}

/// "--max-retry=0" -> " (did you mean --max-retries?)" among `apps`' flags.
std::string closest_flag(const std::string& arg,
                         const std::vector<const CLI::App*>& apps) {
  auto word = arg.substr(0, arg.find('='));
  word.erase(0, word.find_first_not_of('-'));
  std::vector<std::string> names;
  for (auto app : apps)
    for (auto opt : app->get_options())
      for (auto& n : opt->get_lnames())
        names.push_back(n);
  return did_you_mean(word, names, "--", "");
}

/// What CLI11 left over, said as an error: an unknown command, flag or
/// extra argument.
void check_leftovers(const CLI::App& app, const CLI::App* sub) {
  auto extras = app.remaining(true);
  if (sub == nullptr) {
    std::vector<std::string> names;
    for (auto& c : commands)
      names.emplace_back(c.name);
    if (extras.empty() || extras[0].rfind("-", 0) == 0)
      fail_usage(extras.empty() ? "no command given"
                                : "unknown option " + extras[0]
                                    + closest_flag(extras[0], {&app}));
    fail_usage("unknown command '" + extras[0] + "'"
               + did_you_mean(extras[0], names));
  }
  if (extras.empty())
    return;
  if (extras[0].rfind("-", 0) == 0)
    fail_usage("unknown option " + extras[0] + " for " + sub->get_name()
               + closest_flag(extras[0], {sub, &app}));
  fail_usage("unexpected argument '" + extras[0] + "' for "
             + sub->get_name());
}

/// HTTP unless --connect; the URL from --url, $ACTORQ_URL or the default.
std::unique_ptr<backend> open_backend(connection& c) {
  std::unique_ptr<backend> out;
  std::string problem;
  if (!c.connect.empty()) {
    if (!c.url.empty())
      fail_usage("use --connect (CAF) or --url (HTTP), not both");
    problem = make_caf_backend(c, out);
  } else {
    if (c.url.empty()) {
      auto env = std::getenv("ACTORQ_URL");
      c.url = env != nullptr && *env != '\0' ? env : "http://127.0.0.1:8080";
      c.url_from = env != nullptr && *env != '\0' ? "ACTORQ_URL" : "--url";
    }
    problem = make_http_backend(c, out);
  }
  if (!problem.empty())
    fail_usage(problem);
  return out;
}

} // namespace

void draw_progress(size_t done, size_t total) {
  constexpr int width = 40;
  auto filled = total == 0 ? width : static_cast<int>(width * done / total);
  std::fprintf(stderr, "\r[%s%s] %zu/%zu", std::string(filled, '#').c_str(),
               std::string(width - filled, ' ').c_str(), done, total);
  std::fflush(stderr);
}

int print_error(const std::string& detail, const std::string& code) {
  std::cout << json{{"detail", detail}, {"code", code}}.dump() << "\n";
  return exit_failed;
}

int main(int argc, char** argv) {
  CLI::App app{"actorq-cli: submit, watch and list actorq's tasks over its "
               "HTTP API (or CAF with --connect). Prints JSON; exit status 1 "
               "when actorq answers an error or cannot be reached, 2 for a "
               "wrong command line.",
               "actorq-cli"};
  // Unknown flags and words are collected and refused by check_leftovers()
  // with the closest valid name; the program's options may come anywhere.
  app.allow_extras();
  app.fallthrough();
  app.footer("Examples:\n"
             "  actorq-cli submit double '{\"value\": 21}' --wait 30\n"
             "  actorq-cli --url=http://10.0.0.5:8080 list --status failed\n"
             "  actorq-cli cancel --status queued --kind slow\n"
             "  actorq-cli --connect 127.0.0.1:4242 batch square items.jsonl");
  request r;
  add_connection_options(app, r);
  std::vector<std::pair<CLI::App*, const command*>> subs;
  for (auto& c : commands) {
    auto sub = app.add_subcommand(c.name, c.help);
    c.define(*sub, r);
    subs.emplace_back(sub, &c);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fail_usage(e.what());
  }
  const command* chosen = nullptr;
  const CLI::App* chosen_app = nullptr;
  for (auto& [sub, c] : subs)
    if (sub->parsed()) {
      chosen = c;
      chosen_app = sub;
    }
  check_leftovers(app, chosen_app);
  r.conn.timeout = std::chrono::seconds{r.timeout_seconds};
  auto b = open_backend(r.conn);
  return chosen->run(*b, r);
}

} // namespace actorq::cli

int main(int argc, char** argv) {
  return actorq::cli::main(argc, argv);
}
