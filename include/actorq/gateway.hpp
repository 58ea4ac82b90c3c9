// actorq's public interface for C++ programs on other CAF nodes: the task
// types and the gateway actor that a running actorq publishes with
// --cluster.port. A client needs only this header and CAF 0.17:
//
//   actorq::register_gateway_types(cfg);  // before creating the actor_system
//   auto gw = sys.middleman().remote_actor<actorq::gateway_actor>(host, port);
//   self->request(*gw, timeout, actorq::submit_atom::value, spec)...
//
// Messages are the structs below with inspect() overloads; JSON inputs and
// results travel as compact JSON text.
#pragma once

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace actorq {

using json = nlohmann::json;

// -- task types ---------------------------------------------------------------

/// An arbitrary JSON value (a task's input or result). It travels parsed inside
/// one process; between CAF nodes it is serialized as compact JSON text.
struct json_value {
  json value;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, json_value& x) {
  std::string text;
  if constexpr (Inspector::reads_state) {
    text = x.value.dump();
    return f(caf::meta::type_name("json_value"), text);
  } else {
    auto load = caf::meta::load_callback([&]() -> caf::error {
      x.value = json::parse(text, nullptr, false);
      return caf::none;
    });
    return f(caf::meta::type_name("json_value"), text, load);
  }
}

/// A JSON document kept in serialized form: the registry stores results this
/// way (a few bytes instead of a node tree) and the HTTP bridge splices the
/// text into its responses without parsing it again.
struct raw_json {
  std::string text; // empty means JSON null
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, raw_json& x) {
  return f(caf::meta::type_name("raw_json"), x.text);
}

/// A task id: a random (version 4) UUID.
struct task_id {
  uint64_t hi = 0;
  uint64_t lo = 0;

  static task_id random();
  /// Parses the canonical 36-character form; nullopt for anything else.
  static std::optional<task_id> parse(std::string_view text);
  std::string to_string() const;
  /// Appends the 36 characters of to_string() to `out` (no allocation of
  /// its own: rendering a task view appends it to the answer).
  void append_to(std::string& out) const;

  friend bool operator==(const task_id& a, const task_id& b) {
    return a.hi == b.hi && a.lo == b.lo;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_id& x) {
  return f(caf::meta::type_name("task_id"), x.hi, x.lo);
}

inline task_id task_id::random() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  task_id id{rng(), rng()};
  id.hi = (id.hi & ~0xF000ull) | 0x4000ull;                 // version 4
  id.lo = (id.lo & ~(0xC000ull << 48)) | (0x8000ull << 48); // variant 10
  return id;
}

inline std::optional<task_id> task_id::parse(std::string_view text) {
  // xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
  if (text.size() != 36)
    return std::nullopt;
  task_id id;
  int nibbles = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-')
        return std::nullopt;
      continue;
    }
    uint64_t v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else
      return std::nullopt;
    auto& half = nibbles < 16 ? id.hi : id.lo;
    half = (half << 4) | v;
    ++nibbles;
  }
  return id;
}

inline void task_id::append_to(std::string& out) const {
  // Hand-rolled: this runs for every task rendered, and snprintf showed up
  // in the GET profile.
  static constexpr char hex[] = "0123456789abcdef";
  auto pos = out.size();
  out.append(36, '-');
  for (int i = 0; i < 32; ++i) {
    if (pos == out.size() - 28 || pos == out.size() - 23
        || pos == out.size() - 18 || pos == out.size() - 13)
      ++pos; // the dashes of 8-4-4-4-12
    auto half = i < 16 ? hi : lo;
    auto shift = 60 - 4 * (i % 16);
    out[pos++] = hex[(half >> shift) & 0xF];
  }
}

inline std::string task_id::to_string() const {
  std::string out;
  append_to(out);
  return out;
}


struct task_id_hash {
  size_t operator()(const task_id& x) const noexcept {
    return static_cast<size_t>(x.hi ^ (x.lo * 0x9E3779B97F4A7C15ull));
  }
};

