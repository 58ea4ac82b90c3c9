#include "app/memory.hpp"

#include <gperftools/malloc_extension.h>

namespace actorq {

memory_releaser::memory_releaser(std::chrono::milliseconds period,
                                 size_t threshold)
  : period_(period), threshold_(threshold), thread_([this] { run(); }) {
}

memory_releaser::~memory_releaser() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void memory_releaser::run() {
  std::unique_lock<std::mutex> lock{mutex_};
  while (!wake_.wait_for(lock, period_, [this] { return stop_; })) {
    size_t free_bytes = 0;
    auto ext = MallocExtension::instance();
    if (ext->GetNumericProperty("tcmalloc.pageheap_free_bytes", &free_bytes)
        && free_bytes > threshold_)
      ext->ReleaseFreeMemory();
  }
}

} // namespace actorq
