#include "actors/sync_queue.hpp"

namespace actorq {

void sync_queue::settle(entry& e, const std::string& error) {
  e.settled = true;
  if (!error.empty() && e.batch.error.empty())
    e.batch.error = error;
}

void sync_queue::written(store_batch batch) {
  auto ticket = batch.ticket;
  batches_.push_back({std::move(batch), ticket == 0});
  if (ticket == 0)
    return;
  last_ticket_ = ticket;
  // Tickets rise with every answer: a report below this one covers no
  // answer still to come.
  while (!reports_.empty() && reports_.front().ticket < ticket)
    reports_.pop_front();
  if (!reports_.empty())
    settle(batches_.back(), reports_.front().error);
}

void sync_queue::synced(uint64_t ticket, const std::string& error) {
  for (auto& e : batches_)
    if (!e.settled && e.batch.ticket <= ticket)
      settle(e, error);
  if (ticket > last_ticket_) // covers answers still on their way
    reports_.push_back({ticket, error});
}

void sync_queue::fail_all(const std::string& error) {
  for (auto& e : batches_)
    if (!e.settled)
      settle(e, error);
  reports_.clear();
}

std::vector<store_batch> sync_queue::take_settled() {
  std::vector<store_batch> out;
  while (!batches_.empty() && batches_.front().settled) {
    out.push_back(std::move(batches_.front().batch));
    batches_.pop_front();
  }
  return out;
}

} // namespace actorq
