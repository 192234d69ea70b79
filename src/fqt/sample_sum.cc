// for_each_sample_summed: per-sample work in groups of samples, the ordered fp32 sum of the
// per-sample results spread over the threads by element slices (sample_sum.h).
#include "sample_sum.h"

#include <algorithm>

#include "lowbit/core/tensor.h"
#include "lowbit/core/threads.h"

namespace lowbit::fqt {
namespace {

// sum[i] += buf[j·floats + i] for j in [0, count), i in [i0, i1): j outer, so every element
// gets its terms in sample order.
void add_slice(const float* buf, int64_t count, int64_t floats, int64_t i0, int64_t i1, float* sum) {
  for (int64_t j = 0; j < count; ++j) {
    const float* s = buf + j * floats;
    for (int64_t i = i0; i < i1; ++i) sum[i] += s[i];
  }
}

// Element slice t of T over `floats`, bounds on 16-float (64-byte) lines so that two threads
// never write one cache line of `sum`.
std::pair<int64_t, int64_t> slice(int64_t t, int64_t T, int64_t floats) {
  const int64_t lines = (floats + 15) / 16;
  return {std::min(floats, lines * t / T * 16), std::min(floats, lines * (t + 1) / T * 16)};
}

// Below this many additions the last group's sum runs on the calling thread (a parallel region
// costs tens of microseconds to wake a sleeping worker).
constexpr int64_t kMinParallelAdds = int64_t{1} << 16;

}  // namespace

int64_t samples_per_group(int64_t samples, int64_t floats, int threads) {
  const int64_t bytes = std::max<int64_t>(floats, 1) * static_cast<int64_t>(sizeof(float));
  const int64_t budget = threads > 1 ? kSampleGroupBytes : kSampleGroupBytesOneThread;
  const int64_t most = std::clamp<int64_t>(budget / bytes, 1, std::max<int64_t>(samples, 1));
  const int64_t groups = (samples + most - 1) / most;
  return groups > 0 ? (samples + groups - 1) / groups : 1;
}

void for_each_sample_summed(int64_t samples, int64_t floats, float* sum,
                            const std::function<void(int64_t n, float* out)>& per_sample) {
  if (samples <= 0) return;
  const int T = num_threads();
  const int64_t G = samples_per_group(samples, floats, T), groups = (samples + G - 1) / G;
  Tensor buf = Tensor::empty({2, G, std::max<int64_t>(floats, 1)});
  float* half[2] = {buf.data<float>(), buf.data<float>() + G * std::max<int64_t>(floats, 1)};
  // Step g runs group g's samples (g < groups) and adds group g - 1's results (g > 0): group
  // g - 1 was completed by the previous step's region, and its sums of earlier groups too.
  for (int64_t g = 0; g <= groups; ++g) {
    const int64_t n0 = g * G, count = g < groups ? std::min(G, samples - n0) : 0;
    const int64_t prev = g > 0 ? std::min(G, samples - (g - 1) * G) : 0;
    const float* done = g > 0 ? half[(g - 1) % 2] : nullptr;
    float* out = g < groups ? half[g % 2] : nullptr;
    const int64_t tasks = count == 0 && prev * floats < kMinParallelAdds ? 1 : T;
    parallel_for(tasks, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        if (done) {
          const auto [i0, i1] = slice(t, tasks, floats);
          add_slice(done, prev, floats, i0, i1, sum);
        }
        for (int64_t j = count * t / tasks; j < count * (t + 1) / tasks; ++j) per_sample(n0 + j, out + j * floats);
      }
    });
  }
}

}  // namespace lowbit::fqt
