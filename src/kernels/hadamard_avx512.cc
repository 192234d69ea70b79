// AVX-512 Walsh–Hadamard transform for 32-bit lanes (fp32, int32, int8 widened to int32). Along
// rows the stages with stride 1, 2, 4, 8 run inside one register (a lane permute, an add and a
// masked subtract); wider strides, and every stage along columns, are register-wide butterflies
// taken three stages at a time (radix 8: eight registers loaded, three stages, stored), the
// first pass fused with the load of the input. Same butterfly network as the portable path, each
// value computed by the same additions in the same order, so fp32 results are identical.
#include <immintrin.h>

// GCC 12 reports its own _mm512_undefined_* placeholders inside the intrinsics as "maybe
// uninitialized" (a false positive of the header, not of this code), and as plainly
// "uninitialized" where a function-level target attribute inlines them.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "int_impl.h"
#include "lowbit/core/threads.h"

// Register arrays must be fully unrolled to stay in registers.
#define LOWBIT_UNROLL _Pragma("GCC unroll 16")

namespace lowbit::kernels::avx512 {
namespace {

// Values a thread transforms at least before a call goes parallel: waking a sleeping OpenMP
// worker costs tens of µs on a 2-vCPU VM, more than transforming a conv's weights (<= 37 K).
constexpr int64_t kMinTaskValues = int64_t{1} << 16;

// Lanes with bit `s` of their index set hold the "b" (second) element of a stride-s butterfly.
constexpr __mmask16 kHigh[4] = {0xAAAA, 0xCCCC, 0xF0F0, 0xFF00};

struct F32 {
  using T = float;
  using Reg = __m512;
  static __m512 load(const float* p) { return _mm512_loadu_ps(p); }
  static __m512 load(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
  static void store(float* p, __m512 v, __mmask16 m) { _mm512_mask_storeu_ps(p, m, v); }
  static __m512 add(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
  static __m512 sub(__m512 a, __m512 b) { return _mm512_sub_ps(a, b); }
  // Stride-s butterflies inside a register: low lanes a+b, high lanes a-b.
  template <int kLog>
  static __m512 stage(__m512 v) {
    __m512 t;
    if constexpr (kLog == 0) t = _mm512_permute_ps(v, 0xB1);
    else if constexpr (kLog == 1) t = _mm512_permute_ps(v, 0x4E);
    else if constexpr (kLog == 2) t = _mm512_shuffle_f32x4(v, v, 0xB1);
    else t = _mm512_shuffle_f32x4(v, v, 0x4E);
    return _mm512_mask_sub_ps(_mm512_add_ps(v, t), kHigh[kLog], t, v);
  }
};

struct I32 {
  using T = int32_t;
  using Reg = __m512i;
  static __m512i load(const int32_t* p) { return _mm512_loadu_si512(p); }
  static __m512i load(const int8_t* p) { return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static __m512i load(const int32_t* p, __mmask16 m) { return _mm512_maskz_loadu_epi32(m, p); }
  static __m512i load(const int8_t* p, __mmask16 m) { return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p)); }
  static void store(int32_t* p, __m512i v) { _mm512_storeu_si512(p, v); }
  static void store(int32_t* p, __m512i v, __mmask16 m) { _mm512_mask_storeu_epi32(p, m, v); }
  static __m512i add(__m512i a, __m512i b) { return _mm512_add_epi32(a, b); }
  static __m512i sub(__m512i a, __m512i b) { return _mm512_sub_epi32(a, b); }
  template <int kLog>
  static __m512i stage(__m512i v) {
    __m512i t;
    if constexpr (kLog == 0) t = _mm512_shuffle_epi32(v, _MM_PERM_CDAB);
    else if constexpr (kLog == 1) t = _mm512_shuffle_epi32(v, _MM_PERM_BADC);
    else if constexpr (kLog == 2) t = _mm512_shuffle_i32x4(v, v, 0xB1);
    else t = _mm512_shuffle_i32x4(v, v, 0x4E);
    return _mm512_mask_sub_epi32(_mm512_add_epi32(v, t), kHigh[kLog], t, v);
  }
};

// In-register stages with stride < min(h, 16).
template <typename V, typename R>
R inreg(R v, int64_t h) {
  if (h > 1) v = V::template stage<0>(v);
  if (h > 2) v = V::template stage<1>(v);
  if (h > 4) v = V::template stage<2>(v);
  if (h > 8) v = V::template stage<3>(v);
  return v;
}

// Stages 0..R-1 of radix-2 butterflies among 2^R registers: stage t pairs v[l], v[l + 2^t].
template <typename V, int R>
inline void butterflies(typename V::Reg (&v)[1 << R]) {
  LOWBIT_UNROLL for (int t = 0; t < R; ++t)
    LOWBIT_UNROLL for (int l = 0; l < (1 << R); ++l)
      if (!(l & (1 << t))) {
        const auto a = v[l], b = v[l | (1 << t)];
        v[l] = V::add(a, b);
        v[l | (1 << t)] = V::sub(a, b);
      }
}

// One radix-2^R pass over a block of n lines (line l at src + l·src_step, each `width` values
// long, 16 per vector, masked at the end): the butterfly stages between lines with stride
// `stride`, 2·stride, ..., 2^(R-1)·stride, read from src and written to dst. `h16` > 1 also runs
// the in-register stages (blocks of h16 <= 16 values) on each vector after loading.
template <typename V, int R, typename In>
void pass(const In* src, int64_t src_step, typename V::T* dst, int64_t dst_step, int64_t n, int64_t width,
          int64_t stride, int64_t h16) {
  constexpr int kN = 1 << R;
  for (int64_t i = 0; i < n; i += stride * kN)
    for (int64_t j = i; j < i + stride; ++j)
      for (int64_t c = 0; c < width; c += 16) {
        const __mmask16 m = width - c >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (width - c)) - 1);
        typename V::Reg v[kN];
        LOWBIT_UNROLL for (int l = 0; l < kN; ++l) {
          const In* p = src + (j + l * stride) * src_step + c;
          v[l] = m == 0xFFFF ? V::load(p) : V::load(p, m);
          if (h16 > 1) v[l] = inreg<V>(v[l], h16);
        }
        butterflies<V, R>(v);
        LOWBIT_UNROLL for (int l = 0; l < kN; ++l) {
          typename V::T* q = dst + (j + l * stride) * dst_step + c;
          if (m == 0xFFFF) V::store(q, v[l]);
          else V::store(q, v[l], m);
        }
      }
}

// All log2(n) stages between n lines, radix 8 (a radix 4 or 2 pass for the remainder): the
// first pass reads src, the middle ones work in place in mid, the last one writes dst (one pass:
// src to dst directly). mid may be dst.
template <typename V, typename In>
void line_stages(const In* src, int64_t src_step, typename V::T* mid, int64_t mid_step, typename V::T* dst,
                 int64_t dst_step, int64_t n, int64_t width, int64_t h16) {
  int stages = 0;
  while ((int64_t{1} << stages) < n) ++stages;
  if (stages == 0) return pass<V, 0>(src, src_step, dst, dst_step, n, width, 1, h16);
  for (int s = 0; s < stages;) {
    const int r = std::min(3, stages - s);
    const int64_t stride = int64_t{1} << s;
    const bool last = s + r == stages;
    typename V::T* out = last ? dst : mid;
    const int64_t out_step = last ? dst_step : mid_step;
    if (s == 0) {
      if (r == 3) pass<V, 3>(src, src_step, out, out_step, n, width, stride, h16);
      else if (r == 2) pass<V, 2>(src, src_step, out, out_step, n, width, stride, h16);
      else pass<V, 1>(src, src_step, out, out_step, n, width, stride, h16);
    } else {
      if (r == 3) pass<V, 3>(mid, mid_step, out, out_step, n, width, stride, 1);
      else if (r == 2) pass<V, 2>(mid, mid_step, out, out_step, n, width, stride, 1);
      else pass<V, 1>(mid, mid_step, out, out_step, n, width, stride, 1);
    }
    s += r;
  }
}

// One row segment of `len` values (a multiple of h; of 16 too when h > 16) from x into y. A
// last partial vector (h < 16) holds whole blocks: masked lanes are zero blocks of their own.
template <typename V, typename In>
void row(const In* x, typename V::T* y, int64_t len, int64_t h) {
  if (h > 16) {
    for (int64_t b0 = 0; b0 < len; b0 += h) line_stages<V>(x + b0, 16, y + b0, 16, y + b0, 16, h / 16, 16, 16);
    return;
  }
  int64_t c = 0;
  for (; c + 16 <= len; c += 16) V::store(y + c, inreg<V>(V::load(x + c), h));
  if (c < len) {
    const __mmask16 m = static_cast<__mmask16>((1u << (len - c)) - 1);
    V::store(y + c, inreg<V>(V::load(x + c, m), h), m);
  }
}

// |v| folded into running lane maxima kept as 32-bit patterns: int32 as unsigned (|INT32_MIN|
// = 2^31), fp32 as non-negative floats, whose patterns order like their values; maxps returns
// its second operand when the first is NaN, so NaN never wins (as in max_abs_f32).
inline __m512i fold_abs(__m512i mx, __m512i v) { return _mm512_max_epu32(mx, _mm512_abs_epi32(v)); }
inline __m512i fold_abs(__m512i mx, __m512 v) {
  return _mm512_castps_si512(_mm512_max_ps(_mm512_abs_ps(v), _mm512_castsi512_ps(mx)));
}

// row<V> that also folds |y| into `mx`: from registers when h <= 16, else from the segment just
// written (still in L1).
template <typename V, typename In>
void row_max(const In* x, typename V::T* y, int64_t len, int64_t h, __m512i& mx) {
  if (h > 16) {
    row<V>(x, y, len, h);
    for (int64_t c = 0; c < len; c += 16) {
      const __mmask16 m = len - c >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (len - c)) - 1);
      mx = fold_abs(mx, V::load(y + c, m));
    }
    return;
  }
  int64_t c = 0;
  for (; c + 16 <= len; c += 16) {
    const auto v = inreg<V>(V::load(x + c), h);
    V::store(y + c, v);
    mx = fold_abs(mx, v);
  }
  if (c < len) {  // masked lanes load as zero: |0| changes no maximum
    const __mmask16 m = static_cast<__mmask16>((1u << (len - c)) - 1);
    const auto v = inreg<V>(V::load(x + c, m), h);
    V::store(y + c, v, m);
    mx = fold_abs(mx, v);
  }
}

