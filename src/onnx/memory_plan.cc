// Greedy-by-size offset assignment (largest buffers first, lowest fitting gap), the usual
// heuristic of TFLite-style planners; O(n^2) in buffers, fine for graphs of a few thousand.
#include "memory_plan.h"

#include <algorithm>
#include <numeric>

namespace lowbit::onnx {

MemoryPlanResult plan_memory(const std::vector<BufferRequest>& requests,
                             const std::function<bool(int, int)>& happens_before) {
  const size_t n = requests.size();
  MemoryPlanResult r;
  r.offsets.assign(n, 0);
  auto aligned = [](size_t b) { return (b + kArenaAlign - 1) / kArenaAlign * kArenaAlign; };
  // a's lifetime ends before b's begins: every step touching a precedes b's producer.
  auto ends_before = [&](const BufferRequest& a, const BufferRequest& b) {
    if (!happens_before(a.producer, b.producer)) return false;
    return std::all_of(a.readers.begin(), a.readers.end(), [&](int s) { return happens_before(s, b.producer); });
  };
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return requests[a].bytes > requests[b].bytes; });
  std::vector<size_t> placed;
  for (size_t i : order) {
    const BufferRequest& req = requests[i];
    r.unshared_bytes += aligned(req.bytes);
    // Intervals of already-placed buffers whose lifetimes may overlap this one.
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t j : placed) {
      const BufferRequest& other = requests[j];
      if (ends_before(other, req) || ends_before(req, other)) continue;
      busy.emplace_back(r.offsets[j], r.offsets[j] + aligned(other.bytes));
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& [lo, hi] : busy) {
      if (offset + aligned(req.bytes) <= lo) break;
      offset = std::max(offset, hi);
    }
    r.offsets[i] = offset;
    r.arena_bytes = std::max(r.arena_bytes, offset + aligned(req.bytes));
    placed.push_back(i);
  }
  return r;
}

}  // namespace lowbit::onnx
