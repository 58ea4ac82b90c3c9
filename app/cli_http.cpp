// actorq-cli over HTTP: the v1 API (README "HTTP API") through httplib's
// client, with the Bearer token of --token or ACTORQ_AUTH_TOKEN. Prints the
// server's JSON as it comes; batches sent in chunks and lists followed
// through their pages are put together in the same shapes.
#include "app/cli.hpp"

#include <httplib.h>

#include <iostream>
#include <optional>
#include <regex>
#include <thread>
#include <unistd.h>

namespace actorq::cli {

namespace {

using ordered_json = nlohmann::ordered_json;

/// A base URL taken apart: scheme://host[:port][/prefix].
struct target {
  std::string origin; // scheme://host:port, for httplib
  std::string prefix; // "" or "/path" (actorq behind a proxy's location)
};

std::optional<target> parse_url(const std::string& url) {
  static const std::regex re{
      R"(^(https?)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:([0-9]{1,5}))?(/.*)?$)"};
  std::smatch m;
  if (!std::regex_match(url, m, re))
    return std::nullopt;
  auto port = m[4].matched ? std::stoi(m[4].str())
                           : (m[1].str() == "https" ? 443 : 80);
  if (port < 1 || port > 65535)
    return std::nullopt;
  auto prefix = m[5].str();
  while (!prefix.empty() && prefix.back() == '/')
    prefix.pop_back();
  return target{m[1].str() + "://" + m[2].str() + ":" + std::to_string(port),
                prefix};
}

/// What an httplib transport error most likely means.
std::string explain(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "connection refused or host unreachable";
    case httplib::Error::ConnectionTimeout:
      return "no connection within 10 s";
    case httplib::Error::Read:
      return "no answer, or the connection broke while reading it";
    case httplib::Error::Write:
      return "the connection broke while sending";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed (is it https?)";
    case httplib::Error::SSLServerVerification:
      return "its TLS certificate is not trusted";
    default:
      return httplib::to_string(e);
  }
}

class http_backend : public backend {
public:
  http_backend(connection c, target t) : c_(std::move(c)), t_(std::move(t)) {
  }

  int submit(const std::string& kind, const json& input,
             const task_options& task, std::chrono::seconds wait) override {
    auto body = task_fields(task);
    body["kind"] = kind;
    body["input"] = input;
    httplib::Headers headers;
    if (!task.idempotency_key.empty())
      headers.emplace("Idempotency-Key", task.idempotency_key);
    auto r = call("POST", "/v1/tasks", body.dump(), headers);
    if (!r)
      return exit_failed;
    if (wait.count() == 0 || r->status / 100 != 2)
      return print(*r);
    auto id = json::parse(r->body, nullptr, false);
    if (!id.is_object() || !id["id"].is_string())
      return print(*r);
    return this->wait(id["id"].get<std::string>(), wait);
  }

  int status(const std::string& id) override {
    auto r = call("GET", "/v1/tasks/" + id);
    return r ? print(*r) : exit_failed;
  }

  int wait(const std::string& id, std::chrono::seconds timeout) override {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto wait_ms = std::clamp<int64_t>(left.count(), 0, 30000);
      auto started = std::chrono::steady_clock::now();
      auto r = call("GET", "/v1/tasks/" + id + "?wait_ms="
                               + std::to_string(wait_ms));
      if (!r)
        return exit_failed;
      auto task = json::parse(r->body, nullptr, false);
      bool ended = task.is_object() && task.contains("status")
                   && is_terminal(task["status"]);
      if (r->status != 200 || ended || wait_ms == 0)
        return print(*r);
      // Beyond http.max-waiting actorq answers at once: do not spin.
      if (std::chrono::steady_clock::now() - started
          < std::chrono::milliseconds{100})
        std::this_thread::sleep_for(std::chrono::milliseconds{200});
    }
  }

  int cancel(const std::string& id) override {
    auto r = call("DELETE", "/v1/tasks/" + id);
    return r ? print(*r) : exit_failed;
  }

  int cancel_many(const std::string& status,
                  const std::string& kind) override {
    list_options filter;
    filter.status = status;
    filter.kind = kind;
    auto r = call("DELETE", "/v1/tasks" + list_query(filter, ""));
    return r ? print(*r) : exit_failed;
  }

  int retry(const std::string& id) override {
    auto r = call("POST", "/v1/tasks/" + id + "/retry");
    return r ? print(*r) : exit_failed;
  }

  int pause(const std::string& pool, bool paused) override {
    auto r = call("POST", "/v1/pools/" + httplib::detail::encode_query_param(pool)
                              + (paused ? "/pause" : "/resume"));
    return r ? print(*r) : exit_failed;
  }

  int batch(const std::string& kind, std::vector<json> inputs,
            const task_options& task, size_t chunk) override {
    ordered_json all{{"results", ordered_json::array()},
                     {"errors", ordered_json::array()},
                     {"succeeded", 0},
                     {"failed", 0}};
    bool bar = ::isatty(2) != 0 && inputs.size() > chunk;
    for (size_t first = 0; first < inputs.size(); first += chunk) {
      auto body = task_fields(task);
      body["kind"] = kind;
      body["items"] = json::array();
      for (size_t i = first; i < std::min(inputs.size(), first + chunk); ++i)
        body["items"].push_back(std::move(inputs[i]));
      auto r = call("POST", "/v1/batches", body.dump());
      if (!r)
        return exit_failed;
      auto part = ordered_json::parse(r->body, nullptr, false);
      if (r->status != 200 || !part.is_object())
        return print(*r);
      for (auto key : {"results", "errors"})
        for (auto& x : part[key])
          all[key].push_back(std::move(x));
      for (auto key : {"succeeded", "failed"})
        all[key] = all[key].get<int64_t>() + part.value(key, int64_t{0});
      if (bar)
        draw_progress(all["results"].size(), inputs.size());
    }
    if (bar)
      std::fprintf(stderr, "\n");
    std::cout << all.dump() << "\n";
    return exit_ok;
  }

