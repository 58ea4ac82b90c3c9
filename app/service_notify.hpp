// Tells systemd (Type=notify, deploy/actorq.service) where actorq's life is:
// READY=1 once start-up recovery is over, STOPPING=1 when draining starts,
// STATUS= lines for `systemctl status`. Nothing is sent without
// $NOTIFY_SOCKET, so these cost nothing outside systemd.
//
// The protocol (sd_notify(3)) is one datagram to the AF_UNIX socket that
// $NOTIFY_SOCKET names: a path, or "@name" in the abstract namespace. It is
// written here rather than taken from libsystemd, which would load seven
// shared libraries (libgcrypt, liblzma, libzstd, liblz4, …: 1 MB of an idle
// daemon's memory) for these few lines.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace actorq {

/// Sends `message` to $NOTIFY_SOCKET; false if none is set or it failed.
inline bool notify_systemd(const std::string& message) {
  const char* name = std::getenv("NOTIFY_SOCKET");
  if (name == nullptr || (name[0] != '/' && name[0] != '@'))
    return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  auto length = std::strlen(name);
  if (length >= sizeof(addr.sun_path))
    return false;
  std::memcpy(addr.sun_path, name, length);
  if (name[0] == '@')
    addr.sun_path[0] = '\0'; // abstract: no trailing NUL counted
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
  auto sent = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                       reinterpret_cast<const sockaddr*>(&addr), size);
  ::close(fd);
  return sent == static_cast<ssize_t>(message.size());
}

/// A line for `systemctl status actorq` ("resuming 12 unfinished tasks").
inline void notify_status(const std::string& status) {
  notify_systemd("STATUS=" + status);
}

/// The service has started: systemd starts its dependents now. Called only
/// once GET /readyz says ready, so both agree.
inline void notify_ready(const std::string& status) {
  notify_systemd("READY=1\nSTATUS=" + status);
}

/// Draining has begun (SIGTERM/SIGINT): systemd shows the unit as
/// deactivating while running work finishes.
inline void notify_stopping(const std::string& status) {
  notify_systemd("STOPPING=1\nSTATUS=" + status);
}

} // namespace actorq
