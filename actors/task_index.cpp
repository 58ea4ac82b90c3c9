#include "actors/task_index.hpp"

namespace actorq {

uint64_t task_index::find(const task_id& id, id_of_fn id_of) const {
  if (slots_.empty())
    return 0;
  auto mask = slots_.size() - 1;
  for (auto i = home(id);; i = (i + 1) & mask) {
    auto seq = slots_[i];
    if (seq == 0 || id_of(seq) == id)
      return seq;
  }
}

void task_index::place(uint64_t seq, const task_id& id) {
  auto mask = slots_.size() - 1;
  auto i = home(id);
  while (slots_[i] != 0)
    i = (i + 1) & mask;
  slots_[i] = seq;
}

void task_index::insert(uint64_t seq, const task_id& id, id_of_fn id_of) {
  if (2 * (size_ + 1) > slots_.size()) {
    size_t n = min_capacity;
    while (n < 4 * (size_ + 1))
      n *= 2;
    std::vector<uint64_t> old(n, 0);
    old.swap(slots_);
    for (auto s : old)
      if (s != 0)
        place(s, id_of(s));
  }
  place(seq, id);
  ++size_;
}

bool task_index::erase(uint64_t seq, const task_id& id, id_of_fn id_of) {
  if (slots_.empty() || seq == 0)
    return false;
  auto mask = slots_.size() - 1;
  auto i = home(id);
  while (slots_[i] != seq) {
    if (slots_[i] == 0)
      return false;
    i = (i + 1) & mask;
  }
  // Backward-shift deletion: move later entries of the probe run into the
  // hole unless that would put them before their home slot.
  for (auto j = (i + 1) & mask; slots_[j] != 0; j = (j + 1) & mask) {
    auto h = home(id_of(slots_[j]));
    bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
    if (!stays) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = 0;
  --size_;
  return true;
}

} // namespace actorq