/// Lifecycle of a task: [scheduled | waiting →] queued → running →
/// (retrying → running)* → terminal (succeeded, failed, cancelled).
/// New statuses are appended: stored and wire values keep their meaning.
enum class task_status : uint8_t {
  queued,
  running,
  retrying,
  succeeded,
  failed,
  cancelled,
  scheduled, // not due yet (run_at / countdown_ms)
  waiting,   // not all tasks of its `after` list have ended
};

namespace detail {
inline constexpr const char* status_names[]
  = {"queued", "running", "retrying",  "succeeded",
     "failed", "cancelled", "scheduled", "waiting"};
} // namespace detail

/// Number of task statuses (the size of status_names).
constexpr int task_status_count
  = static_cast<int>(sizeof(detail::status_names) / sizeof(detail::status_names[0]));

inline const char* to_string(task_status x) {
  return detail::status_names[static_cast<int>(x)];
}

inline std::optional<task_status> parse_task_status(std::string_view text) {
  for (int i = 0; i < task_status_count; ++i)
    if (text == detail::status_names[i])
      return static_cast<task_status>(i);
  return std::nullopt;
}


inline bool is_terminal(task_status x) {
  return x == task_status::succeeded || x == task_status::failed
         || x == task_status::cancelled;
}

/// When a task with an `after` list runs: once all of them succeeded (else
/// it ends cancelled, naming the first that did not), or once all ended.
enum class after_policy : uint8_t { succeeded, ended };

inline const char* to_string(after_policy x) {
  return x == after_policy::ended ? "ended" : "succeeded";
}

/// A task's priority: 0..9, higher first; 5 when the client gives none.
constexpr int32_t min_priority = 0;
constexpr int32_t max_priority = 9;
constexpr int32_t default_priority = 5;

/// What a client asks to run. Fields left at their defaults (empty pool,
/// negative numbers) get the kind's defaults, else its pool's, else the
/// [retry] section's — the same for HTTP and CAF clients.
struct task_spec {
  std::string kind;
  json_value input;
  std::string pool;         // empty = the kind's pool
  int32_t max_retries = -1; // attempts = 1 + max_retries at most
  int64_t backoff_ms = -1;  // first retry delay, doubled per retry
  int64_t timeout_ms = -1;  // per attempt; 0 = no limit
  // A client's key for safe retries of a submission: a repeated key gets
  // the first task back instead of a second one. Empty = none.
  std::string idempotency_key;
  // Which waiting task its pool starts first: higher first, FIFO within one
  // level (min_priority..max_priority).
  int32_t priority = default_priority;
  // When it may start, ms since the Unix epoch; 0 = now. Until then the task
  // is `scheduled`. countdown_ms >= 0 means "this long after creation" (as
  // the client sent it; the registry turns it into run_at).
  int64_t run_at = 0;
  int64_t countdown_ms = -1;
  // Tasks that must end first (older tasks); until then it is `waiting`.
  std::vector<task_id> after;
  after_policy after_if = after_policy::succeeded;
  bool pass_results = false; // their results go into input["_after"]
  // Where its final view is POSTed when it ends (callbacks.* keys). Empty = none.
  std::string callback_url;
  // The [schedules.NAME] that created it; empty for client tasks.
  std::string schedule;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_spec& x) {
  return f(caf::meta::type_name("task_spec"), x.kind, x.input, x.pool,
           x.max_retries, x.backoff_ms, x.timeout_ms, x.idempotency_key,
           x.priority, x.run_at, x.countdown_ms, x.after, x.after_if,
           x.pass_results, x.callback_url, x.schedule);
}

/// How far a running task says it has come (exec: a "::progress" line on
/// stderr; remote workers: work_progress). Kept after the task ends.
struct task_progress {
  double fraction = 0; // 0..1
  std::string message;
  int64_t at = 0; // ms since the Unix epoch
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_progress& x) {
  return f(caf::meta::type_name("task_progress"), x.fraction, x.message, x.at);
}

