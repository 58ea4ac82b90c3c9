#include "app/worker_node.hpp"

#include "actors/catalog.hpp"
#include "actors/log.hpp"
#include "actors/supervisor.hpp"
#include "app/cluster.hpp"
#include "app/service_notify.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <unistd.h>

namespace actorq {

namespace {

std::string host_name() {
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  return host;
}

} // namespace

int run_worker_node(caf::actor_system& sys, const actorq_config& cfg, bool tls,
                    sigset_t stop_signals) {
  std::string host;
  uint16_t port = 0;
  if (!split_host_port(cfg.cluster_join, host, port)) {
    std::fprintf(stderr, "actorq: bad value for 'cluster.join': expected "
                         "HOST:PORT, got '%s'\n", cfg.cluster_join.c_str());
    return 2;
  }
  std::atomic<bool> stop{false};
  std::thread waiter{[&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    notify_stopping("leaving the head"); // systemd: deactivating
    stop = true;
  }};
  auto settings = cfg.pools();
  node_offer offer;
  auto machine = host_name();
  auto pid = std::to_string(::getpid());
  offer.name = cfg.cluster_name.empty() ? machine + "-" + pid : cfg.cluster_name;
  offer.address = machine + ":" + pid;
  for (auto& s : settings)
    offer.pools.emplace_back(s.name, s.size);
  // The head checks that it runs these config kinds with the same runners.
  offer.kinds = cfg.kinds()->config_kinds();
  // Asked for (cluster.worker-http): GET /healthz says whether this node is
  // serving a head, for load balancers and orchestrators.
  std::atomic<bool> joined{false};
  std::unique_ptr<httplib::Server> http;
  std::thread http_thread;
  if (cfg.cluster_worker_http) {
    http = std::make_unique<httplib::Server>();
    http->set_tcp_nodelay(true);
    http->Get("/healthz", [&](const httplib::Request&, httplib::Response& res) {
      nlohmann::json body{{"status", joined ? "ok" : "joining"},
                          {"node", offer.name},
                          {"head", cfg.cluster_join}};
      res.status = joined ? 200 : 503;
      res.set_content(body.dump(), "application/json");
    });
    auto port = cfg.http_port == 0
                    ? http->bind_to_any_port(cfg.http_host)
                    : (http->bind_to_port(cfg.http_host,
                                          static_cast<int>(cfg.http_port))
                           ? static_cast<int>(cfg.http_port)
                           : -1);
    if (port < 0) {
      log::event(log::level::error, "start_failed",
                 {{"msg", "cannot listen on " + cfg.http_host + ":"
                            + std::to_string(cfg.http_port)}});
      stop = true;
      pthread_kill(waiter.native_handle(), SIGTERM);
      waiter.join();
      return 1;
    }
    std::printf("actorq worker node health on http://%s:%d/healthz\n",
                cfg.http_host.c_str(), port);
    std::fflush(stdout);
    http_thread = std::thread{[&] { http->listen_after_bind(); }};
  }
  // This scoped actor is the node's agent: the head monitors it, so the
  // node's death or disconnection frees its attempts at once.
  caf::scoped_actor self{sys};
  std::vector<supervisor_actor> supervisors;
  auto drop_workers = [&] {
    for (auto& sup : supervisors)
      self->send_exit(sup, caf::exit_reason::user_shutdown);
    supervisors.clear();
  };
  // Sleeps up to `d`, waking early on a stop signal.
  auto pause = [&](std::chrono::milliseconds d) {
    auto until = std::chrono::steady_clock::now() + d;
    while (!stop && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
  };
  std::chrono::milliseconds backoff{100};
  const std::chrono::milliseconds max_backoff{5000};
  std::string last_problem;
  while (!stop) {
    auto gw = connect_gateway(sys, host, port, tls);
    std::string problem;
    std::vector<pool_grant> grants;
    if (!gw) {
      problem = "cannot reach the head at " + cfg.cluster_join + ": "
                + sys.render(gw.error());
    } else {
      self->request(*gw, std::chrono::seconds{10}, join_atom::value, offer)
        .receive([&](std::vector<pool_grant>& xs) { grants = std::move(xs); },
                 [&](caf::error& err) {
                   problem = "the head refused to let this node join: "
                             + sys.render(err);
                 });
    }
    if (!problem.empty()) {
      if (problem != last_problem)
        log::event(log::level::warn, "join_failed",
                   {{"msg", problem + "; retrying (backoff up to "
                              + std::to_string(max_backoff.count() / 1000)
                              + "s)"},
                    {"head", cfg.cluster_join}});
      last_problem = problem;
      pause(backoff);
      backoff = std::min(backoff * 2, max_backoff);
      continue;
    }
    last_problem.clear();
    backoff = std::chrono::milliseconds{100};
    std::string lent;
    for (auto& g : grants) {
      auto s = std::find_if(settings.begin(), settings.end(),
                            [&](auto& x) { return x.name == g.name; });
      if (s == settings.end())
        continue;
      auto mine = *s;
      mine.first_slot = g.first_slot;
      mine.remote = true;
      mine.gauge = nullptr;
      supervisors.push_back(sys.spawn(
          supervisor, caf::actor_cast<pool_actor>(g.pool), std::move(mine)));
      lent += (lent.empty() ? "" : ", ") + g.name + " " + std::to_string(s->size);
    }
    joined = true;
    std::printf("actorq worker node %s joined %s (pools: %s)\n",
                offer.name.c_str(), cfg.cluster_join.c_str(), lent.c_str());
    std::fflush(stdout);
    // Not "joined": tests count the line above to see (re)joins.
    log::event(log::level::info, "head_connected",
               {{"node", offer.name}, {"head", cfg.cluster_join},
                {"pools", lent}});
    // systemd: started once the first head took us (again after a rejoin)
    notify_ready("serving " + cfg.cluster_join + " (pools: " + lent + ")");
    self->monitor(*gw);
    bool lost = false;
    while (!stop && !lost)
      self->receive(
          [&](caf::down_msg& msg) {
            lost = msg.source == gw->address();
          },
          caf::after(std::chrono::milliseconds{50}) >> [] {});
    joined = false;
    drop_workers();
    if (lost) {
      notify_status("lost the head at " + cfg.cluster_join + "; rejoining");
      log::event(log::level::warn, "head_lost",
                 {{"msg", "lost the head at " + cfg.cluster_join
                            + "; rejoining"},
                  {"head", cfg.cluster_join}});
      pause(backoff);
    }
  }
  drop_workers();
  waiter.join();
  if (http) {
    http->stop();
    http_thread.join();
  }
  log::event(log::level::info, "stopped",
             {{"msg", "worker node " + offer.name + " stopping"},
              {"node", offer.name}});
  return 0;
}

} // namespace actorq
