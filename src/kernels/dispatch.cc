// The one place where kernels choose a path: active_isa() (isa.cc: CPUID, or LOWBIT_ISA=ref|avx2|
// avx512|avx512vnni) picks the highest supported path that handles the request; `ref` runs the
// plain-loop specification. Integer kernels (quant.h, hadamard.h, igemm.h, transpose.h) have
// per-ISA files, and so do the quantized-inference kernels (qlinear.h, dispatched in
// dispatch_qlinear.cc); fp32 GEMM and
// convolution (fp32.h) choose between the reference and the
// libraries (oneDNN, OpenBLAS), whose own ISA choice is internal to them. Also the shared
// integer GEMM epilogue. No other file calls active_isa()
// (scripts/check-layers enforces it).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "attention_impl.h"
#include "fp32_conv_direct.h"
#include "fp32_conv_impl.h"
#include "fp32_rows_impl.h"
#include "int_impl.h"
#include "qlinear_impl.h"
#include "shuffle_impl.h"
#include "lowbit/core/threads.h"
#include "lowbit/kernels/attention.h"
#include "lowbit/kernels/fp32_ref.h"
#include "lowbit/kernels/peak.h"
#include "lowbit/kernels/hadamard_ref.h"
#include "lowbit/kernels/igemm_ref.h"
#include "lowbit/kernels/bf16.h"
#include "lowbit/kernels/channel_shuffle.h"
#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/qlinear_ref.h"
#include "lowbit/kernels/quant_ref.h"

namespace lowbit::kernels {

// ---- integer GEMM ----

namespace detail {

void igemm_store(const IgemmOut& out, int64_t m0, int64_t n0, int64_t rows, int64_t cols, const int32_t* acc,
                 int64_t ldt) {
  for (int64_t i = 0; i < rows; ++i) {
    const int32_t* src = acc + i * ldt;
    if (!out.cf) {
      std::memcpy(out.ci + (m0 + i) * out.ldc + n0, src, static_cast<size_t>(cols) * sizeof(int32_t));
      continue;
    }
    float* dst = out.cf + (m0 + i) * out.ldc + n0;
    for (int64_t j = 0; j < cols; ++j) dst[j] = static_cast<float>(src[j]) * out.ep.alpha;
    if (out.ep.col_scale)
      for (int64_t j = 0; j < cols; ++j) dst[j] = dst[j] * out.ep.col_scale[n0 + j];
    if (out.ep.bias)
      for (int64_t j = 0; j < cols; ++j) dst[j] = dst[j] + out.ep.bias[n0 + j];
  }
}

AccSpec normalize(const AccSpec& acc, int64_t K) {
  AccSpec a = acc;
  if (a.tile >= K) a.tile = 0;
  const int64_t width = a.tile > 0 ? a.tile : K;
  if (a.model == AccModel::exact || acc_qmax(a.bits) >= width * 128 * 128) a = AccSpec{};
  return a;
}

}  // namespace detail

const int8_t* detail::as_int8(const IntOperand& op, int64_t rows, int64_t K, std::vector<int8_t>& buf, int64_t* ld) {
  if (!op.int4) {
    *ld = op.ld;
    return static_cast<const int8_t*>(op.data);
  }
  buf.resize(static_cast<size_t>(rows * K));
  const auto* p = static_cast<const uint8_t*>(op.data);
  parallel_for(rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t k = 0; k < K; ++k) {
        const int64_t i = r * op.ld + k;
        const uint8_t nib = (p[i / 2] >> (4 * (i % 2))) & 0x0F;
        buf[r * K + k] = static_cast<int8_t>(static_cast<int8_t>(nib << 4) >> 4);
      }
  });
  *ld = K;
  return buf.data();
}

