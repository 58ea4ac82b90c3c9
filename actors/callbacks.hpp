// Completion callbacks: when a task with a `callback_url` ends, its final
// view is POSTed there, signed with callbacks.secret (X-Actorq-Signature:
// sha256=HMAC), retried with exponential backoff until a 2xx or
// callbacks.max-attempts. The registry keeps each callback's state (view and
// store) and hands deliveries to the callback sender, which retries and
// reports every attempt back; the POSTs run on posters (detached actors, a
// thread each), never on a scheduler thread. Plain functions: callbacks.cpp
// (also in the codec fuzzer); the actors and the POST: callback_sender.cpp.
#pragma once

#include "actors/actors.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <deque>
#include <string_view>
#include <vector>

namespace actorq {

/// The [callbacks] section.
struct callback_settings {
  std::string secret; // HMAC key; never logged
  int32_t max_attempts = 8;
  std::chrono::milliseconds backoff{1000};      // before the 2nd attempt
  std::chrono::milliseconds max_backoff{300000}; // cap on any delay
  std::chrono::milliseconds timeout{10000};      // per POST
  uint32_t concurrency = 4;                      // POSTs at once
};

/// When the next attempt of a delivery is due: `backoff` after the first
/// failure, doubled after each further one, at most `max_backoff`.
class callback_schedule {
public:
  callback_schedule(std::chrono::milliseconds backoff,
                    std::chrono::milliseconds max_backoff)
    : backoff_(backoff), max_backoff_(max_backoff) {}

  /// The delay after `attempts` failed attempts (>= 1).
  std::chrono::milliseconds delay(int32_t attempts) const;

private:
  std::chrono::milliseconds backoff_;
  std::chrono::milliseconds max_backoff_;
};

/// Lowercase hex of HMAC-SHA256(key, data).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

/// The X-Actorq-Signature header's value for `body`: "sha256=<hex>".
std::string callback_signature(std::string_view secret, std::string_view body);

/// Whether a task may ask for a callback to `url`: "" or why not, naming
/// the field and, if the URL is not allowed, callbacks.allowed-prefixes.
std::string check_callback_url(const std::string& url,
                               const std::vector<std::string>& prefixes);

/// POSTs one delivery and tells how it went: "" on a 2xx, else why not.
std::string post_callback(const callback_delivery& d, const std::string& secret,
                          std::chrono::milliseconds timeout);

struct callback_sender_state {
  static inline const char* name = "actorq.callbacks";
  callback_settings cfg;
  std::vector<callback_poster_actor> idle; // posters without a delivery
  uint32_t posters = 0; // spawned so far (on demand, up to concurrency)
  std::deque<callback_delivery> due;       // waiting for an idle poster
};

/// Spawns posters (linked to it) as deliveries need them, at most
/// `cfg.concurrency`: no threads for an actorq without callbacks.
callback_sender_actor::behavior_type
callback_sender(callback_sender_actor::stateful_pointer<callback_sender_state> self,
                callback_settings cfg);

} // namespace actorq
