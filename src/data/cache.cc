// Encoding, validation and atomic writing of the binary data set cache.
#include "lowbit/data/cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>

#include "lowbit/core/error.h"

namespace lowbit::data {
namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'L', 'B', 'D', 'C', 'A', 'C', 'H', 'E'};
constexpr size_t kHeader = 8 + 4 + 4 + 8 + 8;

template <typename T>
void put(Bytes& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

// Bounds-checked sequential reader over the payload.
class Reader {
 public:
  Reader(std::span<const uint8_t> b, const std::string& what) : b_(b), what_(what) {}
  template <typename T>
  T get() {
    T v;
    std::memcpy(&v, take(sizeof(T)), sizeof(T));
    return v;
  }
  const uint8_t* take(size_t n) {
    if (n > b_.size() - pos_)
      throw IoError(fmt::format("[cache] {}: truncated (need {} bytes at offset {}, {} left)", what_, n, pos_,
                                b_.size() - pos_));
    const uint8_t* p = b_.data() + pos_;
    pos_ += n;
    return p;
  }
  size_t left() const { return b_.size() - pos_; }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
  const std::string& what_;
};

uint32_t crc(std::span<const uint8_t> b) {
  uLong c = crc32(0L, Z_NULL, 0);
  size_t off = 0;
  while (off < b.size()) {  // crc32 takes uInt lengths
    const size_t n = std::min<size_t>(b.size() - off, 1u << 30);
    c = crc32(c, b.data() + off, static_cast<uInt>(n));
    off += n;
  }
  return static_cast<uint32_t>(c);
}

uint8_t* tensor_bytes(Tensor& t) {
  switch (t.dtype()) {
    case DType::f32: return reinterpret_cast<uint8_t*>(t.data<float>());
    case DType::i32: return reinterpret_cast<uint8_t*>(t.data<int32_t>());
    case DType::i8: return reinterpret_cast<uint8_t*>(t.data<int8_t>());
    case DType::u8: return t.data<uint8_t>();
    case DType::i4: break;
  }
  throw ValueError("[cache] int4 tensors are not cached");
}

}  // namespace

