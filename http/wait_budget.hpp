// How many HTTP requests may wait at once (long-polls, later lease polls).
// A waiting request holds an HTTP thread; keeping their number below the
// thread limit leaves threads for short requests.
#pragma once

#include <atomic>
#include <cstdint>

namespace actorq::http {

class wait_budget {
public:
  explicit wait_budget(int64_t limit) : limit_(limit) {}

  wait_budget(const wait_budget&) = delete;
  wait_budget& operator=(const wait_budget&) = delete;

  /// Takes a place; false (and nothing taken) when all are taken.
  bool try_acquire() {
    if (used_.fetch_add(1, std::memory_order_acq_rel) < limit_)
      return true;
    used_.fetch_sub(1, std::memory_order_acq_rel);
    return false;
  }

  /// Gives back a place taken by try_acquire().
  void release() {
    used_.fetch_sub(1, std::memory_order_acq_rel);
  }

  int64_t in_use() const {
    return used_.load(std::memory_order_acquire);
  }

  int64_t limit() const {
    return limit_;
  }

  /// A place held for one scope: `if (wait_budget::guard g{budget}) wait();`
  class guard {
  public:
    explicit guard(wait_budget& budget)
        : budget_(budget.try_acquire() ? &budget : nullptr) {}

    guard(guard&& other) noexcept : budget_(other.budget_) {
      other.budget_ = nullptr;
    }

    guard(const guard&) = delete;
    guard& operator=(const guard&) = delete;
    guard& operator=(guard&&) = delete;

    ~guard() {
      if (budget_ != nullptr)
        budget_->release();
    }

    /// True when this guard holds a place.
    explicit operator bool() const {
      return budget_ != nullptr;
    }

  private:
    wait_budget* budget_;
  };

private:
  std::atomic<int64_t> used_{0};
  const int64_t limit_;
};

} // namespace actorq::http
