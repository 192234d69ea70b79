// Skips a test whose peer (ONNX Runtime) or real data is absent, with the reason; fails it
// instead when LOWBIT_REQUIRE_PEERS is set (the fresh-machine check sets it).
#pragma once

#include <cstdlib>
#include <cstring>

#include <gtest/gtest.h>

namespace lowbit::peer_check {

inline bool peers_required() {
  const char* v = std::getenv("LOWBIT_REQUIRE_PEERS");
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

}  // namespace lowbit::peer_check

// LOWBIT_SKIP_ABSENT_PEER(reason): in a test body, when the peer or data the test compares
// against is absent. GTEST_SKIP/FAIL return from the test body, so this must be a macro.
#define LOWBIT_SKIP_ABSENT_PEER(reason)                                               \
  do {                                                                                \
    if (::lowbit::peer_check::peers_required()) FAIL() << (reason) << " (LOWBIT_REQUIRE_PEERS is set)"; \
    GTEST_SKIP() << (reason);                                                         \
  } while (0)
