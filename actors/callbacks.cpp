#include "actors/callbacks.hpp"

#include "actors/http_runner.hpp"
#include "actors/log.hpp"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <memory>

namespace actorq {

// -- plain functions -----------------------------------------------------------

std::chrono::milliseconds callback_schedule::delay(int32_t attempts) const {
  auto d = backoff_;
  for (int32_t i = 1; i < attempts && d < max_backoff_; ++i)
    d *= 2;
  return std::min(d, max_backoff_);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
       &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 0xF];
  }
  return out;
}

std::string callback_signature(std::string_view secret, std::string_view body) {
  return "sha256=" + hmac_sha256_hex(secret, body);
}

std::string check_callback_url(const std::string& url,
                               const std::vector<std::string>& prefixes) {
  if (url.empty())
    return "";
  if (url.size() > 2048)
    return "callback_url must be at most 2048 characters";
  http_spec spec;
  if (auto why = parse_http_url(url, spec); !why.empty())
    return "callback_url: " + why;
  // Tasks must not make actorq call arbitrary hosts: only what the operator
  // allowed, nothing by default.
  if (prefixes.empty())
    return "callback_url: no callback URL is allowed: "
           "callbacks.allowed-prefixes is empty (list the URL prefixes "
           "actorq may POST to)";
  for (auto& p : prefixes)
    if (url.compare(0, p.size(), p) == 0)
      return "";
  std::string known;
  for (auto& p : prefixes)
    known += (known.empty() ? "'" : ", '") + p + "'";
  return "callback_url: '" + url
         + "' does not start with one of callbacks.allowed-prefixes ("
         + known + ")";
}

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
  auto n = std::max<uint32_t>(1, st.cfg.concurrency);
  for (uint32_t i = 0; i < n; ++i)
    st.idle.push_back(self->spawn<caf::detached + caf::linked>(
        callback_poster, st.cfg.secret, st.cfg.timeout));
  return {
      [=](callback_atom, callback_delivery& d) { start(self, std::move(d)); },
      [=](retry_atom, callback_delivery& d) { start(self, std::move(d)); },
  };
}

} // namespace actorq