template <typename V, typename In>
void fwht_rows(const HadamardShape& s, const In* x, int64_t ldx, typename V::T* y, int64_t ldy) {
  // Work items: segments of whole blocks, at least 16 values and about 4096 values long.
  const int64_t seg = std::min(s.cols, std::max<int64_t>({s.h, 16, 4096 / std::max<int64_t>(s.h, 16) * std::max<int64_t>(s.h, 16)}));
  const int64_t per_row = (s.cols + seg - 1) / seg;
  parallel_for(s.rows * per_row, std::max<int64_t>(1, kMinTaskValues / seg), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t r = t / per_row, c0 = (t % per_row) * seg;
      row<V>(x + r * ldx + c0, y + r * ldy + c0, std::min(seg, s.cols - c0), s.h);
    }
  });
}

// Along columns the matrix is cut into strips of whole blocks of h rows × about kStripBytes: the
// first pass reads x, the middle ones stay in L2, the last one writes y; 16 columns per vector.
template <typename V, typename In>
void fwht_cols(const HadamardShape& s, const In* x, int64_t ldx, typename V::T* y, int64_t ldy) {
  constexpr int64_t kStripBytes = 256 * 1024;
  const int64_t width = std::min(s.cols, std::max<int64_t>(32, kStripBytes / (s.h * 4) / 16 * 16));
  const int64_t strips = (s.cols + width - 1) / width, blocks = s.rows / s.h;
  parallel_for(blocks * strips, 1, [&](int64_t b, int64_t e) {
    // The middle passes run in a contiguous copy of the strip: rows a power-of-two stride apart
    // share a few cache sets (4096 floats apart: 16 sets of L2), which made them 10x slower.
    // A block of rows that fits in L2 anyway runs in place.
    const bool copy = s.h * ldy * static_cast<int64_t>(sizeof(typename V::T)) > kStripBytes;
    std::vector<typename V::T> mid(copy ? static_cast<size_t>(s.h * width) : 0);
    for (int64_t t = b; t < e; ++t) {
      const int64_t r0 = (t / strips) * s.h, c0 = (t % strips) * width, c1 = std::min(s.cols, c0 + width);
      typename V::T* out = y + r0 * ldy + c0;
      line_stages<V>(x + r0 * ldx + c0, ldx, copy ? mid.data() : out, copy ? width : ldy, out, ldy, s.h, c1 - c0, 1);
    }
  });
}

