// actorq daemon: reads the configuration, starts the pools and the registry,
// serves HTTP (and, with --cluster.port, the gateway for other CAF nodes)
// until SIGINT/SIGTERM, then shuts the actors down in order. With
// --cluster.join=HOST:PORT it runs as a worker node instead (worker_node.cpp).
#include "actors/actors.hpp"
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
#include "actors/store.hpp"
#include "actors/time.hpp"
#include "actors/catalog.hpp"
#include "actors/worker.hpp"
#include "http/server.hpp"

#include <csignal>
#include <cstdio>
#include <optional>
#include <iostream>
#include <pthread.h>
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

/// Graceful stop: refuse new work, start no new attempts, and give the
/// running ones up to `grace` to finish (long-polls on them then see the end).
void drain(caf::actor_system& sys, http::server& server,
           const http::backend& actors, caf::timespan grace) {
  server.drain();
  for (auto& p : actors.pools)
    caf::anon_send(p.handle, pause_atom::value);
  caf::anon_send(actors.leases, pause_atom::value); // ends lease long-polls
  auto deadline = std::chrono::steady_clock::now() + grace;
  caf::scoped_actor self{sys};
  while (std::chrono::steady_clock::now() < deadline) {
    uint32_t busy = 0;
    for (auto& p : actors.pools)
      self->request(p.handle, std::chrono::seconds{1}, stats_atom::value)
        .receive([&](pool_stats& st) { busy += st.busy; },
                 [&](caf::error&) {});
    if (busy == 0)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  std::fprintf(stderr, "actorq: attempts still running after the grace "
                       "period; stopping anyway\n");
}


} // namespace

