// Reaching a head over CAF's network layer (BASP), plain or with TLS
// (caf_openssl, mutual certificate verification). Shared by the daemon (head
// and worker node) and actorq-cli.
#pragma once

#include "actorq/gateway.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace actorq {

/// Certificates for TLS between nodes; all empty = plain BASP.
struct tls_files {
  std::string certificate; // PEM, this node's certificate
  std::string key;         // PEM, its private key
  std::string ca_file;     // PEM, the CA that signs every node's certificate

  bool enabled() const {
    return !certificate.empty() || !key.empty() || !ca_file.empty();
  }
  /// "" or what is missing or unreadable.
  std::string check() const;
};

/// Loads the middleman (and the OpenSSL manager with `tls`) into `cfg` and
/// sets its options; call before creating the actor system.
void prepare_network(caf::actor_system_config& cfg, const tls_files& tls);

/// Splits "HOST:PORT"; false if it is not that.
bool split_host_port(const std::string& text, std::string& host,
                     uint16_t& port);

/// Publishes the gateway on host:port; returns the port or an error.
caf::expected<uint16_t> publish_gateway(caf::actor_system& sys,
                                        const gateway_actor& gw,
                                        const std::string& host, uint16_t port,
                                        bool tls);

/// Connects to the gateway a head published at host:port.
caf::expected<gateway_actor> connect_gateway(caf::actor_system& sys,
                                             const std::string& host,
                                             uint16_t port, bool tls);

/// Creates the actor system in `holder`. CAF throws from its constructor on
/// e.g. a module it cannot start, and a normal return then hangs in CAF's
/// logger at exit: this reports and leaves at once (exit status 1).
caf::actor_system& start_system(std::optional<caf::actor_system>& holder,
                                caf::actor_system_config& cfg,
                                const char* program);

} // namespace actorq
