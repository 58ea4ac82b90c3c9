#include "actors/callbacks.hpp"

#include "actors/http_runner.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>

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

} // namespace actorq
