#include "http/late_answer.hpp"
#include "http/socket_stream.hpp"

#include <caf/scoped_execution_unit.hpp>

#include <cerrno>
#include <memory>
#include <thread>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

// Exported by Debian's libcpp-httplib (0.11.4) but not declared in its
// header: the reason phrase httplib writes after a status code.
namespace httplib::detail {
const char* status_message(int status);
} // namespace httplib::detail

namespace actorq::http {

namespace {

/// The connection whose request this thread is handling (late_answer::here).
thread_local late_answer* current = nullptr;

/// This thread's eventfd for late_answer::wake_fd().
struct wake_event {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ~wake_event() {
    if (fd >= 0)
      ::close(fd);
  }
};

/// Owns an answer_actor as caf::scoped_actor owns its blocking actor.
class answer_actor_holder {
public:
  explicit answer_actor_holder(caf::actor_system& sys) : context_(&sys) {
    caf::actor_config cfg{&context_};
    auto hdl = sys.spawn_impl<answer_actor, caf::no_spawn_options>(cfg);
    self_ = caf::actor_cast<caf::strong_actor_ptr>(std::move(hdl));
  }

  ~answer_actor_holder() {
    auto* x = get();
    if (!x->getf(caf::abstract_actor::is_terminated_flag))
      x->cleanup(caf::exit_reason::normal, &context_);
  }

  answer_actor* get() const {
    return static_cast<answer_actor*>(
        caf::actor_cast<caf::abstract_actor*>(self_));
  }

private:
  caf::scoped_execution_unit context_;
  caf::strong_actor_ptr self_;
};

/// Sends what the socket takes now; returns how many bytes that was.
size_t send_some(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent,
                    MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0)
      sent += static_cast<size_t>(n);
    else if (n < 0 && errno == EINTR)
      continue;
    else
      break;
  }
  return sent;
}

} // namespace

// -- answer_actor -------------------------------------------------------------

answer_actor::answer_actor(caf::actor_config& cfg) : caf::blocking_actor(cfg) {
}

void answer_actor::act() {
  // Never runs: like caf::scoped_actor's, this actor has no thread of its own.
}

const char* answer_actor::name() const {
  return "answer_actor";
}

void answer_actor::launch(caf::execution_unit*, bool, bool hide) {
  if (!hide)
    register_at_system();
  initialize();
}

void answer_actor::enqueue(caf::mailbox_element_ptr ptr,
                           caf::execution_unit* eu) {
  if (ptr->mid.integer_value()
      == expected_.load(std::memory_order_relaxed)) {
    auto* target = armed_.load(std::memory_order_acquire);
    if (target != nullptr
        && armed_.compare_exchange_strong(target, nullptr,
                                          std::memory_order_acq_rel)) {
      target->complete(ptr->content());
      return;
    }
  }
  caf::blocking_actor::enqueue(std::move(ptr), eu);
}

bool answer_actor::disarm() {
  return armed_.exchange(nullptr, std::memory_order_acq_rel) != nullptr;
}

answer_actor& thread_answer_actor(caf::actor_system& sys) {
  thread_local std::unique_ptr<answer_actor_holder> holder;
  thread_local caf::actor_system* owner = nullptr;
  if (!holder || owner != &sys) {
    holder = std::make_unique<answer_actor_holder>(sys);
    owner = &sys;
  }
  return *holder->get();
}

// -- late_answer --------------------------------------------------------------

late_answer::late_answer(int fd, std::string keep_alive,
                         const late_observer* observer)
    : fd_(fd), keep_alive_(std::move(keep_alive)), observer_(observer) {
  thread_local wake_event event; // one per connection thread, reused
  wake_ = event.fd;
}

late_answer::~late_answer() {
  if (current == this)
    current = nullptr;
}

late_answer* late_answer::here() {
  auto* c = current;
  // Without its wake-up eventfd (none could be made) a thread could not
  // learn of an answer the socket did not take whole: it answers itself.
  return c != nullptr && c->open_ && !c->deferred_ && c->wake_ >= 0 ? c
                                                                     : nullptr;
}

bool late_answer::deferring() {
  return current != nullptr && current->deferred_;
}

void late_answer::begin(bool close_after) {
  open_ = true;
  deferred_ = false;
  close_after_ = close_after;
  started_ = std::chrono::steady_clock::now();
  current = this;
}

