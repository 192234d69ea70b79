// ConvInteger's and MatMulInteger's fast paths (ops/integer_fast.cc: the u8×s8 GEMM + run-time
// zero points, the depthwise int32 kernel) against the references (kernels::ref::conv_nd_integer,
// ref::matmul_integer) bit for bit on every ISA path: uint8/int8 activations and weights, zero
// points as run-time inputs (what DynamicQuantizeLinear feeds them), absent, or one per output
// channel / column of B; for convs strides, padding, dilation, 1×1 and wide kernels, several
// images, grouped and depthwise convs; for matmuls batched A, K not a multiple of 4. Per-row A
// zero points take the reference and still agree. Grouped and depthwise ConvInteger and
// per-column MatMulInteger zero points also against ONNX Runtime.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "lowbit/kernels/conv_geom.h"
#include "lowbit/kernels/conv_nd_ref.h"
#include "lowbit/kernels/int_matmul_ref.h"
#include "lowbit/kernels/isa.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "ort_util.h"
#include "require_peer.h"
#include "test_util.h"

namespace lowbit::onnx {
namespace {

struct Case {
  Shape x, w;
  std::vector<int64_t> strides, pads, dilations;
  int64_t group = 1;
  ElemType xt = ElemType::u8, wt = ElemType::i8;
  bool zero_points = true, per_channel_wz = false;
};

Array codes(ElemType t, const Shape& shape, uint32_t seed) {
  Array a = Array::empty(t, shape);
  uint32_t s = seed;
  auto* p = reinterpret_cast<uint8_t*>(a.raw());
  for (int64_t i = 0; i < a.numel(); ++i) {
    s = s * 1664525u + 1013904223u;
    p[i] = static_cast<uint8_t>(s >> 24);
  }
  return a;
}

Array scalar_of(ElemType t, int v) {
  return t == ElemType::u8 ? Array::scalar<uint8_t>(static_cast<uint8_t>(v)) : Array::scalar<int8_t>(static_cast<int8_t>(v));
}

Array conv_weight_zp(const Case& c) {
  return c.per_channel_wz ? codes(c.wt, {c.w[0]}, 17) : scalar_of(c.wt, c.wt == ElemType::u8 ? 131 : -5);
}

Graph conv_model(const Case& c) {
  GraphBuilder b(13);
  const int x = b.input("x", c.xt, c.x);
  const int xz = b.input("x_zp", c.xt, {});
  const int wv = b.constant("w", codes(c.wt, c.w, 7 + static_cast<uint32_t>(c.w[0])));
  Attributes attrs = {{"strides", Attribute::from_ints(c.strides)}, {"pads", Attribute::from_ints(c.pads)},
                      {"dilations", Attribute::from_ints(c.dilations)}, {"group", Attribute::from_int(c.group)}};
  std::vector<int> ins = {x, wv};
  if (c.zero_points) ins = {x, wv, xz, b.constant("w_zp", conv_weight_zp(c))};
  b.output(b.op("ConvInteger", ins, attrs));
  return b.finish();
}

void check(const Case& c) {
  const Array w = codes(c.wt, c.w, 7 + static_cast<uint32_t>(c.w[0]));
  const Array wz = conv_weight_zp(c);
  const Array xs = codes(c.xt, c.x, 3);
  const Array xzv = scalar_of(c.xt, c.xt == ElemType::u8 ? 119 : 9);
  Session s(conv_model(c), SessionOptions{1, 1, true});
  const Array got = s.run(std::vector<Array>{xs, xzv})[0];
  const Array again = s.run(std::vector<Array>{xs, xzv})[0];  // the packed weights, reused

  kernels::ConvGeom g = kernels::ConvGeom::conv2d(c.x[0], c.x[1], c.x[2], c.x[3], c.w[0], c.w[2], c.w[3])
                            .strides(c.strides[0], c.strides[1])
                            .pads(c.pads[0], c.pads[1], c.pads[2], c.pads[3])
                            .dilations(c.dilations[0], c.dilations[1]);
  g.groups = c.group;
  ASSERT_EQ(got.shape(), (Shape{c.x[0], c.w[0], g.OH(), g.OW()}));
  std::vector<int32_t> want(static_cast<size_t>(got.numel()));
  const int32_t xzi = c.zero_points ? static_cast<int32_t>(xzv.get_i64(0)) : 0;
  std::vector<int32_t> wzs(static_cast<size_t>(c.w[0]), 0);  // per output channel
  for (int64_t m = 0; m < c.w[0] && c.zero_points; ++m) wzs[static_cast<size_t>(m)] = static_cast<int32_t>(wz.get_i64(wz.numel() == 1 ? 0 : m));
  const bool xu = c.xt == ElemType::u8, wu = c.wt == ElemType::u8;
  using kernels::ref::conv_nd_integer;
  if (xu && wu) conv_nd_integer(g, xs.data<uint8_t>(), xzi, w.data<uint8_t>(), wzs.data(), want.data());
  else if (xu) conv_nd_integer(g, xs.data<uint8_t>(), xzi, w.data<int8_t>(), wzs.data(), want.data());
  else if (wu) conv_nd_integer(g, xs.data<int8_t>(), xzi, w.data<uint8_t>(), wzs.data(), want.data());
  else conv_nd_integer(g, xs.data<int8_t>(), xzi, w.data<int8_t>(), wzs.data(), want.data());
  for (int64_t i = 0; i < got.numel(); ++i) {
    ASSERT_EQ(got.data<int32_t>()[i], want[static_cast<size_t>(i)]) << "element " << i;
    ASSERT_EQ(again.data<int32_t>()[i], want[static_cast<size_t>(i)]) << "element " << i << ", second run";
  }
}

TEST(ConvInteger, FastPathEqualsTheReference) {
  const std::vector<int64_t> s1{1, 1}, s2{2, 2}, p0{0, 0, 0, 0}, p1{1, 1, 1, 1}, pa{0, 1, 2, 1}, d1{1, 1}, d2{2, 2};
  const std::vector<Case> cases = {
      {{1, 3, 9, 9}, {8, 3, 3, 3}, s1, p1, d1},                          // a first layer, u8 × s8
      {{2, 16, 7, 6}, {24, 16, 1, 1}, s1, p0, d1},                       // 1×1, two images
      {{1, 8, 11, 10}, {5, 8, 3, 3}, s2, pa, d1, 1, ElemType::i8},       // int8 x, asymmetric pads, stride 2
      {{1, 4, 12, 12}, {6, 4, 3, 3}, s1, p1, d2, 1, ElemType::u8, ElemType::u8},  // uint8 weights, dilation
      {{1, 5, 8, 8}, {7, 5, 5, 5}, s1, {2, 2, 2, 2}, d1, 1, ElemType::i8, ElemType::u8},
      {{1, 6, 9, 9}, {4, 6, 3, 3}, s2, p1, d1, 1, ElemType::u8, ElemType::i8, false},  // no zero points
      {{1, 64, 20, 20}, {40, 64, 3, 3}, s1, p1, d1},                      // K = 576, 400 rows
      {{1, 4, 6, 6}, {4, 2, 3, 3}, s1, p1, d1, 2},                        // two groups
      {{2, 12, 9, 7}, {20, 3, 3, 3}, s2, pa, d1, 4, ElemType::i8, ElemType::u8},  // four groups, int8 x
      {{1, 32, 10, 10}, {32, 1, 3, 3}, s1, p1, d1, 32},                   // depthwise 3×3
      {{2, 20, 9, 11}, {20, 1, 3, 3}, s2, pa, d1, 20, ElemType::i8},      // depthwise, stride 2, masked tail
      {{1, 17, 12, 12}, {17, 1, 5, 5}, s1, {2, 2, 2, 2}, d2, 17, ElemType::u8, ElemType::u8},  // 5×5, dilation
      {{1, 8, 7, 7}, {8, 1, 3, 3}, s1, p1, d1, 8, ElemType::u8, ElemType::i8, false},  // depthwise, no zero points
      {{1, 4, 12, 12}, {4, 1, 9, 9}, s1, {4, 4, 4, 4}, d1, 4},            // 81 taps: depthwise on the GEMM path
      {{1, 8, 6, 6}, {16, 1, 3, 3}, s1, p1, d1, 8},                       // two filters per channel
      {{1, 6, 8, 8}, {10, 6, 3, 3}, s2, p1, d1, 1, ElemType::u8, ElemType::i8, true, true},  // per-channel w zero points
      {{1, 8, 7, 7}, {8, 2, 3, 3}, s1, p1, d1, 4, ElemType::i8, ElemType::u8, true, true},   // grouped, per channel
      {{2, 24, 8, 8}, {24, 1, 3, 3}, s1, p1, d1, 24, ElemType::u8, ElemType::i8, true, true},  // depthwise, per channel
  };
  const kernels::Isa saved = kernels::active_isa();
  for (kernels::Isa isa : {kernels::Isa::ref, kernels::Isa::avx2, kernels::Isa::avx512, kernels::Isa::avx512vnni}) {
    if (!kernels::isa_supported(isa)) continue;
    kernels::set_active_isa(isa);
    for (const Case& c : cases) {
      SCOPED_TRACE(shape_str(c.x) + " * " + shape_str(c.w) + " group " + std::to_string(c.group) + " on " + std::string(kernels::isa_name(isa)));
      check(c);
    }
  }
  kernels::set_active_isa(saved);
}

// A weight zero point neither per tensor nor one per output channel names the node and input.
TEST(ConvInteger, ZeroPointOfTheWrongLengthIsAnError) {
  for (const int64_t n : {3, 9}) {
    GraphBuilder b(13);
    const int x = b.input("x", ElemType::u8, {1, 8, 5, 5});
    const int xz = b.input("x_zp", ElemType::u8, {});
    const int w = b.constant("w", codes(ElemType::i8, {8, 1, 3, 3}, 1));
    const int wz = b.constant("w_zp", codes(ElemType::i8, {n}, 2));
    b.output(b.op("ConvInteger", {x, w, xz, wz}, {{"group", Attribute::from_int(8)}}));
    try {
      Session s(b.finish(), SessionOptions{1, 1, true});
      (void)s.run(std::vector<Array>{codes(ElemType::u8, {1, 8, 5, 5}, 3), scalar_of(ElemType::u8, 7)});
      ADD_FAILURE() << "no error for " << n << " zero points";
    } catch (const std::exception& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("ConvInteger"), std::string::npos) << what;
      EXPECT_NE(what.find("w_zero_point"), std::string::npos) << what;
    }
  }
}

// Grouped and depthwise ConvInteger: the same int32 sums as ONNX Runtime's (which takes scalar
// weight zero points only).
TEST(ConvInteger, GroupedAndDepthwiseAgreeWithOnnxRuntime) {
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  const std::vector<int64_t> s1{1, 1}, s2{2, 2}, p1{1, 1, 1, 1}, d1{1, 1};
  const std::vector<Case> cases = {
      {{2, 32, 10, 10}, {32, 1, 3, 3}, s1, p1, d1, 32},
      {{1, 20, 9, 11}, {20, 1, 3, 3}, s2, p1, d1, 20},
      {{1, 12, 9, 7}, {16, 3, 3, 3}, s2, p1, d1, 4},
      {{1, 144, 56, 56}, {144, 1, 3, 3}, s1, p1, d1, 144},  // MobileNetV2's stride-1 and stride-2 shapes (benchmarked)
      {{1, 96, 112, 112}, {96, 1, 3, 3}, s2, p1, d1, 96},
  };
  int i = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(shape_str(c.x) + " * " + shape_str(c.w));
    const std::string path = test::temp_dir() + "/conv_integer_" + std::to_string(i) + ".onnx";
    save_model(conv_model(c), path);
    const Array xs = codes(c.xt, c.x, 3), xzv = scalar_of(c.xt, 119);
    const Array want = test::run_ort(path, {xs, xzv}, "conv_integer_" + std::to_string(i++))[0];
    Session s(conv_model(c), SessionOptions{1, 1, true});
    const Array got = s.run(std::vector<Array>{xs, xzv})[0];
    ASSERT_EQ(got.shape(), want.shape());
    for (int64_t e = 0; e < got.numel(); ++e) ASSERT_EQ(got.data<int32_t>()[e], want.data<int32_t>()[e]) << "element " << e;
  }
}

