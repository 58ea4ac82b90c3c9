#include "actors/worker.hpp"

#include "actors/kinds.hpp"

#include <chrono>

namespace actorq {

worker_actor::behavior_type
worker(worker_actor::stateful_pointer<worker_state> self, uint32_t slot,
       pool_actor pool) {
  self->state.slot = slot;
  self->state.pool = std::move(pool);
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
  auto report = [self](uint64_t seq, outcome result) {
    self->send(self->state.pool,
               attempt_done{self->state.slot, seq, std::move(result)});
  };
  return {
      [=](attempt& a) {
        auto kind = find_kind(a.kind);
        if (kind == nullptr) {
          report(a.seq, outcome{false, {}, "unknown kind '" + a.kind + "'"});
          return;
        }
        auto run = kind->run(a.input.value, a.number);
        if (run.delay_ms <= 0) {
          report(a.seq, std::move(run.result));
          return;
        }
        self->state.pending = a.seq;
        self->delayed_send(self, std::chrono::milliseconds{run.delay_ms},
                           finish_atom::value, a.seq, std::move(run.result));
      },
      [=](std::vector<attempt>& chunk) {
        std::vector<attempt_done> done;
        done.reserve(chunk.size());
        auto slot = self->state.slot;
        for (auto& a : chunk) {
          auto kind = find_kind(a.kind);
          if (kind == nullptr) {
            done.push_back(
                {slot, a.seq,
                 outcome{false, {}, "unknown kind '" + a.kind + "'"}});
            continue;
          }
          try {
            done.push_back(
                {slot, a.seq, kind->run(a.input.value, a.number).result});
          } catch (...) {
            // Report what finished before dying: the pool then knows which
            // attempt crashed and which never started.
            self->send(self->state.pool, std::move(done));
            throw;
          }
        }
        self->send(self->state.pool, std::move(done));
      },
      [=](cancel_atom, uint64_t seq) {
        if (self->state.pending != seq)
          return; // already reported
        self->state.pending = 0;
        report(seq, outcome{false, {}, "cancelled"});
      },
      [=](finish_atom, uint64_t seq, outcome& result) {
        if (self->state.pending != seq)
          return; // cancelled meanwhile
        self->state.pending = 0;
        report(seq, std::move(result));
      },
  };
}

} // namespace actorq
