// Reads on the HTTP threads (registry_reads): GET /v1/tasks/{id} and the
// seed routes read the registry's state directly while the registry writes
// it. Many readers race many writers here, with tasks running, ending and
// being evicted to the store, and every answer must still be one the
// registry could have given.
#include "server.hpp"

#include <mutex>
#include <random>

using namespace itest;

namespace {

int rank(const std::string& status) {
  if (status == "queued")
    return 0;
  if (status == "running")
    return 1;
  return is_terminal(status) ? 2 : -1;
}

} // namespace

TEST_CASE("reads: GETs racing submissions, runs and eviction answer "
          "consistent views",
          "[reads]") {
  Server srv{{"--store.path=" + fresh_store_path(), "--store.memory-tasks=40",
              "--seed.delay-scale=0.05"}};
  // id → the value it squares; filled by the writers, read by the readers.
  std::mutex mu;
  std::vector<std::pair<std::string, int>> known;
  std::atomic<bool> stop{false};
  std::mutex problems_mu;
  std::vector<std::string> problems;
  auto problem = [&](std::string what) {
    std::lock_guard<std::mutex> lock{problems_mu};
    if (problems.size() < 20)
      problems.push_back(std::move(what));
  };
  std::atomic<int> reads{0}, from_memory_or_store{0};

  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w)
    writers.emplace_back([&, w] {
      auto cli = srv.client();
      for (int i = 0; i < 150; ++i) {
        int value = w * 1000 + i;
        json body{{"kind", "square"}, {"input", {{"value", value}}}};
        auto r = cli.Post("/v1/tasks", body.dump(), "application/json");
        if (!r || r->status != 202) {
          problem("submit answered " + (r ? std::to_string(r->status) : "nothing"));
          continue;
        }
        auto id = json::parse(r->body)["id"].get<std::string>();
        std::lock_guard<std::mutex> lock{mu};
        known.emplace_back(id, value);
      }
    });
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t)
    readers.emplace_back([&, t] {
      auto cli = srv.client();
      std::mt19937 rng(static_cast<unsigned>(t));
      std::map<std::string, int> last_rank; // statuses never go back
      while (!stop.load()) {
        std::pair<std::string, int> task;
        {
          std::lock_guard<std::mutex> lock{mu};
          if (known.empty())
            continue;
          task = known[rng() % known.size()];
        }
        auto seed = rng() % 4 == 0;
        auto path = (seed ? "/task-status/" : "/v1/tasks/") + task.first;
        auto r = cli.Get(path.c_str());
        ++reads;
        if (!r || r->status != 200) {
          problem(path + " answered " + (r ? std::to_string(r->status) + " " + r->body
                                            : "nothing"));
          continue;
        }
        auto v = json::parse(r->body);
        if (seed)
          continue; // its shape is checked by the seed route tests
        ++from_memory_or_store;
        auto status = v["status"].get<std::string>();
        if (v["id"] != task.first || v["kind"] != "square" || rank(status) < 0)
          problem("a wrong view: " + r->body);
        if (status == "succeeded" && v["result"] != json{{"result", task.second * task.second}})
          problem("a wrong result: " + r->body);
        auto& seen = last_rank[task.first];
        if (rank(status) < seen)
          problem("status went back to " + status + ": " + r->body);
        seen = std::max(seen, rank(status));
      }
    });
  // Unknown ids are 404 with the JSON error, also while all this runs.
  for (int i = 0; i < 50; ++i) {
    auto r = srv.get("/v1/tasks/" + random_uuid4());
    CHECK(r.status == 404);
    CHECK(r.j()["code"] == "not_found");
  }
  for (auto& w : writers)
    w.join();
  // Every task ends; readers keep reading while the last ones do and while
  // the sweep evicts the old ones from memory.
  std::vector<std::pair<std::string, int>> all;
  {
    std::lock_guard<std::mutex> lock{mu};
    all = known;
  }
  for (auto& [id, value] : all)
    wait_terminal(srv, id, 30s);
  std::this_thread::sleep_for(1500ms);
  stop = true;
  for (auto& r : readers)
    r.join();
  for (auto& p : problems)
    FAIL_CHECK(p);
  CHECK(problems.empty());
  CHECK(all.size() == 450);
  CHECK(reads > 450);
  // Evicted or not, each answers its own result (from memory or the store).
  for (auto& [id, value] : all) {
    auto v = get_task(srv, id);
    CHECK(v["status"] == "succeeded");
    CHECK(v["result"] == json{{"result", value * value}});
  }
  // And a long-poll of an ended task answers at once with the same view.
  auto first = all.front().first;
  auto polled = srv.get("/v1/tasks/" + first + "?wait_ms=5000");
  CHECK(polled.status == 200);
  CHECK(polled.elapsed < 2s);
  CHECK(polled.j() == get_task(srv, first));
}
