#include "actors/gateway.hpp"

#include "actors/catalog.hpp"
#include "actors/coordinator.hpp"
#include "actors/kinds.hpp"
#include "actors/log.hpp"
#include "actors/remote_worker.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <variant>

namespace actorq {

namespace {

using self_ptr = gateway_actor::stateful_pointer<gateway_state>;

const pool_ref* find_pool(self_ptr self, const std::string& name) {
  auto& pools = self->state.pools;
  auto i = std::find_if(pools.begin(), pools.end(),
                        [&](auto& p) { return p.name == name; });
  return i == pools.end() ? nullptr : &*i;
}

/// The entry for a node joining under `name`: its old one if it comes back,
/// else a new one; null if a node of that name is up.
gateway_state::node* node_entry(self_ptr self, const std::string& name) {
  auto& nodes = self->state.nodes;
  auto it = std::find_if(nodes.begin() + 1, nodes.end(),
                         [&](auto& n) { return n.view.id == name; });
  if (it != nodes.end() && it->view.up)
    return nullptr;
  if (it == nodes.end()) {
    nodes.emplace_back();
    it = nodes.end() - 1;
  }
  it->view.id = name;
  it->view.up = true;
  ++it->joins;
  it->view.pools.clear();
  it->view.kinds.clear();
  it->stand_ins.clear();
  return &*it;
}

/// The line of a node that joined (again, if it was here before).
void log_joined(const gateway_state::node& n, const char* what) {
  if (!log::enabled(log::level::info))
    return;
  uint32_t workers = 0;
  for (auto& [pool, size] : n.view.pools)
    workers += size;
  log::event(log::level::info, "node_joined",
             {{"msg", std::string{what} + " " + n.view.id
                        + (n.joins > 1 ? " rejoined from " : " joined from ")
                        + n.view.address},
              {"node", n.view.id},
              {"type", what},
              {"address", n.view.address},
              {"workers", workers},
              {"rejoined", n.joins > 1}});
}

/// Why a worker node cannot join, or "": its pools must exist here and its
/// config kinds must be ours with the same runner.
std::string check_node_offer(self_ptr self, const node_offer& offer) {
  auto& cat = current_catalog();
  for (auto& [name, size] : offer.pools)
    if (size > 0 && find_pool(self, name) == nullptr)
      return "node '" + offer.name + "' offers pool '" + name
             + "', which the head does not have (head pools: "
             + cat.pool_names() + ")";
  for (auto& [name, runner] : offer.kinds) {
    auto kind = cat.find_kind(name);
    if (kind == nullptr || kind->builtin != nullptr)
      return "node '" + offer.name + "' declares kind '" + name
             + "', which the head does not declare";
    if (runner != to_string(kind->runner))
      return "node '" + offer.name + "' runs kind '" + name + "' with runner "
             + runner + ", the head with runner " + to_string(kind->runner);
  }
  return {};
}

/// The kinds a worker node's workers run: the built-ins and the config
/// kinds it declared.
std::vector<std::string> node_kinds(const node_offer& offer) {
  std::vector<std::string> out;
  for (auto& k : current_catalog().kinds())
    if (k.builtin != nullptr)
      out.push_back(k.name);
  for (auto& [name, runner] : offer.kinds)
    out.push_back(name);
  return out;
}

/// Delivers `result` once every one of `n` asynchronous steps is done.
template <class T>
struct countdown {
  caf::typed_response_promise<T> promise;
  std::shared_ptr<T> result = std::make_shared<T>();
  std::shared_ptr<size_t> left = std::make_shared<size_t>(0);