Bytes encode_cache(uint64_t fingerprint, const CacheEntry& entry) {
  // The header is patched in at the end, once the payload's size and crc are known.
  Bytes out(kHeader, 0);
  size_t total = kHeader + 8;
  for (const std::string& s : entry.strings) total += 4 + s.size();
  for (const Tensor& t : entry.tensors) total += 8 + 8 * t.shape().size() + t.nbytes();
  out.reserve(total);
  put<uint32_t>(out, static_cast<uint32_t>(entry.strings.size()));
  for (const std::string& s : entry.strings) {
    put<uint32_t>(out, static_cast<uint32_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  }
  put<uint32_t>(out, static_cast<uint32_t>(entry.tensors.size()));
  for (const Tensor& t0 : entry.tensors) {
    Tensor t = t0.contiguous();
    put<uint8_t>(out, static_cast<uint8_t>(t.dtype()));
    put<uint8_t>(out, static_cast<uint8_t>(t.dim()));
    out.resize(out.size() + 6, 0);
    for (int64_t d : t.shape()) put<int64_t>(out, d);
    const uint8_t* p = tensor_bytes(t);
    out.insert(out.end(), p, p + t.nbytes());
  }
  Bytes header;
  put<uint64_t>(header, 0);
  std::memcpy(header.data(), kMagic, 8);
  put<uint32_t>(header, kCacheVersion);
  put<uint32_t>(header, crc(std::span<const uint8_t>(out).subspan(kHeader)));
  put<uint64_t>(header, fingerprint);
  put<uint64_t>(header, out.size() - kHeader);
  std::memcpy(out.data(), header.data(), kHeader);
  return out;
}

std::optional<CacheEntry> decode_cache(std::span<const uint8_t> bytes, uint64_t fingerprint, const std::string& what) {
  Reader h(bytes, what);
  if (bytes.size() < kHeader || std::memcmp(h.take(8), kMagic, 8) != 0)
    throw IoError(fmt::format("[cache] {}: not a lowbit data cache (expected magic LBDCACHE)", what));
  const auto version = h.get<uint32_t>();
  const auto want_crc = h.get<uint32_t>();
  const auto fp = h.get<uint64_t>();
  const auto size = h.get<uint64_t>();
  if (version != kCacheVersion || fp != fingerprint) return std::nullopt;
  if (size != h.left())
    throw IoError(fmt::format("[cache] {}: header says {} payload bytes, file has {}", what, size, h.left()));
  const std::span<const uint8_t> payload = bytes.subspan(kHeader);
  if (crc(payload) != want_crc) throw IoError(fmt::format("[cache] {}: checksum mismatch (corrupt cache)", what));

  Reader r(payload, what);
  CacheEntry e;
  const auto nstr = r.get<uint32_t>();
  for (uint32_t i = 0; i < nstr; ++i) {
    const auto len = r.get<uint32_t>();
    const auto* p = r.take(len);
    e.strings.emplace_back(reinterpret_cast<const char*>(p), len);
  }
  const auto nt = r.get<uint32_t>();
  for (uint32_t i = 0; i < nt; ++i) {
    const auto dt = r.get<uint8_t>();
    const auto nd = r.get<uint8_t>();
    r.take(6);
    if (dt > static_cast<uint8_t>(DType::u8) || nd > 8)
      throw IoError(fmt::format("[cache] {}: tensor {} has dtype code {} / {} dims (expected f32/i32/i8/u8, <= 8)",
                                what, i, dt, nd));
    Shape shape;
    size_t numel = 1;
    for (uint8_t d = 0; d < nd; ++d) {
      const auto dim = r.get<int64_t>();
      // Bounded by the bytes present, so the product cannot overflow.
      if (dim < 0 || (dim > 0 && numel > r.left() / static_cast<size_t>(dim)))
        throw IoError(fmt::format("[cache] {}: tensor {} dim {} = {} does not fit the file", what, i, d, dim));
      numel *= static_cast<size_t>(dim);
      shape.push_back(dim);
    }
    const DType dtype = static_cast<DType>(dt);
    const size_t nbytes = dtype_bytes(dtype, static_cast<int64_t>(numel));
    const uint8_t* src = r.take(nbytes);
    Tensor t = Tensor::empty(shape, dtype);
    if (nbytes) std::memcpy(tensor_bytes(t), src, nbytes);
    e.tensors.push_back(std::move(t));
  }
  if (r.left() != 0) throw IoError(fmt::format("[cache] {}: {} trailing bytes", what, r.left()));
  return e;
}

std::optional<CacheEntry> read_cache(const fs::path& path, uint64_t fingerprint) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) {
    ::close(fd);
    return std::nullopt;
  }
  const size_t n = static_cast<size_t>(st.st_size);
  void* m = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) return std::nullopt;
  ::madvise(m, n, MADV_SEQUENTIAL);
  std::optional<CacheEntry> out;
  try {
    out = decode_cache({static_cast<const uint8_t*>(m), n}, fingerprint, quoted(path));
  } catch (const IoError&) {
    out.reset();  // corrupt: the caller rebuilds and overwrites it
  }
  ::munmap(m, n);
  return out;
}

bool write_cache(const fs::path& path, uint64_t fingerprint, const CacheEntry& entry) {
  try {
    write_file_atomic(path, encode_cache(fingerprint, entry));
    return true;
  } catch (const IoError&) {
    return false;
  }
}

uint64_t files_fingerprint(const fs::path& root, std::span<const fs::path> files, uint64_t salt) {
  uint64_t h = fnv1a(std::to_string(salt));
  for (const fs::path& f : files) {
    struct stat st {};
    const fs::path full = root / f;
    const bool ok = ::stat(full.c_str(), &st) == 0;
    h = fnv1a(f.string(), h);
    const int64_t meta[3] = {ok ? static_cast<int64_t>(st.st_size) : -1, static_cast<int64_t>(st.st_mtim.tv_sec),
                             static_cast<int64_t>(st.st_mtim.tv_nsec)};
    h = fnv1a({reinterpret_cast<const uint8_t*>(meta), sizeof meta}, h);
  }
  return h;
}

}  // namespace lowbit::data
