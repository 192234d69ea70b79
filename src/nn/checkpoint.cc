// Checkpoint serialization, validation and atomic file writes.
#include "lowbit/nn/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace lowbit::nn {
namespace {

constexpr char kMagic[8] = {'L', 'O', 'W', 'B', 'I', 'T', 'C', 'K'};
constexpr int kMaxRank = 8;

template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

class Reader {
 public:
  Reader(const std::string& b, const std::string& origin) : b_(b), origin_(origin) {}
  template <typename T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string bytes(uint64_t n, const char* what) {
    need(n, what);
    std::string s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  const char* at() const { return b_.data() + pos_; }
  void skip(uint64_t n, const char* what) {
    need(n, what);
    pos_ += n;
  }
  size_t pos() const { return pos_; }
  [[noreturn]] void fail(const std::string& msg) const {
    throw IoError(fmt::format("[checkpoint] {}: {} (at byte {})", origin_, msg, pos_));
  }

 private:
  void need(uint64_t n, const char* what) const {
    if (n > b_.size() - pos_) fail(fmt::format("truncated while reading {} ({} bytes needed, {} left)", what, n, b_.size() - pos_));
  }
  const std::string& b_;
  const std::string& origin_;
  size_t pos_ = 0;
};

// First byte of a contiguous tensor's payload, whatever its dtype.
const void* raw_bytes(const Tensor& t) {
  switch (t.dtype()) {
    case DType::f32: return t.data<float>();
    case DType::i32: return t.data<int32_t>();
    case DType::i8: return t.data<int8_t>();
    case DType::u8: return t.data<uint8_t>();
    case DType::i4: return t.packed();
  }
  return nullptr;
}

}  // namespace

const Tensor* Checkpoint::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw IoError(fmt::format("[write] cannot create {}: {}", tmp, std::strerror(errno)));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw IoError(fmt::format("[write] writing {} failed: {}", tmp, std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw IoError(fmt::format("[write] flushing {} failed: {}", tmp, std::strerror(errno)));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    throw IoError(fmt::format("[write] renaming {} to {} failed: {}", tmp, path, std::strerror(errno)));
  }
}

void save_checkpoint(const std::string& path, const Checkpoint& ck) {
  std::string out(kMagic, sizeof(kMagic));
  put<uint32_t>(out, kCheckpointVersion);
  put<uint32_t>(out, 0);
  put<uint64_t>(out, ck.meta_json.size());
  out += ck.meta_json;
  put<uint64_t>(out, ck.tensors.size());
  for (const auto& [name, t] : ck.tensors) {
    put<uint32_t>(out, static_cast<uint32_t>(name.size()));
    out += name;
    put<uint8_t>(out, static_cast<uint8_t>(t.dtype()));
    put<uint8_t>(out, static_cast<uint8_t>(t.dim()));
    for (int64_t d : t.shape()) put<int64_t>(out, d);
    const Tensor c = t.contiguous();
    put<uint64_t>(out, c.nbytes());
    out.append(static_cast<const char*>(raw_bytes(c)), c.nbytes());
  }
  const uint32_t crc = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(out.data()), out.size()));
  put<uint32_t>(out, crc);
  write_file_atomic(path, out);
}

