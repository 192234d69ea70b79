// Private to fqt: a per-sample loop in parallel whose per-sample fp32 results are summed in
// sample order (a conv's dW = Σ_n dW_n), with few parallel regions and no serial sum.
#pragma once

#include <cstdint>
#include <functional>

namespace lowbit::fqt {

// Bytes of per-sample results held per group (two groups are held at a time). With threads,
// every group costs a parallel region (waking a sleeping worker: tens of µs on a VM), so groups
// are large: a ResNet-20 stage-1/2 batch of 128 is one or two groups, stage 3 (147 KB per
// sample) five. On one thread a group costs nothing and small groups keep the results in L2.
constexpr int64_t kSampleGroupBytes = int64_t{4} << 20;
constexpr int64_t kSampleGroupBytesOneThread = int64_t{512} << 10;

// Samples per group for per-sample results of `floats` floats each on `threads` threads: the
// budget above, at least 1, groups of equal size (the last may be shorter).
int64_t samples_per_group(int64_t samples, int64_t floats, int threads);

// Calls per_sample(n, out) for every n in [0, samples), out a scratch of `floats` floats that
// per_sample must fill, on up to num_threads() threads, and then sum[i] += out_n[i] for n in
// increasing order: each element of `sum` receives the same fp32 additions in the same order
// for any thread count. Samples run in groups (samples_per_group); one parallel region per
// group, in which the threads also add the previous group's results into their own slice of
// `sum`, and one at the end: no serial pass over the per-sample results.
void for_each_sample_summed(int64_t samples, int64_t floats, float* sum,
                            const std::function<void(int64_t n, float* out)>& per_sample);

}  // namespace lowbit::fqt
