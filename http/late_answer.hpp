// Answers written by the thread that delivers an actor's reply.
//
// A handler that asks an actor and blocks until the reply costs its HTTP
// thread a second sleep and wake-up per request (the first is the wait for
// the request itself), about a quarter of that thread's CPU. A late answer
// removes it: the handler sends its request and returns; the reply, when
// the actor delivers it, is rendered by the same code as a blocking
// answer and written to the socket by the delivering thread (the
// registry's, after a durable submission's commit). The HTTP thread goes
// back to waiting for the connection's next request, which the client
// sends only once it has the answer.
//
// Per connection one late_answer (http_server's keep-alive loop); per HTTP
// thread one answer_actor, a blocking actor whose enqueue() takes the
// reply it waits for on the sender's thread instead of queueing it.
// Handlers reach them through late_answer::here().
#pragma once

#include "http/codec.hpp"

#include <caf/all.hpp>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

namespace actorq::http {

class late_answer;

/// Reports a late answer once written (metrics, access log): the request's
/// method and peer, its route pattern, the answer, the time since routing.
using late_observer = std::function<void(
    const httplib::Request&, const httplib::Response&, const std::string&,
    std::chrono::nanoseconds)>;

/// This HTTP thread's actor for late answers (see file comment). Built like
/// caf::scoped_actor; at most one request is awaited at a time.
class answer_actor : public caf::blocking_actor {
public:
  explicit answer_actor(caf::actor_config& cfg);

  void act() override;
  const char* name() const override;
  void launch(caf::execution_unit*, bool, bool hide) override;

  /// Runs the awaited reply's completion on the calling thread; anything
  /// else goes to the mailbox as for any blocking actor.
  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) override;

  /// Sends `xs...` to `dest` as a request whose reply completes `target`.
  template <class Handle, class... Ts>
  void send_request(late_answer* target, const Handle& dest, Ts&&... xs);

  /// Stops awaiting: true if the reply's completion will not run (it has
  /// not started); false if it has started (or finished).
  bool disarm();

private:
  std::atomic<late_answer*> armed_{nullptr};
  std::atomic<uint64_t> expected_{0}; // the awaited reply's message id
};

/// One connection's pending answer. The connection's thread calls begin()
/// before each request and settle() before reading the next one or closing;
/// a handler calls ask() (through here()); the delivering thread completes it.
class late_answer {
public:
  /// Renders the reply (or the error it became) into the response.
  template <class Result>
  using finish_fn = std::function<void(parsed<Result>&, httplib::Response&)>;

  /// `fd`: the connection's socket; `keep_alive`: the Keep-Alive header's
  /// value; `observer` (may be null) outlives this.
  late_answer(int fd, std::string keep_alive, const late_observer* observer);
  ~late_answer();

  late_answer(const late_answer&) = delete;
  late_answer& operator=(const late_answer&) = delete;

  /// The connection whose request this thread is handling, if it can take
  /// a late answer now; null elsewhere (blocking asks then).
  static late_answer* here();

  /// Before process_request: this request may be answered late; after it,
  /// the connection closes when `close_after`.
  void begin(bool close_after);
  /// After process_request: handlers can no longer defer.
  void end();
  /// Whether the current request's answer comes late (httplib's own answer
  /// to it is then a placeholder, discarded unwritten).
  bool deferred() const { return deferred_; }

  using clock = std::chrono::steady_clock;

  /// Sends the request to `dest`; `finish` renders the reply as a blocking
  /// handler would. `route` (the matched pattern) is for the observer.
  /// Past `deadline` without a reply, `finish` renders a request timeout
  /// instead (CAF 0.17 has no broken promise: a lost one never answers).
  template <class Result, class Handle, class... Ts>
  void ask(caf::actor_system& sys, const httplib::Request& req,
           const std::string* route, clock::time_point deadline,
           finish_fn<Result> finish, const Handle& dest, Ts&&... xs);

  /// Past its deadline, answers the late answer still coming with a
  /// request timeout (on this thread) and returns true.
  bool expire_if_due();

  /// The pending answer's deadline (clock::time_point::max() if none).
  clock::time_point deadline() const { return deadline_; }

