// Shared by the fuzz targets: what a parser may throw for malformed input (lowbit::IoError or
// ValueError, whose messages name the file and what was expected) and what is a finding: an
// InternalError (a broken invariant, LOWBIT_CHECK), any other exception, a crash, a leak.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "lowbit/core/error.h"

namespace lowbit::fuzz {

template <typename Body>
int run_one(Body&& body) {
  try {
    body();
  } catch (const lowbit::InternalError& e) {
    std::fprintf(stderr, "fuzz finding: internal error on malformed input: %s\n", e.what());
    std::abort();
  } catch (const lowbit::Error&) {
    // Expected: a clear, typed error for malformed input.
  }
  return 0;  // any other exception escapes: libFuzzer reports it as an uncaught exception
}

}  // namespace lowbit::fuzz