/// Delivery of a task's completion callback (POST of its final view).
struct callback_view {
  std::string url;
  std::string status = "pending"; // "pending" | "delivered" | "failed"
  int32_t attempts = 0;
  caf::optional<std::string> last_error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, callback_view& x) {
  return f(caf::meta::type_name("callback_view"), x.url, x.status, x.attempts,
           x.last_error);
}

/// Everything a client may read about one task. Times are milliseconds since
/// the Unix epoch; 0 means "not yet".
struct task_view {
  task_id id;
  std::string kind;
  std::string pool;
  task_status status = task_status::queued;
  bool cancel_requested = false;
  int32_t attempts = 0;
  int32_t max_retries = 0;
  int32_t priority = default_priority;
  int64_t created_at = 0;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  raw_json result;
  caf::optional<std::string> error;
  caf::optional<task_progress> progress;
  int64_t run_at = 0;          // when a delayed task may start; 0 = at once
  std::vector<task_id> after;  // the tasks it waits for (empty: none)
  std::string schedule;        // the schedule that created it, if any
  caf::optional<callback_view> callback;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_view& x) {
  return f(caf::meta::type_name("task_view"), x.id, x.kind, x.pool, x.status,
           x.cancel_requested, x.attempts, x.max_retries, x.created_at,
           x.started_at, x.finished_at, x.result, x.error, x.progress,
           x.priority, x.run_at, x.after, x.schedule, x.callback);
}

/// Many inputs for one kind, answered in input order.
struct batch_spec {
  task_spec task; // every field but `input` applies to each item
  std::vector<json_value> items;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch_spec& x) {
  return f(caf::meta::type_name("batch_spec"), x.task, x.items);
}

struct batch_result {
  std::vector<json_value> results;                // null where the item failed
  std::vector<caf::optional<std::string>> errors; // set where the item failed
  uint32_t succeeded = 0;
  uint32_t failed = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch_result& x) {
  return f(caf::meta::type_name("batch_result"), x.results, x.errors,
           x.succeeded, x.failed);
}

/// One node of a cluster as GET /v1/nodes shows it.
struct node_view {
  std::string id;      // "head" or the name a worker node joined with
  std::string address; // host:port it connected from ("local" for the head)
  bool up = true;
  std::vector<std::pair<std::string, uint32_t>> pools; // name → workers
  uint64_t completed = 0; // attempts that succeeded on this node
  uint64_t failed = 0;    // attempts that failed on this node
  // A worker program: the remote kinds it serves, kind → workers.
  std::vector<std::pair<std::string, uint32_t>> kinds;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_view& x) {
  return f(caf::meta::type_name("node_view"), x.id, x.address, x.up, x.pools,
           x.completed, x.failed, x.kinds);
}

/// What a worker node offers when it joins: its name and pool sizes, and
/// the config kinds it can run (name → runner, "exec" or "http"); the head
/// refuses a node whose pools or kinds do not match its own.
struct node_offer {
  std::string name;
  std::string address; // where it runs (host:pid), for people
  std::vector<std::pair<std::string, uint32_t>> pools; // name → workers
  std::vector<std::pair<std::string, std::string>> kinds; // name → runner
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_offer& x) {
  return f(caf::meta::type_name("node_offer"), x.name, x.address, x.pools,
           x.kinds);
}

// -- errors -------------------------------------------------------------------

/// actorq's error codes; the context message holds a detail for people.
enum class error_code : uint8_t {
  not_found = 1,
  conflict,
  invalid,
  busy,
  unavailable,
  worker_crashed,
  shutting_down, // appended: codes keep their values between versions
  idempotency_mismatch, // a repeated Idempotency-Key with another request
};



