// The bad-input table's row type and check: each row makes a malformed input, feeds it to the
// parser or engine entry point that reads such input from outside, and names the typed error
// and the message fragments (file/op/node and what was expected) it must produce.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "lowbit/core/error.h"

namespace lowbit::testing {

enum class Want { io, value };  // lowbit::IoError or lowbit::ValueError

struct BadInput {
  std::string name;                 // test name suffix
  std::function<void()> feed;       // builds the input and calls the entry point
  Want want;
  std::vector<std::string> fragments;  // all must appear in what()
};

// GoogleTest prints a parameter into the test's listed name: the row's name, not its bytes.
inline void PrintTo(const BadInput& row, std::ostream* os) { *os << row.name; }

// A scratch file of this process (ctest runs test cases as parallel processes).
inline std::filesystem::path scratch(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("lowbit-robustness-" + std::to_string(::getpid()) + "-" + name);
}

inline std::string row_name(const ::testing::TestParamInfo<BadInput>& info) { return info.param.name; }

// Runs one row: the exact error type, every fragment, nothing else (no other exception type).
inline void check_row(const BadInput& row) {
  try {
    row.feed();
    ADD_FAILURE() << row.name << ": accepted a malformed input";
  } catch (const InternalError& e) {
    ADD_FAILURE() << row.name << ": internal error instead of an input error: " << e.what();
  } catch (const Error& e) {
    const bool io = dynamic_cast<const IoError*>(&e) != nullptr, value = dynamic_cast<const ValueError*>(&e) != nullptr;
    EXPECT_TRUE(row.want == Want::io ? io : value)
        << row.name << ": wrong error type (want " << (row.want == Want::io ? "IoError" : "ValueError") << "): " << e.what();
    for (const std::string& f : row.fragments)
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << row.name << ": '" << f << "' not in: " << e.what();
  }
}

}  // namespace lowbit::testing
