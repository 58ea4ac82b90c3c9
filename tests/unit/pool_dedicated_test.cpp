// Dedicated-thread pools (CPU kinds): detached workers do not run under the
// test scheduler, so this test uses a real actor system and real time (short).
#include "actors/actors.hpp"
#include "actors/config.hpp"
#include "actors/pool.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <map>

using namespace actorq;

namespace {

struct real_config : caf::actor_system_config {
  real_config() {
    register_types(*this);
    set("scheduler.max-threads", size_t{2});
    set("logger.file-verbosity", caf::atom("quiet"));
    set("logger.console-verbosity", caf::atom("quiet"));
  }
};

} // namespace

// A chunk of CPU attempts goes to one worker; when an attempt in it kills the
// worker, the attempts after it "never started" and are requeued. They must
// then run with their own input.
TEST_CASE("attempts requeued after a crash in a chunk keep their input",
          "[pool][dedicated]") {
  real_config cfg;
  caf::actor_system sys{cfg};
  pool_actor p;
  std::map<uint64_t, job_event> ends;
  {
    caf::scoped_actor self{sys};
    pool_settings s;
    s.name = "cpu";
    s.size = 1;
    s.dedicated_threads = true;
    s.retry.jitter = 0;
    s.supervisor.min_backoff = std::chrono::milliseconds{1};
    s.supervisor.max_backoff = std::chrono::milliseconds{1};
    s.supervisor.random_factor = 0;
    p = sys.spawn(pool, s);
    auto listener = caf::actor_cast<job_listener_actor>(self);
    // 1 + 9 jobs: after taking the first, the pool hands the worker a chunk
    // of max(1, 9 / (2 * 1)) = 4 attempts: the bad one and squares of 1..3.
    std::vector<job> jobs;
    for (uint64_t k = 0; k < 10; ++k) {
      job j;
      j.key = k;
      j.spec.kind = "square";
      j.spec.pool = "cpu";
      j.spec.max_retries = 0;
      // Key 0 is malformed (the pool does not validate): the kind throws
      // while reading it, which kills the worker.
      j.spec.input.value = k == 0 ? json{{"value", "boom"}}
                                  : json{{"value", static_cast<int64_t>(k)}};
      j.listener = listener;
      jobs.push_back(std::move(j));
    }
    self->send(p, submit_atom::value, std::move(jobs));
    bool timed_out = false;
    while (ends.size() < 10 && !timed_out)
      self->receive(
        [&](std::vector<job_event>& xs) {
          for (auto& e : xs)
            if (e.phase != job_phase::started
                && e.phase != job_phase::retrying)
              ends[e.key] = e;
        },
        caf::after(std::chrono::seconds(5)) >> [&] { timed_out = true; });
    self->send_exit(p, caf::exit_reason::user_shutdown);
    REQUIRE_FALSE(timed_out);
  }
  REQUIRE(ends.size() == 10);
  CHECK(ends[0].phase == job_phase::failed);
  for (int64_t k = 1; k < 10; ++k) {
    INFO("job " << k);
    CHECK(ends[k].phase == job_phase::succeeded);
    CHECK(ends[k].attempts == 1);
    CHECK(ends[k].result.result.value == json{{"result", k * k}});
  }
}