inline const char* to_string(error_code x) {
  switch (x) {
    case error_code::not_found:
      return "not_found";
    case error_code::conflict:
      return "conflict";
    case error_code::invalid:
      return "invalid";
    case error_code::busy:
      return "busy";
    case error_code::unavailable:
      return "unavailable";
    case error_code::worker_crashed:
      return "worker_crashed";
    case error_code::shutting_down:
      return "shutting_down";
    case error_code::idempotency_mismatch:
      return "idempotency_mismatch";
  }
  return "unknown";
}

inline caf::error make_error(error_code code, std::string detail) {
  return caf::error{static_cast<uint8_t>(code), caf::atom("actorq"),
                    caf::make_message(std::move(detail))};
}

// -- the gateway --------------------------------------------------------------

using submit_atom = caf::atom_constant<caf::atom("submit")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using wait_atom = caf::atom_constant<caf::atom("wait")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using nodes_atom = caf::atom_constant<caf::atom("nodes")>;
using join_atom = caf::atom_constant<caf::atom("join")>;

// -- workers of remote kinds --------------------------------------------------
//
// A kind declared on the head with `runner = "remote"` is served by actors of
// your own program: it joins the gateway with a worker_offer naming, for each
// kind, its kind_worker_actors. The head's pool sends each worker work_items
// — one, or a chunk of them when many are waiting (fewer messages per
// attempt) — and waits for the answer: one work_result per item, in order (at
// once, or later through a response promise). cancel_atom says an item's
// result will be discarded. Progress goes to the sender of the work_items (a
// work_sink_actor). See examples/worker.cpp.

/// One attempt of a remote kind.
struct work_item {
  uint64_t seq = 0;       // echo it in work_progress
  std::string kind;
  json_value input;       // a JSON object
  int32_t attempt = 1;    // from 1
  std::string attempt_id; // unique per attempt: de-duplicate with it
  std::string task_id;    // empty for batch items
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, work_item& x) {
  return f(caf::meta::type_name("work_item"), x.seq, x.kind, x.input,
           x.attempt, x.attempt_id, x.task_id);
}

/// How an attempt ended.
struct work_result {
  bool ok = false;
  json_value result;      // ok: the result
  std::string error;      // !ok: why; the task's retry policy applies
  bool permanent = false; // !ok: fail the task now, no more retries
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, work_result& x) {
  return f(caf::meta::type_name("work_result"), x.ok, x.result, x.error,
           x.permanent);
}

/// Progress of the attempt `seq` (fraction 0..1).
struct work_progress {
  uint64_t seq = 0;
  double fraction = 0;
  std::string message;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, work_progress& x) {
  return f(caf::meta::type_name("work_progress"), x.seq, x.fraction,
           x.message);
}

/// What your worker actors implement.
using kind_worker_actor = caf::typed_actor<
    // Run these attempts (in any order, one after the other or at once);
    // answer with one result per item, in the order of the items.
    caf::replies_to<std::vector<work_item>>::with<std::vector<work_result>>,
    // The attempt `seq` was cancelled (or timed out): its result is dropped.
    caf::reacts_to<cancel_atom, uint64_t>>;

/// Where your workers send progress: the sender of the work_item.
using work_sink_actor = caf::typed_actor<caf::reacts_to<work_progress>>;

/// One worker actor for one kind.
struct kind_worker {
  std::string kind;
  kind_worker_actor worker;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, kind_worker& x) {
  return f(caf::meta::type_name("kind_worker"), x.kind, x.worker);
}

/// What a worker program offers when it joins.
struct worker_offer {
  std::string name;    // shown by GET /v1/nodes
  std::string address; // where it runs, for people
  std::vector<kind_worker> workers;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_offer& x) {
  return f(caf::meta::type_name("worker_offer"), x.name, x.address,
           x.workers);
}

/// The head's answer to a join: for each offered pool the head's pool actor
/// (the node's workers report to it) and the first slot number they take.
struct pool_grant {
  std::string name;
  caf::actor pool;
  uint32_t first_slot = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_grant& x) {
  return f(caf::meta::type_name("pool_grant"), x.name, x.pool, x.first_slot);
}


