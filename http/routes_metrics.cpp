#include "http/routes.hpp"

#include "actors/metrics.hpp"

namespace actorq::http {

/// GET /metrics: Prometheus text exposition. Event counters are counted
/// where they happen; pool and node gauges are asked for here, as GET
/// /v1/pools and /v1/nodes do.
void metrics_routes(router& r, const route_context& c) {
  r.on("GET", "/metrics",
       route_doc{"metrics", "Prometheus metrics"}
           .about("Prometheus text exposition (format 0.0.4): tasks, "
                  "attempts, durations, queue wait, pools, worker restarts, "
                  "HTTP requests by route pattern, store commits, nodes and "
                  "process metrics (README, Metrics). Needs the token unless "
                  "`metrics.public = true`.")
           .content(200, "text/plain", "The metrics")
           .errors({404}),
       [c](const auto&, auto& res) {
    auto& m = c.actors->meters;
    if (!m)
      return reply(res,
                   http_error{404, "not_found",
                              "metrics are off (metrics.enabled = false)"});
    auto pools = c.all_stats();
    if (auto err = std::get_if<http_error>(&pools))
      return reply(res, *err);
    auto nodes = ask<std::vector<node_view>>(*c.sys, c.actors->gateway,
                                            immediate, nodes_atom::value);
    std::vector<node_view> none;
    auto* seen = std::get_if<std::vector<node_view>>(&nodes);
    res.status = 200;
    res.set_content(m->scrape(std::get<std::vector<pool_stats>>(pools),
                              seen ? *seen : none),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
}

} // namespace actorq::http