int main(int argc, char** argv) {
  actorq_config cfg;
  std::optional<caf::actor_system> system_holder; // after cfg: it uses cfg
  register_types(cfg);
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
  // Every pool and kind, read by the actors from here on.
  install_catalog(cfg.kinds());
  tls_files tls{cfg.cluster_tls_certificate, cfg.cluster_tls_key,
                cfg.cluster_tls_ca_file};
  if (auto problem = tls.check(); !problem.empty()) {
    std::cerr << "actorq: cluster.tls: " << problem << "\n";
    return 2;
  }
  bool networked = cfg.cluster_port > 0 || !cfg.cluster_join.empty();
  if (networked)
    prepare_network(cfg, tls);
  // Block the stop signals in every thread; one thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  if (!cfg.cluster_join.empty()) {
    auto& sys = start_system(system_holder, cfg, "actorq");
    return run_worker_node(sys, cfg, tls.enabled(), stop_signals);
  }

  // The store first: a file that is not ours, or corrupt, stops startup
  // before anything else runs (and is left as it was).
  registry_settings reg;
  reg.result_ttl =
      std::chrono::duration_cast<std::chrono::milliseconds>(cfg.store_result_ttl);
  reg.memory_tasks = static_cast<size_t>(cfg.store_memory_tasks);
  reg.write_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      cfg.store_write_timeout);
  std::shared_ptr<task_store> db;
  if (cfg.store_path != ":memory:") {
    try {
      db = task_store::open(cfg.store_path, cfg.store_sync == "full");
      if (reg.result_ttl.count() > 0)
        db->expire(now_ms() - reg.result_ttl.count());
      reg.recovered = db->load_live();
      reg.last_seq = db->last_seq();
    } catch (const std::exception& e) {
      std::cerr << "actorq: cannot start: " << e.what() << "\n";
      return 1;
    }
  }

  auto& sys = start_system(system_holder, cfg, "actorq");
  memory_releaser releaser; // large batches give their memory back
  http::backend actors;
  actors.meters = make_metrics(cfg);
  for (auto settings : cfg.pools()) {
    settings.meters = actors.meters;
    actors.pools.push_back(
        {settings.name, sys.spawn(pool, settings), settings.gauge});
  }
  reg.pools = actors.pools;
  reg.meters = actors.meters;
  if (db) {
    if (!reg.recovered.empty())
      std::fprintf(stderr, "actorq: resuming %zu unfinished tasks from %s\n",
                   reg.recovered.size(), cfg.store_path.c_str());
    // systemd: what start-up is waiting for
    notify_status("resuming " + std::to_string(reg.recovered.size()) +
                  " unfinished tasks");
    reg.store = sys.spawn<caf::detached>(store, std::move(db),
                                         reg.result_ttl.count(), actors.meters);
    actors.store = reg.store;
  }
  actors.registry = sys.spawn(registry, std::move(reg));
  actors.gateway = sys.spawn(gateway, actors.registry, actors.pools,
                             static_cast<size_t>(cfg.http_max_batch_items));
  actors.leases = sys.spawn(lease_desk, actors.pools);
  actors.rates = sys.spawn(rate_sampler, actors.pools);
  // Ends the actors before ~actor_system waits for them.
  auto stop_actors = [&] {
    caf::anon_send_exit(actors.gateway, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(actors.registry, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(actors.leases, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(actors.rates, caf::exit_reason::user_shutdown);
    for (auto& p : actors.pools)
      caf::anon_send_exit(p.handle, caf::exit_reason::user_shutdown);
  };
  if (cfg.cluster_port > 0) {
    auto port = publish_gateway(sys, actors.gateway, cfg.cluster_host,
                                static_cast<uint16_t>(cfg.cluster_port),
                                tls.enabled());
    if (!port) {
      std::cerr << "actorq: cannot publish the gateway on " << cfg.cluster_host
                << ":" << cfg.cluster_port << ": " << sys.render(port.error())
                << "\n";
      stop_actors();
      return 1;
    }
    std::printf("actorq gateway on %s:%u%s\n", cfg.cluster_host.c_str(), *port,
                tls.enabled() ? " (TLS)" : "");
    if (!tls.enabled() && cfg.cluster_insecure)
      std::fprintf(stderr,
                   "actorq: WARNING: the gateway on %s:%u is plain BASP "
                   "(cluster.insecure): anyone who reaches it can submit work "
                   "and make actorq allocate memory; use [cluster.tls]\n",
                   cfg.cluster_host.c_str(), *port);
  }

  int exit_code = 0;
  {
    http::server server{sys, cfg, actors};
    auto port = server.bind();
    if (port < 0) {
      std::cerr << "actorq: cannot listen on " << cfg.http_host << ":"
                << cfg.http_port << "\n";
      exit_code = 1;
    } else {
      std::printf("actorq listening on http://%s:%d\n", cfg.http_host.c_str(),
                  port);
      std::fflush(stdout);
      std::thread waiter{[&] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        std::fprintf(stderr, "actorq: received %s, stopping\n",
                     sig == SIGINT ? "SIGINT" : "SIGTERM");
        // systemd: deactivating while running work finishes
        notify_stopping("draining");
        drain(sys, server, actors, cfg.shutdown_grace);
        // Jobs still running after the grace: SIGTERM, then SIGKILL after
        // their kind's kill-grace.
        stop_runners(std::chrono::seconds{30});
        server.stop();
        // Release long-polls now so that the HTTP threads can finish.
        caf::anon_send_exit(actors.registry, caf::exit_reason::user_shutdown);
      }};
      // Ready once the registry answers: it re-enqueues the recovered tasks
      // before it handles any message.
      std::thread readiness{[&] {
        caf::scoped_actor self{sys};
        self->request(actors.registry, std::chrono::seconds{60},
                      list_atom::value, task_filter{{}, {}, 1, 0})
          .receive([&](task_page&) {
                     server.set_ready();
                     // systemd: started, now that /readyz says ready
                     notify_ready("serving on http://" + cfg.http_host + ":" +
                                  std::to_string(port));
                   },
                   [&](caf::error&) {});
      }};
      server.run();
      // run() may also end on its own (e.g. a socket error): wake the waiter.
      pthread_kill(waiter.native_handle(), SIGTERM);
      waiter.join();
      readiness.join();
    }
  }
  stop_actors(); // the HTTP threads are gone
  stop_runners(std::chrono::seconds{30});
  return exit_code;
}
