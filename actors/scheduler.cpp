#include "actors/scheduler.hpp"

#include "actors/log.hpp"
#include "actors/time.hpp"

#include <memory>

namespace actorq {

namespace {

using self_ptr = scheduler_actor::stateful_pointer<scheduler_state>;

/// Registry answers are immediate; this only bounds a registry that died.
constexpr auto ask_timeout = std::chrono::seconds{30};

bool is_zero(const task_id& id) {
  return id.hi == 0 && id.lo == 0;
}

bool not_found(const caf::error& err) {
  return err.category() == caf::atom("actorq")
         && err.code() == static_cast<uint8_t>(error_code::not_found);
}

/// One timer, for the earliest next slot of all schedules.
void arm(self_ptr self) {
  auto& st = self->state;
  if (st.timer_armed)
    return;
  auto next = st.book->earliest();
  if (!next)
    return;
  st.timer_armed = true;
  auto delay = std::max<int64_t>(*next - now_ms(), 0);
  self->delayed_send(self, std::chrono::milliseconds{delay}, tick_atom::value);
}

/// Records a skipped slot, durably, so that a restart does not fire it.
void skip(self_ptr self, const firing& f, const std::string& why) {
  auto& st = self->state;
  auto& e = st.book->entries()[f.index];
  st.book->fired(f.index, f.slot, {});
  log::event(log::level::info, "schedule_skipped",
             {{"schedule", e.def.name},
              {"slot", iso8601(f.slot)},
              {"msg", why}});
  if (!st.cfg.store)
    return;
  store_batch batch;
  batch.marks.push_back({e.def.name, f.slot, {}});
  self->request(st.cfg.store, caf::infinite, std::move(batch))
    .then([](store_batch&) {}, [](caf::error&) {});
}

/// Asks the registry to create the slot's task (stored with the slot).
void create(self_ptr self, const firing& f) {
  auto& st = self->state;
  auto spec = st.book->entries()[f.index].def.spec;
  st.in_flight[f.index] = true;
  self->request(st.cfg.registry, ask_timeout, submit_atom::value,
                std::move(spec), schedule_atom::value, f.slot)
    .then(
      [=](task_view& v) {
        auto& st = self->state;
        st.in_flight[f.index] = false;
        st.book->fired(f.index, f.slot, v.id);
        log::event(log::level::info, "schedule_fired",
                   {{"schedule", st.book->entries()[f.index].def.name},
                    {"slot", iso8601(f.slot)},
                    {"task", v.id.to_string()}});
      },
      [=](caf::error& err) {
        auto& st = self->state;
        st.in_flight[f.index] = false;
        log::event(log::level::warn, "schedule_failed",
                   {{"schedule", st.book->entries()[f.index].def.name},
                    {"slot", iso8601(f.slot)},
                    {"msg", "cannot create the task: "
                              + self->system().render(err)}});
      });
}

/// Fires one slot: creates its task, unless overlap = skip and the last
/// task has not ended (then the slot is skipped).
void fire(self_ptr self, const firing& f) {
  auto& st = self->state;
  auto& e = st.book->entries()[f.index];
  if (e.def.overlap) {
    create(self, f);
    return;
  }
  if (st.in_flight[f.index]) {
    skip(self, f, "the previous firing is still being created");
    return;
  }
  if (is_zero(e.last_task)) {
    create(self, f);
    return;
  }
  st.in_flight[f.index] = true;
  self->request(st.cfg.registry, ask_timeout, get_atom::value, e.last_task)
    .then(
      [=](task_view& v) {
        self->state.in_flight[f.index] = false;
        if (is_terminal(v.status))
          create(self, f);
        else
          skip(self, f, "overlap = skip: the last task " + v.id.to_string()
                          + " is " + to_string(v.status));
      },
      [=](caf::error& err) {
        self->state.in_flight[f.index] = false;
        if (not_found(err)) // expired or never stored: it ended
          create(self, f);
        else
          skip(self, f, "cannot read the last task: "
                          + self->system().render(err));
      });
}

/// GET /v1/schedules: the book's entries, with their last tasks' statuses
/// read from the registry.
caf::result<std::vector<schedule_view>> list(self_ptr self) {
  auto& st = self->state;
  auto views = std::make_shared<std::vector<schedule_view>>();
  for (auto& e : st.book->entries()) {
    schedule_view v;
    v.name = e.def.name;
    v.kind = e.def.spec.kind;
    v.pool = e.def.spec.pool;
    v.every = e.def.every_text;
    v.cron = e.def.cron_text;
    v.timezone = e.def.zone->name();
    v.overlap = e.def.overlap;
    v.catch_up = e.def.catch_up;
    v.next_run = e.next.value_or(0);
    v.last_run = e.last_slot;
    if (!is_zero(e.last_task))
      v.last_task = e.last_task;
    views->push_back(std::move(v));
  }
  auto promise = self->make_response_promise<std::vector<schedule_view>>();
  auto pending = std::make_shared<size_t>(1); // 1: until all are asked
  auto done = [views, pending, promise]() mutable {
    if (--*pending == 0)
      promise.deliver(std::move(*views));
  };
  for (size_t i = 0; i < views->size(); ++i) {
    auto& v = (*views)[i];
    if (!v.last_task)
      continue;
    ++*pending;
    self->request(st.cfg.registry, ask_timeout, get_atom::value, *v.last_task)
      .then(
        [views, i, done](task_view& t) mutable {
          (*views)[i].last_status = t.status;
          (*views)[i].last_known = true;
          done();
        },
        [done](caf::error&) mutable { done(); });
  }
  done();
  return promise;
}

} // namespace

scheduler_actor::behavior_type scheduler(self_ptr self,
                                         scheduler_settings settings) {
  auto& st = self->state;
  st.cfg = std::move(settings);
  st.book.emplace(st.cfg.schedules);
  st.in_flight.assign(st.book->entries().size(), false);
  for (auto& m : st.cfg.marks)
    st.book->restore(m);
  auto now = now_ms();
  for (auto& f : st.book->start(now)) {
    log::event(log::level::info, "schedule_catch_up",
               {{"schedule", st.book->entries()[f.index].def.name},
                {"slot", iso8601(f.slot)},
                {"msg", "a slot passed while actorq was down: firing it once"}});
    fire(self, f);
  }
  arm(self);
  return {
      [=](list_atom, schedule_atom) { return list(self); },
      [=](tick_atom) {
        auto& st = self->state;
        st.timer_armed = false;
        for (auto& f : st.book->take_due(now_ms()))
          fire(self, f);
        arm(self);
      },
  };
}

} // namespace actorq
