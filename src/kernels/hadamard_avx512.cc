// AVX-512 Walsh–Hadamard transform along rows (axis 1) for 32-bit lanes (fp32, int32, int8
// widened to int32). The four butterfly stages with stride 1, 2, 4, 8 run inside one register
// (a lane permute, an add and a masked subtract); wider strides are register-wide butterflies.
// Same butterfly network and stage order as the portable path, so fp32 results are identical.
#include <immintrin.h>

// GCC 12 reports its own _mm512_undefined_* placeholders inside the intrinsics as "maybe
// uninitialized" (a false positive of the header, not of this code).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>

#include "int_impl.h"
#include "lowbit/core/threads.h"

namespace lowbit::kernels::avx512 {
namespace {

// Lanes with bit `s` of their index set hold the "b" (second) element of a stride-s butterfly.
constexpr __mmask16 kHigh[4] = {0xAAAA, 0xCCCC, 0xF0F0, 0xFF00};

struct F32 {
  using T = float;
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

// One row segment of `len` values (a multiple of h; of 16 too when h > 16) from x into y. A
// last partial vector (h < 16) holds whole blocks: masked lanes are zero blocks of their own.
template <typename V, typename In>
void row(const In* x, typename V::T* y, int64_t len, int64_t h) {
  int64_t c = 0;
  for (; c + 16 <= len; c += 16) V::store(y + c, inreg<V>(V::load(x + c), h));
  if (c < len) {
    const __mmask16 m = static_cast<__mmask16>((1u << (len - c)) - 1);
    V::store(y + c, inreg<V>(V::load(x + c, m), h), m);
  }
  for (int64_t b0 = 0; b0 < len && h > 16; b0 += h) {
    typename V::T* v = y + b0;
    for (int64_t half = 16; half < h; half *= 2)
      for (int64_t i = 0; i < h; i += 2 * half)
        for (int64_t j = i; j < i + half; j += 16) {
          const auto a = V::load(v + j), b = V::load(v + j + half);
          V::store(v + j, V::add(a, b));
          V::store(v + j + half, V::sub(a, b));
        }
  }
}

template <typename V, typename In>
void fwht_rows(const HadamardShape& s, const In* x, int64_t ldx, typename V::T* y, int64_t ldy) {
  // Work items: segments of whole blocks, at least 16 values and about 4096 values long.
  const int64_t seg = std::min(s.cols, std::max<int64_t>({s.h, 16, 4096 / std::max<int64_t>(s.h, 16) * std::max<int64_t>(s.h, 16)}));
  const int64_t per_row = (s.cols + seg - 1) / seg;
  parallel_for(s.rows * per_row, std::max<int64_t>(1, 16384 / seg), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t r = t / per_row, c0 = (t % per_row) * seg;
      row<V>(x + r * ldx + c0, y + r * ldy + c0, std::min(seg, s.cols - c0), s.h);
    }
  });
}

}  // namespace

// Along rows any width works: h > 16 divides cols, so cols is then a multiple of 16.
bool fwht_rows_supported(const HadamardShape& s) { return s.axis == 1; }

void fwht_f32(const HadamardShape& s, const float* x, int64_t ldx, float* y, int64_t ldy) {
  fwht_rows<F32>(s, x, ldx, y, ldy);
}
void fwht_i8_i32(const HadamardShape& s, const int8_t* x, int64_t ldx, int32_t* y, int64_t ldy) {
  fwht_rows<I32>(s, x, ldx, y, ldy);
}
void fwht_i32(const HadamardShape& s, const int32_t* x, int64_t ldx, int32_t* y, int64_t ldy) {
  fwht_rows<I32>(s, x, ldx, y, ldy);
}

}  // namespace lowbit::kernels::avx512