  int nodes() override {
    return info("nodes");
  }

  int list(const list_options& filter) override {
    ordered_json out{{"tasks", ordered_json::array()}, {"next", nullptr}};
    auto cursor = filter.cursor;
    do {
      auto r = call("GET", "/v1/tasks" + list_query(filter, cursor));
      if (!r)
        return exit_failed;
      auto page = ordered_json::parse(r->body, nullptr, false);
      if (r->status != 200 || !page.is_object())
        return print(*r);
      if (!filter.all)
        return print(*r);
      for (auto& t : page["tasks"])
        out["tasks"].push_back(std::move(t));
      cursor = page["next"].is_string() ? page["next"].get<std::string>() : "";
    } while (!cursor.empty());
    std::cout << out.dump() << "\n";
    return exit_ok;
  }

  int info(const std::string& what) override {
    auto r = call("GET", "/v1/" + what);
    return r ? print(*r) : exit_failed;
  }

private:
  static bool is_terminal(const json& status) {
    return status == "succeeded" || status == "failed"
           || status == "cancelled";
  }

  /// The task fields the command line set; the server fills in the rest.
  static json task_fields(const task_options& t) {
    json body = json::object();
    if (!t.pool.empty())
      body["pool"] = t.pool;
    if (t.max_retries >= 0)
      body["max_retries"] = t.max_retries;
    if (t.backoff_ms >= 0)
      body["backoff_ms"] = t.backoff_ms;
    if (t.timeout_ms >= 0)
      body["timeout_ms"] = t.timeout_ms;
    if (t.priority >= 0)
      body["priority"] = t.priority;
    if (!t.run_at.empty())
      body["run_at"] = t.run_at;
    if (t.countdown_ms >= 0)
      body["countdown_ms"] = t.countdown_ms;
    if (!t.after.empty())
      body["after"] = t.after;
    if (!t.after_policy.empty())
      body["after_policy"] = t.after_policy;
    if (t.pass_results)
      body["pass_results"] = true;
    return body;
  }

  static std::string list_query(const list_options& f,
                                const std::string& cursor) {
    httplib::Params params;
    if (!f.status.empty())
      params.emplace("status", f.status);
    if (!f.kind.empty())
      params.emplace("kind", f.kind);
    if (f.limit > 0)
      params.emplace("limit", std::to_string(f.limit));
    if (!cursor.empty())
      params.emplace("cursor", cursor);
    auto query = httplib::detail::params_to_query_str(params);
    return query.empty() ? "" : "?" + query;
  }

  /// One request; nullopt (with a message saying what to check) when
  /// actorq cannot be reached.
  std::optional<httplib::Response> call(const std::string& method,
                                        const std::string& path,
                                        const std::string& body = "",
                                        httplib::Headers headers = {}) {
    httplib::Client client{t_.origin};
    client.set_connection_timeout(std::chrono::seconds{10});
    // Long-polls take up to 30 s; batches as long as --timeout allows.
    client.set_read_timeout(std::max(c_.timeout, std::chrono::seconds{40}));
    client.set_write_timeout(std::chrono::seconds{60});
    if (!c_.token.empty())
      client.set_bearer_token_auth(c_.token);
    auto full = t_.prefix + path;
    httplib::Result r =
        method == "GET"      ? client.Get(full.c_str(), headers)
        : method == "DELETE" ? client.Delete(full.c_str(), headers)
                             : client.Post(full.c_str(), headers, body,
                                           "application/json");
    if (!r) {
      std::cerr << "actorq-cli: cannot reach actorq at " << c_.url << " ("
                << explain(r.error()) << "). Check that actorq runs there "
                << "(it prints 'actorq listening on http://HOST:PORT') and "
                << "that " << c_.url_from << " names it." << std::endl;
      return std::nullopt;
    }
    return r.value();
  }

  /// The answer on stdout: JSON bodies as they are, anything else (a proxy's
  /// page) as an error of the API's shape.
  int print(const httplib::Response& r) {
    auto body = json::parse(r.body, nullptr, false);
    if (body.is_discarded())
      return print_error("HTTP " + std::to_string(r.status) + " from "
                             + c_.url + ": "
                             + r.body.substr(0, 200),
                         "unexpected_answer");
    std::cout << r.body << (r.body.empty() || r.body.back() != '\n' ? "\n" : "");
    if (r.status == 401)
      std::cerr << "actorq-cli: "
                << (c_.token.empty() ? "actorq wants a token: pass --token "
                                       "or set ACTORQ_AUTH_TOKEN"
                                     : "actorq refused the token")
                << std::endl;
    return r.status / 100 == 2 ? exit_ok : exit_failed;
  }

  connection c_;
  target t_;
};

} // namespace

std::string make_http_backend(const connection& c,
                              std::unique_ptr<backend>& out) {
  auto t = parse_url(c.url);
  if (!t)
    return c.url_from + " must be http://HOST[:PORT] or https://HOST[:PORT] "
           "(optionally with a path), got '" + c.url + "'";
  out = std::make_unique<http_backend>(c, *t);
  return "";
}

} // namespace actorq::cli
