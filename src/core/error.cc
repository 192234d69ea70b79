// Out-of-line failure path of LOWBIT_CHECK, kept cold.
#include "lowbit/core/error.h"

namespace lowbit {

void check_failed(const char* expr, const char* file, int line, const std::string& msg) {
  throw InternalError(fmt::format("internal check failed: {} at {}:{}{}{}", expr, file, line,
                                  msg.empty() ? "" : ": ", msg));
}

}  // namespace lowbit