namespace {

using detail::as_int8;

void igemm_any(int64_t M, int64_t N, int64_t K, const IntOperand& A, const IntOperand& B, const AccSpec& spec,
               const detail::IgemmOut& out) {
  if (M <= 0 || N <= 0) return;
  const Isa isa = active_isa();
  if (isa == Isa::ref) {
    if (out.cf) return ref::igemm_f32(M, N, K, A, B, spec, out.ep, out.cf, out.ldc);
    return ref::igemm_s32(M, N, K, A, B, spec, out.ci, out.ldc);
  }
  const AccSpec acc = detail::normalize(spec, K);
  std::vector<int8_t> abuf, bbuf;
  int64_t lda = 0, ldb = 0;
  const int8_t* a = as_int8(A, M, K, abuf, &lda);
  const int8_t* b = as_int8(B, N, K, bbuf, &ldb);
  if (isa == Isa::avx512vnni && avx512vnni::igemm_supported(acc)) return avx512vnni::igemm(M, N, K, a, lda, b, ldb, acc, out);
  if (isa >= Isa::avx2 && avx2::igemm_supported(acc)) return avx2::igemm(M, N, K, a, lda, b, ldb, acc, out);
  portable::igemm(M, N, K, a, lda, b, ldb, acc, out);
}

// A product with a packed B: the path's own panels when they were made for this spec's family
// on the path now active, else the plain codes through igemm_any (same result either way).
void igemm_packed_any(int64_t M, const IntOperand& A, const IgemmPackedB& B, const AccSpec& spec,
                      const detail::IgemmOut& out) {
  const int64_t N = B.n, K = B.k;
  if (M <= 0 || N <= 0) return;
  const AccSpec acc = detail::normalize(spec, K);
  if (B.layout != 0 && active_isa() == Isa::avx512vnni && avx512vnni::igemm_supported(acc) &&
      avx512vnni::packed_layout(acc) == B.layout) {
    std::vector<int8_t> abuf;
    int64_t lda = 0;
    const int8_t* a = as_int8(A, M, K, abuf, &lda);
    return avx512vnni::igemm_packed(M, N, K, a, lda, B.panels.get(), acc, out);
  }
  igemm_any(M, N, K, A, IntOperand{B.plain.get(), K, false}, spec, out);
}

}  // namespace

IgemmPackedB igemm_pack_b(int64_t N, int64_t K, IntOperand B, const AccSpec& spec) {
  IgemmPackedB p;
  p.n = std::max<int64_t>(N, 0);
  p.k = K;
  std::vector<int8_t> buf;
  int64_t ldb = 0;
  const int8_t* b = as_int8(B, p.n, K, buf, &ldb);
  std::shared_ptr<int8_t> plain(new int8_t[static_cast<size_t>(std::max<int64_t>(p.n * K, 1))], std::default_delete<int8_t[]>());
  for (int64_t n = 0; n < p.n; ++n) std::memcpy(plain.get() + n * K, b + n * ldb, static_cast<size_t>(K));
  p.plain = plain;
  const AccSpec acc = detail::normalize(spec, K);
  if (p.n > 0 && active_isa() == Isa::avx512vnni && avx512vnni::igemm_supported(acc)) {
    p.layout = avx512vnni::packed_layout(acc);
    const auto bytes = static_cast<size_t>((avx512vnni::packed_b_bytes(p.n, K, p.layout) + 63) / 64 * 64);
    std::shared_ptr<void> panels(std::aligned_alloc(64, bytes), [](void* q) { std::free(q); });
    avx512vnni::pack_b(p.n, K, plain.get(), K, p.layout, panels.get());
    p.panels = panels;
  }
  return p;
}

void igemm_s32_packed(int64_t M, IntOperand A, const IgemmPackedB& B, const AccSpec& acc, int32_t* C, int64_t ldc) {
  detail::IgemmOut out;
  out.ci = C;
  out.ldc = ldc;
  igemm_packed_any(M, A, B, acc, out);
}

