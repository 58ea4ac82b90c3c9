// Store faults against the real binary and real filesystems: a full disk, a
// read-only store, the store file deleted, renamed or replaced while actorq
// runs, and a stalled (frozen) disk. Nothing that was not committed is ever
// acknowledged, listed or kept under its idempotency key.
//
// These cases mount filesystems (tmpfs, loop-mounted ext4), use chattr and
// fsfreeze: they need root, as CI has. Every mount, freeze and immutable flag
// is undone by a scope guard, so a failing case never leaves the machine
// frozen or a mount behind.
#include "server.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <unistd.h>

using namespace itest;
namespace fs = std::filesystem;

namespace {

/// Runs a shell command; its exit status (0 = success).
int sh(const std::string& cmd) {
  auto rc = std::system((cmd + " >/dev/null 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

void must(const std::string& cmd) {
  INFO("command: " << cmd);
  REQUIRE(sh(cmd) == 0);
}

/// A fresh folder under the system temp dir, removed at the end.
struct temp_dir {
  std::string path;
  temp_dir() {
    auto base = fs::temp_directory_path().string() + "/actorq-faults-XXXXXX";
    std::vector<char> name(base.begin(), base.end());
    name.push_back('\0');
    REQUIRE(::mkdtemp(name.data()) != nullptr);
    path = name.data();
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// A small filesystem mounted on a temp folder: tmpfs of `size`, or an
/// ext4 image of `size` on a loop device. Unmounted (lazily, if still busy)
/// at the end; the destructor also thaws it in case a test froze it.
struct mounted {
  temp_dir dir;
  std::string mnt;
  std::string image;
  mounted(const std::string& type, const std::string& size) {
    mnt = dir.path + "/mnt";
    fs::create_directories(mnt);
    if (type == "tmpfs") {
      must("mount -t tmpfs -o size=" + size + " tmpfs " + mnt);
    } else {
      image = dir.path + "/fs.img";
      must("truncate -s " + size + " " + image);
      must("mkfs.ext4 -q -F " + image);
      must("mount -o loop " + image + " " + mnt);
    }
  }
  ~mounted() {
    sh("fsfreeze --unfreeze " + mnt);
    sh("chattr -R -i " + mnt);
    if (sh("umount " + mnt) != 0)
      sh("umount -l " + mnt);
  }
};

/// Freezes a mounted filesystem; thawed when the guard ends.
struct frozen {
  std::string mnt;
  explicit frozen(std::string m) : mnt(std::move(m)) {
    must("fsfreeze --freeze " + mnt);
  }
  void thaw() {
    if (!mnt.empty())
      sh("fsfreeze --unfreeze " + mnt);
    mnt.clear();
  }
  ~frozen() {
    thaw();
  }
};

/// chattr +i on files; -i when the guard ends.
struct immutable {
  std::vector<std::string> files;
  explicit immutable(std::vector<std::string> fs_) : files(std::move(fs_)) {
    for (auto& f : files)
      must("chattr +i " + f);
  }
  void lift() {
    for (auto& f : files)
      sh("chattr -i " + f);
    files.clear();
  }
  ~immutable() {
    lift();
  }
};

/// POST /v1/tasks with an Idempotency-Key as a full Reply: unlike the
/// harness's post_keyed(), a transport failure is an answer here, not an error.
Reply keyed_post(const Server& srv, const std::string& key, const json& body) {
  auto cli = srv.client();
  httplib::Headers headers;
  if (!key.empty())
    headers.emplace("Idempotency-Key", key);
  auto t0 = Clock::now();
  auto res = cli.Post("/v1/tasks", headers, body.dump(), "application/json");
  Reply r;
  r.method = "POST";
  r.path = "/v1/tasks";
  r.elapsed = std::chrono::milliseconds{ms_since(t0)};
  if (!res) {
    r.error = httplib::to_string(res.error());
    return r;
  }
  r.status = res->status;
  r.body = res->body;
  r.headers = res->headers;
  r.body_json = json::parse(r.body, nullptr, false);
  r.is_json = !r.body_json.is_discarded();
  return r;
}

const json square = {{"kind", "square"}, {"input", {{"value", 7}}}};

/// Every task listed (the default page is enough here).
json listed(const Server& srv, const std::string& query = "") {
  auto r = srv.get("/v1/tasks?limit=100" + query);
  REQUIRE_STATUS(r, 200);
  return r.j()["tasks"];
}

/// A 503 whose detail mentions `text`. (The code is not checked yet: the
/// HTTP codec still renders every `unavailable` actor error as
/// "shutting_down"; telling them apart is the HTTP layer's to do.)
void check_unavailable(const Reply& r, const std::string& text = "") {
  INFO("reply: " << r);
  CHECK_ERROR(r, 503, "unavailable", "");
  if (!text.empty() && r.is_json && r.j().contains("detail"))
    CHECK(r.j()["detail"].get<std::string>().find(text) != std::string::npos);
}

/// Fills a filesystem to the last block.
void fill(const std::string& mnt) {
  sh("dd if=/dev/zero of=" + mnt + "/filler bs=64k");
  sh("dd if=/dev/zero of=" + mnt + "/filler2 bs=4k");
  for (int i = 0; i < 64; ++i)
    sh("echo x > " + mnt + "/small-" + std::to_string(i));
}

/// The path-watch case: `damage` makes the store's path name another file
/// (or none) while actorq runs.
void path_case(const std::function<void(const std::string&)>& damage) {
  temp_dir dir;
  auto path = dir.path + "/store.db";
  std::string first;
  {
    Server srv{{"--store.path=" + path}};
    first = submit(srv, square);
    wait_terminal(srv, first);
    damage(path);
    auto t0 = Clock::now();
    Reply health;
    bool noticed = wait_until(
        [&] {
          health = srv.get("/healthz");
          return health.status == 503;
        },
        3s, 20ms);
    auto took = ms_since(t0);
    INFO("healthz: " << health);
    REQUIRE(noticed);
    CHECK(took < 1500); // within a second (+ polling slack)
    CHECK(health.j()["status"] == "store_unavailable");
    CHECK(health.j()["detail"].get<std::string>().find(path)
          != std::string::npos);
    // Not ready for new work either, saying why.
    auto ready = srv.get("/readyz");
    CHECK_STATUS(ready, 503);
    CHECK(ready.j()["status"] == "store_unavailable");
    // Refused, naming the path, however often; nothing phantom listed.
    for (auto key : {"", "K-path", "K-path"}) {
      auto r = keyed_post(srv, key, square);
      check_unavailable(r, path);
    }
    CHECK(srv.post("/submit-task", json{{"value", 1}}).status == 503);
    auto all = listed(srv);
    REQUIRE(all.size() == 1);
    CHECK(all[0]["id"] == first);
    // Reads still work (from memory and the open file).
    CHECK(get_task(srv, first)["status"] == "succeeded");
    srv.kill(SIGTERM);
    CHECK(srv.wait_exit(10s).code == 0);
  }
  // A restart opens (or creates) whatever the path names now.
  Server again{{"--store.path=" + path}};
  REQUIRE_STATUS(again.get("/healthz"), 200);
  REQUIRE_STATUS(again.get("/readyz"), 200);
  auto r = keyed_post(again, "K-path", square);
  REQUIRE_STATUS(r, 202);
  CHECK(wait_terminal(again, r.j()["id"])["status"] == "succeeded");
}

} // namespace

TEST_CASE("store faults: a full disk answers 503, keeps no task and no key, "
          "the key works once space is back",
          "[store-faults][disk-full]") {
  REQUIRE(::geteuid() == 0); // CI runs as root: mounts need it
  mounted disk{"tmpfs", "4m"};
  auto path = disk.mnt + "/store.db";
  std::string id;
  {
    Server srv{{"--store.path=" + path}};
    auto warm = submit(srv, square);
    wait_terminal(srv, warm);
    fill(disk.mnt);
    auto r = keyed_post(srv, "K", square);
    check_unavailable(r, path);
    CHECK(listed(srv, "&status=failed").empty());
    CHECK(listed(srv).size() == 1); // only the task stored before
    // Retrying the key while the disk is still full: 503 again, no phantom.
    r = keyed_post(srv, "K", square);
    check_unavailable(r, "could not be stored");
    CHECK(listed(srv).size() == 1);
    CHECK(srv.post("/submit-task", json{{"value", 1}}).status == 503);
    // Space back: the same key creates the task, and it runs.
    std::error_code ec;
    fs::remove(disk.mnt + "/filler", ec);
    fs::remove(disk.mnt + "/filler2", ec);
    r = keyed_post(srv, "K", square);
    REQUIRE_STATUS(r, 202);
    id = r.j()["id"];
    CHECK(wait_terminal(srv, id)["status"] == "succeeded");
    auto again = keyed_post(srv, "K", square);
    REQUIRE_STATUS(again, 202);
    CHECK(again.j()["id"] == id);
    CHECK(listed(srv).size() == 2);
    REQUIRE_STATUS(srv.get("/healthz"), 200);
    srv.kill(SIGTERM);
    CHECK(srv.wait_exit(10s).code == 0);
  }
  Server restarted{{"--store.path=" + path}};
  auto t = get_task(restarted, id);
  CHECK(t["status"] == "succeeded");
  CHECK(t["result"] == json{{"result", 49}});
  auto r = keyed_post(restarted, "K", square);
  REQUIRE_STATUS(r, 202);
  CHECK(r.j()["id"] == id);
  CHECK(listed(restarted).size() == 2);
}

TEST_CASE("store faults: a read-only store answers 503 and recovers at the "
          "next submission once writable",
          "[store-faults][read-only]") {
  REQUIRE(::geteuid() == 0);
  mounted disk{"ext4", "16M"};
  auto path = disk.mnt + "/store.db";
  Server srv{{"--store.path=" + path}};
  auto warm = submit(srv, square);
  wait_terminal(srv, warm);
  std::vector<std::string> files{path};
  if (fs::exists(path + "-wal"))
    files.push_back(path + "-wal");
  {
    immutable ro{files};
    for (auto key : {"R", "R", ""}) {
      auto r = keyed_post(srv, key, square);
      check_unavailable(r, path);
    }
    CHECK(listed(srv).size() == 1);
    ro.lift();
    // Writable again: the very next submission is stored.
    auto r = keyed_post(srv, "R", square);
    INFO("reply: " << r);
    REQUIRE_STATUS(r, 202);
    CHECK(r.elapsed < 1000ms);
    CHECK(wait_terminal(srv, r.j()["id"])["status"] == "succeeded");
  }
  CHECK(listed(srv).size() == 2);
  REQUIRE_STATUS(srv.get("/healthz"), 200);
}

TEST_CASE("store faults: the store file deleted while actorq runs is noticed "
          "within a second, submissions get 503 naming it until a restart",
          "[store-faults][path]") {
  path_case([](const std::string& path) { REQUIRE(fs::remove(path)); });
}

TEST_CASE("store faults: the store file renamed while actorq runs is noticed "
          "the same way",
          "[store-faults][path]") {
  path_case([](const std::string& path) {
    fs::rename(path, path + ".moved");
  });
}

TEST_CASE("store faults: the store file replaced by another while actorq "
          "runs is noticed the same way",
          "[store-faults][path]") {
  path_case([](const std::string& path) {
    std::ofstream{path + ".new"} << "";
    fs::rename(path + ".new", path);
  });
}

TEST_CASE("store faults: a stalled disk answers 503 after store.write-timeout "
          "while /healthz answers, the late write runs the task and its key "
          "returns it",
          "[store-faults][stall]") {
  REQUIRE(::geteuid() == 0);
  mounted disk{"ext4", "16M"};
  auto path = disk.mnt + "/store.db";
  Server srv{{"--store.path=" + path, "--store.write-timeout=500ms"}};
  auto warm = submit(srv, square);
  wait_terminal(srv, warm);
  std::string id;
  {
    frozen ice{disk.mnt};
    auto t0 = Clock::now();
    auto pending = std::async(std::launch::async,
                              [&] { return keyed_post(srv, "S", square); });
    // Health answers while the write hangs (503 once it is overdue).
    std::this_thread::sleep_for(100ms);
    auto health = srv.get("/healthz");
    CHECK(health.status != 0);
    CHECK(health.elapsed < 1000ms);
    auto r = pending.get();
    auto took = ms_since(t0);
    check_unavailable(r, "store.write-timeout");
    CHECK(took >= 400);
    CHECK(took < 3000);
    // Overdue: health says so at once, new submissions get 503 at once, and
    // the key stays reserved (no second task).
    health = srv.get("/healthz");
    INFO("healthz: " << health);
    CHECK(health.status == 503);
    CHECK(health.elapsed < 1000ms);
    CHECK(health.j()["status"] == "store_unavailable");
    auto fresh = keyed_post(srv, "", square);
    check_unavailable(fresh);
    CHECK(fresh.elapsed < 1000ms);
    auto retry = keyed_post(srv, "S", square);
    check_unavailable(retry, "Idempotency-Key");
    CHECK(retry.elapsed < 1000ms);
    ice.thaw();
    // The late write commits: the key returns its task, which runs.
    Reply back;
    REQUIRE(wait_until(
        [&] {
          back = keyed_post(srv, "S", square);
          return back.status == 202;
        },
        10s, 20ms));
    id = back.j()["id"];
    CHECK(wait_terminal(srv, id)["status"] == "succeeded");
  }
  auto again = keyed_post(srv, "S", square);
  REQUIRE_STATUS(again, 202);
  CHECK(again.j()["id"] == id);
  CHECK(listed(srv).size() == 2); // warm + S: never a second task for S
  REQUIRE_STATUS(srv.get("/healthz"), 200);
  srv.kill(SIGTERM);
  CHECK(srv.wait_exit(10s).code == 0);
}
