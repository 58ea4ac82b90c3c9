// The dashboard's static files, compiled into the binary: the CMake step in
// cmake/embed_assets.cmake turns http/dashboard/* and Debian's Chart.js into
// dashboard_assets.cpp in the build tree, so the daemon serves its page with
// nothing read from disk and nothing fetched from a CDN.
#pragma once

#include <cstddef>
#include <string_view>

namespace actorq::http {

struct dashboard_asset {
  const char* path;         // served at this URL path, e.g. "/dashboard/app.js"
  const char* content_type; // from the file's extension
  const unsigned char* data;
  size_t size;
};

/// Every asset; the page itself is served at "/" from `dashboard_index`.
extern const dashboard_asset dashboard_assets[];
extern const size_t dashboard_asset_count;

/// Whether `path` names one of them (served without the token).
bool is_dashboard_asset(std::string_view path);

} // namespace actorq::http