/// A running actorq as seen from another CAF node: the same registry, pools
/// and id space as its HTTP API. Errors carry an error_code (category
/// "actorq") and a detail.
using gateway_actor = caf::typed_actor<
    // Create a task (answered once it is stored); errors: invalid, busy.
    caf::replies_to<submit_atom, task_spec>::with<task_view>,
    // Read a task; error: not_found.
    caf::replies_to<get_atom, task_id>::with<task_view>,
    // Read a task once it has ended or after at most `ms` milliseconds.
    caf::replies_to<wait_atom, task_id, int64_t>::with<task_view>,
    // Cancel a task; errors: not_found, conflict.
    caf::replies_to<cancel_atom, task_id>::with<task_view>,
    // Run many inputs of one kind; results in input order.
    caf::replies_to<batch_spec>::with<batch_result>,
    // The head and every worker node that joined.
    caf::replies_to<nodes_atom>::with<std::vector<node_view>>,
    // A worker node joins (worker nodes only): its workers serve these pools.
    caf::replies_to<join_atom, node_offer>::with<std::vector<pool_grant>>,
    // A program serving remote kinds joins; answers how many workers were
    // taken. Error `invalid` if a kind is not declared on the head with
    // runner = "remote". Monitored: when the sender goes, so do its workers.
    caf::replies_to<join_atom, worker_offer>::with<uint32_t>>;

/// Registers the types above and the "actorq" error category with a CAF
/// config; call it before creating the actor_system.
inline void register_gateway_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<json_value>("actorq::json_value")
      .add_message_type<raw_json>("actorq::raw_json")
      .add_message_type<task_id>("actorq::task_id")
      .add_message_type<task_status>("actorq::task_status")
      .add_message_type<task_spec>("actorq::task_spec")
      .add_message_type<task_progress>("actorq::task_progress")
      .add_message_type<task_view>("actorq::task_view")
      .add_message_type<batch_spec>("actorq::batch_spec")
      .add_message_type<batch_result>("actorq::batch_result")
      .add_message_type<node_view>("actorq::node_view")
      .add_message_type<std::vector<node_view>>("std::vector<actorq::node_view>")
      .add_message_type<node_offer>("actorq::node_offer")
      .add_message_type<pool_grant>("actorq::pool_grant")
      .add_message_type<std::vector<pool_grant>>("std::vector<actorq::pool_grant>")
      .add_message_type<std::vector<json_value>>("std::vector<actorq::json_value>")
      .add_message_type<std::vector<caf::optional<std::string>>>(
          "std::vector<caf::optional<std::string>>")
      .add_message_type<std::vector<std::pair<std::string, uint32_t>>>(
          "std::vector<std::pair<std::string,uint32_t>>")
      .add_message_type<std::vector<std::pair<std::string, std::string>>>(
          "std::vector<std::pair<std::string,std::string>>")
      .add_message_type<work_item>("actorq::work_item")
      .add_message_type<work_result>("actorq::work_result")
      .add_message_type<std::vector<work_item>>("std::vector<actorq::work_item>")
      .add_message_type<std::vector<work_result>>(
          "std::vector<actorq::work_result>")
      .add_message_type<work_progress>("actorq::work_progress")
      .add_message_type<kind_worker_actor>("actorq::kind_worker_actor")
      .add_message_type<work_sink_actor>("actorq::work_sink_actor")
      .add_message_type<kind_worker>("actorq::kind_worker")
      .add_message_type<std::vector<kind_worker>>(
          "std::vector<actorq::kind_worker>")
      .add_message_type<worker_offer>("actorq::worker_offer")
      .add_message_type<gateway_actor>("actorq::gateway_actor");
  cfg.add_error_category(caf::atom("actorq"), [](uint8_t code, caf::atom_value,
                                                 const caf::message& ctx) {
    return std::string{"actorq."} + to_string(static_cast<error_code>(code))
           + (ctx.empty() ? "" : ": " + to_string(ctx));
  });
}

} // namespace actorq
