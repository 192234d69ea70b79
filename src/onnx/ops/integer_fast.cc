// The fast paths of ConvInteger and MatMulInteger: what ONNX Runtime's quantize_dynamic writes
// (DynamicQuantizeLinear → ConvInteger / MatMulInteger → Cast → Mul), whose activation zero point
// changes with every input, so the QDQ lowering (constant scales, passes_qdq*.cc) cannot take it.
// The u8×s8 GEMM with the weights packed once per session (when they are constants), then the
// zero-point terms (kernels::subtract_zero_points, one weight zero point per tensor or per output
// channel / column of B). ConvInteger: 2-d, any group count: depthwise convs (one filter per
// channel, up to 64 taps) on kernels::depthwise_nhwc_s32, other groups one GEMM each over their
// channels-last im2col in row chunks. MatMulInteger: a 2-d B, a scalar A zero point, every batch
// of A one GEMM. int32 sums equal the references (kernels::ref::conv_nd_integer,
// ref::matmul_integer) bit for bit; other forms run there.
#include <algorithm>
#include <memory>
#include <vector>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/qlinear.h"
#include "lowbit/kernels/transpose.h"
#include "ops/conv_geom.h"

namespace lowbit::onnx {
namespace {

namespace k = lowbit::kernels;

// Weights as the kernels want them, packed once per session when they are constants: per group
// N_g × (kh, kw, c) int8 GEMM panels (uint8 weights shifted by −128, their zero points with
// them), or for a depthwise conv the weights minus their zero points in depthwise_pack_s16's
// pairs with their per-channel sums.
struct ConvIntegerState {
  std::vector<k::QgemmPackedW> w;  // one per group (GEMM path); MatMulInteger: one
  std::vector<int32_t> wz;         // per output channel / column of B
  std::vector<int16_t> dw;         // depthwise path only
  std::vector<int32_t> dw_sum;     // Σ_t (w − wz) per channel
};

// Zero point n of a scalar or per-channel w_zp (absent: 0), in the int8 code domain.
std::vector<int32_t> zero_points(const Array* zp, int64_t n, bool unsigned_codes) {
  std::vector<int32_t> z(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    z[static_cast<size_t>(i)] = static_cast<int32_t>(zp ? zp->get_i64(zp->numel() == 1 ? 0 : i) : 0) - (unsigned_codes ? 128 : 0);
  return z;
}

std::shared_ptr<ConvIntegerState> pack_weights(const Array& w, const Array* w_zp, int64_t groups, bool depthwise) {
  const int64_t N = w.shape()[0], C = w.shape()[1], R = w.shape()[2] * w.shape()[3], K = C * R, Ng = N / groups;
  const bool wu = w.type() == ElemType::u8;
  const auto* src = reinterpret_cast<const uint8_t*>(w.raw());
  auto code = [&](int64_t i) { return static_cast<int8_t>(wu ? src[i] ^ 0x80u : src[i]); };  // u8: v − 128
  auto st = std::make_shared<ConvIntegerState>();
  st->wz = zero_points(w_zp, N, wu);
  if (depthwise) {  // C == 1: w is [N][R]
    std::vector<int16_t> wt(static_cast<size_t>(R * N));
    st->dw_sum.assign(static_cast<size_t>(N), 0);
    for (int64_t o = 0; o < N; ++o)
      for (int64_t r = 0; r < R; ++r) {
        const auto v = static_cast<int16_t>(code(o * R + r) - st->wz[static_cast<size_t>(o)]);  // |v| <= 255
        wt[static_cast<size_t>(r * N + o)] = v;
        st->dw_sum[static_cast<size_t>(o)] += v;
      }
    st->dw.resize(static_cast<size_t>(k::depthwise_s16_size(R, N)));
    k::depthwise_pack_s16(R, N, wt.data(), st->dw.data());
    return st;
  }
  std::vector<int8_t> wr(static_cast<size_t>(Ng * K));
  for (int64_t gi = 0; gi < groups; ++gi) {
    for (int64_t o = 0; o < Ng; ++o)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t r = 0; r < R; ++r) wr[static_cast<size_t>(o * K + r * C + c)] = code(((gi * Ng + o) * C + c) * R + r);
    st->w.push_back(k::qgemm_pack_w(Ng, K, wr.data()));
  }
  return st;
}

// B (K×N, uint8 or int8) as the GEMM wants it: N×K int8 (uint8 shifted by −128, with its zero points).
std::shared_ptr<ConvIntegerState> pack_b(const Array& b, const Array* b_zp) {
  const int64_t K = b.shape()[0], N = b.shape()[1];
  const bool bu = b.type() == ElemType::u8;
  const auto* src = reinterpret_cast<const uint8_t*>(b.raw());
  std::vector<int8_t> bt(static_cast<size_t>(N * K));
  for (int64_t kk = 0; kk < K; ++kk)
    for (int64_t n = 0; n < N; ++n) bt[static_cast<size_t>(n * K + kk)] = static_cast<int8_t>(bu ? src[kk * N + n] ^ 0x80u : src[kk * N + n]);
  auto st = std::make_shared<ConvIntegerState>();
  st->w.push_back(k::qgemm_pack_w(N, K, bt.data()));
  st->wz = zero_points(b_zp, N, bu);
  return st;
}

// The packed weights (input 1, zero point input 3 when present): kept in the node's session
// slot when those inputs are session constants, packed per call otherwise.
template <typename Pack>
std::shared_ptr<ConvIntegerState> packed_weights(RunCtx& ctx, bool has_zp, Pack pack) {
  const uint64_t weight_inputs = 0b10 | (has_zp ? 0b1000 : 0);
  const bool cache = ctx.state && (ctx.const_inputs & weight_inputs) == weight_inputs;
  if (cache && *ctx.state) return std::static_pointer_cast<ConvIntegerState>(*ctx.state);
  std::shared_ptr<ConvIntegerState> st = pack();
  if (cache) *ctx.state = st;
  return st;
}

template <typename T>
T* scratch(int slot, int64_t n) {  // grow-only, per thread (a node runs on one worker at a time)
  thread_local std::vector<T> bufs[4];
  auto& b = bufs[slot];
  if (b.size() < static_cast<size_t>(n)) b.resize(static_cast<size_t>(n));
  return b.data();
}

}  // namespace

bool conv_integer_fast(RunCtx& ctx) {
  const Array &x = ctx.input(0), &w = ctx.input(1);
  const Array* x_zp = ctx.has(2) ? ctx.in[2] : nullptr;
  const Array* w_zp = ctx.has(3) ? ctx.in[3] : nullptr;
  if (x.dim() != 4 || w.dim() != 4 || (x_zp && x_zp->numel() != 1)) return false;
  const int64_t B = x.shape()[0], C = x.shape()[1], N = w.shape()[0], Cg = w.shape()[1], KH = w.shape()[2], KW = w.shape()[3];
  const int64_t groups = ctx.node.attr_i("group", 1);
  if (groups < 1 || Cg * groups != C || N % groups != 0 || (w_zp && w_zp->numel() != 1 && w_zp->numel() != N)) return false;
  const int64_t K = Cg * KH * KW, Ng = N / groups;
  if (K < 1 || K > 65536 || B * N == 0) return false;
  const bool depthwise = Cg == 1 && Ng == 1 && KH * KW <= 64;
  const InferCtx ictx = infer_ctx_for(ctx);
  SpatialGeom g = resolve_geom(ictx, x.shape(), Shape{KH, KW}, false);
  const int64_t HW = g.H() * g.W(), P = g.OH() * g.OW();
  if (P == 0) return false;

  const std::shared_ptr<ConvIntegerState> st =
      packed_weights(ctx, w_zp != nullptr, [&] { return pack_weights(w, w_zp, groups, depthwise); });

  // int8 activations become uint8 (x + 128), their zero point with them.
  const bool xu = x.type() == ElemType::u8;
  const int32_t xz = static_cast<int32_t>(x_zp ? x_zp->get_i64(0) : 0) + (xu ? 0 : 128);
  const auto pad = static_cast<uint8_t>(xz);
  const auto* xin = reinterpret_cast<const int8_t*>(x.raw());
  int32_t* y = ctx.out[0]->data<int32_t>();
  if (depthwise) {  // x − xz in the padding is 0: the sums are corr + Σ x·(w − wz) with pad = xz
    g.K = N;
    std::vector<int32_t> corr(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) corr[static_cast<size_t>(c)] = -xz * st->dw_sum[static_cast<size_t>(c)];
    uint8_t* xh = scratch<uint8_t>(0, HW * C);
    int32_t* acc = scratch<int32_t>(2, P * C);
    for (int64_t b = 0; b < B; ++b) {
      k::transpose_i8(C, HW, xin + b * C * HW, HW, reinterpret_cast<int8_t*>(xh), C);  // NCHW → HWC
      if (!xu) k::shift_u8_to_s8(HW * C, xh, reinterpret_cast<int8_t*>(xh));        // x ^ 0x80 = x + 128
      parallel_for(g.OH(), std::max<int64_t>(1, 4096 / std::max<int64_t>(g.OW() * C, 1)), [&](int64_t r0, int64_t r1) {
        k::depthwise_nhwc_s32(g, xh, pad, st->dw.data(), corr.data(), acc, r0, r1);
      });
      // (P × C) → y[b] (C × P): 4-byte moves, so the float transpose carries the int32 bits.
      k::transpose_f32(P, C, reinterpret_cast<const float*>(acc), C, reinterpret_cast<float*>(y + b * C * P), P);
    }
    return true;
  }
  g.C = Cg;  // one group's channels: its own channels-last image
  g.K = Ng;
  g.groups = 1;
  const int64_t lda = (K + 15) / 16 * 16;  // the GEMM may read up to 4 bytes past K
  const int64_t chunk = std::clamp<int64_t>((int64_t{1} << 21) / lda, 16, P);  // ~2 MB of im2col rows
  uint8_t* xh = scratch<uint8_t>(0, HW * Cg);
  uint8_t* a = scratch<uint8_t>(1, chunk * lda + 64);
  int32_t* acc = scratch<int32_t>(2, chunk * Ng);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t gi = 0; gi < groups; ++gi) {
      const k::QgemmPackedW& wg = st->w[static_cast<size_t>(gi)];
      k::transpose_i8(Cg, HW, xin + (b * C + gi * Cg) * HW, HW, reinterpret_cast<int8_t*>(xh), Cg);  // NCHW → HWC
      if (!xu) k::shift_u8_to_s8(HW * Cg, xh, reinterpret_cast<int8_t*>(xh));                      // x ^ 0x80 = x + 128
      for (int64_t p0 = 0; p0 < P; p0 += chunk) {
        const int64_t rows = std::min(chunk, P - p0);
        parallel_for(rows, std::max<int64_t>(1, 4096 / lda), [&](int64_t r0, int64_t r1) {
          k::im2col_nhwc_u8_chunk(g, xh, pad, a + r0 * lda, lda, p0 + r0, p0 + r1);
        });
        k::qgemm_u8s8(rows, a, lda, wg, acc, Ng);
        parallel_for(rows, std::max<int64_t>(1, 4096 / (K + Ng)), [&](int64_t r0, int64_t r1) {
          k::subtract_zero_points(r1 - r0, Ng, K, a + r0 * lda, lda, xz, wg.colsum.get(), st->wz.data() + gi * Ng, acc + r0 * Ng,
                                  Ng);
        });
        // (rows × Ng) → y[b] channels gi·Ng… (Ng × P) at column p0: the float transpose carries the int32 bits.
        k::transpose_f32(rows, Ng, reinterpret_cast<const float*>(acc), Ng, reinterpret_cast<float*>(y + (b * N + gi * Ng) * P + p0), P);
      }
    }
  return true;
}

