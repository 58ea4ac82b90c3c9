#include "http/routes.hpp"

#include "actors/store.hpp"

namespace actorq::http {

/// Kinds, pools, nodes and health.
void info_routes(router& r, const route_context& c) {
  r.on("GET", "/v1/kinds",
       route_doc{"kinds", "List the task kinds"}
           .about("Built-in and configured kinds, with the defaults a task "
                  "of each kind gets when it does not say.")
           .answer(200, "Kinds", "Every kind"),
       [c](const auto&, auto& res) {
    // Remote kinds: how many workers the connected programs offer.
    auto nodes = ask<std::vector<node_view>>(*c.sys, c.actors->gateway,
                                            immediate, nodes_atom::value);
    std::vector<std::pair<std::string, uint32_t>> serving;
    if (auto xs = std::get_if<std::vector<node_view>>(&nodes))
      for (auto& n : *xs)
        if (n.up)
          serving.insert(serving.end(), n.kinds.begin(), n.kinds.end());
    reply(res, 200, render_kinds(*c.codec->kinds, serving));
  });
  r.on("GET", "/v1/pools",
       route_doc{"pools", "List the pools"}
           .about("In configuration order; `busy` counts leased attempts "
                  "too.")
           .answer(200, "Pools", "Every pool"),
       [c](const auto&, auto& res) {
    auto stats = c.all_stats();
    reply_with(res, stats, render_pools);
  });
  r.on("GET", "/v1/schedules",
       route_doc{"schedules", "List the periodic schedules"}
           .about("The [schedules.NAME] sections, in name order, with "
                  "their next run and last task.")
           .answer(200, "Schedules", "Every schedule"),
       [c](const auto&, auto& res) {
    auto xs = ask<std::vector<schedule_view>>(
        *c.sys, c.actors->scheduler, std::chrono::seconds{10},
        list_atom::value, schedule_atom::value);
    reply_with(res, xs, render_schedules);
  });
  r.on("GET", "/v1/nodes",
       route_doc{"nodes", "List the cluster's nodes"}
           .answer(200, "Nodes", "This node (\"head\") and the worker "
                                 "nodes that joined"),
       [c](const auto&, auto& res) {
    auto nodes = ask<std::vector<node_view>>(*c.sys, c.actors->gateway,
                                            immediate, nodes_atom::value);
    reply_with(res, nodes, render_nodes);
  });
  // Readiness: whether actorq should get new work now (load balancers,
  // orchestrators); /healthz stays the liveness check.
  r.on("GET", "/readyz",
       route_doc{"health", "Readiness: should this server get new work?"}
           .answer(200, "Readiness", "Ready")
           .answer(503, "Readiness",
                   "Not now: starting (recovery), draining (after SIGTERM) "
                   "or store_unavailable"),
       [c](const auto&, auto& res) {
    auto problem = store_problem();
    const char* status = !*c.ready             ? "starting"
                         : *c.draining         ? "draining"
                         : !problem.empty()    ? "store_unavailable"
                                               : nullptr;
    if (status == nullptr)
      return reply(res, 200, R"({"status":"ready"})");
    json body{{"status", status}};
    if (!problem.empty())
      body["detail"] = problem;
    reply(res, 503, body.dump());
  });
  r.on("GET", "/healthz",
       route_doc{"health", "Liveness"}
           .answer(200, "Health", "ok, or degraded (a pool restarts its "
                                  "workers too often)")
           .answer(503, "Health", "store_unavailable"),
       [c](const auto&, auto& res) {
    if (auto problem = store_problem(); !problem.empty())
      return reply(res, 503, json{{"status", "store_unavailable"},
                                  {"detail", problem}}.dump());
    auto stats = c.all_stats();
    reply_with(res, stats, [](const std::vector<pool_stats>& xs) {
      bool degraded = false;
      for (auto& p : xs)
        degraded = degraded || p.degraded;
      return std::string{degraded ? R"({"status":"degraded"})"
                                  : R"({"status":"ok"})"};
    });
  });
}

} // namespace actorq::http