struct MatCase {
  Shape a;
  int64_t N;
  ElemType at = ElemType::u8, bt = ElemType::i8;
  bool zero_points = true, per_row_a_zp = false, per_col_b_zp = false;
};

Array matmul_b(const MatCase& c) { return codes(c.bt, {c.a.back(), c.N}, 11 + static_cast<uint32_t>(c.a.back())); }
Array matmul_b_zp(const MatCase& c) {
  return c.per_col_b_zp ? codes(c.bt, {c.N}, 13) : scalar_of(c.bt, c.bt == ElemType::u8 ? 140 : 3);
}

Graph matmul_model(const MatCase& c) {
  GraphBuilder gb(13);
  const int a = gb.input("a", c.at, c.a);
  const int az = gb.input("a_zp", c.at, c.per_row_a_zp ? Shape{c.a[c.a.size() - 2]} : Shape{});
  std::vector<int> ins = {a, gb.constant("b", matmul_b(c))};
  if (c.zero_points) ins = {a, ins[1], az, gb.constant("b_zp", matmul_b_zp(c))};
  gb.output(gb.op("MatMulInteger", ins));
  return gb.finish();
}

void check_matmul(const MatCase& c) {
  const int64_t K = c.a.back();
  const Array b = matmul_b(c), bz = matmul_b_zp(c);
  const Array as = codes(c.at, c.a, 5);
  const int64_t M = c.a[c.a.size() - 2];
  Array azv = c.per_row_a_zp ? codes(c.at, {M}, 9) : scalar_of(c.at, c.at == ElemType::u8 ? 101 : -7);
  Session s(matmul_model(c), SessionOptions{1, 1, true});
  const Array got = s.run(std::vector<Array>{as, azv})[0];
  const Array again = s.run(std::vector<Array>{as, azv})[0];
  std::vector<int32_t> za, zb;
  if (c.zero_points) {
    for (int64_t i = 0; i < azv.numel(); ++i) za.push_back(static_cast<int32_t>(azv.get_i64(i)));
    for (int64_t i = 0; i < bz.numel(); ++i) zb.push_back(static_cast<int32_t>(bz.get_i64(i)));
  }
  const kernels::ref::IntMatmulZeroPoints z{za.empty() ? nullptr : za.data(), za.size() > 1, zb.empty() ? nullptr : zb.data(),
                                            zb.size() > 1};
  const int64_t batches = as.numel() / (M * K);
  std::vector<int32_t> want(static_cast<size_t>(batches * M * c.N));
  for (int64_t bi = 0; bi < batches; ++bi) {
    auto run = [&](auto ta, auto tb) {
      kernels::ref::matmul_integer(M, c.N, K, as.data<decltype(ta)>() + bi * M * K, b.data<decltype(tb)>(), z, want.data() + bi * M * c.N);
    };
    const bool au = c.at == ElemType::u8, bu = c.bt == ElemType::u8;
    if (au && bu) run(uint8_t{}, uint8_t{});
    else if (au) run(uint8_t{}, int8_t{});
    else if (bu) run(int8_t{}, uint8_t{});
    else run(int8_t{}, int8_t{});
  }
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size()));
  for (int64_t i = 0; i < got.numel(); ++i) {
    ASSERT_EQ(got.data<int32_t>()[i], want[static_cast<size_t>(i)]) << "element " << i;
    ASSERT_EQ(again.data<int32_t>()[i], want[static_cast<size_t>(i)]) << "element " << i << ", second run";
  }
}

