// The registry's index from task id to seq: open addressing with linear
// probing, at most half full, backward-shift deletion (no tombstones).
//
// It stores seqs only (8 bytes a slot, so 16 bytes per task at the worst load
// instead of a node-based map's ~56): the ids live in the registry's records.
// Every operation that needs the id of an indexed seq takes `id_of`, a
// callable that answers it; it must answer for every seq in the index.
#pragma once

#include "actorq/gateway.hpp" // task_id, task_id_hash

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace actorq {

/// A non-owning reference to a callable (like C++26's std::function_ref):
/// two words, no allocation. Only valid while the callable lives, so take it
/// as a parameter, never store it.
template <class Signature>
class function_ref;

template <class R, class... Args>
class function_ref<R(Args...)> {
public:
  template <class F,
            class = std::enable_if_t<
                !std::is_same_v<
                    std::decay_t<F>,
                    function_ref> && std::is_invocable_r_v<R, F&, Args...>>>
  function_ref(F&& f) noexcept // NOLINT: implicit like std::function
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* obj, Args... xs) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(obj))(
              std::forward<Args>(xs)...);
        }) {}

  R operator()(Args... xs) const {
    return call_(obj_, std::forward<Args>(xs)...);
  }

private:
  void* obj_;
  R (*call_)(void*, Args...);
};

class task_index {
public:
  /// Answers the id of an indexed seq.
  using id_of_fn = function_ref<task_id(uint64_t)>;

  /// Smallest table once anything is indexed.
  static constexpr size_t min_capacity = 1024;

  /// The seq indexed under `id`, or 0.
  uint64_t find(const task_id& id, id_of_fn id_of) const;

  /// Indexes `seq` (> 0, not yet indexed) under `id`. Grows the table first
  /// when it would become more than half full: to the smallest power of two
  /// (≥ min_capacity) that leaves it at most a quarter full, re-inserting
  /// the seqs it holds (their ids come from `id_of`).
  void insert(uint64_t seq, const task_id& id, id_of_fn id_of);

  /// Removes `seq`, indexed under `id`; false if it is not there. Later
  /// entries of the probe run move back into the hole (backward shift), so
  /// lookups never need tombstones.
  bool erase(uint64_t seq, const task_id& id, id_of_fn id_of);

  /// Number of indexed seqs.
  size_t size() const {
    return size_;
  }

  /// Number of slots (0 or a power of two).
  size_t capacity() const {
    return slots_.size();
  }

private:
  size_t home(const task_id& id) const {
    return task_id_hash{}(id) & (slots_.size() - 1);
  }

  /// Puts `seq` in the first free slot from `id`'s home; no growth.
  void place(uint64_t seq, const task_id& id);

  std::vector<uint64_t> slots_; // seqs; 0 = empty
  size_t size_ = 0;
};

} // namespace actorq
