#include "actors/coordinator.hpp"

namespace actorq {

coordinator_actor::behavior_type
coordinator(coordinator_actor::stateful_pointer<coordinator_state> self,
            pool_ref pool) {
  self->state.pool = std::move(pool);
  return {
      [=](batch_spec& batch) -> caf::result<batch_result> {
        auto& st = self->state;
        auto n = batch.items.size();
        if (n == 0) {
          self->quit();
          return batch_result{};
        }
        // The whole batch fits in the pool's queue, or none of it is run.
        if (auto full = st.pool.admit(static_cast<int64_t>(n)); !full.empty()) {
          self->quit();
          return make_error(error_code::busy, std::move(full));
        }
        st.result.results.resize(n);
        st.result.errors.resize(n);
        st.pending = n;
        auto listener = caf::actor_cast<job_listener_actor>(self);
        std::vector<job> jobs(n);
        for (size_t i = 0; i < n; ++i) {
          auto& j = jobs[i];
          j.key = i;
          j.spec.kind = batch.task.kind;
          j.spec.pool = batch.task.pool;
          j.spec.max_retries = batch.task.max_retries;
          j.spec.backoff_ms = batch.task.backoff_ms;
          j.spec.timeout_ms = batch.task.timeout_ms;
          j.spec.priority = batch.task.priority;
          j.spec.input = std::move(batch.items[i]);
          j.listener = listener;
        }
        self->send(st.pool.handle, submit_atom::value, std::move(jobs));
        st.promise = self->make_response_promise<batch_result>();
        return st.promise;
      },
      [=](std::vector<job_event>& events) {
        auto& st = self->state;
        for (auto& e : events) {
          if (e.key >= st.result.results.size()
              || (e.phase != job_phase::succeeded
                  && e.phase != job_phase::failed
                  && e.phase != job_phase::cancelled))
            continue;
          if (e.phase == job_phase::succeeded) {
            st.result.results[e.key] = std::move(e.result.result);
            ++st.result.succeeded;
          } else {
            st.result.errors[e.key] = e.phase == job_phase::cancelled
                                          ? std::string{"cancelled"}
                                          : std::move(e.result.error);
            ++st.result.failed;
          }
          --st.pending;
        }
        if (st.pending == 0) {
          st.promise.deliver(std::move(st.result));
          self->quit();
        }
      },
  };
}

} // namespace actorq
