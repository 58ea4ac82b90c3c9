#include "actors/gateway.hpp"

#include "actors/coordinator.hpp"
#include "actors/kinds.hpp"

#include <algorithm>
#include <memory>

namespace actorq {

namespace {

using self_ptr = gateway_actor::stateful_pointer<gateway_state>;

/// Fills what HTTP would default and checks the spec like HTTP does.
std::string prepare(self_ptr self, task_spec& spec) {
  if (spec.pool.empty())
    if (auto kind = find_kind(spec.kind))
      spec.pool = std::string{kind->pool};
  if (!spec.idempotency_key.empty()
      && !valid_idempotency_key(spec.idempotency_key))
    return "idempotency_key must be 1 to 255 visible ASCII characters";
  return check_task(spec, self->state.settings);
}

} // namespace

gateway_actor::behavior_type
gateway(self_ptr self, registry_actor registry, std::vector<pool_ref> pools,
        std::vector<pool_settings> settings, size_t max_batch_items) {
  auto& st = self->state;
  st.max_batch_items = max_batch_items;
  st.registry = std::move(registry);
  st.pools = std::move(pools);
  st.settings = std::move(settings);
  gateway_state::node head;
  head.view.id = "head";
  head.view.address = "local";
  for (auto& s : st.settings)
    head.view.pools.emplace_back(s.name, s.size);
  st.nodes.push_back(std::move(head));
  // A worker node's agent went away (killed, network cut, stopped): its
  // attempts go back to the queues at once.
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    for (uint32_t i = 1; i < st.nodes.size(); ++i) {
      auto& n = st.nodes[i];
      if (n.agent != msg.source || !n.view.up)
        continue;
      n.view.up = false;
      for (auto& p : st.pools)
        self->send(p.handle, node_down_atom::value, i);
      std::fprintf(stderr, "actorq: worker node %s is down (%s)\n",
                   n.view.id.c_str(), self->system().render(msg.reason).c_str());
    }
  });
  return {
      [=](submit_atom, task_spec& spec) -> caf::result<task_view> {
        if (auto problem = prepare(self, spec); !problem.empty())
          return make_error(error_code::invalid, std::move(problem));
        return self->delegate(self->state.registry, submit_atom::value,
                              std::move(spec));
      },
      [=](get_atom, const task_id& id) {
        return self->delegate(self->state.registry, get_atom::value, id);
      },
      [=](wait_atom, const task_id& id, int64_t ms) {
        ms = std::clamp<int64_t>(ms, 0, 600'000);
        return self->delegate(self->state.registry, wait_atom::value, id, ms);
      },
      [=](cancel_atom, const task_id& id) {
        return self->delegate(self->state.registry, cancel_atom::value, id);
      },
      [=](batch_spec& batch) -> caf::result<batch_result> {
        auto& st = self->state;
        if (batch.items.size() > st.max_batch_items)
          return make_error(error_code::invalid,
                            "items: at most "
                              + std::to_string(st.max_batch_items)
                              + " per batch (http.max-batch-items)");
        if (batch.items.empty()) {
          if (find_kind(batch.task.kind) == nullptr)
            return make_error(error_code::invalid,
                              "kind: unknown kind '" + batch.task.kind + "'");
          return batch_result{};
        }
        // Each item is checked as the input of the batch's task spec.
        batch.task.input = batch.items.front();
        if (auto problem = prepare(self, batch.task); !problem.empty())
          return make_error(error_code::invalid, "items[0]: " + problem);
        auto probe = batch.task;
        for (size_t i = 0; i < batch.items.size(); ++i) {
          probe.input = batch.items[i];
          if (auto problem = check_task(probe, st.settings); !problem.empty())
            return make_error(error_code::invalid,
                              "items[" + std::to_string(i) + "]: " + problem);
        }
        auto pool = std::find_if(st.pools.begin(), st.pools.end(), [&](auto& p) {
          return p.name == batch.task.pool;
        });
        auto coord = self->spawn(coordinator, *pool);
        return self->delegate(coord, std::move(batch));
      },
      [=](nodes_atom) -> caf::result<std::vector<node_view>> {
        auto& st = self->state;
        auto promise = self->make_response_promise<std::vector<node_view>>();
        auto nodes = std::make_shared<std::vector<node_view>>();
        for (auto& n : st.nodes) {
          nodes->push_back(n.view);
          nodes->back().completed = 0;
          nodes->back().failed = 0;
        }
        auto left = std::make_shared<size_t>(st.pools.size());
        for (auto& p : st.pools)
          self->request(p.handle, std::chrono::seconds{5}, nodes_atom::value)
            .then(
              [=](std::vector<node_counts>& counts) mutable {
                for (auto& c : counts)
                  if (c.node < nodes->size()) {
                    (*nodes)[c.node].completed += c.completed;
                    (*nodes)[c.node].failed += c.failed;
                  }
                if (--*left == 0)
                  promise.deliver(std::move(*nodes));
              },
              [=](caf::error& err) mutable {
                if (--*left == 0)
                  promise.deliver(std::move(*nodes));
              });
        return promise;
      },
      [=](join_atom, node_offer& offer) -> caf::result<std::vector<pool_grant>> {
        auto& st = self->state;
        auto agent = self->current_sender();
        if (agent == nullptr)
          return make_error(error_code::invalid, "join needs a sender");
        // A node that comes back under its name takes its old entry.
        auto it = std::find_if(st.nodes.begin() + 1, st.nodes.end(),
                               [&](auto& n) { return n.view.id == offer.name; });
        if (it != st.nodes.end() && it->view.up)
          return make_error(error_code::conflict,
                            "a node named '" + offer.name + "' is already up");
        if (it == st.nodes.end()) {
          st.nodes.emplace_back();
          it = st.nodes.end() - 1;
        }
        auto index = static_cast<uint32_t>(it - st.nodes.begin());
        it->view.id = offer.name;
        it->view.address = offer.address;
        it->view.up = true;
        it->view.pools.clear();
        it->agent = caf::actor_cast<caf::actor_addr>(agent);
        self->monitor(agent);
        auto promise = self->make_response_promise<std::vector<pool_grant>>();
        auto grants = std::make_shared<std::vector<pool_grant>>();
        auto left = std::make_shared<size_t>(0);
        for (auto& [name, size] : offer.pools) {
          size = std::min<uint32_t>(size, 1'000'000); // as pools.<name>.size
          auto pool = std::find_if(st.pools.begin(), st.pools.end(),
                                   [&](auto& p) { return p.name == name; });
          if (pool == st.pools.end() || size == 0)
            continue; // the head has no such pool: nothing to lend it
          ++*left;
          it->view.pools.emplace_back(name, size);
          auto handle = pool->handle;
          self->request(handle, std::chrono::seconds{10}, add_slots_atom::value,
                        index, size)
            .then(
              [=](uint32_t first) mutable {
                grants->push_back(
                  {name, caf::actor_cast<caf::actor>(handle), first});
                if (--*left == 0)
                  promise.deliver(std::move(*grants));
              },
              [=](caf::error& err) mutable {
                if (--*left == 0)
                  promise.deliver(std::move(*grants));
              });
        }
        if (*left == 0)
          promise.deliver(std::vector<pool_grant>{});
        std::fprintf(stderr, "actorq: worker node %s joined from %s\n",
                     offer.name.c_str(), offer.address.c_str());
        return promise;
      },
  };
}

} // namespace actorq
