// Tensor views, copies, conversions and error messages.
#include <gtest/gtest.h>

#include "lowbit/core/tensor.h"

namespace lowbit {
namespace {

TEST(Tensor, ZerosAndShape) {
  Tensor t = Tensor::zeros({2, 3, 4});
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.dim(), 3);
  EXPECT_EQ(t.size(-1), 4);
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_TRUE(t.is_contiguous());
  for (float v : t.to_vector()) EXPECT_EQ(v, 0.0f);
}

TEST(Tensor, TransposeIsAViewAndContiguousCopies) {
  Tensor t = Tensor::from({2, 3}, {0, 1, 2, 3, 4, 5});
  Tensor tt = t.transpose(0, 1);
  EXPECT_FALSE(tt.is_contiguous());
  EXPECT_TRUE(tt.shares_storage(t));
  EXPECT_EQ(tt.to_vector(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  Tensor c = tt.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_FALSE(c.shares_storage(t));
  EXPECT_EQ(c.to_vector(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(Tensor, NarrowSelectPermute) {
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i) v[i] = static_cast<float>(i);
  Tensor t = Tensor::from<float>({2, 3, 4}, v);
  EXPECT_EQ(t.narrow(2, 1, 2).select(0, 1).to_vector(), (std::vector<float>{13, 14, 17, 18, 21, 22}));
  Tensor p = t.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.select(0, 1).to_vector(), (std::vector<float>{1, 5, 9, 13, 17, 21}));
}

TEST(Tensor, ViewInfersAndRejects) {
  Tensor t = Tensor::zeros({4, 6});
  EXPECT_EQ(t.view({-1, 3}).shape(), (Shape{8, 3}));
  EXPECT_THROW(t.view({5, -1}), ValueError);
  EXPECT_THROW(t.transpose(0, 1).view({24}), ValueError);
  EXPECT_EQ(t.transpose(0, 1).reshape({24}).numel(), 24);
}

TEST(Tensor, CopyIntoStridedView) {
  Tensor t = Tensor::zeros({3, 3});
  t.transpose(0, 1).narrow(0, 1, 1).copy_(Tensor::from({1, 3}, {7, 8, 9}));
  EXPECT_EQ(t.to_vector(), (std::vector<float>{0, 7, 0, 0, 8, 0, 0, 9, 0}));
}

TEST(Tensor, DtypeConversionRoundsToNearest) {
  Tensor t = Tensor::from({4}, {-1.6f, -0.4f, 2.5f, 3.5f});
  Tensor i = t.to(DType::i8);
  EXPECT_EQ(i.dtype(), DType::i8);
  EXPECT_EQ(i.data<int8_t>()[0], -2);
  EXPECT_EQ(i.data<int8_t>()[1], 0);
  EXPECT_EQ(i.data<int8_t>()[2], 2);  // ties to even, like nearbyint
  EXPECT_EQ(i.data<int8_t>()[3], 4);
  EXPECT_THROW(t.data<int32_t>(), ValueError);
}

TEST(Tensor, Int4PackingHelpers) {
  for (int lo = -8; lo <= 7; ++lo)
    for (int hi = -8; hi <= 7; ++hi) {
      const uint8_t b = int4_pack(static_cast<int8_t>(lo), static_cast<int8_t>(hi));
      EXPECT_EQ(int4_lo(b), lo);
      EXPECT_EQ(int4_hi(b), hi);
    }
  Tensor p = Tensor::zeros({5}, DType::i4);
  EXPECT_EQ(p.nbytes(), 3u);
  EXPECT_THROW(p.transpose(0, 0), ValueError);
}

TEST(Tensor, ErrorsNameTheOp) {
  Tensor t = Tensor::zeros({2, 2});
  try {
    t.narrow(0, 1, 5);
    FAIL() << "expected an error";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("[Tensor::narrow]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Tensor::empty({-1, 2}), ValueError);
  EXPECT_THROW(Tensor::empty({int64_t{1} << 30, int64_t{1} << 30}), ValueError);
}

}  // namespace
}  // namespace lowbit
