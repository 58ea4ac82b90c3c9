#include "actors/metrics.hpp"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <dirent.h>
#include <iterator>
#include <limits>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace actorq {

namespace {

using prometheus::Histogram;

double seconds(metrics::clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Bucket bounds, in seconds (rows for batch sizes): attempts run from
// microseconds (built-ins) to minutes (exec kinds); HTTP answers and store
// commits take micro- to milliseconds.
const Histogram::BucketBoundaries task_buckets{
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300};
const Histogram::BucketBoundaries http_buckets{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5, 10};
const Histogram::BucketBoundaries commit_buckets{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};
const Histogram::BucketBoundaries row_buckets{
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};

/// The terminal statuses, in the order of metrics::tasks_ rows.
constexpr task_status ended_statuses[] = {
    task_status::succeeded, task_status::failed, task_status::cancelled};

/// Lines of a /proc file as one string ("" if unreadable).
std::string read_file(const char* path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

atomic_histogram::atomic_histogram(const std::vector<double>& bounds)
    : bounds_(bounds),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size() + 1)) {
  for (auto b : bounds)
    bounds_ns_.push_back(static_cast<int64_t>(b * 1e9));
  for (size_t i = 0; i <= bounds.size(); ++i)
    counts_[i] = 0;
}

void atomic_histogram::observe(std::chrono::steady_clock::duration d) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  size_t i = 0;
  while (i < bounds_ns_.size() && ns > bounds_ns_[i])
    ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(ns, 0)),
                    std::memory_order_relaxed);
}

prometheus::ClientMetric::Histogram atomic_histogram::collect() const {
  prometheus::ClientMetric::Histogram h;
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    h.bucket.push_back(
        {total, i < bounds_.size() ? bounds_[i]
                                   : std::numeric_limits<double>::infinity()});
  }
  h.sample_count = total;
  h.sample_sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed))
                 / 1e9;
  return h;
}

metrics::route_meters::route_meters(std::string label)
    : label(std::move(label)), duration(http_buckets) {}