// fwht_rows<V> with the maximum of |y| as a 32-bit pattern (see fold_abs): each task's lane
// maxima reduced, then combined across tasks with a compare-and-swap maximum.
template <typename V, typename In>
uint32_t fwht_rows_max(const HadamardShape& s, const In* x, int64_t ldx, typename V::T* y, int64_t ldy) {
  const int64_t seg = std::min(s.cols, std::max<int64_t>({s.h, 16, 4096 / std::max<int64_t>(s.h, 16) * std::max<int64_t>(s.h, 16)}));
  const int64_t per_row = (s.cols + seg - 1) / seg;
  std::atomic<uint32_t> total{0};
  parallel_for(s.rows * per_row, std::max<int64_t>(1, kMinTaskValues / seg), [&](int64_t b, int64_t e) {
    __m512i mx = _mm512_setzero_si512();
    for (int64_t t = b; t < e; ++t) {
      const int64_t r = t / per_row, c0 = (t % per_row) * seg;
      row_max<V>(x + r * ldx + c0, y + r * ldy + c0, std::min(seg, s.cols - c0), s.h, mx);
    }
    const uint32_t m = _mm512_reduce_max_epu32(mx);
    uint32_t seen = total.load(std::memory_order_relaxed);
    while (m > seen && !total.compare_exchange_weak(seen, m, std::memory_order_relaxed)) {
    }
  });
  return total.load();
}

