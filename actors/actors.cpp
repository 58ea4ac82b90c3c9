#include "actors/actors.hpp"
#include "actors/scheduler.hpp"

#include <random>

namespace actorq {

void register_types(caf::actor_system_config& cfg) {
  register_gateway_types(cfg);
  cfg.add_message_type<task_filter>("actorq::task_filter")
      .add_message_type<task_page>("actorq::task_page")
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
      .add_message_type<std::vector<worker_actor>>(
          "std::vector<actorq::worker_actor>")
      .add_message_type<task_row>("actorq::task_row")
      .add_message_type<schedule_mark>("actorq::schedule_mark")
      .add_message_type<std::vector<schedule_mark>>(
          "std::vector<actorq::schedule_mark>")
      .add_message_type<schedule_view>("actorq::schedule_view")
      .add_message_type<std::vector<schedule_view>>(
          "std::vector<actorq::schedule_view>")
      .add_message_type<store_batch>("actorq::store_batch")
      .add_message_type<node_counts>("actorq::node_counts")
      .add_message_type<std::vector<node_counts>>(
          "std::vector<actorq::node_counts>")
      .add_message_type<pool_actor>("actorq::pool_actor")
      .add_message_type<lease_request>("actorq::lease_request")
      .add_message_type<lease_grant>("actorq::lease_grant")
      .add_message_type<std::vector<lease_grant>>(
          "std::vector<actorq::lease_grant>")
      .add_message_type<lease_op>("actorq::lease_op")
      .add_message_type<lease_call>("actorq::lease_call")
      .add_message_type<std::vector<lease_call>>(
          "std::vector<actorq::lease_call>")
      .add_message_type<lease_answer>("actorq::lease_answer")
      .add_message_type<std::vector<lease_answer>>(
          "std::vector<actorq::lease_answer>")
      .add_message_type<lease_worker_view>("actorq::lease_worker_view")
      .add_message_type<std::vector<lease_worker_view>>(
          "std::vector<actorq::lease_worker_view>")
      .add_message_type<std::vector<uint32_t>>("std::vector<uint32_t>")
      .add_message_type<std::vector<task_id>>("std::vector<actorq::task_id>")
      .add_message_type<lease_desk_actor>("actorq::lease_desk_actor")
      .add_message_type<rate_series>("actorq::rate_series")
      .add_message_type<callback_view>("actorq::callback_view")
      .add_message_type<callback_delivery>("actorq::callback_delivery")
      .add_message_type<callback_listener_actor>(
          "actorq::callback_listener_actor");
}

} // namespace actorq
