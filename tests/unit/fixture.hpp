// Shared test fixture: an actor system on CAF's deterministic test scheduler.
// Nothing runs until the test calls run() / advance(); timers (delayed_send)
// fire only when the test advances the virtual clock.
#pragma once

#include "actors/actors.hpp"
#include "actors/config.hpp"
#include "actors/coordinator.hpp"
#include "actors/pool.hpp"
#include "actors/registry.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace actorq::test {

using namespace std::chrono_literals;

struct test_config : caf::actor_system_config {
  test_config() {
    register_types(*this);
    set("scheduler.policy", caf::atom("testing"));
    set("logger.file-verbosity", caf::atom("quiet"));
    set("logger.console-verbosity", caf::atom("quiet"));
  }
};

/// Pool settings for deterministic tests: event-based workers, no jitter, no
/// random factor; supervisor reset/window far away unless a test says so.
inline pool_settings make_settings(std::string name, uint32_t size) {
  pool_settings s;
  s.name = std::move(name);
  s.size = size;
  s.dedicated_threads = false;
  s.retry.max_retries = 3;
  s.retry.backoff = millis{1000};
  s.retry.max_backoff = millis{60000};
  s.retry.jitter = 0.0;
  s.supervisor.min_backoff = millis{50};
  s.supervisor.max_backoff = millis{400};
  s.supervisor.random_factor = 0.0;
  s.supervisor.reset_after = millis{3600 * 1000};
  s.supervisor.max_restarts = 1000;
  s.supervisor.window = millis{60000};
  return s;
}

using pool_impl = caf::stateful_actor<pool_state, pool_actor::base>;

struct fixture {
  test_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self;
  std::vector<caf::actor> long_lived;
  // Where spawn_registry's registry publishes its state (as for HTTP threads).
  std::shared_ptr<registry_reads> reads = std::make_shared<registry_reads>();

  fixture()
    : sys(cfg),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
      self(sys) {
    // Never block in ~actor_system on actors that are still alive.
    sys.await_actors_before_shutdown(false);
  }

  ~fixture() {
    for (auto& a : long_lived)
      self->send_exit(a, caf::exit_reason::user_shutdown);
    sched.run();
    // Drop whatever is left in our mailbox.
    while (self->has_next_message())
      self->receive([](caf::message&) {},
                    caf::after(std::chrono::seconds(0)) >> [] {});
  }

  // -- driving the scheduler ------------------------------------------------

  size_t run() {
    return sched.run();
  }

  /// Advances the virtual clock and runs everything that became due.
  void advance(caf::timespan d) {
    sched.advance_time(d);
    sched.run();
  }

  /// Runs messages and fires timers (in time order) until nothing is left.
  void run_all() {
    sched.run();
    while (sched.trigger_timeout())
      sched.run();
  }

  // -- spawning ---------------------------------------------------------------

  pool_actor spawn_pool(pool_settings s) {
    auto p = sys.spawn(pool, std::move(s));
    long_lived.push_back(caf::actor_cast<caf::actor>(p));
    sched.run(); // initialize pool, supervisor and workers
    return p;
  }

  registry_actor
  spawn_registry(std::vector<std::pair<std::string, pool_actor>> pools) {
    std::vector<pool_ref> refs;
    for (auto& [name, handle] : pools)
      refs.push_back({name, handle, nullptr});
    registry_settings settings;
    settings.pools = std::move(refs);
    settings.reads = reads; // spawned as actorq spawns it: registry_impl
    auto r = sys.spawn<registry_impl>(std::move(settings));
    long_lived.push_back(caf::actor_cast<caf::actor>(r));
    sched.run();
    return r;
  }

  pool_state& pool_st(const pool_actor& p) {
    auto ptr = caf::actor_cast<caf::abstract_actor*>(p);
    return dynamic_cast<pool_impl&>(*ptr).state;
  }

  /// The state of a registry spawned either way: as actorq spawns it
  /// (registry_impl) or from the plain function.
  registry_state& registry_st(const registry_actor& r) {
    using base = caf::stateful_actor<registry_state, registry_actor::base>;
    auto ptr = caf::actor_cast<caf::abstract_actor*>(r);
    return dynamic_cast<base&>(*ptr).state;
  }

  // -- jobs -------------------------------------------------------------------

  job_listener_actor listener() {
    return caf::actor_cast<job_listener_actor>(self);
  }

  job make_job(uint64_t key, std::string kind, json input,
               int32_t max_retries = 0, int64_t backoff_ms = 0,
               int64_t timeout_ms = 0, bool progress = true) {
    job j;
    j.key = key;
    j.spec.kind = std::move(kind);
    j.spec.input.value = std::move(input);
    j.spec.pool = "test";
    j.spec.max_retries = max_retries;
    j.spec.backoff_ms = backoff_ms;
    j.spec.timeout_ms = timeout_ms;
    j.progress = progress;
    j.listener = listener();
    return j;
  }

  void submit(const pool_actor& p, job j) {
    self->send(p, submit_atom::value, std::move(j));
  }

  /// Every job_event currently in our mailbox, in arrival order.
  std::vector<job_event> events() {
    std::vector<job_event> out;
    bool more = true;
    while (more)
      self->receive([&](std::vector<job_event>& xs) {
                      for (auto& e : xs)
                        out.push_back(std::move(e));
                    },
                    caf::after(std::chrono::seconds(0)) >> [&] { more = false; });
    return out;
  }

  // -- request / response -----------------------------------------------------

  /// Sends a request, runs the system (without advancing time) and returns the
  /// answer; fails the test instead of blocking if no answer arrived.
  template <class T, class Handle, class... Ts>
  caf::expected<T> ask(const Handle& h, Ts&&... xs) {
    auto rh = self->request(h, caf::infinite, std::forward<Ts>(xs)...);
    sched.run();
    REQUIRE(self->has_next_message());
    caf::expected<T> result{caf::sec::none};
    rh.receive([&](T& x) { result = std::move(x); },
               [&](caf::error& e) { result = std::move(e); });
    return result;
  }

  pool_stats stats(const pool_actor& p) {
    auto s = ask<pool_stats>(p, stats_atom::value);
    REQUIRE(s);
    return *s;
  }
};

// -- helpers for assertions ---------------------------------------------------

inline std::vector<uint64_t> keys_of(const std::vector<job_event>& xs,
                                     job_phase phase) {
  std::vector<uint64_t> out;
  for (auto& x : xs)
    if (x.phase == phase)
      out.push_back(x.key);
  return out;
}

inline std::optional<job_event> find_event(const std::vector<job_event>& xs,
                                           uint64_t key, job_phase phase) {
  for (auto& x : xs)
    if (x.key == key && x.phase == phase)
      return x;
  return std::nullopt;
}

inline bool is_actorq_error(const caf::error& e, error_code code) {
  return e.category() == caf::atom("actorq")
         && e.code() == static_cast<uint8_t>(code);
}

inline std::string error_detail(const caf::error& e) {
  if (e.context().match_elements<std::string>())
    return e.context().get_as<std::string>(0);
  return {};
}

} // namespace actorq::test
