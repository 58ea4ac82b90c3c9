// closest_name / did_you_mean: the "did you mean" of unknown options, config
// keys and actorq-cli flags.
#include "actors/text.hpp"

#include <catch2/catch.hpp>

using namespace actorq;

TEST_CASE("closest_name finds typos: swaps, one letter more, less or wrong") {
  std::vector<std::string> keys{"http.port", "http.host", "store.path",
                                "retry.max-retries", "supervisor.window"};
  CHECK(closest_name("http.prot", keys) == "http.port");   // a swap
  CHECK(closest_name("htp.port", keys) == "http.port");    // one less
  CHECK(closest_name("http.hostt", keys) == "http.host");  // one more
  CHECK(closest_name("store.pauth", keys) == "store.path");
  CHECK(closest_name("retry.max-retry", keys) == "retry.max-retries");
  // Not a typo of anything: no suggestion rather than a wild one.
  CHECK(closest_name("logging", keys).empty());
  CHECK(closest_name("http.portable-mode", keys).empty());
  CHECK(closest_name("x", {}).empty());
}

TEST_CASE("did_you_mean says it with a prefix and quotes, or says nothing") {
  std::vector<std::string> flags{"max-retries", "backoff-ms", "timeout-ms"};
  CHECK(did_you_mean("max-retry", flags, "--", "")
        == " (did you mean --max-retries?)");
  CHECK(did_you_mean("size", {"sise", "queue-limit"}, "pools.io.")
        == " (did you mean 'pools.io.sise'?)");
  CHECK(did_you_mean("nothing-like-it", flags).empty());
}
