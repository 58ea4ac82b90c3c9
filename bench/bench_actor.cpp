// In-process throughput through the actor API, no HTTP: how many tasks/s the
// registry → pool → worker path (submit, then wait until terminal) and the
// coordinator path (one batch) sustain. Prints one JSON line per workload.
//
//   bench_actor [--tasks=N] [--window=W] [--rounds=R]
#include "actors/actors.hpp"
#include "actors/config.hpp"
#include "actors/coordinator.hpp"
#include "actors/pool.hpp"
#include "actors/registry.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace actorq;
using clock_type = std::chrono::steady_clock;

namespace {

struct driver_state {
  static inline const char* name = "bench.driver";
  size_t submitted = 0;
  size_t done = 0;
};

/// Keeps `window` tasks in flight: submit, then wait for the terminal state,
/// then submit the next. Replies are plain messages (no request/then), so
/// CAF 0.17's cost per outstanding request does not apply.
caf::behavior driver(caf::stateful_actor<driver_state>* self,
                     registry_actor registry, size_t total, size_t window,
                     caf::actor done_to) {
  auto submit_one = [=] {
    task_spec spec;
    spec.kind = "double";
    spec.pool = "io";
    spec.max_retries = 0;
    spec.input.value = json{{"value", static_cast<int64_t>(self->state.submitted)}};
    ++self->state.submitted;
    self->send(caf::actor_cast<caf::actor>(registry), submit_atom::value,
               std::move(spec));
  };
  for (size_t i = 0; i < std::min(window, total); ++i)
    submit_one();
  return {
    [=](task_view& v) {
      if (!is_terminal(v.status)) {
        // Just created: wait for it to end.
        self->send(caf::actor_cast<caf::actor>(registry), wait_atom::value,
                   v.id, int64_t{60000});
        return;
      }
      if (++self->state.done == total) {
        self->send(done_to, caf::atom("done"));
        self->quit();
        return;
      }
      if (self->state.submitted < total)
        submit_one();
    },
    [=](caf::error& err) {
      std::fprintf(stderr, "error: %s\n",
                   self->system().render(err).c_str());
    },
  };
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

size_t flag(int argc, char** argv, const char* name, size_t fallback) {
  auto len = std::strlen(name);
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], name, len) == 0 && argv[i][len] == '=')
      return std::strtoull(argv[i] + len + 1, nullptr, 10);
  return fallback;
}

} // namespace

int main(int argc, char** argv) {
  auto tasks = flag(argc, argv, "--tasks", 10000);
  auto window = flag(argc, argv, "--window", 1000);
  auto rounds = flag(argc, argv, "--rounds", 5);
  actorq_config cfg;
  register_types(cfg);
  caf::actor_system sys{cfg};
  std::vector<pool_ref> pools;
  for (auto settings : cfg.pools()) {
    if (settings.name == "io")
      settings.size = 1000;
    pools.push_back({settings.name, sys.spawn(pool, settings), settings.gauge});
  }
  registry_settings settings; // in memory: this measures the actor path
  settings.pools = pools;
  auto reg = sys.spawn(registry, std::move(settings));
  caf::scoped_actor self{sys};

  std::vector<double> registry_rates;
  for (size_t r = 0; r < rounds; ++r) {
    auto start = clock_type::now();
    sys.spawn(driver, reg, tasks, window, caf::actor{self});
    self->receive([](caf::atom_value) {});
    std::chrono::duration<double> took = clock_type::now() - start;
    registry_rates.push_back(tasks / took.count());
  }
  std::printf("{\"workload\":\"actor_e2e\",\"path\":\"registry submit+wait\","
              "\"tasks\":%zu,\"window\":%zu,\"tasks_per_s\":%.0f}\n",
              tasks, window, median(registry_rates));

  std::vector<double> batch_rates;
  for (size_t r = 0; r < rounds; ++r) {
    batch_spec batch;
    batch.task.kind = "double";
    batch.task.pool = "io";
    batch.task.max_retries = 0;
    for (size_t i = 0; i < tasks; ++i)
      batch.items.push_back(json_value{json{{"value", static_cast<int64_t>(i)}}});
    auto start = clock_type::now();
    auto coord = sys.spawn(coordinator, pools[0]);
    self->request(coord, std::chrono::seconds(60), std::move(batch))
      .receive([](batch_result&) {},
               [&](caf::error& err) {
                 std::fprintf(stderr, "error: %s\n", sys.render(err).c_str());
               });
    std::chrono::duration<double> took = clock_type::now() - start;
    batch_rates.push_back(tasks / took.count());
  }
  std::printf("{\"workload\":\"actor_batch\",\"path\":\"coordinator batch\","
              "\"tasks\":%zu,\"tasks_per_s\":%.0f}\n",
              tasks, median(batch_rates));

  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
  for (auto& p : pools)
    caf::anon_send_exit(p.handle, caf::exit_reason::user_shutdown);
  return 0;
}
