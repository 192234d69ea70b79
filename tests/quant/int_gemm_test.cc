// Tensor-level integer GEMM: agrees with the kernel reference for every accumulator model; the
// dequantizing epilogue and the requantizing form; int4 operands; argument errors.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "lowbit/core/error.h"
#include "lowbit/kernels/igemm_ref.h"
#include "lowbit/quant/int_gemm.h"

namespace lowbit::quant {
namespace {

Tensor codes(const Shape& s, int lo, int hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  Tensor t = Tensor::empty(s, DType::i8);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<int8_t>()[i] = static_cast<int8_t>(d(rng));
  return t;
}

TEST(IntGemm, MatchesReferenceForEveryModel) {
  const Tensor A = codes({37, 100}, -7, 7, 1), B = codes({45, 100}, -7, 7, 2);
  for (const AccumulatorSpec& acc : {AccumulatorSpec::exact(), AccumulatorSpec{}, AccumulatorSpec::saturating(8),
                                     AccumulatorSpec::wrap(8), AccumulatorSpec::tile_clamp(12, 0)}) {
    const Tensor C = int_gemm(A, B, acc);
    std::vector<int32_t> want(37 * 45);
    kernels::ref::igemm_s32(37, 45, 100, {A.data<int8_t>(), 100}, {B.data<int8_t>(), 100},
                            {acc.model, acc.bits, acc.tile}, want.data(), 45);
    EXPECT_EQ(std::vector<int32_t>(C.data<int32_t>(), C.data<int32_t>() + C.numel()), want) << acc.str();
  }
  EXPECT_EQ(AccumulatorSpec{}.str(), "tile-clamp(A=8,T=32)");
  EXPECT_EQ(parse_acc_model("tile_clamp"), AccModel::tile_clamp);
  EXPECT_THROW(parse_acc_model("clamp"), ValueError);
}

TEST(IntGemm, DequantAndRequantForms) {
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.0f, 1.0f);
  Tensor x = Tensor::empty({16, 64}), w = Tensor::empty({24, 64}), bias = Tensor::empty({24});
  for (Tensor* t : {&x, &w, &bias})
    for (int64_t i = 0; i < t->numel(); ++i) t->data<float>()[i] = d(rng);
  const QTensor qx = quantize_per_tensor(x, 4, Scheme::symmetric, Rounding::nearest, 0.975f);
  const QTensor qw = quantize_per_channel(w, 0, 4, Scheme::symmetric);
  const AccumulatorSpec acc;  // HDQT forward: tile-clamp, A = 8, T = 32
  const Tensor y = int_gemm_dequant(qx, qw, acc, bias);
  const Tensor C = int_gemm(qx.codes, qw.codes, acc);
  for (int64_t m = 0; m < 16; ++m)
    for (int64_t n = 0; n < 24; ++n) {
      const float want = static_cast<float>(C.data<int32_t>()[m * 24 + n]) * qx.params.scale_at(0) * qw.params.scale_at(n) +
                         bias.data<float>()[n];
      ASSERT_EQ(y.data<float>()[m * 24 + n], want);
    }
  // int4 operands give the same accumulators.
  EXPECT_EQ(int_gemm(pack_int4(qx).codes, pack_int4(qw).codes, acc).to_vector(), C.to_vector());
  const QTensor qw_t = quantize_per_tensor(w, 4, Scheme::symmetric);
  const QTensor r = int_gemm_requant(qx, qw_t, AccumulatorSpec::exact(), 4, Rounding::stochastic, 1.0f, {1, 2});
  EXPECT_EQ(r.codes.dtype(), DType::i8);
  EXPECT_EQ(r.shape(), (Shape{16, 24}));
  EXPECT_THROW(int_gemm_requant(qx, qw, acc, 4), ValueError);  // per-channel B
}

TEST(IntGemm, ArgumentErrors) {
  const Tensor A = codes({4, 8}, -7, 7, 6);
  EXPECT_THROW(int_gemm(A, codes({4, 9}, -7, 7, 7), {}), ValueError);
  EXPECT_THROW(int_gemm(A, Tensor::zeros({4, 8}), {}), ValueError);
  EXPECT_THROW(int_gemm(A, A, AccumulatorSpec::tile_clamp(1, 32)), ValueError);
  EXPECT_THROW(int_gemm(A, A, AccumulatorSpec::tile_clamp(8, -1)), ValueError);
  EXPECT_THROW(int_gemm(Tensor::zeros({4, 8}, DType::u8), A, {}), ValueError);
}

}  // namespace
}  // namespace lowbit::quant
