// Typed errors for lowbit's public API and the always-on LOWBIT_CHECK for internal invariants.
// Every message names the op (or file, or node) and says what was expected.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace lowbit {

// Base of every error lowbit throws on purpose. Apps map it to a message and exit code 1.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A caller passed a bad argument: shapes, dtypes, options.
class ValueError : public Error {
 public:
  using Error::Error;
};

// A file could not be read or written, or its content is malformed.
class IoError : public Error {
 public:
  using Error::Error;
};

// An internal invariant failed: a bug in lowbit, not in the caller's input.
class InternalError : public Error {
 public:
  using Error::Error;
};

// Throws ValueError("[op] message").
template <typename... Args>
[[noreturn]] void fail(std::string_view op, fmt::format_string<Args...> f, Args&&... args) {
  throw ValueError(fmt::format("[{}] {}", op, fmt::format(f, std::forward<Args>(args)...)));
}

[[noreturn]] void check_failed(const char* expr, const char* file, int line, const std::string& msg);

}  // namespace lowbit

// Always on, also in release builds: a failed check is a bug, reported with file:line.
#define LOWBIT_CHECK(cond, ...)                                                           \
  do {                                                                                    \
    if (!(cond)) [[unlikely]]                                                             \
      ::lowbit::check_failed(#cond, __FILE__, __LINE__, ::fmt::format("" __VA_ARGS__));   \
  } while (0)

// Argument validation for public ops: throws ValueError naming the op.
#define LOWBIT_REQUIRE(cond, op, ...)                                                      \
  do {                                                                                     \
    if (!(cond)) [[unlikely]]                                                              \
      ::lowbit::fail(op, __VA_ARGS__);                                                     \
  } while (0)
