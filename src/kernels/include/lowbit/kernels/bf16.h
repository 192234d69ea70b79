// bfloat16 rounding for the bf16 compute path: inputs and weights rounded to bfloat16 (round to
// nearest even, as ONNX Cast and oneDNN's reorders), products summed in fp32. Values are kept
// in float storage; "rounded" means the low 16 bits of each float are zero.
#pragma once

#include <cstdint>

namespace lowbit::kernels {

// One float rounded to the nearest bfloat16 (ties to even), returned as a float; NaN stays NaN,
// infinities and values beyond the largest bfloat16 round as IEEE does (to infinity).
float round_to_bf16(float x);
// y[i] = round_to_bf16(x[i]); x and y may be the same array.
void round_to_bf16(int64_t n, const float* x, float* y);
// Whether x is exactly a bfloat16 value (its low 16 bits are zero, or it is NaN).
bool is_bf16_exact(float x);

// The arithmetic of the layers' plans (ConvPlan, MatmulPlan): fp32, or bf16 inputs and weights
// with fp32 accumulation and output.
enum class PlanMath { f32, bf16 };

// Whether this CPU runs bf16 products natively (AVX512-BF16); without it oneDNN may emulate
// them, slower than fp32, so callers offering bf16 as a speed option check this first.
bool bf16_native();

}  // namespace lowbit::kernels
