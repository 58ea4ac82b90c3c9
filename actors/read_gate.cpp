#include "actors/read_gate.hpp"

#include <cstdlib>

namespace actorq {

read_gate::read_gate() {
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  // Writer first (see the header). Non-recursive: readers never nest.
  pthread_rwlockattr_setkind_np(&attr,
                                PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  if (pthread_rwlock_init(&lock_, &attr) != 0)
    std::abort(); // only fails without memory
  pthread_rwlockattr_destroy(&attr);
}

read_gate::~read_gate() {
  pthread_rwlock_destroy(&lock_);
}

read_gate::write_lock::write_lock(read_gate& gate) : gate_(&gate) {
  // Only this thread can have stored its own id: reading it is race-free.
  if (gate.writer_.load(std::memory_order_relaxed) == std::this_thread::get_id()) {
    gate_ = nullptr;
    return;
  }
  pthread_rwlock_wrlock(&gate.lock_);
  gate.writer_.store(std::this_thread::get_id(), std::memory_order_relaxed);
}

read_gate::write_lock::~write_lock() {
  if (gate_ == nullptr)
    return;
  gate_->writer_.store(std::thread::id{}, std::memory_order_relaxed);
  pthread_rwlock_unlock(&gate_->lock_);
}

read_gate::read_lock::read_lock(const read_gate& gate) : gate_(gate) {
  pthread_rwlock_rdlock(&gate.lock_);
}

read_gate::read_lock::~read_lock() {
  pthread_rwlock_unlock(&gate_.lock_);
}

} // namespace actorq
