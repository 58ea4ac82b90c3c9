// One accepted connection as cpp-httplib's Stream, for the keep-alive loop
// http_server runs instead of httplib's own (server.cpp). httplib 0.11's
// SocketStream costs about a dozen system calls per request; this one costs
// two or three:
// - httplib makes a new stream, with a new 4 KiB buffer, per request, and
//   asks the kernel for both socket addresses each time: here the buffer
//   lives as long as the connection (so pipelined requests are kept) and the
//   addresses are read once;
// - httplib polls before every read: here a read tries recv first and polls
//   only when nothing has arrived;
// - httplib polls twice before every write (writable? peer alive?) and sends
//   a response's head and body separately: here the head is held and goes
//   out with the body in one sendmsg;
// - httplib's keep-alive wait wakes every 10 ms to check for a stop: here
//   one poll waits for the next request or a stop signal.
#pragma once

#include <httplib.h>

#include <chrono>
#include <string>
#include <vector>

namespace actorq::http {

class socket_stream final : public httplib::Stream {
public:
  struct timeouts {
    std::chrono::milliseconds read;  // each wait for bytes to arrive
    std::chrono::milliseconds write; // each wait for room to send
  };

  /// Does not own `fd`.
  socket_stream(int fd, timeouts t);

  /// Bytes buffered, or the socket becomes readable within the read timeout.
  bool is_readable() const override;
  /// The socket has room within the write timeout and no error.
  bool is_writable() const override;
  /// Up to `size` bytes: buffered ones first, else what one recv brings
  /// (waiting up to the read timeout). 0 at end of stream, -1 on error or
  /// timeout. Sends what is held first: the peer may wait for it (an
  /// "HTTP/1.1 100 Continue" before the body).
  ssize_t read(char* ptr, size_t size) override;
  /// Holds the first small write (a response's head) and sends it with the
  /// next one; -1 when the peer is gone or the write timeout passes.
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  int socket() const override { return fd_; }

  /// Sends what is held (the end of a response); false if that failed.
  bool flush();

  enum class wait_result { request, woken, timeout, stopped };

  /// Between requests: `request` once a request's first byte is buffered
  /// or arrives (or the peer closes) within `idle`; `woken` when `wake_fd`
  /// (an eventfd, -1: none) became readable first (it is read); `timeout`
  /// after `idle`; `stopped` when `stop_fd` (an eventfd, -1: none) is
  /// readable.
  wait_result wait_request(std::chrono::milliseconds idle, int stop_fd,
                           int wake_fd = -1);

  /// Drops a held write (the placeholder answer httplib wrote for a
  /// request answered later, see late_answer.hpp).
  void drop_held() { held_.clear(); }

private:
  bool send_all(const char* a, size_t an, const char* b, size_t bn);

  int fd_;
  timeouts timeouts_;
  std::vector<char> in_; // bytes read ahead: in_[in_at_, in_end_)
  size_t in_at_ = 0;
  size_t in_end_ = 0;
  std::string held_; // a write not sent yet
  std::string remote_ip_, local_ip_;
  int remote_port_ = -1, local_port_ = -1; // as httplib::Request's
};

/// Sends `a` then `b` (`b` may be empty) on `fd` whole, waiting up to
/// `timeout` each time the socket is full; false if the peer is gone or a
/// wait ran out.
bool send_fully(int fd, const char* a, size_t an, const char* b, size_t bn,
                std::chrono::milliseconds timeout);

} // namespace actorq::http
