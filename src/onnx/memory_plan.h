// Arena planning: assigns each intermediate buffer an offset so that buffers whose lifetimes
// may overlap never share bytes. "Lifetime ends before" is a happens-before relation supplied
// by the caller: program order for the sequential executor, DAG ancestry for the concurrent one
// (a buffer is reused only by a node that depends on every reader of the previous tenant).
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

namespace lowbit::onnx {

struct BufferRequest {
  size_t bytes = 0;
  int producer = 0;             // step index
  std::vector<int> readers;     // step indices (empty: only the producer touches it)
  // An earlier request whose bytes this one may take over (the producer writes its output over
  // an input it reads element by element, e.g. a conv's residual): granted when the sizes match,
  // this producer reads that buffer, and every other reader of it happens before this producer.
  int reuse = -1;
};

struct MemoryPlanResult {
  std::vector<size_t> offsets;  // per request
  size_t arena_bytes = 0;
  size_t unshared_bytes = 0;
  std::vector<int> shared_with;  // per request: the request whose bytes it took over, or -1
};

inline constexpr size_t kArenaAlign = 64;

// happens_before(a, b): step a is guaranteed finished before step b starts. Requests whose
// `reuse` is granted share one offset (reported in `shared_with`).
MemoryPlanResult plan_memory(const std::vector<BufferRequest>& requests,
                             const std::function<bool(int, int)>& happens_before);

}  // namespace lowbit::onnx