void igemm_f32_packed(int64_t M, IntOperand A, const IgemmPackedB& B, const AccSpec& acc, const IgemmEpilogue& ep,
                      float* C, int64_t ldc) {
  detail::IgemmOut out;
  out.cf = C;
  out.ldc = ldc;
  out.ep = ep;
  igemm_packed_any(M, A, B, acc, out);
}

namespace {

// Scratch that lives for one kernel call, in a per-thread buffer per use kept across calls. A
// conv calls these once per sample (ResNet-20: 768 GEMM panels of 110 KB per step, and the
// 28x28 dW transform's 113 KB of rows): a malloc/free pair each time let glibc give the freed
// heap top back to the OS (its trim threshold is 128 KiB), and the next call page-faulted it
// in again (~5 K faults per step for the panels, ~200 for the rows). Calls of one use do not
// nest on one thread (the GEMM's own threads only read the panels).
enum class Scratch { panels, rows, count };
void* call_scratch(Scratch use, int64_t bytes) {
  struct Buffer {
    void* p = nullptr;
    size_t size = 0;
    ~Buffer() { std::free(p); }
  };
  thread_local Buffer buf[static_cast<int>(Scratch::count)];
  Buffer& b = buf[static_cast<int>(use)];
  const auto need = static_cast<size_t>((std::max<int64_t>(bytes, 1) + 63) / 64 * 64);
  if (need > b.size) {
    std::free(b.p);
    b.p = std::aligned_alloc(64, need);
    b.size = b.p ? need : 0;
    if (!b.p) throw std::bad_alloc();
  }
  return b.p;
}
void* call_panels(int64_t bytes) { return call_scratch(Scratch::panels, bytes); }

}  // namespace

void igemm_f32_bt(int64_t M, int64_t N, int64_t K, IntOperand A, const int8_t* Bt, int64_t ldbt, const AccSpec& spec,
                  const IgemmEpilogue& ep, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  detail::IgemmOut out;
  out.cf = C;
  out.ldc = ldc;
  out.ep = ep;
  const AccSpec acc = detail::normalize(spec, K);
  if (active_isa() == Isa::avx512vnni && avx512vnni::igemm_supported(acc) && avx512vnni::packed_layout(acc) == 1) {
    std::vector<int8_t> abuf;
    int64_t lda = 0;
    const int8_t* a = as_int8(A, M, K, abuf, &lda);
    void* panels = call_panels(avx512vnni::packed_b_bytes(N, K, 1));
    avx512vnni::pack_b_kmajor(N, K, Bt, ldbt, panels);
    return avx512vnni::igemm_packed(M, N, K, a, lda, panels, acc, out);
  }
  std::vector<int8_t> b(static_cast<size_t>(N * K));
  transpose_i8(K, N, Bt, ldbt, b.data(), K);
  igemm_any(M, N, K, A, IntOperand{b.data(), K, false}, spec, out);
}

void igemm_f32_shifted(int64_t M, int64_t N, int64_t K, IntOperand A, const ShiftedRows& Bt, const AccSpec& spec,
                       const IgemmEpilogue& ep, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  const AccSpec acc = detail::normalize(spec, K);
  if (active_isa() == Isa::avx512vnni && avx512vnni::igemm_supported(acc) && avx512vnni::packed_layout(acc) == 1) {
    detail::IgemmOut out;
    out.cf = C;
    out.ldc = ldc;
    out.ep = ep;
    std::vector<int8_t> abuf;
    int64_t lda = 0;
    const int8_t* a = as_int8(A, M, K, abuf, &lda);
    void* panels = call_panels(avx512vnni::packed_b_bytes(N, K, 1));
    avx512vnni::pack_b_shifted(N, K, Bt, panels);
    return avx512vnni::igemm_packed(M, N, K, a, lda, panels, acc, out);
  }
  const std::vector<int8_t> rows = ref::shifted_rows(N, K, Bt);  // every other path: the rows written out
  igemm_f32_bt(M, N, K, A, rows.data(), N, spec, ep, C, ldc);
}