Checkpoint parse_checkpoint(const std::string& bytes, const std::string& origin) {
  Reader r(bytes, origin);
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)
    r.fail("not a lowbit checkpoint (magic 'LOWBITCK' missing)");
  r.skip(sizeof(kMagic), "magic");
  const uint32_t version = r.get<uint32_t>("version");
  if (version != kCheckpointVersion)
    r.fail(fmt::format("unsupported format version {} (this build reads version {})", version, kCheckpointVersion));
  r.get<uint32_t>("flags");
  if (bytes.size() < 4) r.fail("file too short");
  uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + bytes.size() - 4, 4);
  const uint32_t crc = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size() - 4));
  if (crc != stored_crc) r.fail(fmt::format("CRC mismatch (stored {:08x}, computed {:08x}): file is corrupt or truncated", stored_crc, crc));

  Checkpoint ck;
  const uint64_t meta_len = r.get<uint64_t>("metadata length");
  ck.meta_json = r.bytes(meta_len, "metadata");
  const uint64_t count = r.get<uint64_t>("tensor count");
  if (count > bytes.size()) r.fail(fmt::format("tensor count {} exceeds the file size", count));
  for (uint64_t i = 0; i < count; ++i) {
    const uint32_t name_len = r.get<uint32_t>("tensor name length");
    std::string name = r.bytes(name_len, "tensor name");
    const uint8_t dt = r.get<uint8_t>("dtype");
    if (dt > static_cast<uint8_t>(DType::i4)) r.fail(fmt::format("tensor '{}': unknown dtype code {}", name, dt));
    const uint8_t rank = r.get<uint8_t>("rank");
    if (rank > kMaxRank) r.fail(fmt::format("tensor '{}': rank {} exceeds {}", name, rank, kMaxRank));
    Shape shape(rank);
    int64_t numel = 1;
    for (auto& d : shape) {
      d = r.get<int64_t>("dimension");
      if (d < 0 || (d > 0 && numel > static_cast<int64_t>(bytes.size()) * 2 / d))
        r.fail(fmt::format("tensor '{}': dimension {} is impossible for a {}-byte file", name, d, bytes.size()));
      numel *= d;
    }
    const DType dtype = static_cast<DType>(dt);
    const uint64_t nbytes = r.get<uint64_t>("payload size");
    if (nbytes != dtype_bytes(dtype, numel))
      r.fail(fmt::format("tensor '{}': payload {} bytes, shape {} of {} needs {}", name, nbytes, shape_str(shape),
                         dtype_name(dtype), dtype_bytes(dtype, numel)));
    const char* src = r.at();
    r.skip(nbytes, "tensor payload");
    Tensor t = Tensor::empty(shape, dtype);
    if (nbytes) std::memcpy(const_cast<void*>(raw_bytes(t)), src, nbytes);
    ck.tensors.emplace_back(std::move(name), std::move(t));
  }
  if (r.pos() != bytes.size() - 4) r.fail(fmt::format("{} unexpected bytes before the CRC", bytes.size() - 4 - r.pos()));
  return ck;
}

Checkpoint load_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("[checkpoint] cannot open {}: {}", path, std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_checkpoint(ss.str(), path);
}

void add_module_state(Checkpoint& ck, Module& m, const std::string& prefix) {
  for (auto& [name, p] : m.named_parameters()) ck.tensors.emplace_back(prefix + name, p.value());
  for (auto& [name, b] : m.named_buffers()) ck.tensors.emplace_back(prefix + name, *b);
}

void add_optimizer_state(Checkpoint& ck, Optimizer& opt, const std::string& prefix) {
  for (auto& [name, t] : opt.named_state()) ck.tensors.emplace_back(prefix + name, *t);
}

namespace {
void load_entry(const Checkpoint& ck, const std::string& key, Tensor& dst, const std::string& origin) {
  const Tensor* src = ck.find(key);
  if (!src) throw IoError(fmt::format("[checkpoint] {}: missing entry '{}'", origin, key));
  if (src->shape() != dst.shape() || src->dtype() != dst.dtype())
    throw IoError(fmt::format("[checkpoint] {}: entry '{}' is {} {}, the model expects {} {}", origin, key,
                              dtype_name(src->dtype()), shape_str(src->shape()), dtype_name(dst.dtype()),
                              shape_str(dst.shape())));
  if (src->dtype() == DType::f32) {
    const Tensor c = src->contiguous();
    const float* v = c.data<float>();
    for (int64_t i = 0; i < c.numel(); ++i)
      if (!std::isfinite(v[i]))
        throw IoError(fmt::format("[checkpoint] {}: entry '{}' holds {} at element {} (the run that wrote it diverged, "
                                  "or the file is corrupt)", origin, key, v[i], i));
  }
  dst.copy_(*src);
}
}  // namespace

void load_module_state(const Checkpoint& ck, Module& m, const std::string& origin, const std::string& prefix) {
  for (auto& [name, p] : m.named_parameters()) load_entry(ck, prefix + name, p.mutable_value(), origin);
  for (auto& [name, b] : m.named_buffers()) load_entry(ck, prefix + name, *b, origin);
}

void load_optimizer_state(const Checkpoint& ck, Optimizer& opt, const std::string& origin, const std::string& prefix) {
  for (auto& [name, t] : opt.named_state()) load_entry(ck, prefix + name, *t, origin);
}

}  // namespace lowbit::nn
