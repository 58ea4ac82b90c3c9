// Whether the client of a request has gone. cpp-httplib 0.11 gives handlers
// no socket, and a write to a peer that closed its side still succeeds (the
// kernel buffers it), so a long-poll answer to a client that gave up would
// look delivered. Leases must not be lost that way.
#pragma once

#include <httplib.h>

namespace actorq::http {

/// True when the connection `req` came on has been closed by the client
/// (EOF or reset seen); false when it is open or cannot be found. Scans this
/// process's open descriptors: for rare calls (a long-poll that waited).
bool client_gone(const httplib::Request& req);

} // namespace actorq::http
