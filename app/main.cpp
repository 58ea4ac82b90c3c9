// actorq daemon: reads the configuration, starts the pools and the registry,
// serves HTTP (and, with --cluster.port, the gateway for other CAF nodes)
// until SIGINT/SIGTERM, then shuts the actors down in order. With
// --cluster.join=HOST:PORT it runs as a worker node instead (worker_node.cpp).
#include "actors/actors.hpp"
#include "actors/callbacks.hpp"
#include "actors/gateway.hpp"
#include "actors/lease_desk.hpp"
#include "actors/metrics.hpp"
#include "app/cluster.hpp"
#include "app/memory.hpp"
#include "app/service_notify.hpp"
#include "app/worker_node.hpp"
#include "actors/config.hpp"
#include "actors/pool.hpp"
#include "actors/registry.hpp"
#include "actors/rate_sampler.hpp"
#include "actors/scheduler.hpp"
#include "actors/store.hpp"
#include "actors/time.hpp"
#include "actors/catalog.hpp"
#include "actors/log.hpp"
#include "actors/worker.hpp"
#include "http/access_log.hpp"
#include "http/server.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <optional>
#include <iostream>
#include <pthread.h>
#include <unistd.h>
#include <thread>

using namespace actorq;

namespace {

/// The metrics of the catalog's kinds and pools, or null with
/// metrics.enabled = false.
std::shared_ptr<metrics> make_metrics(const actorq_config& cfg) {
  if (!cfg.metrics_enabled)
    return nullptr;
  std::vector<std::string> kinds, pools;
  for (auto& k : current_catalog().kinds())
    kinds.push_back(k.name);
  for (auto& p : current_catalog().pools())
    pools.push_back(p.name);
  return std::make_shared<metrics>(std::move(kinds), std::move(pools));
}

/// What a graceful stop left behind.
struct drain_result {
  uint32_t running = 0; // attempts still running after the grace period
  uint64_t queued = 0;  // jobs that never started (they stay stored)
};

/// Graceful stop: refuse new work, start no new attempts, and give the
/// running ones up to `grace` to finish (long-polls on them then see the end).
drain_result drain(caf::actor_system& sys, http::server& server,
                   const http::backend& actors, caf::timespan grace) {
  server.drain();
  for (auto& p : actors.pools)
    caf::anon_send(p.handle, pause_atom::value);
  caf::anon_send(actors.leases, pause_atom::value); // ends lease long-polls
  auto deadline = std::chrono::steady_clock::now() + grace;
  caf::scoped_actor self{sys};
  drain_result left;
  while (std::chrono::steady_clock::now() < deadline) {
    left = {};
    for (auto& p : actors.pools)
      self->request(p.handle, std::chrono::seconds{1}, stats_atom::value)
        .receive(
          [&](pool_stats& st) {
            left.running += st.busy;
            left.queued += st.queued;
          },
          [&](caf::error&) {});
    if (left.running == 0)
      return left;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return left;
}

/// The [callbacks] keys as the callback sender takes them.
callback_settings callback_options(const actorq_config& cfg) {
  auto ms = [](caf::timespan x) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(x);
  };
  callback_settings out;
  out.secret = cfg.callbacks_secret;
  out.max_attempts = static_cast<int32_t>(cfg.callbacks_max_attempts);
  out.backoff = ms(cfg.callbacks_backoff);
  out.max_backoff = ms(cfg.callbacks_max_backoff);
  out.timeout = ms(cfg.callbacks_timeout);
  out.concurrency = static_cast<uint32_t>(cfg.callbacks_concurrency);
  return out;
}

/// The start-up line: where actorq listens and what it runs (names and
/// sizes only: kinds' settings may hold secrets).
void log_started(const actorq_config& cfg, const std::string& http,
                 const std::string& gateway, size_t recovered) {
  nlohmann::json pools = nlohmann::json::array();
  for (auto& p : cfg.pools())
    pools.push_back({{"name", p.name},
                     {"size", p.size},
                     {"threads", p.dedicated_threads ? "dedicated" : "shared"}});
  nlohmann::json kinds = nlohmann::json::array();
  for (auto& k : cfg.kinds()->kinds())
    kinds.push_back(k.name);
  auto pools_text = pools.dump();
  auto kinds_text = kinds.dump();
  log::event(log::level::info, "started",
             // Not stdout's "actorq listening on http://…": scripts that
             // read both streams search for that one.
             {{"msg", "actorq started, HTTP on " + http},
              {"http", http},
              {"gateway", gateway},
              {"store", cfg.store_path},
              {"recovered", recovered},
              {"pools", log::raw_json{pools_text}},
              {"kinds", log::raw_json{kinds_text}},
              {"auth", !cfg.http_auth_token.empty()},
              {"access_log", cfg.log_access},
              {"pid", static_cast<int64_t>(::getpid())}});
}


/// Reads the command line and the config file: nullopt to go on, else the
/// exit code (0 after --help, 2 for a bad configuration, said on stderr).
std::optional<int> read_configuration(actorq_config& cfg, int argc,
                                      char** argv) {
  std::vector<std::string> problems;
  auto args = cfg.prepare_args(argc, argv, problems);
  if (cfg.help_requested()) {
    std::cout << cfg.help_text();
    return 0;
  }
  if (!problems.empty()) {
    for (auto& p : problems)
      std::cerr << "actorq: " << p << "\n";
    return 2;
  }
  std::vector<char*> args_c;
  for (auto& a : args)
    args_c.push_back(a.data());
  args_c.push_back(nullptr);
  if (auto err = cfg.parse(static_cast<int>(args.size()), args_c.data())) {
    std::cerr << "actorq: cannot read the configuration: " << cfg.render(err)
              << "\n";
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (auto problems = cfg.validate(); !problems.empty()) {
    for (auto& p : problems)
      std::cerr << "actorq: " << p << "\n";
    return 2;
  }
  return std::nullopt;
}

/// Blocks SIGINT and SIGTERM in every thread (one thread waits for them)
/// and ignores SIGPIPE; returns the stop signals.
sigset_t block_stop_signals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return stop_signals;
}

/// What the store file holds at start: the store itself, the registry's
/// settings with the unfinished tasks, and what the other actors resume.
struct stored_state {
  registry_settings reg;
  std::shared_ptr<task_store> db; // null with :memory:
  std::vector<std::string> paused; // pools an operator paused, still paused
  std::vector<schedule_mark> fired; // schedules' last fired slots
};

/// Opens the store (unless :memory:) and reads back what start-up resumes.
/// First of all: a file that is not ours, or corrupt, stops start-up before
/// anything else runs (and is left as it was); nullopt then (logged).
std::optional<stored_state> open_store(const actorq_config& cfg) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  stored_state out;
  auto& reg = out.reg;
  reg.result_ttl = duration_cast<milliseconds>(cfg.store_result_ttl);
  reg.memory_tasks = static_cast<size_t>(cfg.store_memory_tasks);
  reg.write_timeout = duration_cast<milliseconds>(cfg.store_write_timeout);
  if (cfg.store_path == ":memory:")
    return out;
  try {
    out.db = task_store::open(cfg.store_path, cfg.store_sync == "full");
    if (reg.result_ttl.count() > 0)
      out.db->expire(now_ms() - reg.result_ttl.count());
    reg.recovered = out.db->load_live();
    reg.pending_callbacks = out.db->load_pending_callbacks();
    reg.last_seq = out.db->last_seq();
    out.paused = out.db->paused_pools();
    out.fired = out.db->schedule_marks();
  } catch (const std::exception& e) {
    log::event(log::level::error, "start_failed",
               {{"msg", std::string{"cannot start: "} + e.what()},
                {"store", cfg.store_path}});
    return std::nullopt;
  }
  return out;
}

