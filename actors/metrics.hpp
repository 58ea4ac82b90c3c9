// actorq's Prometheus metrics: one registry (prometheus-cpp core) with every
// family, counted where the events happen (registry, pool, supervisor, store,
// the HTTP observer) and rendered by GET /metrics. A plain class: actors get
// a shared pointer to it (pool_settings, registry_settings, the store's
// arguments, http::backend); null = metrics.enabled = false, nothing counted.
//
// Label sets are bounded: kinds and pools come from the catalog (their
// indices are the catalog's), routes from the route table (the pattern as
// registered, e.g. "/v1/tasks/([^/]+)"; "none" for requests no route
// served), codes are HTTP statuses. Every series but HTTP codes exists from
// the start (at 0), so a scrape always shows every family.
#pragma once

#include "actors/actors.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace actorq {

/// What a pool counts, resolved once by its name (metrics::pool()).
struct pool_meters {
  prometheus::Histogram* queue_wait;
  prometheus::Counter* restarts;
};

class metrics {
public:
  using clock = std::chrono::steady_clock;

  /// `kinds` and `pools`: the catalog's names, in its order (the indices
  /// the actors pass are the catalog's; a kind index past the end is a
  /// retired kind of a recovered task, counted as kind "retired").
  metrics(std::vector<std::string> kinds, std::vector<std::string> pools);

  // -- events, from any thread ----------------------------------------------

  /// A task ended (succeeded, failed or cancelled).
  void task_ended(size_t kind, task_status status);

  /// An attempt ended; `took`: from its start to its end.
  void attempt_ended(size_t kind, bool ok, clock::duration took);

  /// The pool `name`'s counters; null for a pool the catalog does not have.
  pool_meters* pool(const std::string& name);

  /// The supervisor of pool `name` restarted a worker.
  void worker_restarted(const std::string& pool);

  /// The store committed a batch of `rows` rows in `took`.
  void store_committed(size_t rows, clock::duration took);

  // -- HTTP -----------------------------------------------------------------

  /// Creates the series of a route pattern. Call for every route before
  /// serving: request_done() only reads the table (no lock per request).
  void add_route(const std::string& pattern);

  /// A request answered `code` after `took`; `route` is its pattern ("" =
  /// no route served it). Counted under "none" if never added.
  void request_done(const std::string& route, int code, clock::duration took);

  // -- scrape ---------------------------------------------------------------

  /// The exposition text (Prometheus text format 0.0.4), with the state
  /// gauges set from `pools` and `nodes` (asked at scrape time) and the
  /// process metrics read from /proc/self.
  std::string scrape(const std::vector<pool_stats>& pools,
                     const std::vector<node_view>& nodes);

private:
  /// One route's counters: per status code, created on the first answer
  /// with that code (rarely locked), then read lock-free.
  struct route_meters {
    std::string label;
    prometheus::Histogram* duration = nullptr;
    std::array<std::atomic<prometheus::Counter*>, 500> by_code{}; // 100..599
  };

  /// The kind's row (the last one is "retired").
  size_t kind_row(size_t kind) const {
    return kind < kinds_.size() - 1 ? kind : kinds_.size() - 1;
  }
  prometheus::Counter* code_counter(route_meters& r, int code);
  void read_process();

  std::shared_ptr<prometheus::Registry> registry_;
  std::vector<std::string> kinds_; // the catalog's, then "retired"
  std::vector<std::string> pools_;

  // Tasks and attempts, by kind row.
  // succeeded, failed, cancelled
  std::vector<std::array<prometheus::Counter*, 3>> tasks_;
  std::vector<std::array<prometheus::Counter*, 2>> attempts_; // ok, failed
  std::vector<prometheus::Histogram*> durations_;
  std::vector<pool_meters> pool_meters_;
  prometheus::Histogram* commit_seconds_;
  prometheus::Histogram* commit_rows_;

  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* request_seconds_;
  std::unordered_map<std::string, std::unique_ptr<route_meters>> routes_;
  route_meters* unrouted_ = nullptr;
  std::mutex codes_mutex_; // adding a (route, code) series

  // State read at scrape time (under scrape_mutex_).
  std::mutex scrape_mutex_;
  struct pool_gauges {
    prometheus::Gauge* workers;
    prometheus::Gauge* busy;
    prometheus::Gauge* queued;
  };
  std::vector<pool_gauges> pool_gauges_;
  prometheus::Gauge* nodes_up_;
  prometheus::Gauge* nodes_down_;
  prometheus::Gauge* rss_;
  prometheus::Counter* cpu_;
  prometheus::Gauge* fds_;
  prometheus::Gauge* start_time_;
  double cpu_seen_ = 0; // CPU seconds already added to cpu_
};

} // namespace actorq