void igemm_scatter_add_packed(int64_t M, IntOperand A, const IgemmPackedB& B, const AccSpec& spec,
                              const IgemmScatter& scatter, float* out) {
  const int64_t N = B.n, K = B.k;
  if (M <= 0 || N <= 0) return;
  const AccSpec acc = detail::normalize(spec, K);
  if (B.layout == 1 && active_isa() == Isa::avx512vnni && avx512vnni::igemm_supported(acc) &&
      avx512vnni::packed_layout(acc) == 1) {
    std::vector<int8_t> abuf;
    int64_t lda = 0;
    const int8_t* a = as_int8(A, M, K, abuf, &lda);
    detail::IgemmOut o;
    o.cf = out;
    o.scatter = &scatter;
    return avx512vnni::igemm_packed(M, N, K, a, lda, B.panels.get(), acc, o);
  }
  // Every other path: each block of columns as an fp32 product, then its adds in order.
  std::vector<float> c(static_cast<size_t>(M * kIgemmScatterCols));
  for (int64_t n0 = 0; n0 < N; n0 += kIgemmScatterCols) {
    const int64_t cols = std::min(kIgemmScatterCols, N - n0);
    detail::IgemmOut o;
    o.cf = c.data();
    o.ldc = cols;
    o.ep.alpha = scatter.alpha;
    igemm_any(M, cols, K, A, IntOperand{B.plain.get() + n0 * K, K, false}, spec, o);
    for (int64_t m = 0; m < M; ++m) {
      const uint64_t* mask = scatter.mask[m];
      for (int64_t n = n0; n < n0 + cols; ++n) {
        if (mask != nullptr && ((mask[n / 64] >> (n % 64)) & 1) == 0) continue;
        float& d = out[scatter.offset[m] + n];
        d = d + c[static_cast<size_t>(m * cols + n - n0)];
      }
    }
  }
}

void igemm_s32(int64_t M, int64_t N, int64_t K, IntOperand A, IntOperand B, const AccSpec& acc, int32_t* C,
               int64_t ldc) {
  detail::IgemmOut out;
  out.ci = C;
  out.ldc = ldc;
  igemm_any(M, N, K, A, B, acc, out);
}

void igemm_f32(int64_t M, int64_t N, int64_t K, IntOperand A, IntOperand B, const AccSpec& acc,
               const IgemmEpilogue& ep, float* C, int64_t ldc) {
  detail::IgemmOut out;
  out.cf = C;
  out.ldc = ldc;
  out.ep = ep;
  igemm_any(M, N, K, A, B, acc, out);
}

// ---- Walsh–Hadamard transform ----

namespace {

// The dense reference may not write over its input: run it from a copy when they overlap.
template <typename In, typename Out>
void fwht_ref(const HadamardShape& s, const In* x, int64_t ldx, Out* y, int64_t ldy,
              void (*fn)(const HadamardShape&, const In*, int64_t, Out*, int64_t)) {
  if (static_cast<const void*>(x) != static_cast<const void*>(y)) return fn(s, x, ldx, y, ldy);
  std::vector<In> copy(static_cast<size_t>(s.rows * s.cols));
  for (int64_t r = 0; r < s.rows; ++r) std::copy(x + r * ldx, x + r * ldx + s.cols, copy.begin() + r * s.cols);
  fn(s, copy.data(), s.cols, y, ldy);
}

bool use_avx512(const HadamardShape& s) { return active_isa() >= Isa::avx512 && avx512::fwht_supported(s); }

}  // namespace