/// The daemon's actors: what the HTTP bridge talks to, and the rest.
struct daemon_actors {
  http::backend http;
  callback_sender_actor callbacks;
  size_t recovered = 0; // unfinished tasks resumed from the store
};

/// One pool per [pools.NAME]; a pool an operator paused stays paused.
void spawn_pools(caf::actor_system& sys, const actorq_config& cfg,
                 const std::vector<std::string>& paused,
                 http::backend& actors) {
  for (auto settings : cfg.pools()) {
    settings.meters = actors.meters;
    settings.paused = std::find(paused.begin(), paused.end(), settings.name)
                      != paused.end();
    if (settings.paused)
      log::event(log::level::warn, "pool_paused",
                 {{"msg", "pool '" + settings.name
                            + "' is paused (by an operator): it starts nothing "
                              "until POST /v1/pools/" + settings.name + "/resume"},
                  {"pool", settings.name}});
    actors.pools.push_back(
        {settings.name, sys.spawn(pool, settings), settings.gauge});
  }
}

/// Spawns the pools, the store, the registry and the actors around them.
daemon_actors spawn_actors(caf::actor_system& sys, const actorq_config& cfg,
                           stored_state stored) {
  daemon_actors out;
  auto& actors = out.http;
  auto& reg = stored.reg;
  actors.meters = make_metrics(cfg);
  spawn_pools(sys, cfg, stored.paused, actors);
  reg.pools = actors.pools;
  reg.meters = actors.meters;
  out.recovered = reg.recovered.size();
  if (stored.db) {
    if (out.recovered > 0)
      log::event(log::level::info, "tasks_resumed",
                 {{"msg", "resuming " + std::to_string(out.recovered)
                            + " unfinished tasks from " + cfg.store_path},
                  {"tasks", out.recovered},
                  {"store", cfg.store_path}});
    // systemd: what start-up is waiting for
    notify_status("resuming " + std::to_string(out.recovered)
                  + " unfinished tasks");
    reg.store = sys.spawn<caf::detached>(store, std::move(stored.db),
                                         reg.result_ttl.count(), actors.meters);
    actors.store = reg.store;
  }
  reg.callbacks = sys.spawn(callback_sender, callback_options(cfg));
  out.callbacks = reg.callbacks;
  reg.reads = std::make_shared<registry_reads>(); // HTTP threads read here
  actors.reads = reg.reads;
  actors.registry = sys.spawn<registry_impl>(std::move(reg));
  actors.gateway = sys.spawn(gateway, actors.registry, actors.pools,
                             static_cast<size_t>(cfg.http_max_batch_items));
  actors.leases = sys.spawn(lease_desk, actors.pools);
  actors.rates = sys.spawn(rate_sampler, actors.pools);
  actors.scheduler = sys.spawn(
      scheduler, scheduler_settings{cfg.schedules(), std::move(stored.fired),
                                    actors.registry, actors.store});
  return out;
}

