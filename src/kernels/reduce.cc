// Reductions and arg-max/min of reduce.h. The shape is collapsed to runs of kept and reduced
// axes; the two layouts models use — reduced axes trailing (LayerNorm decompositions, means
// over H·W) and one reduced run between kept ones (a channel axis of NCHW) — run in parallel
// with each output accumulated in input order, bitwise as ref::reduce; other layouts call it.
#include "lowbit/kernels/reduce.h"

#include <algorithm>
#include <vector>

#include "lowbit/core/threads.h"
#include "reduce_impl.h"

namespace lowbit::kernels {
namespace {

// acc[i] = step(acc[i], x[k·inner + i]) for k in [0, R), i in [0, n): each output's inputs in
// increasing index, as ref::reduce. kR is a compile-time step (mean folds as sum).
template <Reduction kR, typename T>
void fold_rows(int64_t R, int64_t inner, int64_t n, const T* x, double* __restrict acc) {
  for (int64_t k = 0; k < R; ++k) {
    const T* __restrict src = x + k * inner;
    for (int64_t i = 0; i < n; ++i) acc[i] = detail::reduce_step(kR, acc[i], static_cast<double>(src[i]));
  }
}

template <typename T>
void fold_rows_any(Reduction r, int64_t R, int64_t inner, int64_t n, const T* x, double* acc) {
  for (int64_t k = 0; k < R; ++k) {
    const T* src = x + k * inner;
    for (int64_t i = 0; i < n; ++i) acc[i] = detail::reduce_step(r, acc[i], static_cast<double>(src[i]));
  }
}

// (outer, R, inner): y[o, i] = the reduction over k of x[(o·R + k)·inner + i].
template <typename T>
void reduce_block(Reduction r, int64_t outer, int64_t R, int64_t inner, const T* x, T* y) {
  if (inner == 1) {
    parallel_for(outer, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, R)), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        double acc = detail::reduce_init(r);
        const T* row = x + o * R;
        for (int64_t k = 0; k < R; ++k) acc = detail::reduce_step(r, acc, static_cast<double>(row[k]));
        y[o] = detail::reduce_cast<T>(detail::reduce_final(r, acc, R));
      }
    });
    return;
  }
  constexpr int64_t kChunk = 256;
  const int64_t chunks = (inner + kChunk - 1) / kChunk;
  parallel_for(outer * chunks, 1, [&](int64_t t0, int64_t t1) {
    double acc[kChunk];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / chunks, i0 = (t % chunks) * kChunk, n = std::min(kChunk, inner - i0);
      std::fill(acc, acc + n, detail::reduce_init(r));
      const T* src = x + o * R * inner + i0;
      switch (r) {  // the step as a constant, so the row loop vectorizes (a mean over H·W channels-last)
        case Reduction::mean: case Reduction::sum: fold_rows<Reduction::sum>(R, inner, n, src, acc); break;
        case Reduction::max: fold_rows<Reduction::max>(R, inner, n, src, acc); break;
        case Reduction::min: fold_rows<Reduction::min>(R, inner, n, src, acc); break;
        case Reduction::sum_square: case Reduction::l2: fold_rows<Reduction::sum_square>(R, inner, n, src, acc); break;
        default: fold_rows_any(r, R, inner, n, src, acc); break;
      }
      for (int64_t i = 0; i < n; ++i) y[o * inner + i0 + i] = detail::reduce_cast<T>(detail::reduce_final(r, acc[i], R));
    }
  });
}

}  // namespace

template <typename T>
void reduce(Reduction r, std::span<const int64_t> shape, std::span<const bool> reduced, const T* x, T* y) {
  // Runs of equal kind, size-1 axes dropped: (extent, reduced) pairs.
  std::vector<std::pair<int64_t, bool>> runs;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return ref::reduce(r, shape, reduced, x, y);  // empty input: identities
    if (shape[d] == 1) continue;
    if (!runs.empty() && runs.back().second == reduced[d]) runs.back().first *= shape[d];
    else runs.emplace_back(shape[d], reduced[d]);
  }
  int64_t outer = 1, R = 1, inner = 1;
  size_t i = 0;
  if (i < runs.size() && !runs[i].second) outer = runs[i++].first;
  if (i < runs.size() && runs[i].second) R = runs[i++].first;
  if (i < runs.size() && !runs[i].second) inner = runs[i++].first;
  if (i < runs.size()) return ref::reduce(r, shape, reduced, x, y);
  reduce_block(r, outer, R, inner, x, y);
}

template <typename T>
void arg_extreme(bool is_max, bool last_on_ties, int64_t outer, int64_t D, int64_t inner, const T* x, int64_t* y) {
  parallel_for(outer * inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, D)), [&](int64_t l0, int64_t l1) {
    for (int64_t l = l0; l < l1; ++l) {
      const int64_t o = l / inner, in = l % inner;
      const T* line = x + o * D * inner + in;
      int64_t best = 0;
      T bv = line[0];
      for (int64_t k = 1; k < D; ++k) {
        const T v = line[k * inner];
        if (is_max ? (v > bv || (last_on_ties && v == bv)) : (v < bv || (last_on_ties && v == bv))) {
          bv = v;
          best = k;
        }
      }
      y[l] = best;
    }
  });
}

#define LOWBIT_REDUCE(T)                                                                            \
  template void reduce<T>(Reduction, std::span<const int64_t>, std::span<const bool>, const T*, T*); \
  template void arg_extreme<T>(bool, bool, int64_t, int64_t, int64_t, const T*, int64_t*);
LOWBIT_REDUCE(float)
LOWBIT_REDUCE(double)
LOWBIT_REDUCE(int64_t)
LOWBIT_REDUCE(int32_t)
LOWBIT_REDUCE(int8_t)
LOWBIT_REDUCE(uint8_t)
#undef LOWBIT_REDUCE

}  // namespace lowbit::kernels
