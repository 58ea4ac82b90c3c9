// A minimal C++ client of a running actorq, talking actor to actor over CAF
// (no HTTP). Copy this file and include/actorq/gateway.hpp into your program.
//
// Start actorq with its gateway:   build/bin/actorq --cluster.port=4242
// Build this file on its own:
//   g++ -std=c++17 client.cpp -I include -lcaf_io -lcaf_core -lpthread -o client
// Run it:                          ./client 127.0.0.1 4242
#include "actorq/gateway.hpp"

#include <caf/io/all.hpp>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: client HOST PORT\n";
    return 2;
  }
  caf::actor_system_config cfg;
  actorq::register_gateway_types(cfg); // the task types and error category
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  auto port = static_cast<uint16_t>(std::stoi(argv[2]));
  auto gw = sys.middleman().remote_actor<actorq::gateway_actor>(argv[1], port);
  if (!gw) {
    std::cerr << "cannot connect: " << sys.render(gw.error()) << "\n";
    return 1;
  }
  caf::scoped_actor self{sys};
  // Submit a task: answered once the head has stored it.
  actorq::task_spec spec;
  spec.kind = "square";
  spec.input.value = {{"value", 12}};
  actorq::task_id id;
  bool ok = true;
  self->request(*gw, std::chrono::seconds{10}, actorq::submit_atom::value, spec)
    .receive([&](actorq::task_view& v) { id = v.id; },
             [&](caf::error& err) {
               std::cerr << "submit failed: " << sys.render(err) << "\n";
               ok = false;
             });
  if (!ok)
    return 1;
  std::cout << "submitted " << id.to_string() << "\n";
  // Wait for it to end (the head answers as soon as it has, or after 10 s).
  self->request(*gw, std::chrono::seconds{15}, actorq::wait_atom::value, id,
                int64_t{10000})
    .receive(
      [&](actorq::task_view& v) {
        std::cout << actorq::to_string(v.status) << ": " << v.result.text
                  << "\n";
        ok = v.status == actorq::task_status::succeeded;
      },
      [&](caf::error& err) {
        std::cerr << "wait failed: " << sys.render(err) << "\n";
        ok = false;
      });
  // A batch: results in input order.
  actorq::batch_spec batch;
  batch.task.kind = "square";
  for (int i = 1; i <= 5; ++i)
    batch.items.push_back({{{"value", i}}});
  self->request(*gw, std::chrono::seconds{30}, batch)
    .receive(
      [&](actorq::batch_result& r) {
        for (auto& x : r.results)
          std::cout << x.value.dump() << "\n";
      },
      [&](caf::error& err) {
        std::cerr << "batch failed: " << sys.render(err) << "\n";
        ok = false;
      });
  return ok ? 0 : 1;
}