  void done() {
    if (--*left == 0)
      promise.deliver(std::move(*result));
  }
};

/// Lets the sender join as node `name` (a worker node or program) unless
/// `problem` says why not or a node of that name is up: its node index, and
/// the head monitors it from now on.
std::variant<uint32_t, caf::error>
admit(self_ptr self, const char* what, const std::string& name,
      const std::string& address, std::string problem) {
  auto agent = self->current_sender();
  if (agent == nullptr)
    return make_error(error_code::invalid, "join needs a sender");
  if (!problem.empty()) {
    log::event(log::level::warn, "node_refused",
               {{"msg", std::string{"refused "} + what + " " + name + ": "
                          + problem},
                {"node", name},
                {"type", what},
                {"address", address}});
    return make_error(error_code::invalid, std::move(problem));
  }
  auto node = node_entry(self, name);
  if (node == nullptr)
    return make_error(error_code::conflict,
                      "a node named '" + name + "' is already up");
  node->view.address = address;
  node->agent = caf::actor_cast<caf::actor_addr>(agent);
  self->monitor(agent);
  return static_cast<uint32_t>(node - self->state.nodes.data());
}

caf::result<std::vector<pool_grant>> join_node(self_ptr self,
                                               node_offer& offer) {
  auto admitted = admit(self, "worker node", offer.name, offer.address,
                        check_node_offer(self, offer));
  if (auto err = std::get_if<caf::error>(&admitted))
    return std::move(*err);
  auto index = std::get<uint32_t>(admitted);
  auto node = &self->state.nodes[index];
  countdown<std::vector<pool_grant>> all{
      self->make_response_promise<std::vector<pool_grant>>()};
  auto kinds = node_kinds(offer);
  for (auto& [name, size] : offer.pools) {
    size = std::min<uint32_t>(size, 1'000'000); // as pools.<name>.size
    auto pool = find_pool(self, name);
    if (size == 0)
      continue;
    ++*all.left;
    node->view.pools.emplace_back(name, size);
    auto handle = pool->handle;
    self->request(handle, std::chrono::seconds{10}, add_slots_atom::value,
                  index, size, kinds)
      .then(
        [=, name = name](uint32_t first) mutable {
          all.result->push_back(
            {name, caf::actor_cast<caf::actor>(handle), first});
          all.done();
        },
        [=](caf::error&) mutable { all.done(); });
  }
  if (*all.left == 0)
    all.promise.deliver(std::vector<pool_grant>{});
  log_joined(*node, "worker node");
  return all.promise;
}

/// Why a worker program cannot join, or "": every kind it serves must be
/// declared here with runner = "remote".
std::string check_worker_offer(const worker_offer& offer) {
  if (offer.workers.empty())
    return "a worker offer needs at least one worker";
  for (auto& w : offer.workers) {
    auto kind = current_catalog().find_kind(w.kind);
    if (kind == nullptr || kind->runner != runner_type::remote)
      return "kind '" + w.kind + "' is not declared on the head with runner "
             "= \"remote\" (add [kinds." + w.kind + "] runner = \"remote\" "
             "and a pool to the head's config)";
    if (!w.worker)
      return "the worker for kind '" + w.kind + "' is not a valid actor";
  }
  return {};
}

caf::result<uint32_t> join_workers(self_ptr self, worker_offer& offer) {
  auto admitted = admit(self, "worker program", offer.name, offer.address,
                        check_worker_offer(offer));
  if (auto err = std::get_if<caf::error>(&admitted))
    return std::move(*err);
  auto index = std::get<uint32_t>(admitted);
  auto node = &self->state.nodes[index];
  // One group of slots per kind: its workers run that kind only.
  std::map<std::string, std::vector<kind_worker_actor>> by_kind;
  for (auto& w : offer.workers)
    by_kind[w.kind].push_back(std::move(w.worker));
  countdown<uint32_t> all{self->make_response_promise<uint32_t>()};
  *all.left = by_kind.size();
  for (auto& [kind, workers] : by_kind) {
    auto& pool_name = current_catalog().find_kind(kind)->pool;
    auto pool = find_pool(self, pool_name);
    node->view.kinds.emplace_back(kind, workers.size());
    node->view.pools.emplace_back(pool_name, workers.size());
    auto handle = pool->handle;
    auto n = static_cast<uint32_t>(workers.size());
    self->request(handle, std::chrono::seconds{10}, add_slots_atom::value,
                  index, n, std::vector<std::string>{kind})
      .then(
        [=, workers = workers](uint32_t first) mutable {
          auto& entry = self->state.nodes[index];
          for (uint32_t i = 0; i < workers.size(); ++i) {
            auto w = self->spawn(remote_worker, first + i, handle, workers[i]);
            entry.stand_ins.push_back(w);
            self->send(handle, worker_up_atom::value, first + i, w);
          }
          *all.result += n;
          all.done();
        },
        [=](caf::error&) mutable { all.done(); });
  }
  log_joined(*node, "worker program");
  return all.promise;
}

/// GET /v1/nodes: every node with the attempts that ended on it.
caf::result<std::vector<node_view>> list_nodes(self_ptr self) {
  auto& st = self->state;
  countdown<std::vector<node_view>> all{
      self->make_response_promise<std::vector<node_view>>()};
  for (auto& n : st.nodes) {
    all.result->push_back(n.view);
    all.result->back().completed = 0;
    all.result->back().failed = 0;
  }
  *all.left = st.pools.size();
  if (st.pools.empty())
    all.promise.deliver(std::move(*all.result));
  for (auto& p : st.pools)
    self->request(p.handle, std::chrono::seconds{5}, nodes_atom::value)
      .then(
        [=](std::vector<node_counts>& counts) mutable {
          auto& nodes = *all.result;
          for (auto& c : counts)
            if (c.node < nodes.size()) {
              nodes[c.node].completed += c.completed;
              nodes[c.node].failed += c.failed;
            }
          all.done();
        },
        [=](caf::error&) mutable { all.done(); });
  return all.promise;
}

} // namespace

gateway_actor::behavior_type gateway(self_ptr self, registry_actor registry,
                                     std::vector<pool_ref> pools,
                                     size_t max_batch_items) {
  auto& st = self->state;
  st.max_batch_items = max_batch_items;
  st.registry = std::move(registry);
  st.pools = std::move(pools);
  gateway_state::node head;
  head.view.id = "head";
  head.view.address = "local";
  for (auto& s : current_catalog().pools())
    head.view.pools.emplace_back(s.name, s.size);
  st.nodes.push_back(std::move(head));
  // A node's agent went away (killed, network cut, stopped): the attempts
  // of its workers count as lost and are retried elsewhere.
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    for (uint32_t i = 1; i < st.nodes.size(); ++i) {
      auto& n = st.nodes[i];
      if (n.agent != msg.source || !n.view.up)
        continue;
      n.view.up = false;
      for (auto& p : st.pools)
        self->send(p.handle, node_down_atom::value, i);
      for (auto& w : n.stand_ins)
        self->send_exit(w, caf::exit_reason::user_shutdown);
      n.stand_ins.clear();
      auto reason = self->system().render(msg.reason);
      log::event(log::level::warn, "node_lost",
                 {{"msg", "worker node " + n.view.id + " is down (" + reason
                            + ")"},
                  {"node", n.view.id},
                  {"address", n.view.address},
                  {"reason", reason}});
    }
  });
  return {
      [=](submit_atom, task_spec& spec) -> caf::result<task_view> {
        if (auto problem = check_task(spec, current_catalog());
            !problem.empty())
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
        if (!batch.task.after.empty() || batch.task.pass_results)
          return make_error(error_code::invalid,
                            "after: chains are for single tasks, not "
                            "batches");
        // The options once (as HTTP does), then each item as an input.
        batch.task.input.value = json::object();
        auto problem = check_task(batch.task, current_catalog());
        if (problem.empty() || problem.rfind("input", 0) == 0)
          problem = check_batch_task(batch.task);
        if (!problem.empty() && problem.rfind("input", 0) != 0)
          return make_error(error_code::invalid, std::move(problem));
        auto& kind = *current_catalog().find_kind(batch.task.kind);
        for (size_t i = 0; i < batch.items.size(); ++i)
          if (auto p = check_input(kind, batch.items[i].value); !p.empty())
            return make_error(error_code::invalid,
                              field_error("items[" + std::to_string(i) + "]", p));
        if (batch.items.empty())
          return batch_result{};
        auto coord = self->spawn(coordinator, *find_pool(self, batch.task.pool));
        return self->delegate(coord, std::move(batch));
      },
      [=](nodes_atom) { return list_nodes(self); },
      [=](join_atom, node_offer& offer) { return join_node(self, offer); },
      [=](join_atom, worker_offer& offer) { return join_workers(self, offer); },
  };
}

} // namespace actorq
