#include "http/dashboard_assets.hpp"
#include "http/routes.hpp"

#include "actors/time.hpp"

#include <string_view>

namespace actorq::http {

namespace {

/// The page loads its script, style sheet and Chart.js from this server
/// only, talks to this server only, and may not be framed by another site
/// (its cancel buttons must not be clickjacked). No inline code, so a
/// string shown on the page can never run as script.
constexpr const char* page_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'";

void serve_asset(const dashboard_asset& a, httplib::Response& res) {
  // Revalidated on every load: a new binary brings a new page.
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Content-Security-Policy", page_policy);
  res.set_content(reinterpret_cast<const char*>(a.data), a.size,
                  a.content_type);
}

/// Pages served at a path of their own, not at /dashboard/<file>.
struct page {
  const char* file;
  const char* route;
  route_doc doc;
};

const page* page_of(std::string_view asset_path) {
  static const page pages[] = {
      {"/dashboard/index.html", "/",
       route_doc{"dashboard", "The dashboard"}
           .about("Pools, throughput, tasks, nodes and lease workers; asks "
                  "for the token once when http.auth-token is set.")
           .content(200, "text/html", "The page")},
      {"/dashboard/docs.html", "/docs",
       route_doc{"docs", "This API's description as a page"}
           .about("Renders GET /openapi.json: operations by tag, with "
                  "parameters, bodies, answers and examples.")
           .content(200, "text/html", "The page")},
  };
  for (auto& p : pages)
    if (asset_path == p.file)
      return &p;
  return nullptr;
}

/// A URL path as a route pattern (httplib routes are regular expressions).
std::string exact_pattern(std::string_view path) {
  std::string out;
  for (char ch : path) {
    if (ch == '.')
      out += '\\';
    out += ch;
  }
  return out;
}

/// GET /v1/stats: the jobs that ended per bucket, with the throughput (jobs
/// ended per second) and failure rate (failed / ended; null for no jobs)
/// computed here rather than by each client.
std::string render_stats(const rate_series& s) {
  auto window = s.step * s.completed.size();
  auto rate = [](uint64_t failed, uint64_t ended) {
    return ended == 0 ? json(nullptr)
                      : json(static_cast<double>(failed) / ended);
  };
  json points = json::array();
  uint64_t completed = 0, failed = 0;
  for (size_t i = 0; i < s.completed.size(); ++i) {
    auto ended = s.completed[i] + s.failed[i];
    auto start = s.end - static_cast<int64_t>(window) + int64_t(i) * s.step;
    points.push_back({{"at", iso8601(start * 1000)},
                      {"completed", s.completed[i]},
                      {"failed", s.failed[i]},
                      {"throughput", double(ended) / s.step},
                      {"failure_rate", rate(s.failed[i], ended)}});
    completed += s.completed[i];
    failed += s.failed[i];
  }
  json total{{"completed", completed},
             {"failed", failed},
             {"throughput", window == 0 ? 0.0
                                        : double(completed + failed) / window},
             {"failure_rate", rate(failed, completed + failed)}};
  return json{{"window_s", window},    {"step_s", s.step},
              {"end", iso8601(s.end * 1000)}, {"points", std::move(points)},
              {"total", std::move(total)}}
      .dump();
}

/// ?window=SECONDS (1..900, default 300) &step=SECONDS (1..60, default 5).
parsed<std::pair<uint32_t, uint32_t>> parse_stats_query(
    const httplib::Request& req) {
  uint32_t window = 300, step = 5;
  if (auto w = param(req, "window")) {
    auto n = parse_int_param("window", *w, 1, 900);
    if (auto err = std::get_if<http_error>(&n))
      return *err;
    window = static_cast<uint32_t>(std::get<int64_t>(n));
  }
  if (auto s = param(req, "step")) {
    auto n = parse_int_param("step", *s, 1, 60);
    if (auto err = std::get_if<http_error>(&n))
      return *err;
    step = static_cast<uint32_t>(std::get<int64_t>(n));
  }
  if (step > window)
    return http_error{422, "invalid", "step must not exceed window"};
  return std::pair{window, step};
}

} // namespace

bool is_dashboard_asset(std::string_view path) {
  for (size_t i = 0; i < dashboard_asset_count; ++i)
    if (path == dashboard_assets[i].path)
      return true;
  return false;
}

/// The dashboard page and its assets, and the two read-only routes only it
/// needs: throughput history and a task's input.
void dashboard_routes(router& r, const route_context& c) {
  for (size_t i = 0; i < dashboard_asset_count; ++i) {
    auto* a = &dashboard_assets[i];
    auto* p = page_of(a->path);
    auto type = std::string{a->content_type};
    r.on("GET", p ? p->route : exact_pattern(a->path),
         p ? p->doc
           : route_doc{"dashboard", std::string{"Static file "} + a->path}
                 .content(200, type.substr(0, type.find(';')),
                          "The file, from the binary"),
         [a](const auto&, auto& res) { serve_asset(*a, res); });
  }
  r.on("GET", "/v1/stats",
       route_doc{"stats", "Throughput and failure rate"}
           .about("Jobs (tasks and batch items) that ended, per `step` "
                  "seconds over the last `window` seconds, oldest first, "
                  "measured by the server.")
           .query("window",
                  {{"type", "integer"}, {"minimum", 1}, {"maximum", 900},
                   {"default", 300}},
                  "Seconds of history")
           .query("step",
                  {{"type", "integer"}, {"minimum", 1}, {"maximum", 60},
                   {"default", 5}},
                  "Seconds per point (at most window)")
           .answer(200, "Stats", "The series and its total")
           .errors({422}),
       [c](const httplib::Request& req, auto& res) {
    auto query = parse_stats_query(req);
    if (auto err = std::get_if<http_error>(&query))
      return reply(res, *err);
    auto [window, step] = std::get<std::pair<uint32_t, uint32_t>>(query);
    auto series = ask<rate_series>(*c.sys, c.actors->rates, immediate,
                                   stats_atom::value, window, step);
    reply_with(res, series, render_stats);
  });
  // The registry keeps no inputs in memory (a few bytes per task matter at a
  // million tasks); the store has them.
  r.on("GET", R"(/v1/tasks/([^/]+)/input)",
       route_doc{"tasks", "A task's input"}
           .about("As submitted; kept in the store only (404 with "
                  "store.path = :memory:).")
           .path("id", "The task's id")
           .answer(200, "AnyJSON", "The input")
           .errors({404}),
       [c](const auto& req, auto& res) {
    auto id = path_id(req);
    if (!id)
      return reply(res, task_not_found);
    if (!c.actors->store)
      return reply(res, http_error{404, "not_found",
                                   "inputs are kept only in the store, and "
                                   "store.path is :memory:"});
    auto input = ask<raw_json>(*c.sys, c.actors->store, immediate,
                               get_atom::value, input_atom::value, *id);
    reply_with(res, input, [](const raw_json& x) {
      return x.text.empty() ? std::string{"null"} : x.text;
    });
  });
}

} // namespace actorq::http
