// Tells systemd (Type=notify, deploy/actorq.service) where actorq's life is:
// READY=1 once start-up recovery is over, STOPPING=1 when draining starts,
// STATUS= lines for `systemctl status`. sd_notify() does nothing without
// $NOTIFY_SOCKET, so these cost nothing outside systemd.
#pragma once

#include <string>

#include <systemd/sd-daemon.h>

namespace actorq {

/// A line for `systemctl status actorq` ("resuming 12 unfinished tasks").
inline void notify_status(const std::string& status) {
  sd_notify(0, ("STATUS=" + status).c_str());
}

/// The service has started: systemd starts its dependents now. Called only
/// once GET /readyz says ready, so both agree.
inline void notify_ready(const std::string& status) {
  sd_notify(0, ("READY=1\nSTATUS=" + status).c_str());
}

/// Draining has begun (SIGTERM/SIGINT): systemd shows the unit as
/// deactivating while running work finishes.
inline void notify_stopping(const std::string& status) {
  sd_notify(0, ("STOPPING=1\nSTATUS=" + status).c_str());
}

} // namespace actorq
