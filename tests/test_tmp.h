// A scratch path for a test file (the cil tests): under LOWBIT_TEST_TMP (ctest sets it) or the system temp folder.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace lowbit::test {

inline std::string tmp_path(const std::string& name) {
  const char* base = std::getenv("LOWBIT_TEST_TMP");
  std::filesystem::path dir = base ? base : std::filesystem::temp_directory_path();
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

}  // namespace lowbit::test
