// The access log (log.access = true): one "request" event per answered
// request, through server::observe. Never the path (ids), headers or bodies:
// the route pattern stands for the path, and headers may hold the token.
#pragma once

#include "http/server.hpp"

namespace actorq::http {

/// The observer that logs each answered request at info.
request_observer access_log();

} // namespace actorq::http
