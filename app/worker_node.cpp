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

/// What this node offers the head: its name, its pools and sizes, and the
/// config kinds it runs (the head checks they use the same runners).
node_offer make_offer(const actorq_config& cfg) {
  node_offer offer;
  auto machine = host_name();
  auto pid = std::to_string(::getpid());
  offer.name = cfg.cluster_name.empty() ? machine + "-" + pid : cfg.cluster_name;
  offer.address = machine + ":" + pid;
  for (auto& s : cfg.pools())
    offer.pools.emplace_back(s.name, s.size);
  offer.kinds = cfg.kinds()->config_kinds();
  return offer;
}

/// GET /healthz of a worker node (cluster.worker-http): whether it is
/// serving a head, for load balancers and orchestrators.
class node_health {
public:
  /// Listens on http.host:http.port; the port, or -1 (logged).
  int start(const actorq_config& cfg, const std::string& node,
            const std::atomic<bool>& joined) {
    http_.set_tcp_nodelay(true);
    http_.Get("/healthz", [&cfg, node, &joined](const httplib::Request&,
                                                httplib::Response& res) {
      nlohmann::json body{{"status", joined ? "ok" : "joining"},
                          {"node", node},
                          {"head", cfg.cluster_join}};
      res.status = joined ? 200 : 503;
      res.set_content(body.dump(), "application/json");
    });
    auto port = cfg.http_port == 0
                    ? http_.bind_to_any_port(cfg.http_host)
                    : (http_.bind_to_port(cfg.http_host,
                                          static_cast<int>(cfg.http_port))
                           ? static_cast<int>(cfg.http_port)
                           : -1);
    if (port < 0) {
      log::event(log::level::error, "start_failed",
                 {{"msg", "cannot listen on " + cfg.http_host + ":"
                            + std::to_string(cfg.http_port)}});
      return -1;
    }
    std::printf("actorq worker node health on http://%s:%d/healthz\n",
                cfg.http_host.c_str(), port);
    std::fflush(stdout);
    thread_ = std::thread{[this] { http_.listen_after_bind(); }};
    return port;
  }

  ~node_health() {
    if (thread_.joinable()) {
      http_.stop();
      thread_.join();
    }
  }

private:
  httplib::Server http_;
  std::thread thread_;
};

/// Asks the head at host:port to take this node: the head's gateway, with
/// the pools this node lends to in `grants`; `problem` says why not (else
/// it stays empty).
caf::expected<gateway_actor> join_head(caf::actor_system& sys,
                                       caf::scoped_actor& self,
                                       const actorq_config& cfg,
                                       const std::string& host, uint16_t port,
                                       bool tls, const node_offer& offer,
                                       std::vector<pool_grant>& grants,
                                       std::string& problem) {
  auto gw = connect_gateway(sys, host, port, tls);
  if (!gw) {
    problem = "cannot reach the head at " + cfg.cluster_join + ": "
              + sys.render(gw.error());
    return gw;
  }
  self->request(*gw, std::chrono::seconds{10}, join_atom::value, offer)
    .receive([&](std::vector<pool_grant>& xs) { grants = std::move(xs); },
             [&](caf::error& err) {
               problem = "the head refused to let this node join: "
                         + sys.render(err);
             });
  return gw;
}

/// Runs the workers of each granted pool under a supervisor of this node
/// that lends them to the head's pool; `lent` says which ("io 8, cpu 2").
std::vector<supervisor_actor> lend_pools(caf::actor_system& sys,
                                         const actorq_config& cfg,
                                         const std::vector<pool_grant>& grants,
                                         std::string& lent) {
  std::vector<supervisor_actor> supervisors;
  auto settings = cfg.pools();
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
  return supervisors;
}

/// Waits until the head's gateway goes down (true) or a stop (false).
bool until_head_lost(caf::scoped_actor& self, const gateway_actor& gw,
                     const std::atomic<bool>& stop) {
  self->monitor(gw);
  bool lost = false;
  while (!stop && !lost)
    self->receive(
        [&](caf::down_msg& msg) { lost = msg.source == gw.address(); },
        caf::after(std::chrono::milliseconds{50}) >> [] {});
  return lost;
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
  auto offer = make_offer(cfg);
  std::atomic<bool> joined{false};
  node_health health; // asked for with cluster.worker-http
  if (cfg.cluster_worker_http && health.start(cfg, offer.name, joined) < 0) {
    stop = true;
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    return 1;
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
    std::string problem;
    std::vector<pool_grant> grants;
    auto gw = join_head(sys, self, cfg, host, port, tls, offer, grants,
                        problem);
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
    supervisors = lend_pools(sys, cfg, grants, lent);
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
    bool lost = until_head_lost(self, *gw, stop);
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
  log::event(log::level::info, "stopped",
             {{"msg", "worker node " + offer.name + " stopping"},
              {"node", offer.name}});
  return 0;
}

} // namespace actorq
