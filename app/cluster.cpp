#include "app/cluster.hpp"

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>

#include <openssl/err.h>
#include <openssl/ssl.h>

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
  // CAF loads these files only at the first handshake and aborts the
  // process if they are unusable: try them now with OpenSSL itself.
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx{SSL_CTX_new(TLS_method()),
                                                    SSL_CTX_free};
  auto why = [](const std::string& what, const std::string& path) {
    char buf[256] = {0};
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    ERR_clear_error();
    return what + " " + path + " (" + buf + ")";
  };
  if (!ctx)
    return "cannot set up OpenSSL";
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), certificate.c_str()) != 1)
    return why("not a usable PEM certificate:", certificate);
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1)
    return why("not a usable PEM private key for the certificate "
               "(passphrase-protected keys are not supported):",
               key);
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return why("the key does not match the certificate:", key);
  if (SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) != 1)
    return why("not a usable PEM CA certificate:", ca_file);
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

caf::actor_system& start_system(std::optional<caf::actor_system>& holder,
                                caf::actor_system_config& cfg,
                                const char* program) {
  try {
    holder.emplace(cfg);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: cannot start: %s\n", program, e.what());
    std::fflush(stderr);
    std::_Exit(1);
  }
  return *holder;
}

} // namespace actorq
