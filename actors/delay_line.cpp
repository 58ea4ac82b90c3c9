#include "actors/delay_line.hpp"

namespace actorq {

void delay_line::push(time_point due, attempt_done done) {
  auto seq = done.seq;
  if (held_.emplace(seq, std::move(done)).second)
    order_.emplace(due, seq);
}

bool delay_line::remove(uint64_t seq) {
  return held_.erase(seq) > 0;
}

void delay_line::drop_removed() {
  while (!order_.empty() && held_.count(order_.top().second) == 0)
    order_.pop();
}

std::vector<attempt_done> delay_line::pop_due(time_point now) {
  std::vector<attempt_done> due;
  for (drop_removed(); !order_.empty() && order_.top().first <= now;
       drop_removed()) {
    auto i = held_.find(order_.top().second);
    due.push_back(std::move(i->second));
    held_.erase(i);
    order_.pop();
  }
  return due;
}

std::optional<delay_line::time_point> delay_line::next() {
  drop_removed();
  if (order_.empty())
    return std::nullopt;
  return order_.top().first;
}

} // namespace actorq
