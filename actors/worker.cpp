#include "actors/worker.hpp"

#include "actors/catalog.hpp"
#include "actors/kinds.hpp"

#include <chrono>
#include <mutex>
#include <thread>

namespace actorq {

namespace {

// What spawning a worker allocates: its actor with CAF's control block. An
// idle daemon holds 10 000 of them; at 1 024 bytes they fill tcmalloc's
// 1 024-byte class exactly, one byte more takes the 1 152-byte class
// (1.3 MB more of idle RSS). State belongs in worker_state, not the actor.
static_assert(sizeof(caf::actor_storage<worker_actor::base>) <= 1024,
              "a worker actor no longer fits tcmalloc's 1 024-byte class");

std::mutex runners_mutex;
std::unique_ptr<exec_runner> exec_instance;
std::unique_ptr<http_runner> http_instance;

void report(worker_state& st, uint64_t seq, outcome result,
            int64_t delay_ms = 0) {
  st.self->send(st.pool,
                attempt_done{st.slot, seq, std::move(result), delay_ms});
}

outcome to_outcome(run_result r) {
  outcome out;
  out.ok = r.ok;
  out.result.value = std::move(r.result);
  out.error = std::move(r.error);
  out.permanent = r.permanent;
  out.retry_after_ms = r.retry_after_ms;
  return out;
}

/// Hands an attempt of a config kind to its runner; the runner's callbacks
/// send finish and progress messages back to this worker.
void run_elsewhere(worker_state& st, attempt& a, const kind_info& kind) {
  worker_actor me{st.self};
  auto seq = a.seq;
  run_order order{a.kind, a.input.value.dump(), a.number, a.id, a.task,
                  a.timeout_ms};
  run_callbacks cb;
  cb.done = [me, seq](run_result r) {
    caf::anon_send(me, finish_atom::value, seq, to_outcome(std::move(r)));
  };
  cb.progress = [me, seq](run_progress p) {
    caf::anon_send(me, progress_atom::value, seq, p.fraction,
                   std::move(p.message));
  };
  st.pending = seq;
  if (kind.runner == runner_type::exec) {
    st.runs_in = worker_state::where::exec;
    st.handle = exec_runner_instance().start(kind.exec, std::move(order),
                                             std::move(cb));
  } else {
    st.runs_in = worker_state::where::http;
    st.handle = http_runner_instance().start(kind.http, std::move(order),
                                             std::move(cb));
  }
}

/// Runs a built-in kind and reports at once; its pool holds the result for
/// the kind's simulated delay (one timer there for all its slots).
void run_builtin(worker_state& st, attempt& a, const kind_def& kind) {
  auto run = kind.run(a.input.value, a.number);
  report(st, a.seq, std::move(run.result), run.delay_ms);
}

} // namespace

exec_runner& exec_runner_instance() {
  std::lock_guard<std::mutex> guard{runners_mutex};
  if (!exec_instance)
    exec_instance = std::make_unique<exec_runner>();
  return *exec_instance;
}

http_runner& http_runner_instance() {
  std::lock_guard<std::mutex> guard{runners_mutex};
  if (!http_instance)
    http_instance = std::make_unique<http_runner>();
  return *http_instance;
}

void stop_runners(std::chrono::milliseconds patience) {
  std::unique_ptr<exec_runner> exec;
  std::unique_ptr<http_runner> http;
  {
    std::lock_guard<std::mutex> guard{runners_mutex};
    exec = std::move(exec_instance);
    http = std::move(http_instance);
  }
  if (exec) {
    // SIGTERM now, SIGKILL after each kind's kill-grace; the destructor
    // kills whatever is left.
    exec->cancel_all();
    auto until = std::chrono::steady_clock::now() + patience;
    while (exec->running() > 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

worker_actor::behavior_type worker(worker_actor::pointer self, uint32_t slot,
                                   pool_actor pool) {
  auto st = std::make_shared<worker_state>();
  st->self = self;
  st->slot = slot;
  st->pool = std::move(pool);
  // A kind that throws ends this worker; the supervisor sees why.
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr& e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      return make_error(error_code::worker_crashed, x.what());
    } catch (...) {
      return make_error(error_code::worker_crashed, "unknown exception");
    }
  });
  return {
      [st](attempt& a) {
        auto kind = current_catalog().find_kind(a.kind);
        if (kind == nullptr || !kind->runs_locally()) {
          report(*st, a.seq,
                 outcome{false, {},
                         kind == nullptr ? "unknown kind '" + a.kind + "'"
                                         : "this worker cannot run kind '"
                                               + a.kind + "'"});
          return;
        }
        if (kind->builtin != nullptr)
          run_builtin(*st, a, *kind->builtin);
        else
          run_elsewhere(*st, a, *kind);
      },
      [st](std::vector<attempt>& chunk) {
        std::vector<attempt_done> done;
        done.reserve(chunk.size());
        auto slot = st->slot;
        for (auto& a : chunk) {
          auto kind = current_catalog().find_kind(a.kind);
          if (kind == nullptr || kind->builtin == nullptr) {
            done.push_back(
                {slot, a.seq,
                 outcome{false, {}, "unknown kind '" + a.kind + "'"}});
            continue;
          }
          try {
            done.push_back(
                {slot, a.seq, kind->builtin->run(a.input.value, a.number).result});
          } catch (...) {
            // Report what finished before dying: the pool then knows which
            // attempt crashed and which never started.
            st->self->send(st->pool, std::move(done));
            throw;
          }
        }
        st->self->send(st->pool, std::move(done));
      },
      [st](cancel_atom, uint64_t seq) {
        if (st->pending != seq)
          return; // already reported
        switch (st->runs_in) {
          case worker_state::where::exec:
            // Reported when the process group is gone: until then the slot
            // stays busy, so the pool never runs more than its size.
            exec_runner_instance().cancel(st->handle);
            return;
          case worker_state::where::http:
            http_runner_instance().cancel(st->handle);
            return;
        }
      },
      [st](finish_atom, uint64_t seq, outcome& result) {
        if (st->pending != seq)
          return; // cancelled meanwhile
        st->pending = 0;
        report(*st, seq, std::move(result));
      },
      [st](progress_atom, uint64_t seq, double fraction, std::string& message) {
        if (st->pending != seq)
          return;
        st->self->send(st->pool, progress_atom::value, st->slot, seq,
                       fraction, std::move(message));
      },
      [st](work_progress&) {}, // only stand-ins of remote workers get these
  };
}

} // namespace actorq
