#include "actors/remote_worker.hpp"

namespace actorq {

namespace {

using self_ptr = worker_actor::stateful_pointer<remote_worker_state>;

void report(self_ptr self, uint64_t seq, outcome result) {
  self->state.pending = 0;
  self->send(self->state.pool,
             attempt_done{self->state.slot, seq, std::move(result)});
}

} // namespace

worker_actor::behavior_type remote_worker(self_ptr self, uint32_t slot,
                                          pool_actor pool,
                                          kind_worker_actor target) {
  auto& st = self->state;
  st.slot = slot;
  st.pool = std::move(pool);
  st.target = std::move(target);
  // The remote actor (or its connection) is gone: end too; the pool watches
  // this actor and counts the running attempt as lost.
  self->monitor(st.target);
  self->set_down_handler([self](caf::down_msg& msg) {
    if (msg.source == self->state.target.address())
      self->quit(msg.reason);
  });
  return {
      [=](attempt& a) {
        auto seq = a.seq;
        self->state.pending = seq;
        work_item item{seq, a.kind, std::move(a.input), a.number, a.id, a.task};
        // One request at a time per stand-in: no pile-up of then-handlers.
        self->request(self->state.target, caf::infinite, std::move(item))
          .then(
            [=](work_result& r) {
              if (self->state.pending != seq)
                return; // cancelled meanwhile: the late result is dropped
              report(self, seq,
                     outcome{r.ok, std::move(r.result), std::move(r.error),
                             r.permanent, 0});
            },
            [=](caf::error& err) {
              if (self->state.pending != seq)
                return;
              report(self, seq,
                     outcome{false, {},
                             "remote worker failed: "
                                 + self->system().render(err)});
            });
      },
      [=](std::vector<attempt>& chunk) {
        // Pools only chunk CPU-bound built-ins, which never come here.
        for (auto& a : chunk)
          report(self, a.seq,
                 outcome{false, {}, "a remote worker runs one attempt at a "
                                    "time"});
      },
      [=](cancel_atom, uint64_t seq) {
        if (self->state.pending != seq)
          return;
        // The remote actor cannot be forced: tell it, free the slot, and
        // drop its result when it comes.
        self->send(self->state.target, cancel_atom::value, seq);
        report(self, seq, outcome{false, {}, "cancelled"});
      },
      [=](finish_atom, uint64_t, outcome&) {},
      [=](progress_atom, uint64_t, double, std::string&) {},
      [=](work_progress& p) {
        if (p.seq != self->state.pending)
          return;
        self->send(self->state.pool, progress_atom::value, self->state.slot,
                   p.seq, p.fraction, std::move(p.message));
      },
  };
}

} // namespace actorq