bool matmul_integer_fast(RunCtx& ctx) {
  const Array &a = ctx.input(0), &b = ctx.input(1);
  const Array* a_zp = ctx.has(2) ? ctx.in[2] : nullptr;
  const Array* b_zp = ctx.has(3) ? ctx.in[3] : nullptr;
  if (a.dim() < 2 || b.dim() != 2 || (a_zp && a_zp->numel() != 1)) return false;
  const int64_t K = b.shape()[0], N = b.shape()[1], M = a.numel() / std::max<int64_t>(K, 1);
  if (K < 1 || K > 65536 || M == 0 || N == 0 || a.shape().back() != K || (b_zp && b_zp->numel() != 1 && b_zp->numel() != N))
    return false;

  const std::shared_ptr<ConvIntegerState> st = packed_weights(ctx, b_zp != nullptr, [&] { return pack_b(b, b_zp); });
  const bool au = a.type() == ElemType::u8;
  const int32_t az = static_cast<int32_t>(a_zp ? a_zp->get_i64(0) : 0) + (au ? 0 : 128);
  int32_t* y = ctx.out[0]->data<int32_t>();
  const auto* ain = reinterpret_cast<const uint8_t*>(a.raw());
  // uint8 rows whose length is a multiple of 4 feed the GEMM as they are; others are copied
  // (int8 flipped to uint8) into rows padded for its 4-byte reads.
  if (au && K % 4 == 0) {
    k::qgemm_u8s8(M, ain, K, st->w[0], y, N);
    parallel_for(M, std::max<int64_t>(1, 4096 / (K + N)), [&](int64_t r0, int64_t r1) {
      k::subtract_zero_points(r1 - r0, N, K, ain + r0 * K, K, az, st->w[0].colsum.get(), st->wz.data(), y + r0 * N, N);
    });
    return true;
  }
  const int64_t lda = (K + 15) / 16 * 16;
  const int64_t chunk = std::clamp<int64_t>((int64_t{1} << 21) / lda, 16, M);
  uint8_t* buf = scratch<uint8_t>(3, chunk * lda + 64);
  for (int64_t m0 = 0; m0 < M; m0 += chunk) {
    const int64_t rows = std::min(chunk, M - m0);
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t* src = ain + (m0 + r) * K;
      uint8_t* dst = buf + r * lda;
      if (au) std::copy(src, src + K, dst);
      else k::shift_u8_to_s8(K, src, reinterpret_cast<int8_t*>(dst));  // x ^ 0x80 = x + 128
    }
    k::qgemm_u8s8(rows, buf, lda, st->w[0], y + m0 * N, N);
    k::subtract_zero_points(rows, N, K, buf, lda, az, st->w[0].colsum.get(), st->wz.data(), y + m0 * N, N);
  }
  return true;
}

}  // namespace lowbit::onnx