template <typename V, typename In>
void fwht(const HadamardShape& s, const In* x, int64_t ldx, typename V::T* y, int64_t ldy) {
  if (s.axis == 0) return fwht_cols<V>(s, x, ldx, y, ldy);
  fwht_rows<V>(s, x, ldx, y, ldy);
}

}  // namespace

// Any width along rows (h > 16 divides cols, so cols is then a multiple of 16) and along columns.
bool fwht_supported(const HadamardShape& s) { return s.axis == 1 || s.axis == 0; }

void fwht_f32(const HadamardShape& s, const float* x, int64_t ldx, float* y, int64_t ldy) {
  fwht<F32>(s, x, ldx, y, ldy);
}
void fwht_i8_i32(const HadamardShape& s, const int8_t* x, int64_t ldx, int32_t* y, int64_t ldy) {
  fwht<I32>(s, x, ldx, y, ldy);
}
void fwht_i32(const HadamardShape& s, const int32_t* x, int64_t ldx, int32_t* y, int64_t ldy) {
  fwht<I32>(s, x, ldx, y, ldy);
}
int32_t fwht_i8_i32_max_abs(const HadamardShape& s, const int8_t* x, int64_t ldx, int32_t* y, int64_t ldy) {
  return static_cast<int32_t>(std::min<uint32_t>(fwht_rows_max<I32>(s, x, ldx, y, ldy), 0x7FFFFFFFu));  // |INT32_MIN| saturates
}
// Blocks of h <= 16 lie inside one vector. Each row's 64 values at a time come from one masked
// load of its shifted view (the mask word as the load mask: lanes off the image read nothing
// and hold 0, as shifted_copy_i8 writes them); each quarter is widened, transformed in
// registers, stored and folded into the maximum. Measured against shifted_copy_i8 into a buffer
// plus fwht_i8_i32_max_abs (one thread, C·9 rows × H·W): 0.56x the time at h = 1 (64 × 7·7),
// 0.91x at h = 4 (32 × 14·14), but 1.23x at h = 16 (16 × 28·28), where the four in-register
// stages make the shuffle port the limit and the extract is one shuffle more per vector (a
// 64-byte local reloaded by quarters and 16-byte masked loads were slower still); the
// dispatcher sends h >= 16 through the buffer.
template <int kQ>
inline void shifted_quarter(__m512i v, int64_t h, int64_t left, int32_t* dst, __m512i& mx) {
  if (left <= 16 * kQ) return;
  const __m512i w = inreg<I32>(_mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(v, kQ)), h);
  if (left >= 16 * (kQ + 1)) {
    _mm512_storeu_si512(dst + 16 * kQ, w);
  } else {
    _mm512_mask_storeu_epi32(dst + 16 * kQ, static_cast<__mmask16>((1u << (left - 16 * kQ)) - 1), w);
  }
  mx = fold_abs(mx, w);  // lanes past `left` hold zero blocks: |0| changes no maximum
}

