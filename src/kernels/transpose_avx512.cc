// AVX-512 masked shifted copy (transpose.h shifted_copy_i8): 64 positions per masked byte load,
// whose mask is the word of the position mask itself, so lanes off the image read nothing.
#include <immintrin.h>

#include "int_impl.h"

namespace lowbit::kernels::avx512 {

void shifted_copy_i8(int64_t n, const int8_t* x, int64_t delta, const uint64_t* mask, int8_t* out) {
  for (int64_t l = 0; l < n; l += 64) {
    const int64_t left = n - l;
    const __mmask64 live = left >= 64 ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
    const __m512i v = _mm512_maskz_loadu_epi8(static_cast<__mmask64>(mask[l / 64]) & live, x + (l + delta));
    _mm512_mask_storeu_epi8(out + l, live, v);
  }
}

}  // namespace lowbit::kernels::avx512
