#include "actors/actors.hpp"

#include <random>

namespace actorq {

task_id task_id::random() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  task_id id{rng(), rng()};
  id.hi = (id.hi & ~0xF000ull) | 0x4000ull;                 // version 4
  id.lo = (id.lo & ~(0xC000ull << 48)) | (0x8000ull << 48); // variant 10
  return id;
}

std::optional<task_id> task_id::parse(std::string_view text) {
  // xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
  if (text.size() != 36)
    return std::nullopt;
  task_id id;
  int nibbles = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-')
        return std::nullopt;
      continue;
    }
    uint64_t v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else
      return std::nullopt;
    auto& half = nibbles < 16 ? id.hi : id.lo;
    half = (half << 4) | v;
    ++nibbles;
  }
  return id;
}

std::string task_id::to_string() const {
  // Hand-rolled: this runs for every task rendered, and snprintf showed up
  // in the GET profile.
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t pos = 0;
  for (int i = 0; i < 32; ++i) {
    if (pos == 8 || pos == 13 || pos == 18 || pos == 23)
      ++pos;
    auto half = i < 16 ? hi : lo;
    auto shift = 60 - 4 * (i % 16);
    out[pos++] = hex[(half >> shift) & 0xF];
  }
  return out;
}

namespace {
constexpr const char* status_names[] = {"queued",    "running", "retrying",
                                        "succeeded", "failed",  "cancelled"};
} // namespace

const char* to_string(task_status x) {
  return status_names[static_cast<int>(x)];
}

std::optional<task_status> parse_task_status(std::string_view text) {
  for (int i = 0; i < 6; ++i)
    if (text == status_names[i])
      return static_cast<task_status>(i);
  return std::nullopt;
}

const char* to_string(error_code x) {
  switch (x) {
    case error_code::not_found:
      return "not_found";
    case error_code::conflict:
      return "conflict";
    case error_code::invalid:
      return "invalid";
    case error_code::busy:
      return "busy";
    case error_code::unavailable:
      return "unavailable";
    case error_code::worker_crashed:
      return "worker_crashed";
  }
  return "unknown";
}

caf::error make_error(error_code code, std::string detail) {
  return caf::error{static_cast<uint8_t>(code), caf::atom("actorq"),
                    caf::make_message(std::move(detail))};
}

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<json_value>("actorq::json_value")
      .add_message_type<raw_json>("actorq::raw_json")
      .add_message_type<task_id>("actorq::task_id")
      .add_message_type<task_status>("actorq::task_status")
      .add_message_type<task_spec>("actorq::task_spec")
      .add_message_type<task_view>("actorq::task_view")
      .add_message_type<task_filter>("actorq::task_filter")
      .add_message_type<task_page>("actorq::task_page")
      .add_message_type<batch_spec>("actorq::batch_spec")
      .add_message_type<batch_result>("actorq::batch_result")
      .add_message_type<pool_stats>("actorq::pool_stats")
      .add_message_type<outcome>("actorq::outcome")
      .add_message_type<attempt>("actorq::attempt")
      .add_message_type<attempt_done>("actorq::attempt_done")
      .add_message_type<std::vector<attempt>>("std::vector<actorq::attempt>")
      .add_message_type<std::vector<attempt_done>>(
          "std::vector<actorq::attempt_done>")
      .add_message_type<job_phase>("actorq::job_phase")
      .add_message_type<job_event>("actorq::job_event")
      .add_message_type<std::vector<job_event>>(
          "std::vector<actorq::job_event>")
      .add_message_type<job>("actorq::job")
      .add_message_type<std::vector<job>>("std::vector<actorq::job>")
      .add_message_type<job_listener_actor>("actorq::job_listener_actor")
      .add_message_type<worker_actor>("actorq::worker_actor")
      .add_message_type<task_row>("actorq::task_row")
      .add_message_type<store_batch>("actorq::store_batch");
  cfg.add_error_category(caf::atom("actorq"), [](uint8_t code, caf::atom_value,
                                                 const caf::message& ctx) {
    return std::string{"actorq."} + to_string(static_cast<error_code>(code))
           + (ctx.empty() ? "" : ": " + to_string(ctx));
  });
}

} // namespace actorq
