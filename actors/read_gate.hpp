// A reader-writer lock for state with ONE writer (an actor) and many readers
// (HTTP threads), so that readers need not queue in the writer's mailbox.
//
// It prefers the writer: once the writer waits, new readers wait behind it,
// so a stream of reads cannot hold the writer (and every write behind it)
// back. glibc's default rwlock (and so std::shared_mutex) prefers readers.
//
// The writer may lock where it cannot tell whether it already holds the gate
// (an actor's clean-up may run inside or outside its message handling):
// `write_lock` then locks only if this thread does not hold it yet.
#pragma once

#include <pthread.h>

#include <atomic>
#include <thread>

namespace actorq {

class read_gate {
public:
  read_gate();
  ~read_gate();
  read_gate(const read_gate&) = delete;
  read_gate& operator=(const read_gate&) = delete;

  /// Holds the gate exclusively (for the writer) while it lives; a no-op if
  /// this thread holds it already.
  class write_lock {
  public:
    explicit write_lock(read_gate& gate);
    ~write_lock();
    write_lock(const write_lock&) = delete;
    write_lock& operator=(const write_lock&) = delete;

  private:
    read_gate* gate_; // null: the gate was held already (nested)
  };

  /// Holds the gate shared (for a reader) while it lives. Readers must not
  /// wait for the writer while they hold it.
  class read_lock {
  public:
    explicit read_lock(const read_gate& gate);
    ~read_lock();
    read_lock(const read_lock&) = delete;
    read_lock& operator=(const read_lock&) = delete;

  private:
    const read_gate& gate_;
  };

private:
  mutable pthread_rwlock_t lock_;
  std::atomic<std::thread::id> writer_{}; // the thread holding it exclusively
};

} // namespace actorq
