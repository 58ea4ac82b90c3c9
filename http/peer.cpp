#include "http/peer.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <string>

namespace actorq::http {

namespace {

/// The numeric address and port of a socket address.
bool endpoint(const sockaddr_storage& ss, std::string& addr, int& port) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    ::inet_ntop(AF_INET, &in.sin_addr, buf, sizeof(buf));
    port = ntohs(in.sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
    ::inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof(buf));
    port = ntohs(in6.sin6_port);
  } else {
    return false;
  }
  addr = buf;
  return true;
}

/// Whether socket `fd` connects `req`'s client with our local endpoint.
bool is_connection_of(int fd, const httplib::Request& req) {
  sockaddr_storage peer{}, local{};
  socklen_t n = sizeof(peer), m = sizeof(local);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &n) != 0
      || ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &m) != 0)
    return false;
  std::string peer_addr, local_addr;
  int peer_port = 0, local_port = 0;
  return endpoint(peer, peer_addr, peer_port)
         && endpoint(local, local_addr, local_port)
         && peer_port == req.remote_port && peer_addr == req.remote_addr
         && local_port == req.local_port;
}

} // namespace

bool client_gone(const httplib::Request& req) {
  auto dir = ::opendir("/proc/self/fd");
  if (dir == nullptr)
    return false;
  bool gone = false;
  while (auto entry = ::readdir(dir)) {
    char* end = nullptr;
    auto fd = static_cast<int>(std::strtol(entry->d_name, &end, 10));
    if (end == entry->d_name || *end != '\0' || fd == ::dirfd(dir)
        || !is_connection_of(fd, req))
      continue;
    char byte;
    auto got = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    // 0: the client closed its side; an error other than "nothing yet":
    // reset. Bytes waiting (a pipelined request) mean it is there.
    gone = got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    break;
  }
  ::closedir(dir);
  return gone;
}

} // namespace actorq::http