metrics::metrics(std::vector<std::string> kinds, std::vector<std::string> pools)
    : registry_(std::make_shared<prometheus::Registry>()),
      kinds_(std::move(kinds)), pools_(std::move(pools)) {
  using namespace prometheus;
  auto& reg = *registry_;
  kinds_.push_back("retired");
  auto& tasks = BuildCounter()
                    .Name("actorq_tasks_total")
                    .Help("Tasks that ended, by kind and final status")
                    .Register(reg);
  auto& attempts = BuildCounter()
                       .Name("actorq_task_attempts_total")
                       .Help("Attempts that ended, by kind and outcome")
                       .Register(reg);
  auto& durations = BuildHistogram()
                        .Name("actorq_task_duration_seconds")
                        .Help("Time from the start to the end of an attempt")
                        .Register(reg);
  for (auto& kind : kinds_) {
    std::array<Counter*, 3> t;
    for (size_t i = 0; i < 3; ++i)
      t[i] = &tasks.Add(
          {{"kind", kind}, {"status", to_string(ended_statuses[i])}});
    tasks_.push_back(t);
    attempts_.push_back(
        {&attempts.Add({{"kind", kind}, {"outcome", "succeeded"}}),
         &attempts.Add({{"kind", kind}, {"outcome", "failed"}})});
    durations_.push_back(&durations.Add({{"kind", kind}}, task_buckets));
  }
  auto& wait = BuildHistogram()
                   .Name("actorq_task_queue_wait_seconds")
                   .Help("Time a job waited in its pool's queue")
                   .Register(reg);
  auto& restarts = BuildCounter()
                       .Name("actorq_worker_restarts_total")
                       .Help("Workers restarted after they died, by pool")
                       .Register(reg);
  auto& workers = BuildGauge()
                      .Name("actorq_pool_workers")
                      .Help("Worker slots of a pool (with worker nodes')")
                      .Register(reg);
  auto& busy = BuildGauge()
                   .Name("actorq_pool_busy")
                   .Help("Workers of a pool running an attempt")
                   .Register(reg);
  auto& queued = BuildGauge()
                     .Name("actorq_pool_queued")
                     .Help("Jobs waiting in a pool's queue")
                     .Register(reg);
  for (auto& pool : pools_) {
    pool_meters_.push_back({&wait.Add({{"pool", pool}}, task_buckets),
                            &restarts.Add({{"pool", pool}})});
    pool_gauges_.push_back({&workers.Add({{"pool", pool}}),
                            &busy.Add({{"pool", pool}}),
                            &queued.Add({{"pool", pool}})});
  }
  scheduled_ = &BuildGauge()
                    .Name("actorq_tasks_scheduled")
                    .Help("Delayed tasks waiting for their run_at (status "
                          "scheduled)")
                    .Register(reg)
                    .Add({});
  auto& callback_attempts =
      BuildCounter()
          .Name("actorq_callback_attempts_total")
          .Help("Completion callback POSTs, by outcome (ok: a 2xx answer)")
          .Register(reg);
  callback_attempts_ = {&callback_attempts.Add({{"outcome", "ok"}}),
                        &callback_attempts.Add({{"outcome", "failed"}})};
  auto& callbacks = BuildCounter()
                        .Name("actorq_callbacks_total")
                        .Help("Completion callbacks settled, by final status "
                              "(failed: callbacks.max-attempts spent)")
                        .Register(reg);
  callbacks_ = {&callbacks.Add({{"status", "delivered"}}),
                &callbacks.Add({{"status", "failed"}})};
  commit_seconds_ = &BuildHistogram()
                         .Name("actorq_store_commit_seconds")
                         .Help("Time to write and commit one batch to SQLite")
                         .Register(reg)
                         .Add({}, commit_buckets);
  commit_rows_ = &BuildHistogram()
                      .Name("actorq_store_batch_rows")
                      .Help("Task rows written per store commit")
                      .Register(reg)
                      .Add({}, row_buckets);
  add_route("");
  unrouted_ = routes_.at("").get();
  auto& nodes = BuildGauge()
                    .Name("actorq_nodes")
                    .Help("Cluster nodes (the head included), by state")
                    .Register(reg);
  nodes_up_ = &nodes.Add({{"state", "up"}});
  nodes_down_ = &nodes.Add({{"state", "down"}});
  rss_ = &BuildGauge()
              .Name("process_resident_memory_bytes")
              .Help("Resident memory size in bytes")
              .Register(reg)
              .Add({});
  cpu_ = &BuildCounter()
              .Name("process_cpu_seconds_total")
              .Help("User and system CPU time spent in seconds")
              .Register(reg)
              .Add({});
  fds_ = &BuildGauge()
              .Name("process_open_fds")
              .Help("Number of open file descriptors")
              .Register(reg)
              .Add({});
  start_time_ = &BuildGauge()
                     .Name("process_start_time_seconds")
                     .Help("Start time of the process since the Unix epoch")
                     .Register(reg)
                     .Add({});
  read_process();
}

void metrics::task_ended(size_t kind, task_status status) {
  for (size_t i = 0; i < 3; ++i)
    if (ended_statuses[i] == status)
      tasks_[kind_row(kind)][i]->Increment();
}

void metrics::tasks_scheduled(int64_t delta) {
  scheduled_->Increment(static_cast<double>(delta));
}

void metrics::callback_attempted(bool ok, bool final) {
  callback_attempts_[ok ? 0 : 1]->Increment();
  if (final)
    callbacks_[ok ? 0 : 1]->Increment();
}

void metrics::attempt_ended(size_t kind, bool ok, clock::duration took) {
  auto row = kind_row(kind);
  attempts_[row][ok ? 0 : 1]->Increment();
  durations_[row]->Observe(seconds(took));
}

pool_meters* metrics::pool(const std::string& name) {
  for (size_t i = 0; i < pools_.size(); ++i)
    if (pools_[i] == name)
      return &pool_meters_[i];
  return nullptr;
}

void metrics::worker_restarted(const std::string& name) {
  if (auto p = pool(name))
    p->restarts->Increment();
}

void metrics::store_committed(size_t rows, clock::duration took) {
  commit_seconds_->Observe(seconds(took));
  commit_rows_->Observe(static_cast<double>(rows));
}

void metrics::add_route(const std::string& pattern) {
  if (routes_.count(pattern) != 0)
    return;
  routes_.emplace(pattern, std::make_unique<route_meters>(
                               pattern.empty() ? "none" : pattern));
}

