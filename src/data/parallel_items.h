// Internal: runs fn(i) for i in [0, n) with lowbit::parallel_for, catching exceptions inside
// the worker threads (an exception must not escape an OpenMP region) and rethrowing the one of
// the lowest index, so the reported error does not depend on the thread count.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "lowbit/core/error.h"
#include "lowbit/core/threads.h"

namespace lowbit::data::detail {

template <typename Fn>
void parallel_items(int64_t n, int64_t grain, Fn&& fn) {
  std::mutex mu;
  int64_t first_bad = n;
  std::string first_msg;
  parallel_for(n, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      try {
        fn(i);
      } catch (const std::exception& err) {
        std::lock_guard lock(mu);
        if (i < first_bad) first_bad = i, first_msg = err.what();
        return;  // later items of this chunk cannot have a lower index
      }
    }
  });
  if (first_bad < n) throw IoError(first_msg);
}

}  // namespace lowbit::data::detail
