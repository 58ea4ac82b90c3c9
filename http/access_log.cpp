#include "http/access_log.hpp"

#include "actors/log.hpp"

namespace actorq::http {

request_observer access_log() {
  return [](const request_record& r) {
    if (!log::enabled(log::level::info))
      return;
    // Content providers (streamed answers) leave the body empty.
    auto bytes = r.res.body.empty() ? r.res.content_length_ : r.res.body.size();
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(r.duration);
    log::event(log::level::info, "request",
               {{"method", r.req.method},
                {"route", r.route},
                {"status", r.res.status},
                {"duration_ms", static_cast<double>(us.count()) / 1000.0},
                {"bytes", bytes},
                {"client", r.req.remote_addr},
                {"client_port", r.req.remote_port}});
  };
}

} // namespace actorq::http
