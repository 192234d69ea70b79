// Byte-level file helpers shared by the loaders: whole-file reads, gzip inflation with a size
// cap, atomic writes (temp file + rename) and the default data folder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace lowbit::data {

using Bytes = std::vector<uint8_t>;

// Whole file; IoError naming the file when it cannot be opened or read.
Bytes read_file(const std::filesystem::path& path);

// Writes `bytes` to path.tmp.<pid>, then renames it over `path`, so readers see either the old
// file or the complete new one. IoError on failure (the temp file is removed).
void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes);

inline bool is_gzip(std::span<const uint8_t> b) { return b.size() >= 2 && b[0] == 0x1f && b[1] == 0x8b; }

// Inflates a gzip stream (several concatenated members allowed). `what` names the source in
// errors: "corrupt gzip data" (zlib's message), "truncated gzip stream", or output over
// max_bytes (a decompression-bomb guard: callers pass a bound derived from what they expect).
Bytes gunzip(std::span<const uint8_t> gz, const std::string& what, size_t max_bytes = size_t{1} << 31);

// Reads a file and inflates it when it starts with the gzip magic.
Bytes read_maybe_gzip(const std::filesystem::path& path, size_t max_bytes = size_t{1} << 31);

// The folder holding unpacked data sets (scripts/fetch-data writes it): $LOWBIT_DATA_DIR if set,
// else ./data if it exists, else <lowbit source tree>/data.
std::filesystem::path default_data_root();

// The path in single quotes, as error messages name files.
std::string quoted(const std::filesystem::path& p);

// 64-bit FNV-1a, used for cache fingerprints (not for security).
uint64_t fnv1a(std::span<const uint8_t> bytes, uint64_t h = 0xcbf29ce484222325ULL);
uint64_t fnv1a(const std::string& s, uint64_t h = 0xcbf29ce484222325ULL);

}  // namespace lowbit::data