/// Ends the actors before ~actor_system waits for them.
void stop_actors(const daemon_actors& actors) {
  auto& a = actors.http;
  caf::anon_send_exit(a.gateway, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.registry, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.leases, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.rates, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(actors.callbacks, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a.scheduler, caf::exit_reason::user_shutdown);
  for (auto& p : a.pools)
    caf::anon_send_exit(p.handle, caf::exit_reason::user_shutdown);
}

/// Publishes the gateway on cluster.host:cluster.port for other CAF nodes:
/// its host:port, or nullopt if it cannot (logged).
std::optional<std::string> publish(caf::actor_system& sys,
                                   const actorq_config& cfg,
                                   const gateway_actor& gw, bool tls) {
  auto port = publish_gateway(sys, gw, cfg.cluster_host,
                              static_cast<uint16_t>(cfg.cluster_port), tls);
  if (!port) {
    log::event(log::level::error, "start_failed",
               {{"msg", "cannot publish the gateway on " + cfg.cluster_host
                          + ":" + std::to_string(cfg.cluster_port) + ": "
                          + sys.render(port.error())}});
    return std::nullopt;
  }
  std::printf("actorq gateway on %s:%u%s\n", cfg.cluster_host.c_str(), *port,
              tls ? " (TLS)" : "");
  auto where = cfg.cluster_host + ":" + std::to_string(*port);
  if (!tls && cfg.cluster_insecure)
    log::event(log::level::warn, "config_warning",
               {{"msg", "the gateway on " + where
                          + " is plain BASP (cluster.insecure): anyone who "
                            "reaches it can submit work and make actorq "
                            "allocate memory; use [cluster.tls]"},
                {"key", "cluster.insecure"}});
  return where;
}

/// How serving ended.
struct run_result {
  int exit_code = 0;
  const char* stop_signal = "none"; // run() may end on its own
  drain_result left;
};

/// The thread that waits for SIGINT or SIGTERM, then stops gracefully:
/// drain, end the runners' jobs, stop the HTTP server, release long-polls.
std::thread stop_on_signal(caf::actor_system& sys, const actorq_config& cfg,
                           http::server& server, const http::backend& actors,
                           const sigset_t& stop_signals, run_result& out) {
  return std::thread{[&sys, &cfg, &server, &actors, &stop_signals, &out] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    out.stop_signal = sig == SIGINT ? "SIGINT" : "SIGTERM";
    log::event(log::level::info, "stopping",
               {{"msg", std::string{"received "} + out.stop_signal
                          + ", stopping"},
                {"signal", out.stop_signal}});
    // systemd: deactivating while running work finishes
    notify_stopping("draining");
    // No new periodic tasks while draining.
    caf::anon_send_exit(actors.scheduler, caf::exit_reason::user_shutdown);
    out.left = drain(sys, server, actors, cfg.shutdown_grace);
    // Jobs still running after the grace: SIGTERM, then SIGKILL after
    // their kind's kill-grace.
    stop_runners(std::chrono::seconds{30});
    server.stop();
    // Release long-polls now so that the HTTP threads can finish.
    caf::anon_send_exit(actors.registry, caf::exit_reason::user_shutdown);
  }};
}

