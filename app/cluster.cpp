#include "app/cluster.hpp"

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <fstream>

namespace actorq {

std::string tls_files::check() const {
  if (!enabled())
    return {};
  auto readable = [](const std::string& path) {
    std::ifstream in{path};
    return static_cast<bool>(in);
  };
  for (auto [name, path] : {std::pair{"certificate", &certificate},
                            std::pair{"key", &key},
                            std::pair{"ca-file", &ca_file}}) {
    if (path->empty())
      return std::string{"TLS needs certificate, key and ca-file; "} + name
             + " is missing";
    if (!readable(*path))
      return std::string{"cannot read the TLS "} + name + " " + *path;
  }
  return {};
}

void prepare_network(caf::actor_system_config& cfg, const tls_files& tls) {
  cfg.load<caf::io::middleman>();
  // Heartbeats make a cut connection (no FIN, e.g. a pulled cable) visible:
  // after connection-timeout without traffic the peer counts as lost.
  cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::seconds{1}});
  cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::seconds{5}});
  if (tls.enabled()) {
    cfg.load<caf::openssl::manager>();
    cfg.openssl_certificate = tls.certificate;
    cfg.openssl_key = tls.key;
    cfg.openssl_cafile = tls.ca_file;
  }
}

bool split_host_port(const std::string& text, std::string& host,
                     uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return false;
  host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  try {
    size_t used = 0;
    auto value = std::stoul(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1 || value == 0 || value > 65535)
      return false;
    port = static_cast<uint16_t>(value);
  } catch (...) {
    return false;
  }
  return true;
}

caf::expected<uint16_t> publish_gateway(caf::actor_system& sys,
                                        const gateway_actor& gw,
                                        const std::string& host, uint16_t port,
                                        bool tls) {
  if (tls)
    return caf::openssl::publish(gw, port, host.c_str(), true);
  return sys.middleman().publish(gw, port, host.c_str(), true);
}

caf::expected<gateway_actor> connect_gateway(caf::actor_system& sys,
                                             const std::string& host,
                                             uint16_t port, bool tls) {
  if (tls)
    return caf::openssl::remote_actor<gateway_actor>(sys, host, port);
  return sys.middleman().remote_actor<gateway_actor>(host, port);
}

} // namespace actorq
