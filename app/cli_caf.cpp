// actorq-cli over CAF: actor to actor with the gateway a head publishes on
// --cluster.port (include/actorq/gateway.hpp), plain or TLS. Prints the same
// JSON as the HTTP API.
#include "app/cli.hpp"
#include "actors/time.hpp"
#include "app/cluster.hpp"
#include "http/codec.hpp"

#include <caf/io/all.hpp>

#include <cstdio>
#include <functional>
#include <iostream>
#include <optional>
#include <unistd.h>

namespace actorq::cli {

namespace {

/// Sends a batch in chunks, a few in flight so every worker stays busy, and
/// reports progress (atom "progress", done) and the end (batch_result or
/// error) to `me`.
void spawn_batch_driver(caf::actor_system& sys, const gateway_actor& gw,
                        const batch_spec& base, std::vector<json_value> inputs,
                        size_t chunk, caf::timespan timeout, caf::actor me) {
  struct progress {
    batch_result all;
    size_t sent = 0, done = 0, in_flight = 0;
    bool failed = false;
  };
  auto total = inputs.size();
  sys.spawn([=, inputs = std::move(inputs)](
                caf::event_based_actor* driver) mutable {
    auto st = std::make_shared<progress>();
    st->all.results.resize(total);
    st->all.errors.resize(total);
    auto send_next = std::make_shared<std::function<void()>>();
    *send_next = [=]() mutable {
      while (!st->failed && st->sent < total && st->in_flight < 4) {
        batch_spec part = base;
        auto first = st->sent;
        auto end = std::min(total, first + chunk);
        for (auto i = first; i < end; ++i)
          part.items.push_back(std::move(inputs[i]));
        st->sent = end;
        ++st->in_flight;
        driver->request(gw, timeout, std::move(part))
          .then(
            [=](batch_result& r) {
              for (size_t i = 0; i < r.results.size(); ++i) {
                st->all.results[first + i] = std::move(r.results[i]);
                st->all.errors[first + i] = std::move(r.errors[i]);
              }
              st->all.succeeded += r.succeeded;
              st->all.failed += r.failed;
              st->done += r.results.size();
              --st->in_flight;
              driver->send(me, caf::atom("progress"), st->done);
              if (st->done == total) {
                driver->send(me, std::move(st->all));
                driver->quit();
                return;
              }
              (*send_next)();
            },
            [=](caf::error& err) {
              if (!st->failed)
                driver->send(me, err);
              st->failed = true;
              driver->quit();
            });
      }
    };
    if (total == 0) {
      driver->send(me, batch_result{});
      driver->quit();
      return;
    }
    (*send_next)();
  });
}

task_spec make_spec(const std::string& kind, const task_options& t) {
  task_spec spec;
  spec.kind = kind;
  spec.input.value = json::object();
  spec.pool = t.pool;
  spec.max_retries = static_cast<int32_t>(t.max_retries);
  spec.backoff_ms = t.backoff_ms;
  spec.timeout_ms = t.timeout_ms;
  if (t.priority >= 0)
    spec.priority = static_cast<int32_t>(t.priority);
  spec.idempotency_key = t.idempotency_key;
  if (!t.run_at.empty()) // checked by the option's validator
    spec.run_at = std::max<int64_t>(parse_rfc3339(t.run_at).value_or(1), 1);
  spec.countdown_ms = t.countdown_ms;
  for (auto& text : t.after) // checked by --after's validator
    if (auto id = task_id::parse(text))
      spec.after.push_back(*id);
  if (t.after_policy == "ended")
    spec.after_if = after_policy::ended;
  spec.pass_results = t.pass_results;
  return spec;
}

class caf_backend : public backend {
  // Helpers first: their deduced return types are used below.
  template <class... Ts>
  auto ask(Ts&&... xs) {
    return (*self_)->request(gw_, timeout_, std::forward<Ts>(xs)...);
  }

  int print(const task_view& v) {
    std::cout << http::render_task(v) << "\n";
    return exit_ok;
  }

  int print_caf_error(const caf::error& err) {
    if (err.category() == caf::atom("actorq")) {
      std::cout << http::render_error(http::from_actor_error(err)) << "\n";
      return exit_failed;
    }
    return print_error(system_->render(err), "unavailable");
  }

  auto on_error(int* rc = nullptr) {
    return [this, rc](caf::error& err) {
      auto code = print_caf_error(err);
      if (rc != nullptr)
        *rc = code;
    };
  }

  int http_only(const std::string& what) {
    std::cerr << "actorq-cli: " << what << " needs the HTTP API (--url or "
              << "ACTORQ_URL): the gateway (--connect) serves submit, "
              << "status, wait, cancel ID, batch and nodes" << std::endl;
    return exit_usage;
  }

public:
  explicit caf_backend(const connection& c)
      : tls_{c.tls_certificate, c.tls_key, c.tls_ca_file},
        timeout_(c.timeout) {
  }

