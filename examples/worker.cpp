// A worker program for a remote kind: it joins a running actorq over CAF and
// serves `wordcount` ({"text": "..."} → {"words": n}) with its own actors.
// Needs only include/actorq/gateway.hpp and CAF 0.17; copy both into your
// program and replace count_words() with your own work.
//
// The head declares the kind (configs/examples.ini):
//   [pools.text]
//   size = 0              ; capacity = the workers that joined
//   [kinds.wordcount]
//   runner = "remote"
//   pool = "text"
// and publishes its gateway: build/bin/actorq --cluster.port=4242 ...
//
// Build this file on its own:
//   g++ -std=c++17 worker.cpp -I include -o worker
//       -lcaf_openssl -lcaf_io -lcaf_core -lssl -lcrypto -lpthread
// Run it:  ./worker 127.0.0.1 4242 [--workers=4] [--name=wc-1]
//                   [--tls=CERT,KEY,CA]
//
// Each worker actor runs one message at a time (one attempt, or a chunk of
// them when many wait), so --workers is this program's share of the pool's
// concurrency. An input may carry "delay_ms"
// (simulated work: progress is reported halfway) and "fail": true (a failed
// attempt, retried by the head's policy). When the head goes away the program
// rejoins with backoff; SIGINT/SIGTERM stop it.
#include "actorq/gateway.hpp"

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <atomic>
#include <csignal>
#include <iostream>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace {

using done_atom = caf::atom_constant<caf::atom("done")>;
using half_atom = caf::atom_constant<caf::atom("half")>;

/// The public interface plus timers of our own: a delayed attempt reports
/// progress halfway and is finished by a timer, so a worker never blocks
/// its thread.
using wordcount_actor = actorq::kind_worker_actor::extend<
    caf::reacts_to<done_atom, uint64_t>, caf::reacts_to<half_atom, uint64_t>>;

struct wordcount_state {
  static inline const char* name = "wordcount";
  std::vector<uint64_t> seqs; // the items in progress (a delayed batch)
  std::vector<actorq::work_result> results;
  caf::typed_response_promise<std::vector<actorq::work_result>> promise;
  actorq::work_sink_actor sink; // where progress goes
};

actorq::work_result count_words(const actorq::json& input) {
  auto text = input.find("text");
  if (text == input.end() || !text->is_string())
    return {false, {}, "input.text must be a string", true}; // permanent
  if (input.value("fail", false))
    return {false, {}, "failed as asked (input.fail)", false};
  std::istringstream words{text->get<std::string>()};
  int64_t n = 0;
  for (std::string w; words >> w;)
    ++n;
  return {true, {actorq::json{{"words", n}}}, {}, false};
}

/// Tells the head how far the delayed items have come.
void report(wordcount_actor::stateful_pointer<wordcount_state> self,
            double fraction, const std::string& message) {
  for (auto seq : self->state.seqs)
    self->send(self->state.sink, actorq::work_progress{seq, fraction, message});
}

wordcount_actor::behavior_type
wordcount(wordcount_actor::stateful_pointer<wordcount_state> self) {
  return {
      // The head sends one item, or a chunk when many wait: answer one
      // result per item, in order.
      [=](std::vector<actorq::work_item>& items)
          -> caf::result<std::vector<actorq::work_result>> {
        std::vector<actorq::work_result> results;
        int64_t delay = 0;
        for (auto& w : items) {
          results.push_back(count_words(w.input.value));
          delay = std::max(delay, w.input.value.value("delay_ms", int64_t{0}));
        }
        if (delay <= 0)
          return results;
        // Simulated slow work: answer later, without blocking the thread.
        auto& st = self->state;
        st.seqs.clear();
        for (auto& w : items)
          st.seqs.push_back(w.seq);
        st.results = std::move(results);
        st.sink = caf::actor_cast<actorq::work_sink_actor>(
            self->current_sender());
        st.promise =
            self->make_response_promise<std::vector<actorq::work_result>>();
        report(self, 0.0, "started");
        auto first = st.seqs.front();
        self->delayed_send(self, std::chrono::milliseconds{delay / 2},
                           half_atom::value, first);
        self->delayed_send(self, std::chrono::milliseconds{delay},
                           done_atom::value, first);
        return st.promise;
      },
      [=](half_atom, uint64_t first) {
        auto& st = self->state;
        if (!st.seqs.empty() && st.seqs.front() == first)
          report(self, 0.5, "halfway there");
      },
      [=](actorq::cancel_atom, uint64_t seq) {
        // The head dropped this item: its result will be discarded. A real
        // worker would stop its work here; ours has none to stop.
        (void) seq;
      },
      [=](done_atom, uint64_t first) {
        auto& st = self->state;
        if (st.seqs.empty() || st.seqs.front() != first)
          return;
        report(self, 1.0, "done");
        st.seqs.clear();
        st.promise.deliver(std::move(st.results));
      },
  };
}

