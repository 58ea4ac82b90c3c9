// The callback sender and its posters (see callbacks.hpp); the plain
// functions they use are in callbacks.cpp.
#include "actors/callbacks.hpp"

#include "actors/http_runner.hpp"
#include "actors/log.hpp"

#include <httplib.h>

#include <algorithm>
#include <memory>

namespace actorq {

std::string post_callback(const callback_delivery& d, const std::string& secret,
                          std::chrono::milliseconds timeout) {
  http_spec spec;
  if (auto why = parse_http_url(d.url, spec); !why.empty())
    return why;
  std::unique_ptr<httplib::ClientImpl> cli;
  if (spec.scheme == "https") {
    auto tls = std::make_unique<httplib::SSLClient>(spec.host, spec.port);
    tls->enable_server_certificate_verification(true);
    tls->set_ca_cert_path(nullptr, "/etc/ssl/certs");
    cli = std::move(tls);
  } else {
    cli = std::make_unique<httplib::ClientImpl>(spec.host, spec.port);
  }
  auto secs = [](std::chrono::milliseconds x) {
    return std::pair<time_t, time_t>{x.count() / 1000, (x.count() % 1000) * 1000};
  };
  auto [s, us] = secs(timeout);
  cli->set_connection_timeout(s, us);
  cli->set_read_timeout(s, us);
  cli->set_write_timeout(s, us);
  httplib::Headers headers{
      {"X-Actorq-Signature", callback_signature(secret, d.body)},
      {"X-Actorq-Task", d.task.to_string()},
      {"X-Actorq-Attempt", std::to_string(d.attempts + 1)}};
  auto res = cli->Post(spec.path.c_str(), headers, d.body, "application/json");
  if (!res)
    return "cannot POST to " + spec.scheme + "://" + spec.host + ":"
           + std::to_string(spec.port) + ": " + httplib::to_string(res.error());
  if (res->status >= 200 && res->status < 300)
    return "";
  return "the receiver answered HTTP " + std::to_string(res->status);
}

// -- the sender -----------------------------------------------------------------

namespace {

using sender_ptr
  = callback_sender_actor::stateful_pointer<callback_sender_state>;

callback_poster_actor::behavior_type
callback_poster(callback_poster_actor::pointer, std::string secret,
                std::chrono::milliseconds timeout) {
  return {
      [=](callback_delivery& d) -> std::string {
        return post_callback(d, secret, timeout);
      },
  };
}

/// What became of delivery `d` after an attempt that ended with `error`
/// ("" = delivered): the listener hears it; a failure with attempts left
/// is tried again after its backoff.
void settle(sender_ptr self, callback_delivery d, const std::string& error) {
  auto& st = self->state;
  ++d.attempts;
  callback_view cb;
  cb.url = d.url;
  cb.attempts = d.attempts;
  if (error.empty()) {
    cb.status = "delivered";
    log::event(log::level::debug, "callback_delivered",
               {{"task", d.task.to_string()}, {"attempts", d.attempts}});
  } else {
    cb.last_error = error;
    bool last = d.attempts >= st.cfg.max_attempts;
    cb.status = last ? "failed" : "pending";
    log::event(last ? log::level::warn : log::level::debug,
               last ? "callback_failed" : "callback_retry",
               {{"task", d.task.to_string()},
                {"attempts", d.attempts},
                {"error", error}});
    if (!last) {
      callback_schedule schedule{st.cfg.backoff, st.cfg.max_backoff};
      self->delayed_send(self, schedule.delay(d.attempts), retry_atom::value,
                         d);
    }
  }
  self->send(d.listener, callback_atom::value, d.key, std::move(cb));
}

/// Hands `d` to an idle poster, or queues it until one is free.
void start(sender_ptr self, callback_delivery d) {
  auto& st = self->state;
  auto most = std::max<uint32_t>(1, st.cfg.concurrency);
  if (st.idle.empty() && st.posters < most) {
    ++st.posters;
    st.idle.push_back(self->spawn<caf::detached + caf::linked>(
        callback_poster, st.cfg.secret, st.cfg.timeout));
  }
  if (st.idle.empty()) {
    st.due.push_back(std::move(d));
    return;
  }
  auto poster = st.idle.back();
  st.idle.pop_back();
  self->request(poster, caf::infinite, d)
    .then(
      [=](std::string& error) {
        auto& st = self->state;
        st.idle.push_back(poster);
        settle(self, d, error);
        if (!st.due.empty()) {
          auto next = std::move(st.due.front());
          st.due.pop_front();
          start(self, std::move(next));
        }
      },
      [=](caf::error& err) {
        // The poster is gone (shutdown): the callback stays pending in the
        // store and resumes after a restart.
        settle(self, d, self->system().render(err));
      });
}

} // namespace

callback_sender_actor::behavior_type
callback_sender(sender_ptr self, callback_settings cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  return {
      [=](callback_atom, callback_delivery& d) { start(self, std::move(d)); },
      [=](retry_atom, callback_delivery& d) { start(self, std::move(d)); },
  };
}

} // namespace actorq
