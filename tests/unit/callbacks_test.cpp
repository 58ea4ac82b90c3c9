// Completion callbacks: the HMAC signature, the retry schedule, which URLs a
// task may name, and one signed POST to a real local receiver.
#include "actors/callbacks.hpp"

#include <catch2/catch.hpp>
#include <httplib.h>

#include <thread>

using namespace actorq;
using namespace std::chrono_literals;

TEST_CASE("hmac_sha256_hex matches RFC 4231 test case 2", "[callbacks]") {
  CHECK(hmac_sha256_hex("Jefe", "what do ya want for nothing?")
        == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(callback_signature("Jefe", "what do ya want for nothing?")
        == "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964"
           "ec3843");
}

TEST_CASE("callback_schedule doubles the backoff up to its cap",
          "[callbacks]") {
  callback_schedule s{100ms, 1000ms};
  CHECK(s.delay(1) == 100ms);
  CHECK(s.delay(2) == 200ms);
  CHECK(s.delay(3) == 400ms);
  CHECK(s.delay(4) == 800ms);
  CHECK(s.delay(5) == 1000ms);
  CHECK(s.delay(60) == 1000ms); // no overflow however many
}

TEST_CASE("check_callback_url allows only the configured prefixes",
          "[callbacks]") {
  std::vector<std::string> none;
  std::vector<std::string> hooks{"http://127.0.0.1:9000/hooks/",
                                 "https://hooks.example/"};
  CHECK(check_callback_url("", none).empty()); // no callback asked for
  auto refused = check_callback_url("http://127.0.0.1:9000/hooks/a", none);
  CHECK(refused.find("callbacks.allowed-prefixes") != std::string::npos);
  CHECK(check_callback_url("http://127.0.0.1:9000/hooks/a", hooks).empty());
  CHECK(check_callback_url("https://hooks.example/x?y=1", hooks).empty());
  auto outside = check_callback_url("http://169.254.169.254/latest", hooks);
  CHECK(outside.find("callbacks.allowed-prefixes") != std::string::npos);
  CHECK(outside.rfind("callback_url", 0) == 0);
  CHECK(check_callback_url("ftp://hooks.example/", hooks).rfind("callback_url", 0)
        == 0);
  CHECK_FALSE(check_callback_url(std::string(3000, 'a'), hooks).empty());
}

TEST_CASE("post_callback sends the body signed and reports the answer",
          "[callbacks]") {
  httplib::Server receiver;
  std::string body, signature, task, attempt, type;
  int answer = 200;
  receiver.Post("/hook", [&](const httplib::Request& req,
                             httplib::Response& res) {
    body = req.body;
    signature = req.get_header_value("X-Actorq-Signature");
    task = req.get_header_value("X-Actorq-Task");
    attempt = req.get_header_value("X-Actorq-Attempt");
    type = req.get_header_value("Content-Type");
    res.status = answer;
  });
  auto port = receiver.bind_to_any_port("127.0.0.1");
  std::thread serving{[&] { receiver.listen_after_bind(); }};
  while (!receiver.is_running())
    std::this_thread::sleep_for(1ms);
  callback_delivery d;
  d.task = task_id::random();
  d.url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  d.body = R"({"id":"x","status":"succeeded"})";
  d.attempts = 2;
  CHECK(post_callback(d, "s3cret", 2000ms).empty());
  CHECK(body == d.body);
  CHECK(signature == "sha256=" + hmac_sha256_hex("s3cret", d.body));
  CHECK(task == d.task.to_string());
  CHECK(attempt == "3");
  CHECK(type == "application/json");
  answer = 500;
  CHECK(post_callback(d, "s3cret", 2000ms) == "the receiver answered HTTP 500");
  receiver.stop();
  serving.join();
  auto down = post_callback(d, "s3cret", 500ms);
  CHECK(down.rfind("cannot POST to http://127.0.0.1:", 0) == 0);
}
