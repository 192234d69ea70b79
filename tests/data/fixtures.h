// Helpers for data tests: a fresh temp folder per test, writing files, gzip and JPEG encoding,
// and checking that a call throws IoError whose message contains given fragments.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

namespace lowbit::data::testing {

// $LOWBIT_TEST_TMP (set by ctest) or the system temp dir, plus a folder unique to the
// running test; removed and recreated on each call.
std::filesystem::path fresh_dir(const std::string& tag = "");

void write_bytes(const std::filesystem::path& p, std::span<const uint8_t> bytes);
void write_text(const std::filesystem::path& p, const std::string& text);

std::vector<uint8_t> gzip(std::span<const uint8_t> raw);

// Baseline JPEG of a rows x cols image with `components` (1 or 3) interleaved channels.
std::vector<uint8_t> encode_jpeg(const uint8_t* pixels, int rows, int cols, int components, int quality = 95);

// Big-endian IDX file of u8 values.
std::vector<uint8_t> idx_bytes(std::initializer_list<uint32_t> dims, std::span<const uint8_t> values, int ndim = -1);

}  // namespace lowbit::data::testing

// Expects `stmt` to throw lowbit::IoError whose what() contains every fragment.
#define EXPECT_IO_ERROR(stmt, ...)                                                        \
  do {                                                                                    \
    try {                                                                                 \
      stmt;                                                                               \
      ADD_FAILURE() << "expected IoError from " #stmt;                                    \
    } catch (const ::lowbit::IoError& err_) {                                              \
      for (const char* frag : {__VA_ARGS__})                                              \
        EXPECT_NE(std::string(err_.what()).find(frag), std::string::npos)                 \
            << "message '" << err_.what() << "' lacks '" << frag << "'";                    \
    }                                                                                     \
  } while (0)
