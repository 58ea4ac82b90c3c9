// The metrics class alone: events land in the right series, routes are
// counted by pattern, and the exposition shows every family.
#include "actors/metrics.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace actorq;
using namespace std::chrono_literals;

namespace {

/// The value of the sample line that starts with `series` ("name{labels}"
/// exactly as the serializer writes it), or -1 if there is none.
double sample(const std::string& text, const std::string& series) {
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0)
      return std::stod(line.substr(series.size() + 1));
  return -1;
}

metrics make() {
  return metrics{{"double", "fail"}, {"io", "cpu"}};
}

} // namespace

TEST_CASE("metrics: tasks and attempts by kind, retired kinds apart",
          "[metrics]") {
  auto m = make();
  m.task_ended(0, task_status::succeeded);
  m.task_ended(1, task_status::failed);
  m.task_ended(1, task_status::failed);
  m.task_ended(7, task_status::cancelled); // past the catalog: retired
  m.attempt_ended(1, false, 20ms);
  m.attempt_ended(1, true, 2ms);
  auto text = m.scrape({}, {});
  CHECK(sample(text, R"x(actorq_tasks_total{kind="double",status="succeeded"})x") == 1);
  CHECK(sample(text, R"x(actorq_tasks_total{kind="fail",status="failed"})x") == 2);
  CHECK(sample(text, R"x(actorq_tasks_total{kind="retired",status="cancelled"})x") == 1);
  CHECK(sample(text, R"x(actorq_task_attempts_total{kind="fail",outcome="failed"})x") == 1);
  CHECK(sample(text, R"x(actorq_task_attempts_total{kind="fail",outcome="succeeded"})x") == 1);
  CHECK(sample(text, R"x(actorq_task_duration_seconds_count{kind="fail"})x") == 2);
  CHECK(sample(text, R"x(actorq_task_duration_seconds_sum{kind="fail"})x")
        == Approx(0.022));
  CHECK(sample(text, R"x(actorq_task_duration_seconds_bucket{kind="fail",le="0.005"})x") == 1);
}

TEST_CASE("metrics: pools, the store and state gauges", "[metrics]") {
  auto m = make();
  REQUIRE(m.pool("io") != nullptr);
  CHECK(m.pool("nope") == nullptr);
  m.pool("cpu")->queue_wait->Observe(0.5);
  m.worker_restarted("io");
  m.worker_restarted("nope"); // not in the catalog: ignored
  m.store_committed(40, 3ms);
  pool_stats io;
  io.name = "io";
  io.size = 8;
  io.busy = 3;
  io.queued = 12;
  node_view head, lost;
  lost.up = false;
  auto text = m.scrape({io}, {head, lost, lost});
  CHECK(sample(text, R"x(actorq_task_queue_wait_seconds_count{pool="cpu"})x") == 1);
  CHECK(sample(text, R"x(actorq_worker_restarts_total{pool="io"})x") == 1);
  CHECK(sample(text, R"x(actorq_pool_workers{pool="io"})x") == 8);
  CHECK(sample(text, R"x(actorq_pool_busy{pool="io"})x") == 3);
  CHECK(sample(text, R"x(actorq_pool_queued{pool="io"})x") == 12);
  CHECK(sample(text, R"x(actorq_nodes{state="up"})x") == 1);
  CHECK(sample(text, R"x(actorq_nodes{state="down"})x") == 2);
  CHECK(sample(text, "actorq_store_commit_seconds_count") == 1);
  CHECK(sample(text, "actorq_store_batch_rows_sum") == 40);
  CHECK(sample(text, "process_resident_memory_bytes") > 0);
  CHECK(sample(text, "process_open_fds") > 0);
  CHECK(sample(text, "process_start_time_seconds") > 1.6e9);
  CHECK(sample(text, "process_cpu_seconds_total") >= 0);
}

TEST_CASE("metrics: requests by route pattern and code, from many threads",
          "[metrics]") {
  auto m = make();
  m.add_route("/v1/tasks/([^/]+)");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&m] {
      for (int i = 0; i < 1000; ++i)
        m.request_done("/v1/tasks/([^/]+)", i % 10 == 0 ? 404 : 200, 1ms);
    });
  for (auto& t : threads)
    t.join();
  m.request_done("", 404, 1ms);
  m.request_done("/never/added", 200, 1ms); // counted as no route
  auto text = m.scrape({}, {});
  CHECK(sample(text, R"x(actorq_http_requests_total{code="200",route="/v1/tasks/([^/]+)"})x") == 3600);
  CHECK(sample(text, R"x(actorq_http_requests_total{code="404",route="/v1/tasks/([^/]+)"})x") == 400);
  CHECK(sample(text, R"x(actorq_http_requests_total{code="404",route="none"})x") == 1);
  CHECK(sample(text, R"x(actorq_http_requests_total{code="200",route="none"})x") == 1);
  CHECK(sample(text, R"x(actorq_http_request_duration_seconds_count{route="/v1/tasks/([^/]+)"})x") == 4000);
  CHECK(text.find("# TYPE actorq_http_request_duration_seconds histogram") != std::string::npos);
}

TEST_CASE("metrics: the lock-free histogram's buckets are cumulative",
          "[metrics]") {
  atomic_histogram h{{0.001, 0.01, 0.1}};
  h.observe(500us);
  h.observe(1ms); // on a bound: in that bucket (le = less or equal)
  h.observe(5ms);
  h.observe(2s);
  auto x = h.collect();
  REQUIRE(x.bucket.size() == 4);
  CHECK(x.bucket[0].cumulative_count == 2);
  CHECK(x.bucket[1].cumulative_count == 3);
  CHECK(x.bucket[2].cumulative_count == 3);
  CHECK(x.bucket[3].cumulative_count == 4);
  CHECK(std::isinf(x.bucket[3].upper_bound));
  CHECK(x.sample_count == 4);
  CHECK(x.sample_sum == Approx(2.0065));
}