int32_t fwht_shifted_i8_i32_max_abs(const HadamardShape& s, const ShiftedRows& x, int32_t* y, int64_t ldy) {
  std::atomic<uint32_t> total{0};
  parallel_for(s.rows, std::max<int64_t>(1, kMinTaskValues / std::max<int64_t>(s.cols, 1)), [&](int64_t b, int64_t e) {
    __m512i mx = _mm512_setzero_si512();
    for (int64_t r = b; r < e; ++r) {
      const int8_t* src = x.x + x.offset[r];
      const uint64_t* mask = x.mask[r];
      int32_t* dst = y + r * ldy;
      for (int64_t c = 0; c < s.cols; c += 64) {
        const int64_t left = s.cols - c;
        const __mmask64 live = left >= 64 ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
        const __m512i v = _mm512_maskz_loadu_epi8(live & static_cast<__mmask64>(mask[c / 64]), src + c);
        shifted_quarter<0>(v, s.h, left, dst + c, mx);
        shifted_quarter<1>(v, s.h, left, dst + c, mx);
        shifted_quarter<2>(v, s.h, left, dst + c, mx);
        shifted_quarter<3>(v, s.h, left, dst + c, mx);
      }
    }
    const uint32_t m = _mm512_reduce_max_epu32(mx);
    uint32_t seen = total.load(std::memory_order_relaxed);
    while (m > seen && !total.compare_exchange_weak(seen, m, std::memory_order_relaxed)) {
    }
  });
  return static_cast<int32_t>(std::min<uint32_t>(total.load(), 0x7FFFFFFFu));
}

float fwht_f32_max_abs(const HadamardShape& s, const float* x, int64_t ldx, float* y, int64_t ldy) {
  const uint32_t m = fwht_rows_max<F32>(s, x, ldx, y, ldy);
  float f;
  std::memcpy(&f, &m, sizeof f);
  return f;
}

}  // namespace lowbit::kernels::avx512