void metrics::request_done(const std::string& route, int code,
                           clock::duration took) {
  auto i = routes_.find(route);
  auto& r = i == routes_.end() ? *unrouted_ : *i->second;
  if (code < 100 || code > 599)
    code = 599; // httplib leaves -1 when nothing was answered
  r.by_code[code - 100].fetch_add(1, std::memory_order_relaxed);
  r.duration.observe(took);
}

std::vector<prometheus::MetricFamily> metrics::http_families() const {
  using prometheus::ClientMetric;
  prometheus::MetricFamily requests{
      "actorq_http_requests_total",
      "HTTP requests answered, by route pattern and status",
      prometheus::MetricType::Counter, {}};
  prometheus::MetricFamily durations{
      "actorq_http_request_duration_seconds",
      "Time from routing a request to its answer",
      prometheus::MetricType::Histogram, {}};
  std::vector<const route_meters*> rs;
  for (auto& [_, r] : routes_)
    rs.push_back(r.get());
  std::sort(rs.begin(), rs.end(),
            [](auto a, auto b) { return a->label < b->label; });
  for (auto r : rs) {
    for (int code = 100; code <= 599; ++code) {
      auto n = r->by_code[code - 100].load(std::memory_order_relaxed);
      if (n == 0)
        continue;
      ClientMetric m;
      m.label = {{"code", std::to_string(code)}, {"route", r->label}};
      m.counter.value = static_cast<double>(n);
      requests.metric.push_back(std::move(m));
    }
    ClientMetric m;
    m.label = {{"route", r->label}};
    m.histogram = r->duration.collect();
    durations.metric.push_back(std::move(m));
  }
  return {std::move(requests), std::move(durations)};
}

void metrics::read_process() {
  // /proc/self/stat: fields after the command's closing parenthesis, from
  // field 3 (state): utime is field 14, stime 15, starttime 22, rss 24.
  auto stat = read_file("/proc/self/stat");
  auto close = stat.rfind(')');
  if (close != std::string::npos) {
    std::istringstream in{stat.substr(close + 2)};
    std::vector<std::string> f{std::istream_iterator<std::string>{in},
                               std::istream_iterator<std::string>{}};
    if (f.size() > 21) {
      double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
      double cpu = (std::stod(f[11]) + std::stod(f[12])) / tick;
      if (cpu > cpu_seen_)
        cpu_->Increment(cpu - cpu_seen_);
      cpu_seen_ = std::max(cpu, cpu_seen_);
      auto page = static_cast<double>(::sysconf(_SC_PAGESIZE));
      rss_->Set(std::stod(f[21]) * page);
      // Boot time (btime in /proc/stat) plus the start in ticks after it.
      auto all = read_file("/proc/stat");
      auto at = all.find("btime ");
      if (at != std::string::npos)
        start_time_->Set(std::stod(all.substr(at + 6))
                         + std::stod(f[19]) / tick);
    }
  }
  double fds = 0;
  if (auto dir = ::opendir("/proc/self/fd")) {
    while (auto e = ::readdir(dir))
      if (e->d_name[0] != '.')
        ++fds;
    ::closedir(dir);
    fds -= 1; // the directory's own descriptor
  }
  fds_->Set(fds);
}

std::string metrics::scrape(const std::vector<pool_stats>& pools,
                            const std::vector<node_view>& nodes) {
  std::lock_guard<std::mutex> guard{scrape_mutex_};
  for (auto& p : pools)
    for (size_t i = 0; i < pools_.size(); ++i)
      if (pools_[i] == p.name) {
        pool_gauges_[i].workers->Set(p.size);
        pool_gauges_[i].busy->Set(p.busy);
        pool_gauges_[i].queued->Set(static_cast<double>(p.queued));
      }
  double up = 0;
  for (auto& n : nodes)
    up += n.up ? 1 : 0;
  nodes_up_->Set(up);
  nodes_down_->Set(static_cast<double>(nodes.size()) - up);
  read_process();
  auto families = registry_->Collect();
  for (auto& f : http_families())
    families.push_back(std::move(f));
  return prometheus::TextSerializer{}.Serialize(families);
}

} // namespace actorq
