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
  r.shared_with.assign(n, -1);
  auto aligned = [](size_t b) { return (b + kArenaAlign - 1) / kArenaAlign * kArenaAlign; };
  // Take-overs first: a granted request joins the group of the buffer it overwrites, and the
  // group lives from the first producer to the last reader of any member.
  std::vector<size_t> group(n);
  std::iota(group.begin(), group.end(), 0);
  std::vector<bool> taken(n, false);
  std::vector<BufferRequest> merged = requests;
  for (size_t i = 0; i < n; ++i) {
    const int j = requests[i].reuse;
    if (j < 0 || static_cast<size_t>(j) >= i || taken[static_cast<size_t>(j)]) continue;  // earlier requests only
    const BufferRequest& a = requests[static_cast<size_t>(j)];
    const int p = requests[i].producer;
    if (a.bytes != requests[i].bytes || std::find(a.readers.begin(), a.readers.end(), p) == a.readers.end()) continue;
    if (!std::all_of(a.readers.begin(), a.readers.end(), [&](int s) { return s == p || happens_before(s, p); })) continue;
    taken[static_cast<size_t>(j)] = true;
    r.shared_with[i] = j;
    const size_t g = group[static_cast<size_t>(j)];
    group[i] = g;
    merged[g].readers.insert(merged[g].readers.end(), requests[i].readers.begin(), requests[i].readers.end());
  }
  // a's lifetime ends before b's begins: every step touching a precedes b's producer.
  auto ends_before = [&](const BufferRequest& a, const BufferRequest& b) {
    if (!happens_before(a.producer, b.producer)) return false;
    return std::all_of(a.readers.begin(), a.readers.end(), [&](int s) { return happens_before(s, b.producer); });
  };
  std::vector<size_t> order;
  for (size_t i = 0; i < n; ++i) {
    r.unshared_bytes += aligned(requests[i].bytes);
    if (group[i] == i) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return merged[a].bytes > merged[b].bytes; });
  std::vector<size_t> placed;
  for (size_t i : order) {
    const BufferRequest& req = merged[i];
    // Intervals of already-placed buffers whose lifetimes may overlap this one.
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t j : placed) {
      const BufferRequest& other = merged[j];
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
  for (size_t i = 0; i < n; ++i) r.offsets[i] = r.offsets[group[i]];
  return r;
}

}  // namespace lowbit::onnx
