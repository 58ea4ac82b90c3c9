#include "http/segment_routes.hpp"

namespace actorq::http {

namespace {

constexpr const char* segment = "([^/]+)";
constexpr const char* metacharacters = "^$\\.*+?()[]{}|";

/// Whether `s` starts with `prefix`.
bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

} // namespace

size_t segment_routes::literal_length(const std::string& pattern) {
  auto at = pattern.find_first_of(metacharacters);
  return at == std::string::npos ? pattern.size() : at;
}

bool segment_routes::may_match(const std::string& pattern,
                               const std::string& prefix) {
  auto literal = literal_length(pattern);
  if (literal == pattern.size()) {
    // A literal pattern matches itself only.
    return starts_with(pattern, prefix) && pattern.size() > prefix.size()
           && pattern.find('/', prefix.size()) == std::string::npos;
  }
  // Anything after its literal start may match anything: unless that start
  // and the prefix differ somewhere, assume it can.
  auto start = pattern.substr(0, literal);
  return starts_with(start, prefix) || starts_with(prefix, start);
}

int segment_routes::add(const std::string& pattern) {
  std::string suffix = segment;
  int index = -1;
  auto literal = literal_length(pattern);
  bool shaped = pattern.size() > suffix.size() && literal > 0
                && literal == pattern.size() - suffix.size()
                && pattern.compare(literal, std::string::npos, suffix) == 0;
  if (shaped) {
    auto prefix = pattern.substr(0, literal);
    bool shadowed = false;
    for (auto& e : earlier_)
      shadowed = shadowed || may_match(e, prefix);
    if (!shadowed) {
      index = static_cast<int>(prefixes_.size());
      prefixes_.push_back(std::move(prefix));
    }
  }
  earlier_.push_back(pattern);
  return index;
}

segment_routes::match segment_routes::find(const std::string& path) const {
  for (size_t i = 0; i < prefixes_.size(); ++i) {
    auto& p = prefixes_[i];
    if (path.size() > p.size() && starts_with(path, p)
        && path.find('/', p.size()) == std::string::npos)
      return {static_cast<int>(i), p.size()};
  }
  return {};
}

} // namespace actorq::http