void fwht_f32(const HadamardShape& s, const float* x, int64_t ldx, float* y, int64_t ldy) {
  if (active_isa() == Isa::ref) return fwht_ref(s, x, ldx, y, ldy, &ref::fwht_f32);
  if (use_avx512(s)) return avx512::fwht_f32(s, x, ldx, y, ldy);
  portable::fwht_f32(s, x, ldx, y, ldy);
}
void fwht_i8_i16(const HadamardShape& s, const int8_t* x, int64_t ldx, int16_t* y, int64_t ldy) {
  if (active_isa() == Isa::ref) return ref::fwht_i8_i16(s, x, ldx, y, ldy);
  portable::fwht_i8_i16(s, x, ldx, y, ldy);
}
void fwht_i8_i32(const HadamardShape& s, const int8_t* x, int64_t ldx, int32_t* y, int64_t ldy) {
  if (active_isa() == Isa::ref) return ref::fwht_i8_i32(s, x, ldx, y, ldy);
  if (use_avx512(s)) return avx512::fwht_i8_i32(s, x, ldx, y, ldy);
  portable::fwht_i8_i32(s, x, ldx, y, ldy);
}
void fwht_i32(const HadamardShape& s, const int32_t* x, int64_t ldx, int32_t* y, int64_t ldy) {
  if (active_isa() == Isa::ref) return fwht_ref(s, x, ldx, y, ldy, &ref::fwht_i32);
  if (use_avx512(s)) return avx512::fwht_i32(s, x, ldx, y, ldy);
  portable::fwht_i32(s, x, ldx, y, ldy);
}
int32_t fwht_i8_i32_max_abs(const HadamardShape& s, const int8_t* x, int64_t ldx, int32_t* y, int64_t ldy) {
  if (s.axis == 1 && use_avx512(s)) return avx512::fwht_i8_i32_max_abs(s, x, ldx, y, ldy);
  fwht_i8_i32(s, x, ldx, y, ldy);  // the reference (LOWBIT_ISA=ref) or portable transform
  int32_t m = 0;
  for (int64_t r = 0; r < s.rows; ++r) m = std::max(m, max_abs_i32(s.cols, y + r * ldy));
  return m;
}
int32_t fwht_shifted_i8_i32_max_abs(const HadamardShape& s, const ShiftedRows& x, int32_t* y, int64_t ldy) {
  // h < 16 only: at h = 16 the fused kernel measured slower than the rows written out (see there).
  if (s.axis == 1 && s.h < 16 && use_avx512(s)) return avx512::fwht_shifted_i8_i32_max_abs(s, x, y, ldy);
  // The rows written out into this thread's scratch (the transform's own threads only read it).
  auto* rows = static_cast<int8_t*>(call_scratch(Scratch::rows, s.rows * s.cols));
  for (int64_t r = 0; r < s.rows; ++r) shifted_copy_i8(s.cols, x.x + x.offset[r], 0, x.mask[r], rows + r * s.cols);
  return fwht_i8_i32_max_abs(s, rows, s.cols, y, ldy);
}
float fwht_f32_max_abs(const HadamardShape& s, const float* x, int64_t ldx, float* y, int64_t ldy) {
  if (s.axis == 1 && use_avx512(s)) return avx512::fwht_f32_max_abs(s, x, ldx, y, ldy);
  fwht_f32(s, x, ldx, y, ldy);
  float m = 0.0f;  // row maxima are never NaN
  for (int64_t r = 0; r < s.rows; ++r) m = std::max(m, max_abs_f32(s.cols, y + r * ldy));
  return m;
}

// ---- quantizers ----

