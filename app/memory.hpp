// Gives memory back to the system after bursts. tcmalloc keeps freed pages
// for reuse, so the RSS a large batch took (20 batches of 100 000 items: 650
// MB) would stay taken after it ended; this thread hands free pages back
// once enough of them pile up.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>

namespace actorq {

class memory_releaser {
public:
  /// Checks every `period`; releases when tcmalloc holds more than
  /// `threshold` bytes of free pages.
  explicit memory_releaser(
      std::chrono::milliseconds period = std::chrono::milliseconds{500},
      size_t threshold = size_t{32} << 20);
  ~memory_releaser();
  memory_releaser(const memory_releaser&) = delete;
  memory_releaser& operator=(const memory_releaser&) = delete;

private:
  void run();

  std::chrono::milliseconds period_;
  size_t threshold_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

} // namespace actorq
