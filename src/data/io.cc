// File reads, zlib inflation and atomic writes for the data loaders.
#include "lowbit/data/io.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "lowbit/core/error.h"

namespace lowbit::data {
namespace fs = std::filesystem;

Bytes read_file(const fs::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw IoError(fmt::format("[data] cannot open '{}' for reading", path.string()));
  Bytes out;
  uint8_t buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + got);
  const bool err = std::ferror(f);
  std::fclose(f);
  if (err) throw IoError(fmt::format("[data] read error on '{}'", path.string()));
  return out;
}

void write_file_atomic(const fs::path& path, std::span<const uint8_t> bytes) {
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw IoError(fmt::format("[data] cannot create '{}'", tmp.string()));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0;
  const bool closed = std::fclose(f) == 0;
  std::error_code ec;
  if (!ok || !closed) {
    fs::remove(tmp, ec);
    throw IoError(fmt::format("[data] cannot write {} bytes to '{}' (disk full?)", bytes.size(), tmp.string()));
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw IoError(fmt::format("[data] cannot rename '{}' to '{}'", tmp.string(), path.string()));
  }
}

Bytes gunzip(std::span<const uint8_t> gz, const std::string& what, size_t max_bytes) {
  z_stream zs{};
  // 15 + 16: zlib window of 32 KiB, gzip wrapper only (a bare zlib/deflate stream is corrupt here).
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw IoError(fmt::format("[data] {}: zlib init failed", what));
  Bytes out;
  // The gzip trailer's ISIZE (size mod 2^32) is a good first guess; capped so a lying header
  // cannot make us allocate more than the caller allows.
  if (gz.size() >= 4) {
    const size_t n = gz.size();
    const size_t isize = gz[n - 4] | (gz[n - 3] << 8) | (gz[n - 2] << 16) | (size_t{gz[n - 1]} << 24);
    out.reserve(std::min({isize, max_bytes, gz.size() * 64 + size_t{1024}}));
  }
  zs.next_in = const_cast<Bytef*>(gz.data());
  zs.avail_in = static_cast<uInt>(std::min<size_t>(gz.size(), 1u << 30));
  size_t consumed_total = 0;
  uint8_t chunk[1 << 16];
  for (;;) {
    zs.next_out = chunk;
    zs.avail_out = sizeof chunk;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const size_t produced = sizeof chunk - zs.avail_out;
    if (out.size() + produced > max_bytes) {
      inflateEnd(&zs);
      throw IoError(fmt::format("[data] {}: gzip data inflates to more than {} bytes (expected at most that)", what,
                                max_bytes));
    }
    out.insert(out.end(), chunk, chunk + produced);
    if (rc == Z_STREAM_END) {
      consumed_total = gz.size() - zs.avail_in;
      // Another member follows (gzip allows concatenation): restart on it.
      if (zs.avail_in >= 2 && is_gzip(gz.subspan(consumed_total))) {
        inflateReset(&zs);
        continue;
      }
      break;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      inflateEnd(&zs);
      throw IoError(fmt::format("[data] {}: truncated gzip stream (input ended after {} inflated bytes)", what,
                                out.size()));
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      const std::string msg = zs.msg ? zs.msg : "error " + std::to_string(rc);
      inflateEnd(&zs);
      throw IoError(fmt::format("[data] {}: corrupt gzip data ({})", what, msg));
    }
    if (rc == Z_OK && produced == 0 && zs.avail_in == 0) {
      inflateEnd(&zs);
      throw IoError(fmt::format("[data] {}: truncated gzip stream (input ended after {} inflated bytes)", what,
                                out.size()));
    }
  }
  inflateEnd(&zs);
  return out;
}

Bytes read_maybe_gzip(const fs::path& path, size_t max_bytes) {
  Bytes raw = read_file(path);
  if (!is_gzip(raw)) return raw;
  return gunzip(raw, quoted(path), max_bytes);
}

fs::path default_data_root() {
  if (const char* env = std::getenv("LOWBIT_DATA_DIR"); env && *env) return env;
  std::error_code ec;
  if (fs::is_directory("data", ec)) return fs::absolute("data", ec);
#ifdef LOWBIT_SOURCE_DIR
  return fs::path(LOWBIT_SOURCE_DIR) / "data";
#else
  return "data";
#endif
}

std::string quoted(const fs::path& p) { return fmt::format("'{}'", p.string()); }

uint64_t fnv1a(std::span<const uint8_t> bytes, uint64_t h) {
  for (uint8_t b : bytes) h = (h ^ b) * 0x100000001b3ULL;
  return h;
}

uint64_t fnv1a(const std::string& s, uint64_t h) {
  return fnv1a(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()), h);
}

}  // namespace lowbit::data