void quantize_f32_i8(const QuantGrid& g, const float* x, int8_t* q, Rounding r, RandomKey key) {
  if (active_isa() == Isa::ref) return ref::quantize_f32_i8(g, x, q, r, key);
  if (active_isa() >= Isa::avx512 && avx512::quantize_supported(g)) return avx512::quantize_f32_i8(g, x, q, r, key);
  portable::quantize_f32_i8(g, x, q, r, key);
}
void quantize_f32_u8(const QuantGrid& g, const float* x, uint8_t* q, Rounding r, RandomKey key) {
  if (active_isa() == Isa::ref) return ref::quantize_f32_u8(g, x, q, r, key);
  if (active_isa() >= Isa::avx512 && avx512::quantize_supported(g)) return avx512::quantize_f32_u8(g, x, q, r, key);
  portable::quantize_f32_u8(g, x, q, r, key);
}
void quantize_i32_i8(const QuantGrid& g, const int32_t* x, int8_t* q, Rounding r, RandomKey key) {
  if (active_isa() == Isa::ref) return ref::quantize_i32_i8(g, x, q, r, key);
  if (active_isa() >= Isa::avx512 && avx512::quantize_supported(g)) return avx512::quantize_i32_i8(g, x, q, r, key);
  portable::quantize_i32_i8(g, x, q, r, key);
}
void quantize_i32_i8_bounded(const QuantGrid& g, const int32_t* x, int32_t max_abs, int8_t* q, Rounding r,
                             RandomKey key) {
  if (max_abs >= 0 && max_abs <= 255 && active_isa() >= Isa::avx512 && cpu_features().avx512vbmi &&
      avx512::quantize_table_supported(g, r))
    return avx512::quantize_i32_i8_table(g, x, q, key);
  quantize_i32_i8(g, x, q, r, key);
}
void dequantize_i8_f32(const QuantGrid& g, const int8_t* q, float* x) {
  if (active_isa() == Isa::ref) return ref::dequantize_i8_f32(g, q, x);
  portable::dequantize_i8_f32(g, q, x);
}
void dequantize_u8_f32(const QuantGrid& g, const uint8_t* q, float* x) {
  if (active_isa() == Isa::ref) return ref::dequantize_u8_f32(g, q, x);
  portable::dequantize_u8_f32(g, q, x);
}
void dequantize_i32_f32(const QuantGrid& g, const int32_t* q, float* x) {
  if (active_isa() == Isa::ref) return ref::dequantize_i32_f32(g, q, x);
  portable::dequantize_i32_f32(g, q, x);
}

// ---- fp32 rows ----

namespace {
void softmax_row_ref(int64_t D, const float* x, float* y, bool log) { ref::softmax_strided(1, D, 1, x, y, log); }
}  // namespace

SoftmaxRowFn detail::softmax_row_kernel() {
  if (active_isa() == Isa::ref) return softmax_row_ref;
  return active_isa() >= Isa::avx512 ? avx512::softmax_row : portable::softmax_row;
}

namespace {
void attention_head_ref(int64_t T, int64_t dh, float scale, const float* q, const float* k, const float* v, int64_t ld,
                        float* y, int64_t ldy, float*) {
  ref::attention_head(T, dh, double(scale), q, k, v, ld, y, ldy);
}
}  // namespace

AttentionHeadFn detail::attention_head_kernel() {
  if (active_isa() == Isa::ref) return attention_head_ref;
  return active_isa() >= Isa::avx512 ? avx512::attention_head : portable::attention_head;
}

// ---- fp32 GEMM and convolution: reference or library ----

bool detail::library_paths() { return active_isa() != Isa::ref; }