void late_answer::end() {
  open_ = false;
  current = nullptr;
}

std::string late_answer::serialize(httplib::Response& res) const {
  res.set_header("Content-Length", std::to_string(res.body.size()));
  if (head_ && !res.has_header("Accept-Ranges")) // as httplib answers HEAD
    res.set_header("Accept-Ranges", "bytes");
  if (close_after_)
    res.set_header("Connection", "close");
  else
    res.set_header("Keep-Alive", keep_alive_);
  std::string out = "HTTP/1.1 " + std::to_string(res.status) + " "
                    + httplib::detail::status_message(res.status) + "\r\n";
  for (auto& [name, value] : res.headers)
    out += name + ": " + value + "\r\n";
  out += "\r\n";
  return head_ ? out : out + res.body;
}

void late_answer::complete(caf::type_erased_tuple& reply) {
  httplib::Response res;
  res.version = "HTTP/1.1";
  finish_(reply, res);
  auto bytes = serialize(res);
  // Reported before the client can have the answer: a client that reads
  // /metrics next finds its request counted.
  if (observer_ != nullptr && *observer_) {
    static const std::string unmatched;
    (*observer_)(summary_, res, route_ != nullptr ? *route_ : unmatched,
                 std::chrono::steady_clock::now() - started_);
  }
  auto sent = send_some(fd_, bytes);
  answered_at_.store(
      std::chrono::steady_clock::now().time_since_epoch().count(),
      std::memory_order_release);
  auto wake = wake_;
  if (sent == bytes.size()) {
    if (state_.exchange(done, std::memory_order_acq_rel) != waiting)
      return; // `this` may be gone from here on
  } else {
    rest_ = bytes.substr(sent);
    state_.store(partial, std::memory_order_release);
  }
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake, &one, sizeof(one));
}

bool late_answer::expire_if_due() {
  if (!answering() || clock::now() < deadline_ || !actor_->disarm())
    return false;
  // The reply can no longer complete this: answer as a blocking ask does
  // when its timeout passes.
  auto timeout = caf::make_message(caf::make_error(caf::sec::request_timeout));
  complete(timeout.content());
  return true;
}

bool late_answer::settle(int stop_fd, std::chrono::milliseconds write_timeout) {
  auto s = state_.load(std::memory_order_acquire);
  if (s == idle)
    return true;
  if (s == pending) {
    // Not answered yet (a pipelined request, or closing right after):
    // wait for the completion or a stop.
    int expected = pending;
    if (state_.compare_exchange_strong(expected, waiting,
                                       std::memory_order_acq_rel)) {
      pollfd p[2] = {{wake_, POLLIN, 0}, {stop_fd, POLLIN, 0}};
      while (state_.load(std::memory_order_acquire) == waiting) {
        int ms = -1;
        if (deadline_ != clock::time_point::max())
          ms = static_cast<int>(std::max<int64_t>(
              0, std::chrono::duration_cast<std::chrono::milliseconds>(
                     deadline_ - clock::now())
                         .count()
                     + 1));
        int n = ::poll(p, stop_fd >= 0 ? 2 : 1, ms);
        if (n < 0 && errno != EINTR)
          break;
        if (n == 0 && expire_if_due()) {
          uint64_t count; // complete() signalled this thread: drop that
          [[maybe_unused]] auto r = ::read(wake_, &count, sizeof(count));
          break;
        }
        if (stop_fd >= 0 && (p[1].revents & POLLIN) && actor_->disarm()) {
          state_.store(idle, std::memory_order_relaxed);
          return false; // never answered
        }
        if (p[0].revents & POLLIN) {
          uint64_t count;
          [[maybe_unused]] auto r = ::read(wake_, &count, sizeof(count));
        }
      }
    }
  }
  // The completion published done or partial (a stop that came too late to
  // disarm it waits here for it too).
  while ((s = state_.load(std::memory_order_acquire)) == pending
         || s == waiting)
    std::this_thread::yield();
  auto ok = true;
  if (s == partial) {
    uint64_t count;
    [[maybe_unused]] auto r = ::read(wake_, &count, sizeof(count));
    ok = send_fully(fd_, rest_.data(), rest_.size(), nullptr, 0, write_timeout);
    rest_.clear();
  }
  state_.store(idle, std::memory_order_relaxed);
  return ok;
}

} // namespace actorq::http
