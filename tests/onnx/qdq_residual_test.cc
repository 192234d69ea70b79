// The residual QAdd fused into the QConv that produces one of its operands (passes_qdq.cc,
// fuse_qconv_add): it must fire on either operand order and give the same bytes as the two
// nodes run apart (LOWBIT_ONNX_QADD_FUSE=0) on every ISA path, at 1 and 2 threads, also for a
// broadcasting residual (NCHW fallback) and a strided conv (im2col rows); and must not fire
// where the conv's codes have another reader.
#include <gtest/gtest.h>

#include <cstdlib>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/isa.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/passes.h"
#include "qdq_test_models.h"
#include "test_util.h"

namespace lowbit::onnx {
namespace {

// x [2,8,9,7] codes → QConv(k×k, stride s) → codes c; r = x or a second input of shape r_shape;
// Add(c, r) or Add(r, c) → [Relu] → Q. extra_reader: c is also a graph output.
Graph residual_net(bool conv_first, bool relu, int64_t k, int64_t stride, const Shape& r_shape, bool extra_reader) {
  test::QdqBuilder q;
  auto& b = q.b;
  const int64_t pad = k / 2;
  const int x = b.input("x", ElemType::f32, {2, 8, 9, 7});
  const int x0 = q.qdq(x, 8.0f / 255, 128, "in");
  const Attributes attrs{{"pads", Attribute::from_ints({pad, pad, pad, pad})}, {"strides", Attribute::from_ints({stride, stride})}};
  const int c = b.op("Conv", {x0, q.weight(test::random_qweight({8, 8, k, k}, 0, 41), 0, "c"), b.constant("c_b", test::random_f32({8}, 42, 0.1f))},
                     attrs, 1, "c");
  const int cq = q.q(c, 6.0f / 255, 100, "cq");
  const int cd = q.dq(cq, 6.0f / 255, 100, "cq");
  int r = x0;
  if (!r_shape.empty()) r = q.qdq(b.input("r", ElemType::f32, r_shape), 5.0f / 255, 90, "r");
  int sum = b.op("Add", {conv_first ? cd : r, conv_first ? r : cd}, {}, 1, "add");
  if (relu) sum = b.op("Relu", {sum}, {}, 1, "add_relu");
  b.output(q.q(sum, 7.0f / 255, 60, "out"), "codes");
  if (extra_reader) b.output(cq, "conv_codes");
  return b.finish();
}

std::vector<Array> run(Graph g, const std::vector<Array>& x, bool fuse, int threads) {
  if (!fuse) setenv("LOWBIT_ONNX_QADD_FUSE", "0", 1);
  Session s(std::move(g), SessionOptions{1, threads, true});
  unsetenv("LOWBIT_ONNX_QADD_FUSE");
  return s.run(x);
}

int fused_convs(Graph g) {
  optimize_graph(g);
  int n = 0;
  for (const Node& node : g.nodes)
    if (!node.dead && node.op_type == "QConv" && node.attr_i("lowbit_add", 0) != 0) ++n;
  return n;
}

TEST(QdqResidual, FusedAddGivesTheBytesOfTheTwoNodes) {
  const Array x = test::random_f32({2, 8, 9, 7}, 43);
  const kernels::Isa saved = kernels::active_isa();
  const int saved_threads = num_threads();
  struct Case {
    int64_t k, stride;
    Shape r;
  };
  // 3×3 stride 1 (implicit GEMM: Add after the conv), 1×1 (the GEMM with the Add fused in its
  // row blocks), 1×1 stride 2 with a second input, a broadcasting residual.
  const std::vector<Case> cases = {{3, 1, {}}, {1, 1, {}}, {1, 2, {2, 8, 5, 4}}, {1, 1, {1, 8, 1, 1}}};
  for (const Case& c : cases)
    for (bool conv_first : {true, false})
      for (bool relu : {false, true}) {
        const std::string what = "k=" + std::to_string(c.k) + " stride=" + std::to_string(c.stride) + " residual " +
                                 shape_str(c.r) + (conv_first ? " conv first" : " residual first") + (relu ? " relu" : "");
        EXPECT_EQ(fused_convs(residual_net(conv_first, relu, c.k, c.stride, c.r, false)), 1) << what;
        std::vector<Array> in{x};
        if (!c.r.empty()) in.push_back(test::random_f32(c.r, 44));
        const auto want = run(residual_net(conv_first, relu, c.k, c.stride, c.r, false), in, false, 1);
        for (kernels::Isa isa : {kernels::Isa::ref, kernels::Isa::avx2, kernels::Isa::avx512vnni}) {
          if (!kernels::isa_supported(isa)) continue;
          kernels::set_active_isa(isa);
          for (int threads : {1, 2}) {
            const auto got = run(residual_net(conv_first, relu, c.k, c.stride, c.r, false), in, true, threads);
            ASSERT_EQ(got[0].shape(), want[0].shape()) << what;
            EXPECT_TRUE(test::arrays_close(got[0], want[0], 0, 0)) << what << " on " << kernels::isa_name(isa) << ", " << threads << " threads";
          }
        }
        kernels::set_active_isa(saved);
      }
  set_num_threads(saved_threads);
}

TEST(QdqResidual, ConvCodesReadElsewhereAreNotFused) {
  EXPECT_EQ(fused_convs(residual_net(true, true, 3, 1, {}, true)), 0);
  EXPECT_EQ(fused_convs(residual_net(false, false, 1, 1, {}, true)), 0);
}

}  // namespace
}  // namespace lowbit::onnx