void gemm_f32(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
              int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (!detail::library_paths()) return ref::gemm_f32(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  detail::gemm_f32_library(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

detail::DirectConvFn detail::direct_conv_kernel() {
  return active_isa() >= Isa::avx512 ? avx512::conv_direct_nhwc : nullptr;
}

namespace {
bool empty_output(const ConvGeom& s) { return s.N <= 0 || s.K <= 0 || s.OH() <= 0 || s.OW() <= 0; }
}  // namespace

void conv2d_forward(const ConvGeom& s, const float* x, const float* w, const float* bias, float* y) {
  if (empty_output(s)) return;
  if (!detail::library_paths()) return ref::conv2d_forward(s, x, w, bias, y);
  detail::conv2d_forward_library(s, x, w, bias, y);
}

void conv2d_backward_data(const ConvGeom& s, const float* dy, const float* w, float* dx) {
  if (s.N <= 0 || s.C <= 0 || s.H() <= 0 || s.W() <= 0) return;
  if (empty_output(s)) {
    std::fill(dx, dx + s.N * s.C * s.H() * s.W(), 0.0f);
    return;
  }
  if (!detail::library_paths()) return ref::conv2d_backward_data(s, dy, w, dx);
  detail::conv2d_backward_data_library(s, dy, w, dx);
}

void conv2d_backward_weight(const ConvGeom& s, const float* x, const float* dy, float* dw, float* dbias) {
  if (empty_output(s)) {
    std::fill(dw, dw + s.K * (s.C / s.groups) * s.R() * s.S(), 0.0f);
    if (dbias) std::fill(dbias, dbias + s.K, 0.0f);
    return;
  }
  if (!detail::library_paths()) return ref::conv2d_backward_weight(s, x, dy, dw, dbias);
  detail::conv2d_backward_weight_library(s, x, dy, dw, dbias);
}

// ---- transposes ----

void transpose_i8(int64_t rows, int64_t cols, const int8_t* x, int64_t ldx, int8_t* y, int64_t ldy) {
  if (active_isa() >= Isa::avx2) return avx2::transpose_i8(rows, cols, x, ldx, y, ldy);
  portable::transpose_i8(rows, cols, x, ldx, y, ldy);
}
void shifted_copy_i8(int64_t n, const int8_t* x, int64_t delta, const uint64_t* mask, int8_t* out) {
  if (active_isa() >= Isa::avx512) return avx512::shifted_copy_i8(n, x, delta, mask, out);
  portable::shifted_copy_i8(n, x, delta, mask, out);
}
void transpose_f32(int64_t rows, int64_t cols, const float* x, int64_t ldx, float* y, int64_t ldy) {
  if (active_isa() >= Isa::avx2) return avx2::transpose_f32(rows, cols, x, ldx, y, ldy);
  portable::transpose_f32(rows, cols, x, ldx, y, ldy);
}

void channel_shuffle(int64_t outer, int64_t groups, int64_t per_group, int64_t inner, size_t elem_bytes, const void* x,
                     void* y) {
  if (active_isa() == Isa::ref) return ref::channel_shuffle(outer, groups, per_group, inner, elem_bytes, x, y);
  portable::channel_shuffle(outer, groups, per_group, inner, elem_bytes, x, y);
}
void gather_channels(int64_t outer, int64_t inner, const ChannelSource* src, int64_t n_src, const void* const* x,
                     const int64_t* x_channels, size_t elem_bytes, void* y) {
  if (active_isa() == Isa::ref) return ref::gather_channels(outer, inner, src, n_src, x, x_channels, elem_bytes, y);
  portable::gather_channels(outer, inner, src, n_src, x, x_channels, elem_bytes, y);
}

// ---- peak loops (peak.h): the machine's best per kind, whatever LOWBIT_ISA says ----

std::vector<PeakLoop> peak_loops() {
  const CpuFeatures& f = cpu_features();
  std::vector<PeakLoop> loops;
  if (f.avx512f) loops.push_back({PeakKind::fp32, "avx512f", &detail::peak_fp32_avx512});
  else if (f.avx2 && f.fma) loops.push_back({PeakKind::fp32, "avx2+fma", &detail::peak_fp32_avx2});
  if (f.avx512f && f.avx512vnni) loops.push_back({PeakKind::int8, "avx512_vnni", &detail::peak_int8_avx512vnni});
  else if (f.avx2) loops.push_back({PeakKind::int8, "avx2 (vpmaddubsw)", &detail::peak_int8_avx2});
  if (f.avx512f && f.avx512bf16) loops.push_back({PeakKind::bf16, "avx512_bf16", &detail::peak_bf16_avx512});
  return loops;
}

}  // namespace lowbit::kernels
