// Size-keyed cache of large aligned blocks. Small blocks go straight to the C allocator.
#include "lowbit/core/allocator.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace lowbit {
namespace {

constexpr size_t kAlign = 64;
constexpr size_t kCacheMin = size_t{64} << 10;   // blocks below 64 KiB are not cached
constexpr size_t kCacheMax = size_t{4} << 30;    // total bytes the cache may hold

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  size_t bytes = 0;
};

Cache& cache() {
  static Cache* c = new Cache;  // leaked on purpose: tensors may be freed during static destruction
  return *c;
}

size_t rounded(size_t nbytes) {
  const size_t unit = nbytes >= kCacheMin ? size_t{4096} : kAlign;
  return (std::max<size_t>(nbytes, 1) + unit - 1) / unit * unit;
}

}  // namespace

void* storage_alloc(size_t nbytes) {
  const size_t size = rounded(nbytes);
  if (size >= kCacheMin) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.find(size);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.bytes -= size;
      return p;
    }
  }
  void* p = std::aligned_alloc(kAlign, size);
  if (!p) {
    storage_release_cache();
    p = std::aligned_alloc(kAlign, size);
    if (!p) throw std::bad_alloc();
  }
  return p;
}

void storage_free(void* p, size_t nbytes) {
  if (!p) return;
  const size_t size = rounded(nbytes);
  if (size >= kCacheMin) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.bytes + size <= kCacheMax) {
      c.free_blocks[size].push_back(p);
      c.bytes += size;
      return;
    }
  }
  std::free(p);
}

size_t storage_cached_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.bytes;
}

void storage_release_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [size, blocks] : c.free_blocks)
    for (void* p : blocks) std::free(p);
  c.free_blocks.clear();
  c.bytes = 0;
}

}  // namespace lowbit
