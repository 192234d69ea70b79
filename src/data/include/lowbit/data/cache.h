// Binary cache of decoded data sets (so the second load of DSADS or the CIFAR-10 JPEG tree is
// a file read, not 9,120 text parses or 60,000 JPEG decodes).
// Layout (little-endian): "LBDCACHE" | u32 version | u32 crc32(payload) | u64 fingerprint |
// u64 payload bytes | payload. Payload: u32 #strings, each u32 length + bytes; u32 #tensors,
// each u8 dtype, u8 ndim, 6 zero bytes, ndim x i64 dims, then the contiguous values.
// The fingerprint identifies the source files (names, sizes, mtimes) and loader options; a
// mismatch means "stale", not "corrupt".
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lowbit/core/tensor.h"
#include "lowbit/data/io.h"

namespace lowbit::data {

struct CacheEntry {
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;  // f32, i32, i8 or u8
};

inline constexpr uint32_t kCacheVersion = 1;

Bytes encode_cache(uint64_t fingerprint, const CacheEntry& entry);

// nullopt when the fingerprint or version differs (stale cache). IoError naming `what` when
// the buffer is malformed: bad magic, truncated, crc mismatch, sizes that do not add up. All
// sizes are checked against the buffer before allocating.
std::optional<CacheEntry> decode_cache(std::span<const uint8_t> bytes, uint64_t fingerprint, const std::string& what);

// Reads (memory-mapped) and decodes a cache file; nullopt when it is missing, stale or
// corrupt (a corrupt cache is rebuilt, never an error for the user).
std::optional<CacheEntry> read_cache(const std::filesystem::path& path, uint64_t fingerprint);

// Writes atomically; returns false (and writes nothing) when the folder is not writable,
// e.g. a read-only data set under /usr/share.
bool write_cache(const std::filesystem::path& path, uint64_t fingerprint, const CacheEntry& entry);

// Fingerprint of a list of files: relative names, sizes and modification times, plus `salt`
// (the loader's options and format version).
uint64_t files_fingerprint(const std::filesystem::path& root, std::span<const std::filesystem::path> files,
                           uint64_t salt);

}  // namespace lowbit::data
