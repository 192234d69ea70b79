// Opset-18 forms (ONNX changelog, opset 18): Reduce* axes as an optional input, Split's
// num_outputs, Pad's axes input, Resize-18's antialias / keep_aspect_ratio_policy (defaults only),
// ScatterElements/ScatterND reduction max and min. Each form is checked against the opset-13
// equivalent or hand-computed values; bad inputs must name the node, op and opset; the exporter
// writes the 18 form back and the loader reads it.
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/passes.h"
#include <cmath>
#include <fstream>

#include "ort_util.h"
#include "require_peer.h"
#include "test_util.h"

namespace lowbit::onnx {
namespace {

Array f32(const Shape& shape, std::vector<float> v) { return Array::from<float>(shape, v); }
Array i64(const Shape& shape, std::vector<int64_t> v) { return Array::from<int64_t>(shape, v); }

void expect_values(const Array& got, const Shape& shape, std::vector<float> want, double tol = 0) {
  EXPECT_TRUE(test::arrays_close(got, f32(shape, std::move(want)), tol, tol));
}

using test::expect_error;

// One node "n" on input x plus constant inputs (kNoValue = omitted), output `which` of n_out.
Graph one_node(int opset, const std::string& op, const Array& x, const std::vector<std::optional<Array>>& consts,
               Attributes attrs, int n_out = 1, int which = 0) {
  GraphBuilder b(opset);
  std::vector<int> ins{b.input("x", x.type(), x.shape())};
  int k = 0;
  for (const auto& c : consts) ins.push_back(c ? b.constant(fmt::format("c{}", k++), *c) : kNoValue);
  const std::vector<int> outs = b.op_multi(op, ins, std::move(attrs), n_out, "n");
  b.output(outs[static_cast<size_t>(which)]);
  return b.finish();
}

Array run(Graph g, const Array& x) { return Session(std::move(g)).run({x})[0]; }

const Array kX = f32({2, 3, 2}, {1, -2, 3, 0.5f, 2, 4, -1, 6, 0.25f, 3, 5, -7});

TEST(Opset18, ReduceAxesInputMatchesOpset13Attribute) {
  const Array x = f32({2, 3, 2}, {1, 2, 3, 0.5f, 2, 4, 1, 6, 0.25f, 3, 5, 7});  // positive: LogSum is defined
  for (const char* op : {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
                         "ReduceLogSumExp", "ReduceSumSquare", "ReduceSum"}) {
    SCOPED_TRACE(op);
    for (const std::vector<int64_t>& axes : {std::vector<int64_t>{1}, {0, -1}}) {
      for (int64_t keep : {0, 1}) {
        const Array want = run(op == std::string("ReduceSum")
                                   ? one_node(13, op, x, {i64({static_cast<int64_t>(axes.size())}, axes)},
                                              {{"keepdims", Attribute::from_int(keep)}})
                                   : one_node(13, op, x, {}, {{"axes", Attribute::from_ints(axes)}, {"keepdims", Attribute::from_int(keep)}}),
                               x);
        const Array got = run(one_node(18, op, x, {i64({static_cast<int64_t>(axes.size())}, axes)},
                                       {{"keepdims", Attribute::from_int(keep)}}),
                              x);
        EXPECT_TRUE(test::arrays_close(got, want, 0, 0));
      }
    }
    // No axes: all axes, or identity with noop_with_empty_axes.
    expect_values(run(one_node(18, "ReduceMax", x, {}, {{"keepdims", Attribute::from_int(0)}}), x), {}, {7});
    // (LogSum, SumSquare etc. still apply their per-element step with noop: lowbit keeps that as before.)
    const std::string o = op;
    if (o == "ReduceMean" || o == "ReduceMax" || o == "ReduceMin" || o == "ReduceSum") {
      EXPECT_TRUE(test::arrays_close(run(one_node(18, op, x, {}, {{"noop_with_empty_axes", Attribute::from_int(1)}}), x), x, 0, 0));
    }
  }
}

TEST(Opset18, ReduceBadInputsNameNodeOpOpset) {
  expect_error([] { one_node(18, "ReduceMean", kX, {}, {{"axes", Attribute::from_ints({1})}}); },
               {"node 'n'", "ReduceMean", "opset 18", "'axes' is an input"});
  expect_error([] { one_node(18, "Resize", kX, {std::nullopt, f32({3}, {1, 1, 1})}, {{"antialias", Attribute::from_int(2)}}); },
               {"node 'n'", "Resize", "opset 18", "'antialias' is 2, expected 0 or 1"});
  expect_error([] { run(one_node(18, "ReduceMax", kX, {i64({1}, {3})}, {}), kX); },
               {"node 'n'", "ReduceMax", "opset 18", "out of range"});
  expect_error([] { run(one_node(17, "ReduceMean", kX, {i64({1}, {1})}, {}), kX); }, {"node 'n'", "ReduceMean", "opset 17"});
}

TEST(Opset18, SplitNumOutputs) {
  const Array x = f32({5}, {0, 1, 2, 3, 4});
  expect_values(run(one_node(18, "Split", x, {}, {{"num_outputs", Attribute::from_int(3)}}, 3, 0), x), {2}, {0, 1});
  expect_values(run(one_node(18, "Split", x, {}, {{"num_outputs", Attribute::from_int(3)}}, 3, 2), x), {1}, {4});
  expect_values(run(one_node(18, "Split", x, {i64({2}, {1, 4})}, {}, 2, 1), x), {4}, {1, 2, 3, 4});
  const Array x2 = f32({2, 4}, {0, 1, 2, 3, 4, 5, 6, 7});  // even split on axis 1 equals Split-13
  EXPECT_TRUE(test::arrays_close(
      run(one_node(18, "Split", x2, {}, {{"axis", Attribute::from_int(1)}, {"num_outputs", Attribute::from_int(2)}}, 2, 1), x2),
      run(one_node(13, "Split", x2, {}, {{"axis", Attribute::from_int(1)}}, 2, 1), x2), 0, 0));
  expect_error([&] { run(one_node(18, "Split", x, {}, {{"num_outputs", Attribute::from_int(6)}}, 6), x); },
               {"node 'n'", "Split", "opset 18", "larger than the axis size"});
  expect_error([&] { run(one_node(18, "Split", x, {}, {{"num_outputs", Attribute::from_int(4)}}, 4), x); },
               {"node 'n'", "Split", "opset 18", "non-empty last one"});
  expect_error([&] { run(one_node(18, "Split", x, {}, {{"num_outputs", Attribute::from_int(3)}}, 2), x); },
               {"node 'n'", "Split", "opset 18", "num_outputs is 3"});
  expect_error([&] { one_node(18, "Split", x, {i64({2}, {1, 4})}, {{"num_outputs", Attribute::from_int(2)}}, 2); },
               {"node 'n'", "Split", "opset 18", "num_outputs"});
  expect_error([&] { one_node(18, "Split", x, {}, {{"split", Attribute::from_ints({2, 3})}}, 2); },
               {"node 'n'", "Split", "opset 18", "'split'"});
}

TEST(Opset18, PadAxesInput) {
  const Array x = f32({2, 2}, {1, 2, 3, 4});
  // Pad only axis 1 (as -1) by 1 before and 2 after, constant 9: equals Pad-13 with full pads.
  const Array got = run(one_node(18, "Pad", x, {i64({2}, {1, 2}), f32({}, {9}), i64({1}, {-1})}, {}), x);
  expect_values(got, {2, 5}, {9, 1, 2, 9, 9, 9, 3, 4, 9, 9});
  EXPECT_TRUE(test::arrays_close(got, run(one_node(13, "Pad", x, {i64({4}, {0, 1, 0, 2}), f32({}, {9})}, {}), x), 0, 0));
  expect_values(run(one_node(18, "Pad", x, {i64({2}, {1, 0}), std::nullopt, i64({1}, {0})}, {{"mode", Attribute::from_string("edge")}}), x),
                {3, 2}, {1, 2, 1, 2, 3, 4});
  expect_error([&] { run(one_node(18, "Pad", x, {i64({2}, {1, 1}), std::nullopt, i64({1}, {2})}, {}), x); },
               {"node 'n'", "Pad", "opset 18", "out of range"});
  expect_error([&] { run(one_node(18, "Pad", x, {i64({4}, {1, 1, 1, 1}), std::nullopt, i64({1}, {0})}, {}), x); },
               {"node 'n'", "Pad", "opset 18", "pads has 4 values for 1 axes"});
  expect_error([&] { run(one_node(17, "Pad", x, {i64({2}, {1, 1}), std::nullopt, i64({1}, {0})}, {}), x); },
               {"node 'n'", "Pad", "opset 17"});
}

TEST(Opset18, ResizeDefaultsOnly) {
  const Array x = f32({1, 1, 1, 2}, {1, 2});
  const Array scales = f32({4}, {1, 1, 1, 2});
  expect_values(run(one_node(18, "Resize", x, {std::nullopt, scales},
                             {{"antialias", Attribute::from_int(0)}, {"keep_aspect_ratio_policy", Attribute::from_string("stretch")}}),
                    x),
                {1, 1, 1, 4}, {1, 1, 2, 2});
  expect_error([&] { run(one_node(18, "Resize", x, {std::nullopt, scales}, {{"antialias", Attribute::from_int(1)}}), x); },
               {"node 'n'", "Resize", "opset 18", "antialias=1 is not supported"});
  expect_error([&] {
    run(one_node(18, "Resize", x, {std::nullopt, scales}, {{"keep_aspect_ratio_policy", Attribute::from_string("fit")}}), x);
  }, {"node 'n'", "Resize", "opset 18", "keep_aspect_ratio_policy 'fit' is not supported"});
  // keep_aspect_ratio_policy with sizes: in 1x1x2x4, sizes 1x1x4x4 -> ratios 1, 1, 2, 1.
  const Array x4 = f32({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  const std::optional<Array> none;
  const Array sizes = i64({4}, {1, 1, 4, 4});
  auto policy = [&](const char* p) {
    return run(one_node(18, "Resize", x4, {none, none, sizes}, {{"keep_aspect_ratio_policy", Attribute::from_string(p)}}), x4);
  };
  EXPECT_TRUE(test::arrays_close(policy("not_larger"), x4, 0, 0));  // scale min = 1: unchanged
  EXPECT_EQ(policy("not_smaller").shape(), (Shape{2, 2, 4, 8}));     // scale max = 2 on every axis
  EXPECT_EQ(policy("stretch").shape(), (Shape{1, 1, 4, 4}));
  expect_error([&] { one_node(17, "Resize", x, {std::nullopt, scales}, {{"antialias", Attribute::from_int(0)}}); },
               {"node 'n'", "Resize", "opset 17"});
}

Array scatter(int opset, const std::string& op, const std::string& red) {
  GraphBuilder b(opset);
  const int x = b.input("x", ElemType::f32, {4});
  const int idx = b.constant("i", op == "ScatterND" ? i64({3, 1}, {1, 1, 3}) : i64({3}, {1, 1, 3}));
  const int upd = b.constant("u", f32({3}, {5, -1, 0}));
  b.output(b.op(op, {x, idx, upd}, {{"reduction", Attribute::from_string(red)}}, 1, "n"));
  return Session(b.finish()).run({f32({4}, {1, 2, 3, 4})})[0];
}

TEST(Opset18, ScatterReductionMaxMin) {
  for (const char* op : {"ScatterElements", "ScatterND"}) {
    SCOPED_TRACE(op);
    expect_values(scatter(18, op, "max"), {4}, {1, 5, 3, 4});
    expect_values(scatter(18, op, "min"), {4}, {1, -1, 3, 0});
    expect_values(scatter(18, op, "add"), {4}, {1, 6, 3, 4});
    expect_error([&] { scatter(16, op, "max"); }, {"node 'n'", op, "opset 16"});
  }
}

TEST(Opset18, ChangedOpsArity) {
  expect_error([] { one_node(18, "ReduceMean", kX, {i64({1}, {1}), i64({1}, {1})}, {}); },
               {"node 'n'", "ReduceMean", "opset 18", "has 3 input(s), expected 1 to 2"});
  expect_error([] { one_node(18, "Pad", kX, {}, {}); }, {"node 'n'", "Pad", "opset 18", "has 1 input(s), expected 2 to 4"});
  expect_error([] { one_node(18, "ScatterND", kX, {i64({1}, {1})}, {}); }, {"node 'n'", "ScatterND", "opset 18", "has 2 input(s)"});
  expect_error([] { one_node(18, "Resize", kX, {std::nullopt, f32({3}, {1, 1, 1})}, {{"mode", Attribute::from_int(1)}}); },
               {"node 'n'", "Resize", "opset 18", "attribute 'mode' has type INT, expected STRING"});
}

TEST(Opset18, UnchangedOpsUseNewestSchema) {
  expect_values(run(one_node(18, "Relu", f32({2}, {-1, 2}), {}, {}), f32({2}, {-1, 2})), {2}, {0, 2});
  expect_error([] { one_node(18, "Relu", f32({2}, {-1, 2}), {}, {{"alpha", Attribute::from_float(1)}}); },
               {"node 'n'", "Relu", "opset 18"});
}

TEST(Opset18, LoaderAcceptsUpTo18AndExporterRoundTrips) {
  GraphBuilder b(18);
  const int x = b.input("x", ElemType::f32, {2, 3, 2});
  const int m = b.op("ReduceMean", {x, b.constant("ax", i64({1}, {1}))}, {{"keepdims", Attribute::from_int(1)}}, 1, "rm");
  const int p = b.op("Pad", {m, b.constant("pads", i64({2}, {1, 0})), b.constant("v", f32({}, {0})), b.constant("pax", i64({1}, {1}))},
                     {}, 1, "pad");
  const std::vector<int> parts = b.op_multi("Split", {p}, {{"axis", Attribute::from_int(1)}, {"num_outputs", Attribute::from_int(2)}}, 2, "sp");
  b.output(parts[0]);
  b.output(parts[1]);
  Graph g = b.finish();
  const std::string bytes = export_model_bytes(g);
  Graph back = load_model_from_bytes(bytes, "exported");
  EXPECT_EQ(back.opset, 18);
  const std::vector<Array> a = Session(std::move(g)).run({kX});
  const std::vector<Array> r = Session(std::move(back)).run({kX});
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(r.size(), 2u);
  expect_values(a[0], {2, 1, 2}, {0, 0, 0, 0});
  for (size_t i = 0; i < 2; ++i) EXPECT_TRUE(test::arrays_close(a[i], r[i], 0, 0));
}

// The LayerNorm decomposition with ReduceMean-18 (axes as a constant input) still fuses.
TEST(Opset18, LayerNormDecompositionWithAxesInputFuses) {
  auto build = [] {
    GraphBuilder b(18);
    const int x = b.input("x", ElemType::f32, {2, 4});
    const int ax = b.constant("ax", i64({1}, {-1}));
    const Attributes keep{{"keepdims", Attribute::from_int(1)}};
    const int mean = b.op("ReduceMean", {x, ax}, keep);
    const int d = b.op("Sub", {x, mean});
    const int var = b.op("ReduceMean", {b.op("Pow", {d, b.constant("two", Array::scalar<float>(2))}), ax}, keep);
    const int norm = b.op("Div", {d, b.op("Sqrt", {b.op("Add", {var, b.constant("eps", Array::scalar<float>(1e-5f))})})});
    b.output(b.op("Add", {b.op("Mul", {norm, b.constant("g", f32({4}, {1, 2, 3, 4}))}), b.constant("bt", f32({4}, {0, 1, 0, 1}))}));
    return b.finish();
  };
  Graph fused = build();
  EXPECT_EQ(fuse_layernorm(fused), 1);
  fused.remove_dead();
  const Array x = f32({2, 4}, {1, 2, 3, 4, -1, 0, 5, 2});
  EXPECT_TRUE(test::arrays_close(Session(std::move(fused), SessionOptions{1, 1, false}).run({x})[0],
                                 Session(build(), SessionOptions{1, 1, false}).run({x})[0], 1e-5, 1e-5));
}

// Every opset-18 form in one exported model, against ONNX Runtime (skips without onnxruntime-node).
TEST(Opset18, FormsMatchOnnxRuntime) {
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  GraphBuilder b(18);
  const int x = b.input("x", ElemType::f32, {2, 3, 4});
  const int y = b.input("y", ElemType::f32, {1, 1, 2, 4});
  const Attributes keep{{"keepdims", Attribute::from_int(1)}}, drop{{"keepdims", Attribute::from_int(0)}};
  b.output(b.op("ReduceMean", {x, b.constant("a1", i64({2}, {1, -1}))}, keep));
  b.output(b.op("ReduceLogSumExp", {x, b.constant("a2", i64({1}, {2}))}, drop));
  b.output(b.op("ReduceMax", {x}, keep));
  b.output(b.op("ReduceL2", {x, b.constant("a3", i64({1}, {0}))}, keep));
  const std::vector<int> parts = b.op_multi("Split", {x}, {{"axis", Attribute::from_int(1)}, {"num_outputs", Attribute::from_int(2)}}, 2);
  b.output(parts[0]);
  b.output(parts[1]);
  b.output(b.op("Pad", {x, b.constant("pads", i64({4}, {1, 0, 2, 1})), b.constant("pv", f32({}, {5})), b.constant("pax", i64({2}, {2, 0}))}));
  const int idx = b.constant("si", i64({2, 3, 2}, {0, 3, 3, 3, 1, 1, 2, 2, 0, 0, 1, 3}));
  const int upd = b.constant("su", f32({2, 3, 2}, {9, -9, 0.5f, 7, -3, 3, 1, 2, -1, 8, 0, 0}));
  for (const char* red : {"max", "min"})
    b.output(b.op("ScatterElements", {x, idx, upd}, {{"axis", Attribute::from_int(2)}, {"reduction", Attribute::from_string(red)}}));
  const int sizes = b.constant("rs", i64({4}, {1, 1, 4, 4}));
  for (const char* policy : {"not_larger", "not_smaller"})
    b.output(b.op("Resize", {y, kNoValue, kNoValue, sizes}, {{"keep_aspect_ratio_policy", Attribute::from_string(policy)}}));
  Graph g = b.finish();
  const std::string path = test::temp_dir() + "/opset18_forms.onnx";
  {
    std::ofstream f(path, std::ios::binary);
    f << export_model_bytes(g);
  }
  std::vector<float> xv(24), yv(8);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<float>((static_cast<int>(i) * 7) % 11) * 0.5f - 2;
  for (size_t i = 0; i < yv.size(); ++i) yv[i] = static_cast<float>(i) + 1;
  const std::vector<Array> inputs{f32({2, 3, 4}, xv), f32({1, 1, 2, 4}, yv)};
  const std::vector<Array> ours = Session(load_model(path)).run(inputs);
  const std::vector<Array> ref = test::run_ort(path, inputs, "opset18_forms");
  ASSERT_EQ(ours.size(), ref.size());
  for (size_t i = 0; i < ours.size(); ++i) EXPECT_TRUE(test::arrays_close(ours[i], ref[i], 1e-5, 1e-5)) << "output " << i;
}

TEST(Opset18, MishAndGroupNormalizationNewIn18) {
  // Mish: x·tanh(ln(1 + e^x)); finite for large |x|.
  const Array m = run(one_node(18, "Mish", f32({4}, {-1, 0, 1, 100}), {}, {}), f32({4}, {-1, 0, 1, 100}));
  const auto mish = [](double x) { return static_cast<float>(x * std::tanh(std::log1p(std::exp(x)))); };
  expect_values(m, {4}, {mish(-1), 0, mish(1), 100}, 1e-6);
  // GroupNormalization-18: 2 groups of 2 channels, scale and bias per group.
  const Array x = f32({1, 4, 2}, {1, 3, 5, 7, 0, 0, 2, 2});
  const Array y = run(one_node(18, "GroupNormalization", x, {f32({2}, {2, 1}), f32({2}, {0, 10})},
                               {{"num_groups", Attribute::from_int(2)}, {"epsilon", Attribute::from_float(0)}}), x);
  // group 0: mean 4, var 5; group 1: mean 1, var 1.
  const double s5 = std::sqrt(5.0);
  expect_values(y, {1, 4, 2}, {static_cast<float>(2 * -3 / s5), static_cast<float>(2 * -1 / s5), static_cast<float>(2 * 1 / s5),
                               static_cast<float>(2 * 3 / s5), 9, 9, 11, 11}, 1e-6);
  expect_error([&] { run(one_node(18, "GroupNormalization", x, {f32({2}, {1, 1}), f32({2}, {0, 0})}, {{"num_groups", Attribute::from_int(3)}}), x); },
               {"node 'n' (GroupNormalization, opset 18)", "num_groups=3 must divide the 4 channels"});
  expect_error([&] { run(one_node(18, "GroupNormalization", x, {f32({4}, {1, 1, 1, 1}), f32({2}, {0, 0})}, {{"num_groups", Attribute::from_int(2)}}), x); },
               {"scale must have shape [2]"});
  expect_error([&] { run(one_node(17, "Mish", kX, {}, {}), kX); }, {"Mish"});  // not before opset 18
}

}  // namespace
}  // namespace lowbit::onnx
