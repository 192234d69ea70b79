// Broadcasting iteration (numpy / ONNX rules) for the elementwise kernels: shapes are coalesced
// (adjacent dimensions merged when every operand agrees), then the innermost dimension runs as a
// flat loop with per-operand stride 0 or 1; outer rows are split over lowbit::parallel_for.
// Header-only templates: the element functions live in elementwise.h.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "lowbit/core/tensor.h"
#include "lowbit/core/threads.h"

namespace lowbit::kernels {

// Element strides of `in` read as `out` (right-aligned): 0 on broadcast (size-1 or missing) axes.
inline std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  int64_t acc = 1;
  for (size_t i = in.size(); i-- > 0;) {
    const size_t o = out.size() - in.size() + i;
    st[o] = in[i] == 1 ? 0 : acc;
    acc *= in[i];
  }
  return st;
}

// Iteration plan for N operands broadcast to an output shape: outer index space plus inner stride
// per operand (0 = broadcast, 1 = contiguous).
template <size_t N>
struct BroadcastPlan {
  Shape dims;                                   // coalesced output dims
  std::array<std::vector<int64_t>, N> strides;  // per operand, per coalesced dim
  int64_t inner = 1;                            // size of the last coalesced dim
  int64_t rows = 1;                             // product of the others
};

template <size_t N>
BroadcastPlan<N> make_plan(const std::array<const Shape*, N>& in, const Shape& out) {
  std::array<std::vector<int64_t>, N> st;
  for (size_t k = 0; k < N; ++k) st[k] = broadcast_strides(*in[k], out);
  BroadcastPlan<N> p;
  // Merge dim d into the previous kept one when for every operand stride[prev] == stride[d]*dim[d]
  // (contiguous continuation) or both strides are 0 (broadcast over both).
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) continue;
    bool merge = !p.dims.empty();
    for (size_t k = 0; k < N && merge; ++k) {
      const int64_t prev = p.strides[k].back(), cur = st[k][d];
      merge = (prev == cur * out[d]) && !(prev == 0) == !(cur == 0);
    }
    if (merge) {
      p.dims.back() *= out[d];
      for (size_t k = 0; k < N; ++k) p.strides[k].back() = st[k][d];
    } else {
      p.dims.push_back(out[d]);
      for (size_t k = 0; k < N; ++k) p.strides[k].push_back(st[k][d]);
    }
  }
  if (p.dims.empty()) {
    p.dims.push_back(1);
    for (size_t k = 0; k < N; ++k) p.strides[k].push_back(0);
  }
  p.inner = p.dims.back();
  for (size_t d = 0; d + 1 < p.dims.size(); ++d) p.rows *= p.dims[d];
  return p;
}

// Calls body(row_offsets[N], out_offset, inner_strides[N], inner) for every outer row.
template <size_t N, typename Body>
void for_each_row(const BroadcastPlan<N>& p, Body&& body) {
  const size_t nd = p.dims.size();
  std::array<int64_t, N> inner_st;
  for (size_t k = 0; k < N; ++k) inner_st[k] = p.strides[k][nd - 1];
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(p.inner, 1));
  parallel_for(p.rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      std::array<int64_t, N> off{};
      int64_t rem = r;
      for (size_t d = nd - 1; d-- > 0;) {
        const int64_t i = rem % p.dims[d];
        rem /= p.dims[d];
        for (size_t k = 0; k < N; ++k) off[k] += i * p.strides[k][d];
      }
      body(off, r * p.inner, inner_st, p.inner);
    }
  });
}

// z = f(x, y) elementwise, x (shape xs) and y (shape ys) broadcast to zs; z is dense in zs.
template <typename TA, typename TB, typename TO, typename F>
void binary_broadcast(const TA* pa, const Shape& as, const TB* pb, const Shape& bs, TO* po, const Shape& os, F f) {
  if (as == os && bs == os) {
    int64_t n = 1;
    for (int64_t d : os) n *= d;
    parallel_for(n, 16384, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) po[i] = f(pa[i], pb[i]);
    });
    return;
  }
  const auto plan = make_plan<2>({&as, &bs}, os);
  for_each_row(plan, [&](const std::array<int64_t, 2>& off, int64_t o, const std::array<int64_t, 2>& st, int64_t n) {
    const TA* x = pa + off[0];
    const TB* y = pb + off[1];
    TO* z = po + o;
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) z[i] = f(x[i], y[i]);
    } else if (st[0] == 1) {
      const TB yv = y[0];
      for (int64_t i = 0; i < n; ++i) z[i] = f(x[i], yv);
    } else if (st[1] == 1) {
      const TA xv = x[0];
      for (int64_t i = 0; i < n; ++i) z[i] = f(xv, y[i]);
    } else {
      const TO v = f(x[0], y[0]);
      for (int64_t i = 0; i < n; ++i) z[i] = v;
    }
  });
}

}  // namespace lowbit::kernels