  /// "" or a usage problem; exits with status 1 when unreachable.
  std::string start(const std::string& address) {
    std::string host;
    uint16_t port = 0;
    if (!split_host_port(address, host, port))
      return "--connect must be HOST:PORT, got '" + address + "'";
    if (auto problem = tls_.check(); !problem.empty())
      return problem;
    register_gateway_types(cfg_);
    prepare_network(cfg_, tls_);
    cfg_.set("logger.console-verbosity", caf::atom("quiet"));
    auto& sys = start_system(system_, cfg_, "actorq-cli");
    auto gw = connect_gateway(sys, host, port, tls_.enabled());
    if (!gw) {
      std::cerr << "actorq-cli: cannot connect to actorq's gateway at "
                << address << " (" << sys.render(gw.error())
                << "). Check that actorq runs there with --cluster.port="
                << port << " (the gateway's port, not the HTTP one: use "
                << "--url for HTTP)"
                << (tls_.enabled() ? " and that its certificate and yours "
                                     "come from one CA"
                                   : " and whether it wants TLS (--tls.*)")
                << "." << std::endl;
      // CAF 0.17 can crash tearing down after a refused TLS handshake.
      std::_Exit(exit_failed);
    }
    gw_ = *gw;
    self_.emplace(sys);
    return "";
  }

  int submit(const std::string& kind, const json& input,
             const task_options& task, std::chrono::seconds wait) override {
    auto spec = make_spec(kind, task);
    spec.input.value = input;
    std::optional<task_view> submitted;
    int rc = exit_ok;
    ask(submit_atom::value, std::move(spec))
      .receive([&](task_view& v) { submitted = std::move(v); },
               on_error(&rc));
    if (!submitted)
      return rc;
    if (wait.count() > 0)
      return wait_for(submitted->id, wait);
    return print(*submitted);
  }

  // Ids were checked on the command line (cli.cpp).
  int status(const std::string& id) override {
    int rc = exit_ok;
    ask(get_atom::value, *task_id::parse(id))
      .receive([&](task_view& v) { rc = print(v); }, on_error(&rc));
    return rc;
  }

  int wait(const std::string& id, std::chrono::seconds timeout) override {
    return wait_for(*task_id::parse(id), timeout);
  }

  int wait_for(const task_id& id, std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int rc = exit_ok;
    for (bool done = false; !done && rc == exit_ok;) {
      ask(wait_atom::value, id, int64_t{30000})
        .receive(
          [&](task_view& v) {
            done = is_terminal(v.status)
                   || std::chrono::steady_clock::now() >= deadline;
            if (done)
              rc = print(v);
          },
          on_error(&rc));
    }
    return rc;
  }

  int cancel(const std::string& id) override {
    int rc = exit_ok;
    ask(cancel_atom::value, *task_id::parse(id))
      .receive([&](task_view& v) { rc = print(v); }, on_error(&rc));
    return rc;
  }

  int nodes() override {
    int rc = exit_ok;
    ask(nodes_atom::value)
      .receive(
        [&](std::vector<node_view>& xs) {
          std::cout << http::render_nodes(xs) << "\n";
        },
        on_error(&rc));
    return rc;
  }

  int batch(const std::string& kind, std::vector<json> inputs,
            const task_options& task, size_t chunk) override {
    batch_spec base;
    base.task = make_spec(kind, task);
    std::vector<json_value> items;
    items.reserve(inputs.size());
    for (auto& x : inputs)
      items.push_back({std::move(x)});
    auto total = items.size();
    bool bar = ::isatty(2) != 0;
    auto& self = *self_;
    spawn_batch_driver(*system_, gw_, base, std::move(items),
                       chunk, timeout_, caf::actor{self});
    if (bar)
      draw_progress(0, total);
    int rc = exit_ok;
    batch_result all;
    for (bool running = true; running;)
      self->receive(
        [&](caf::atom_value, size_t done) {
          if (bar)
            draw_progress(done, total);
        },
        [&](batch_result& r) {
          all = std::move(r);
          running = false;
        },
        [&](caf::error& err) {
          rc = print_caf_error(err);
          running = false;
        });
    if (bar)
      std::fprintf(stderr, "\n");
    if (rc == exit_ok)
      std::cout << http::render_batch(all) << "\n";
    return rc;
  }

  int list(const list_options&) override {
    return http_only("list");
  }

  // Operator actions are HTTP routes only: the gateway's interface is for
  // programs that run tasks, not for operating actorq.
  int cancel_many(const std::string&, const std::string&) override {
    return http_only("cancel --status/--kind");
  }

  int retry(const std::string&) override {
    return http_only("retry");
  }

  int pause(const std::string&, bool paused) override {
    return http_only(paused ? "pause" : "resume");
  }

  int info(const std::string& what) override {
    return http_only(what);
  }

private:
  tls_files tls_;
  std::chrono::seconds timeout_;
  caf::actor_system_config cfg_;
  std::optional<caf::actor_system> system_; // after cfg_: it uses cfg_
  gateway_actor gw_;
  std::optional<caf::scoped_actor> self_;
};

} // namespace

std::string make_caf_backend(const connection& c,
                             std::unique_ptr<backend>& out) {
  auto b = std::make_unique<caf_backend>(c);
  if (auto problem = b->start(c.connect); !problem.empty())
    return problem;
  out = std::move(b);
  return "";
}

} // namespace actorq::cli