/// The thread that marks the server ready once the registry answers: it
/// re-enqueues the recovered tasks before it handles any message. Asked
/// again each second until then, so a stop during start-up (the registry
/// quits with the question unanswered) ends this thread soon.
std::thread ready_when_registry_answers(caf::actor_system& sys,
                                        const actorq_config& cfg,
                                        http::server& server,
                                        const http::backend& actors, int port,
                                        const std::atomic<bool>& stopped) {
  return std::thread{[&sys, &cfg, &server, &actors, port, &stopped] {
    caf::scoped_actor self{sys};
    bool asking = true;
    while (asking && !stopped) {
      self->request(actors.registry, std::chrono::seconds{1},
                    list_atom::value, task_filter{{}, {}, 1, 0})
        .receive(
          [&](task_page&) {
            asking = false;
            server.set_ready();
            // systemd: started, now that /readyz says ready
            notify_ready("serving on http://" + cfg.http_host + ":"
                         + std::to_string(port));
          },
          [&](caf::error& err) { asking = err == caf::sec::request_timeout; });
    }
  }};
}

/// Serves HTTP until a stop signal (or until the server ends on its own).
run_result serve(caf::actor_system& sys, const actorq_config& cfg,
                 const daemon_actors& actors, const std::string& gateway,
                 const sigset_t& stop_signals) {
  run_result out;
  http::server server{sys, cfg, actors.http};
  if (cfg.log_access)
    server.observe(http::access_log());
  auto port = server.bind();
  if (port < 0) {
    log::event(log::level::error, "start_failed",
               {{"msg", "cannot listen on " + cfg.http_host + ":"
                          + std::to_string(cfg.http_port)}});
    out.exit_code = 1;
    return out;
  }
  std::printf("actorq listening on http://%s:%d\n", cfg.http_host.c_str(),
              port);
  std::fflush(stdout);
  log_started(cfg, cfg.http_host + ":" + std::to_string(port), gateway,
              actors.recovered);
  auto waiter = stop_on_signal(sys, cfg, server, actors.http, stop_signals,
                               out);
  std::atomic<bool> stopped{false};
  auto readiness = ready_when_registry_answers(sys, cfg, server, actors.http,
                                               port, stopped);
  server.run();
  stopped = true;
  // run() may also end on its own (e.g. a socket error): wake the waiter.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  readiness.join();
  return out;
}

} // namespace

int main(int argc, char** argv) {
  actorq_config cfg;
  // Started once the configuration is read; ends after the actor system, so
  // that lines of its shutdown are written too.
  std::optional<log::session> logging;
  std::optional<caf::actor_system> system_holder; // after cfg: it uses cfg
  register_types(cfg);
  if (auto exit_code = read_configuration(cfg, argc, argv))
    return *exit_code;
  // From here on, events are log lines (stderr); the queued ones are
  // written out on every way out of main.
  logging.emplace(cfg.log_min, cfg.log_lines);
  // Every pool and kind, read by the actors from here on.
  install_catalog(cfg.kinds());
  tls_files tls{cfg.cluster_tls_certificate, cfg.cluster_tls_key,
                cfg.cluster_tls_ca_file};
  if (auto problem = tls.check(); !problem.empty()) {
    std::cerr << "actorq: cluster.tls: " << problem << "\n";
    return 2;
  }
  if (cfg.cluster_port > 0 || !cfg.cluster_join.empty())
    prepare_network(cfg, tls);
  auto stop_signals = block_stop_signals();
  if (!cfg.cluster_join.empty()) {
    auto& sys = start_system(system_holder, cfg, "actorq");
    return run_worker_node(sys, cfg, tls.enabled(), stop_signals);
  }
  auto stored = open_store(cfg);
  if (!stored)
    return 1;
  auto& sys = start_system(system_holder, cfg, "actorq");
  memory_releaser releaser; // large batches give their memory back
  auto actors = spawn_actors(sys, cfg, std::move(*stored));
  std::string gateway; // host:port, "" when not published
  if (cfg.cluster_port > 0) {
    auto published = publish(sys, cfg, actors.http.gateway, tls.enabled());
    if (!published) {
      stop_actors(actors);
      return 1;
    }
    gateway = *published;
  }
  auto run = serve(sys, cfg, actors, gateway, stop_signals);
  stop_actors(actors); // the HTTP threads are gone
  stop_runners(std::chrono::seconds{30});
  if (run.exit_code == 0)
    log::event(log::level::info, "stopped",
               {{"msg", run.left.running == 0
                          ? "stopped"
                          : "attempts still running after the grace period; "
                            "stopping anyway"},
                {"signal", run.stop_signal},
                {"drained", run.left.running == 0},
                {"running", run.left.running},
                {"queued", run.left.queued}});
  return run.exit_code;
}