  /// Waits until the late answer (if any) is written: its bytes left over
  /// by a full socket are written here, blocking up to `write_timeout`.
  /// False when `stop_fd` fired first (the answer is then abandoned) or
  /// writing failed.
  bool settle(int stop_fd, std::chrono::milliseconds write_timeout);

  /// Whether an answer left to an actor has not been written yet.
  bool answering() const {
    auto s = state_.load(std::memory_order_acquire);
    return s == pending || s == waiting;
  }

  /// When the last late answer was written (the epoch if none was): a
  /// connection's keep-alive wait counts from its last answer.
  std::chrono::steady_clock::time_point answered_at() const {
    return std::chrono::steady_clock::time_point{std::chrono::nanoseconds{
        answered_at_.load(std::memory_order_acquire)}};
  }

  /// The connection thread's eventfd: readable when a completion left
  /// bytes for settle() (poll it while waiting for the next request).
  int wake_fd() const { return wake_; }

  /// Whether the request this thread is handling is answered late (for
  /// httplib's logger, which sees only the placeholder).
  static bool deferring();

private:
  friend class answer_actor;

  enum state : int { idle, pending, waiting, done, partial };

  /// On the delivering thread: renders, writes what the socket takes,
  /// reports to the observer, then publishes the state.
  void complete(caf::type_erased_tuple& reply);
  std::string serialize(httplib::Response& res) const;

  int fd_;
  int wake_; // the connection thread's eventfd
  std::string keep_alive_;
  const late_observer* observer_;
  std::atomic<int> state_{idle};
  bool open_ = false;     // between begin() and end()
  bool deferred_ = false; // this request's answer comes late
  bool close_after_ = false;
  bool head_ = false; // a HEAD request: the answer has no body
  std::function<void(caf::type_erased_tuple&, httplib::Response&)> finish_;
  httplib::Request summary_; // method and peer, for the observer
  const std::string* route_ = nullptr;
  clock::time_point deadline_ = clock::time_point::max();
  std::chrono::steady_clock::time_point started_;
  std::string rest_; // bytes the socket did not take
  // When the last late answer was written (steady clock, ns since epoch).
  std::atomic<int64_t> answered_at_{0};
  answer_actor* actor_ = nullptr;
};

// -- templates ---------------------------------------------------------------

/// This thread's answer_actor (created on first use, like thread_self()).
answer_actor& thread_answer_actor(caf::actor_system& sys);

template <class Handle, class... Ts>
void answer_actor::send_request(late_answer* target, const Handle& dest,
                                Ts&&... xs) {
  auto id = new_request_id(caf::message_priority::normal);
  expected_.store(id.response_id().integer_value(), std::memory_order_relaxed);
  armed_.store(target, std::memory_order_release);
  dest->enqueue(caf::make_mailbox_element(ctrl(), id, {},
                                          std::forward<Ts>(xs)...),
                context());
}

template <class Result, class Handle, class... Ts>
void late_answer::ask(caf::actor_system& sys, const httplib::Request& req,
                      const std::string* route, clock::time_point deadline,
                      finish_fn<Result> finish, const Handle& dest,
                      Ts&&... xs) {
  deferred_ = true;
  route_ = route;
  deadline_ = deadline;
  finish_ = [finish = std::move(finish)](caf::type_erased_tuple& reply,
                                         httplib::Response& res) {
    parsed<Result> result = http_error{500, "internal", "no reply"};
    if (reply.match_elements<Result>())
      result = std::move(reply.get_mutable_as<Result>(0));
    else if (reply.match_elements<caf::error>())
      result = from_actor_error(reply.get_mutable_as<caf::error>(0));
    finish(result, res);
  };
  // As httplib's answers: "Connection: close" on the last request it
  // allows on a connection and when the client asked for it.
  close_after_ = close_after_ || req.get_header_value("Connection") == "close";
  head_ = req.method == "HEAD";
  summary_.method = req.method;
  summary_.remote_addr = req.remote_addr;
  summary_.remote_port = req.remote_port;
  state_.store(pending, std::memory_order_relaxed);
  actor_ = &thread_answer_actor(sys);
  actor_->send_request(this, dest, std::forward<Ts>(xs)...);
}

} // namespace actorq::http
