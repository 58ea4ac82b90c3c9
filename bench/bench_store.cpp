// bench_store: what the durable store's write costs per task, without HTTP,
// actors or threads in the way: task_store::write() on one thread, as the
// store actor calls it, into a fresh store file in a temporary folder.
//
//   bench_store [--tasks-per-batch=N] [--batches=B] [--sync=full|normal]
//               [--no-updates]
//
// Each batch inserts N new `double` tasks (queued) and, unless --no-updates,
// updates the N tasks of the batch before to succeeded with a result: the
// two rows every instant task costs under load (a task runs only once its
// insert is durable, so its end is a second row in a later batch). With
// --sync=full each batch's WAL is flushed (fdatasync) on this thread, as
// the WAL syncer does on its own. Prints one JSON line: microseconds per
// task and per batch.
#include "actors/store.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

using namespace actorq;

namespace {

struct options {
  int tasks_per_batch = 13; // what a durable daemon commits at 50 connections
  int batches = 3000;
  bool full_sync = false;
  bool updates = true;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "bench_store: %s\nusage: bench_store [--tasks-per-batch=N] "
               "[--batches=B] [--sync=full|normal] [--no-updates]\n",
               why.c_str());
  std::exit(2);
}

int positive(const std::string& arg, size_t from) {
  auto v = std::atoi(arg.c_str() + from);
  if (v <= 0)
    usage("not a positive number: " + arg);
  return v;
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--tasks-per-batch=", 0) == 0)
      o.tasks_per_batch = positive(a, 18);
    else if (a.rfind("--batches=", 0) == 0)
      o.batches = positive(a, 10);
    else if (a == "--sync=full")
      o.full_sync = true;
    else if (a == "--sync=normal")
      o.full_sync = false;
    else if (a == "--no-updates")
      o.updates = false;
    else
      usage("unknown argument " + a);
  }
  return o;
}

task_row new_task(uint64_t seq) {
  task_row r;
  r.seq = seq;
  r.insert = true;
  r.state.id = task_id::random();
  r.state.kind = "double";
  r.state.pool = "io";
  r.state.status = task_status::queued;
  r.state.created_at = 1764000000000 + static_cast<int64_t>(seq);
  r.spec.kind = "double";
  r.spec.input.value = json{{"value", static_cast<int64_t>(seq)}};
  r.spec.max_retries = 3;
  return r;
}

task_row ended(const task_row& inserted) {
  task_row u;
  u.seq = inserted.seq;
  u.state = inserted.state;
  u.state.status = task_status::succeeded;
  u.state.attempts = 1;
  u.state.started_at = u.state.created_at + 1;
  u.state.finished_at = u.state.created_at + 1;
  u.state.result.text = "{\"result\":" + std::to_string(2 * inserted.seq) + "}";
  return u;
}

} // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  auto dir = std::filesystem::temp_directory_path()
             / ("bench_store." + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  double total_us = 0;
  {
    auto db = task_store::open((dir / "store.db").string(), o.full_sync);
    db->sync_thread = false;
    // Rows are built before the clock starts: only write() is measured.
    std::vector<std::vector<task_row>> batches(o.batches);
    uint64_t seq = 0;
    std::vector<task_row> previous;
    for (auto& rows : batches) {
      if (o.updates)
        for (auto& p : previous)
          rows.push_back(ended(p));
      previous.clear();
      for (int i = 0; i < o.tasks_per_batch; ++i) {
        rows.push_back(new_task(++seq));
        previous.push_back(rows.back());
      }
    }
    auto start = std::chrono::steady_clock::now();
    for (auto& rows : batches) {
      db->write(rows);
      if (o.full_sync)
        if (auto error = db->sync_wal(); !error.empty())
          usage("fdatasync failed: " + error);
    }
    total_us = std::chrono::duration<double, std::micro>(
                   std::chrono::steady_clock::now() - start)
                   .count();
  }
  std::filesystem::remove_all(dir);
  auto tasks = static_cast<double>(o.tasks_per_batch) * o.batches;
  std::printf("{\"tool\":\"bench_store\",\"tasks_per_batch\":%d,\"batches\":%d,"
              "\"sync\":\"%s\",\"updates\":%s,\"us_per_task\":%.2f,"
              "\"us_per_batch\":%.1f}\n",
              o.tasks_per_batch, o.batches, o.full_sync ? "full" : "normal",
              o.updates ? "true" : "false", total_us / tasks,
              total_us / o.batches);
}