std::atomic<bool> stopping{false};

std::string flag(int argc, char** argv, const std::string& name,
                 std::string fallback) {
  auto prefix = "--" + name + "=";
  for (int i = 3; i < argc; ++i)
    if (std::string{argv[i]}.rfind(prefix, 0) == 0)
      return argv[i] + prefix.size();
  return fallback;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: worker HOST PORT [--workers=N] [--name=NAME] "
                 "[--tls=CERT,KEY,CA]\n";
    return 2;
  }
  std::string host = argv[1];
  auto port = static_cast<uint16_t>(std::stoi(argv[2]));
  auto workers = std::stoi(flag(argc, argv, "workers", "4"));
  auto name = flag(argc, argv, "name", "wordcount-" + std::to_string(::getpid()));
  auto tls = flag(argc, argv, "tls", "");
  caf::actor_system_config cfg;
  actorq::register_gateway_types(cfg);
  cfg.load<caf::io::middleman>();
  if (!tls.empty()) {
    // CERT,KEY,CA: signed by the CA the head trusts (README, TLS).
    cfg.load<caf::openssl::manager>();
    std::istringstream parts{tls};
    std::getline(parts, cfg.openssl_certificate, ',');
    std::getline(parts, cfg.openssl_key, ',');
    std::getline(parts, cfg.openssl_cafile, ',');
  }
  caf::actor_system sys{cfg};
  std::signal(SIGINT, [](int) { stopping = true; });
  std::signal(SIGTERM, [](int) { stopping = true; });
  actorq::worker_offer offer;
  offer.name = name;
  offer.address = "pid " + std::to_string(::getpid());
  for (int i = 0; i < workers; ++i)
    offer.workers.push_back({"wordcount", sys.spawn(wordcount)});
  // The head monitors this actor: when the program goes, so do its workers.
  caf::scoped_actor self{sys};
  auto backoff = std::chrono::milliseconds{100};
  bool refused = false;
  while (!stopping) {
    auto gw = tls.empty()
                  ? sys.middleman().remote_actor<actorq::gateway_actor>(host,
                                                                        port)
                  : caf::openssl::remote_actor<actorq::gateway_actor>(
                      sys, host, port);
    bool joined = false;
    if (gw)
      self->request(*gw, std::chrono::seconds{10}, actorq::join_atom::value,
                    offer)
        .receive(
          [&](uint32_t n) {
            std::cout << name << " joined " << host << ":" << port << " with "
                      << n << " wordcount workers" << std::endl;
            joined = true;
          },
          [&](caf::error& err) {
            std::cerr << "the head refused: " << sys.render(err) << "\n";
            refused = true; // a config mismatch does not fix itself
            stopping = true;
          });
    else
      std::cerr << "cannot reach " << host << ":" << port << ": "
                << sys.render(gw.error()) << "; retrying\n";
    if (!joined) {
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds{5000});
      continue;
    }
    backoff = std::chrono::milliseconds{100};
    self->monitor(*gw);
    bool lost = false;
    while (!stopping && !lost)
      self->receive([&](caf::down_msg&) { lost = true; },
                    caf::after(std::chrono::milliseconds{100}) >> [] {});
    if (lost)
      std::cerr << "lost the head; rejoining\n";
  }
  for (auto& w : offer.workers)
    caf::anon_send_exit(w.worker, caf::exit_reason::user_shutdown);
  return refused ? 1 : 0;
}
