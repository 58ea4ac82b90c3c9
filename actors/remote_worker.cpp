#include "actors/remote_worker.hpp"

#include <algorithm>

namespace actorq {

namespace {

using self_ptr = worker_actor::stateful_pointer<remote_worker_state>;

/// Takes `seq` off the pending list; false if it was not there (reported
/// already: cancelled).
bool take(self_ptr self, uint64_t seq) {
  auto& pending = self->state.pending;
  auto i = std::find(pending.begin(), pending.end(), seq);
  if (i == pending.end())
    return false;
  pending.erase(i);
  return true;
}

/// Sends attempts to the remote actor in one message and reports each
/// result to the pool (one message for the lot), but those cancelled
/// meanwhile.
void run(self_ptr self, std::vector<attempt>& attempts) {
  std::vector<work_item> items;
  items.reserve(attempts.size());
  std::vector<uint64_t> seqs;
  for (auto& a : attempts) {
    seqs.push_back(a.seq);
    self->state.pending.push_back(a.seq);
    items.push_back(
        work_item{a.seq, a.kind, std::move(a.input), a.number, a.id, a.task});
  }
  auto answer = [=](std::vector<outcome> outcomes) {
    std::vector<attempt_done> done;
    for (size_t i = 0; i < seqs.size(); ++i)
      if (take(self, seqs[i]))
        done.push_back({self->state.slot, seqs[i], std::move(outcomes[i])});
    if (!done.empty())
      self->send(self->state.pool, std::move(done));
  };
  self->request(self->state.target, caf::infinite, std::move(items))
    .then(
      [=](std::vector<work_result>& results) {
        std::vector<outcome> outcomes(seqs.size());
        for (size_t i = 0; i < seqs.size(); ++i) {
          if (i >= results.size()) {
            outcomes[i] = {false, {}, "the remote worker answered "
                           + std::to_string(results.size()) + " results for "
                           + std::to_string(seqs.size()) + " items"};
            continue;
          }
          auto& r = results[i];
          outcomes[i] = {r.ok, std::move(r.result), std::move(r.error),
                         r.permanent, 0};
        }
        answer(std::move(outcomes));
      },
      [=](caf::error& err) {
        auto why = "remote worker failed: " + self->system().render(err);
        answer(std::vector<outcome>(seqs.size(), outcome{false, {}, why}));
      });
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
        std::vector<attempt> one;
        one.push_back(std::move(a));
        run(self, one);
      },
      // The pool hands out chunks when many attempts wait: one message each
      // way for all of them (a round trip between nodes costs ~30 µs).
      [=](std::vector<attempt>& chunk) { run(self, chunk); },
      [=](cancel_atom, uint64_t seq) {
        if (!take(self, seq))
          return;
        // The remote actor cannot be forced: tell it, free the attempt, and
        // drop its result when it comes.
        self->send(self->state.target, cancel_atom::value, seq);
        self->send(self->state.pool,
                   attempt_done{self->state.slot, seq,
                                outcome{false, {}, "cancelled"}});
      },
      [=](finish_atom, uint64_t, outcome&) {},
      [=](progress_atom, uint64_t, double, std::string&) {},
      [=](work_progress& p) {
        auto& pending = self->state.pending;
        if (std::find(pending.begin(), pending.end(), p.seq) == pending.end())
          return;
        self->send(self->state.pool, progress_atom::value, self->state.slot,
                   p.seq, p.fraction, std::move(p.message));
      },
  };
}

} // namespace actorq
