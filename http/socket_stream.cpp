#include "http/socket_stream.hpp"

#include <algorithm>
#include <cerrno>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace actorq::http {

namespace {

// Room for a whole typical request (head and a small body) in one recv.
constexpr size_t read_ahead = 16 * 1024;
// A first write up to this size is held for the next one (a response's
// head, which httplib writes before the body).
constexpr size_t hold_limit = 64 * 1024;

/// The numeric address and port as httplib 0.11 reports them (for a Unix
/// socket: no address, the peer's pid as the port).
void describe(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0)
    return;
  if (addr.ss_family == AF_UNIX) {
    ucred cred{};
    socklen_t clen = sizeof(cred);
    if (peer && ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
      port = cred.pid;
    return;
  }
  char host[NI_MAXHOST];
  if (::getnameinfo(sa, len, host, sizeof(host), nullptr, 0, NI_NUMERICHOST)
      == 0)
    ip = host;
  if (addr.ss_family == AF_INET)
    port = ntohs(reinterpret_cast<sockaddr_in*>(sa)->sin_port);
  else if (addr.ss_family == AF_INET6)
    port = ntohs(reinterpret_cast<sockaddr_in6*>(sa)->sin6_port);
}

int poll_ms(std::chrono::milliseconds t) {
  return static_cast<int>(t.count());
}

/// Waits up to `timeout` for `events` on `fd` (retried when a signal
/// interrupts the wait); false when it ran out or the fd failed.
bool wait_for(int fd, short events, std::chrono::milliseconds timeout) {
  pollfd p{fd, events, 0};
  int n;
  do
    n = ::poll(&p, 1, poll_ms(timeout));
  while (n < 0 && errno == EINTR);
  return n > 0 && (p.revents & events) != 0 && (p.revents & POLLNVAL) == 0;
}

} // namespace

socket_stream::socket_stream(int fd, timeouts t)
    : fd_(fd), timeouts_(t), in_(read_ahead) {
  describe(fd, true, remote_ip_, remote_port_);
  describe(fd, false, local_ip_, local_port_);
}

bool socket_stream::is_readable() const {
  return in_at_ < in_end_ || wait_for(fd_, POLLIN, timeouts_.read);
}

bool socket_stream::is_writable() const {
  pollfd p{fd_, POLLOUT, 0};
  int n;
  do
    n = ::poll(&p, 1, poll_ms(timeouts_.write));
  while (n < 0 && errno == EINTR);
  return n > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)) == 0;
}

ssize_t socket_stream::read(char* ptr, size_t size) {
  if (in_at_ < in_end_) {
    auto n = std::min(size, in_end_ - in_at_);
    std::copy_n(in_.data() + in_at_, n, ptr);
    in_at_ += n;
    return static_cast<ssize_t>(n);
  }
  if (!held_.empty() && !flush())
    return -1;
  // Large reads (a body's rest) go straight to the caller.
  bool direct = size >= in_.size();
  auto* into = direct ? ptr : in_.data();
  auto room = direct ? size : in_.size();
  for (bool waited = false;;) {
    auto n = ::recv(fd_, into, room, MSG_DONTWAIT);
    if (n >= 0) {
      if (direct || n == 0)
        return n;
      in_at_ = 0;
      in_end_ = static_cast<size_t>(n);
      return read(ptr, size);
    }
    if (errno == EINTR)
      continue;
    if ((errno != EAGAIN && errno != EWOULDBLOCK) || waited)
      return -1;
    if (!wait_for(fd_, POLLIN, timeouts_.read))
      return -1;
    waited = true;
  }
}

ssize_t socket_stream::write(const char* ptr, size_t size) {
  if (held_.empty() && size <= hold_limit) {
    held_.assign(ptr, size);
    return static_cast<ssize_t>(size);
  }
  bool ok = send_all(held_.data(), held_.size(), ptr, size);
  held_.clear();
  return ok ? static_cast<ssize_t>(size) : -1;
}

bool socket_stream::flush() {
  if (held_.empty())
    return true;
  bool ok = send_all(held_.data(), held_.size(), nullptr, 0);
  held_.clear();
  return ok;
}

bool socket_stream::send_all(const char* a, size_t an, const char* b,
                             size_t bn) {
  return send_fully(fd_, a, an, b, bn, timeouts_.write);
}

bool send_fully(int fd, const char* a, size_t an, const char* b, size_t bn,
                std::chrono::milliseconds timeout) {
  iovec parts[2] = {{const_cast<char*>(a), an}, {const_cast<char*>(b), bn}};
  iovec* next = parts;
  int count = bn > 0 ? 2 : 1;
  while (count > 0) {
    msghdr msg{};
    msg.msg_iov = next;
    msg.msg_iovlen = static_cast<size_t>(count);
    auto n = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if ((errno != EAGAIN && errno != EWOULDBLOCK)
          || !wait_for(fd, POLLOUT, timeout))
        return false;
      continue;
    }
    auto sent = static_cast<size_t>(n);
    while (count > 0 && sent >= next->iov_len) {
      sent -= next->iov_len;
      ++next;
      --count;
    }
    if (count > 0) {
      next->iov_base = static_cast<char*>(next->iov_base) + sent;
      next->iov_len -= sent;
    }
  }
  return true;
}

socket_stream::wait_result
socket_stream::wait_request(std::chrono::milliseconds idle, int stop_fd,
                            int wake_fd) {
  if (in_at_ < in_end_)
    return wait_result::request;
  pollfd p[3] = {{fd_, POLLIN, 0}, {stop_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  int n;
  do
    n = ::poll(p, 3, poll_ms(idle)); // negative fds are skipped
  while (n < 0 && errno == EINTR);
  if (n == 0)
    return wait_result::timeout;
  if (n < 0 || (p[1].revents & POLLIN))
    return wait_result::stopped;
  if (p[2].revents & POLLIN) {
    uint64_t count;
    [[maybe_unused]] auto r = ::read(wake_fd, &count, sizeof(count));
    return wait_result::woken;
  }
  return (p[0].revents & (POLLIN | POLLHUP | POLLERR))
             ? wait_result::request
             : wait_result::stopped; // POLLNVAL: no connection left
}

void socket_stream::get_remote_ip_and_port(std::string& ip, int& port) const {
  ip = remote_ip_;
  port = remote_port_;
}

void socket_stream::get_local_ip_and_port(std::string& ip, int& port) const {
  ip = local_ip_;
  port = local_port_;
}

} // namespace actorq::http