TEST(MatMulInteger, FastPathEqualsTheReference) {
  const std::vector<MatCase> cases = {
      {{4, 32}, 16},                                            // u8 × s8, K % 4 == 0: rows fed as they are
      {{2, 3, 30}, 20},                                         // batched A, K % 4 != 0: padded copy
      {{5, 64}, 48, ElemType::i8},                              // int8 activations
      {{3, 17}, 9, ElemType::u8, ElemType::u8},                 // uint8 weights
      {{2, 7, 24}, 33, ElemType::i8, ElemType::u8, false},      // no zero points
      {{6, 16}, 8, ElemType::u8, ElemType::i8, true, true},     // per-row zero points: the reference
      {{130, 768}, 64},                                         // a BERT-like row block
      {{5, 40}, 24, ElemType::u8, ElemType::i8, true, false, true},   // per-column B zero points
      {{2, 3, 30}, 20, ElemType::i8, ElemType::u8, true, false, true},  // the same, padded copy
  };
  for (const MatCase& c : cases) {
    SCOPED_TRACE(shape_str(c.a) + " x N=" + std::to_string(c.N));
    check_matmul(c);
  }
}

// Per-column B zero points (what ONNX Runtime's per-channel dynamic quantization writes): its sums.
TEST(MatMulInteger, PerColumnZeroPointsAgreeWithOnnxRuntime) {
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  const MatCase c{{6, 40}, 24, ElemType::u8, ElemType::i8, true, false, true};
  const std::string path = test::temp_dir() + "/matmul_integer_per_col.onnx";
  save_model(matmul_model(c), path);
  const Array as = codes(c.at, c.a, 5), azv = scalar_of(c.at, 101);
  const Array want = test::run_ort(path, {as, azv}, "matmul_integer_per_col")[0];
  Session s(matmul_model(c), SessionOptions{1, 1, true});
  const Array got = s.run(std::vector<Array>{as, azv})[0];
  ASSERT_EQ(got.shape(), want.shape());
  for (int64_t e = 0; e < got.numel(); ++e) ASSERT_EQ(got.data<int32_t>()[e], want.data<int32_t>()[e]) << "element " << e;
}

}  // namespace
}  // namespace lowbit::onnx
