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
#include <prometheus/metric_family.h>
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

/// A histogram that many threads observe at once: its buckets and sum are
/// atomic integers (nanoseconds), so an observation takes no lock.
/// prometheus-cpp 1.0's Histogram takes a mutex per observation: with many
/// more HTTP threads than cores, a thread preempted while holding it puts
/// the others to sleep on it.
class atomic_histogram {
public:
  /// Upper bounds in seconds, ascending (+Inf is added).
  explicit atomic_histogram(const std::vector<double>& bounds);

  void observe(std::chrono::steady_clock::duration d);

  /// Its state as prometheus-cpp renders histograms (cumulative buckets).
  prometheus::ClientMetric::Histogram collect() const;

private:
  std::vector<double> bounds_;
  std::vector<int64_t> bounds_ns_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_; // per bucket, +Inf last
  std::atomic<uint64_t> sum_ns_{0};
};

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

  /// Tasks entered (delta > 0) or left (< 0) status `scheduled` (delayed
  /// tasks not due yet; registry actor only).
  void tasks_scheduled(int64_t delta);

  /// An attempt to deliver a completion callback ended: 2xx (`ok`) or not;
  /// `final`: the callback is settled by it (delivered, or failed for good
  /// after callbacks.max-attempts). Registry actor only.
  void callback_attempted(bool ok, bool final);

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
  /// One route's counters, lock-free (requests from many threads at once);
  /// rendered beside the registry's families at scrape time.
  struct route_meters {
    explicit route_meters(std::string label);
    std::string label;
    atomic_histogram duration;
    std::array<std::atomic<uint64_t>, 500> by_code{}; // status 100..599
  };

  /// The kind's row (the last one is "retired").
  size_t kind_row(size_t kind) const {
    return kind < kinds_.size() - 1 ? kind : kinds_.size() - 1;
  }
  void read_process();
  /// actorq_http_requests_total and actorq_http_request_duration_seconds.
  std::vector<prometheus::MetricFamily> http_families() const;

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

  std::unordered_map<std::string, std::unique_ptr<route_meters>> routes_;
  route_meters* unrouted_ = nullptr;

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
  prometheus::Gauge* scheduled_; // delayed tasks not due yet
  // Completion callbacks: attempts (ok, failed), settled (delivered, failed).
  std::array<prometheus::Counter*, 2> callback_attempts_;
  std::array<prometheus::Counter*, 2> callbacks_;
  prometheus::Gauge* rss_;
  prometheus::Counter* cpu_;
  prometheus::Gauge* fds_;
  prometheus::Gauge* start_time_;
  double cpu_seen_ = 0; // CPU seconds already added to cpu_
};

} // namespace actorq
