// Ops added for models from other exporters (issue #13), beyond their backend node tests: the legacy forms
// (Upsample-7 scales attribute, Resize-10) and the errors a malformed node gets, each naming
// the node, op and opset.
#include <cmath>

#include "lowbit/onnx/executor.h"
#include "test_util.h"

namespace lowbit::onnx {
namespace {

Array f32(const Shape& shape, std::vector<float> v) { return Array::from<float>(shape, v); }
Array i64(const Shape& shape, std::vector<int64_t> v) { return Array::from<int64_t>(shape, v); }

// op(x, constants...) at `opset`, run on x.
Array run_op(int opset, const std::string& op, const Array& x, const std::vector<Array>& consts, Attributes attrs = {}) {
  GraphBuilder b(opset);
  std::vector<int> ins{b.input("x", x.type(), x.shape())};
  for (size_t i = 0; i < consts.size(); ++i) ins.push_back(b.constant(fmt::format("c{}", i), consts[i]));
  b.output(b.op(op, ins, std::move(attrs), 1, "n"));
  Session s(b.finish());
  return s.run({x})[0];
}

void expect_error(const std::function<void()>& f, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << "expected a ValueError containing: " << what;
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(WildOps, Upsample7ScalesAttributeRepeatsPixels) {
  const Array x = f32({1, 1, 1, 2}, {1, 2});
  const Array y = run_op(7, "Upsample", x, {}, {{"scales", Attribute::from_floats({1, 1, 2, 3})}});
  EXPECT_TRUE(test::arrays_close(y, f32({1, 1, 2, 6}, {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2}), 0, 0));
}

TEST(WildOps, Resize10IsAsymmetric) {
  const Array x = f32({1, 2}, {0, 4});
  const Array lin = run_op(10, "Resize", x, {f32({2}, {1, 2})}, {{"mode", Attribute::from_string("linear")}});
  EXPECT_TRUE(test::arrays_close(lin, f32({1, 4}, {0, 2, 4, 4}), 0, 0));
  const Array nn = run_op(10, "Resize", x, {f32({2}, {1, 2})});
  EXPECT_TRUE(test::arrays_close(nn, f32({1, 4}, {0, 0, 4, 4}), 0, 0));
}

// Their backend node tests are written at opset 6, below the loader's range.
TEST(WildOps, EluAndSeluAtOpset13) {
  const Array x = f32({3}, {-1, 0, 2});
  const float e = std::expm1(-1.0f);
  EXPECT_TRUE(test::arrays_close(run_op(13, "Elu", x, {}, {{"alpha", Attribute::from_float(2)}}), f32({3}, {2 * e, 0, 2}),
                                 1e-6, 0));
  const double a = 1.67326319217681884765625, g = 1.05070102214813232421875;
  EXPECT_TRUE(test::arrays_close(run_op(13, "Selu", x, {}), f32({3}, {float(g * a * e), 0, float(2 * g)}), 1e-6, 0));
}

TEST(WildOps, MalformedNodesNameNodeOpAndOpset) {
  const Array x = f32({2, 2}, {1, 2, 3, 4});
  expect_error([&] { run_op(13, "GatherElements", x, {i64({1, 2}, {0, 2})}); },
               "node 'n' (GatherElements, opset 13): index 2 out of range for axis 0 of size 2");
  expect_error([&] { run_op(13, "Mod", x, {f32({1}, {2})}); }, "node 'n' (Mod, opset 13): floating-point inputs need fmod=1");
  expect_error([&] { run_op(13, "Tile", x, {i64({1}, {2})}); }, "node 'n' (Tile, opset 13): repeats has 1 values for input rank 2");
  expect_error([&] { run_op(13, "DepthToSpace", f32({1, 2, 1, 1}, {1, 2}), {}, {{"blocksize", Attribute::from_int(2)}}); },
               "node 'n' (DepthToSpace, opset 13): C 2 must be a multiple of blocksize^2 (4)");
  expect_error([&] { run_op(13, "Resize", x, {f32({0}, {}), f32({2}, {1, 2}), i64({2}, {2, 4})}); },
               "node 'n' (Resize, opset 13): exactly one of scales and sizes must be given");
  expect_error([&] { run_op(13, "GatherND", x, {i64({1, 2}, {0, -3})}); },
               "node 'n' (GatherND, opset 13): index -3 out of range for axis 1 of size 2");
  expect_error([&] { run_op(13, "ScatterND", x, {i64({1, 1}, {0}), f32({1, 3}, {1, 2, 3})}); },
               "node 'n' (ScatterND, opset 13): updates have shape [1, 3], expected [1, 2]");
  expect_error([&] { run_op(13, "ScatterElements", x, {i64({1, 1}, {5}), f32({1, 1}, {9})}); },
               "node 'n' (ScatterElements, opset 13): index 5 out of range for axis 0 of size 2");
  expect_error([&] { run_op(14, "CumSum", x, {Array::scalar<int64_t>(2)}); }, "node 'n' (CumSum, opset 14): axis 2 out of range");
}

TEST(WildOps, LossOpsWeightIgnoreAndBadTargets) {
  // scores (N=2, C=3) as log-probabilities; targets 2 and 0; class weights 1, 2, 3.
  const Array logp = f32({2, 3}, {-1, -2, -3, -4, -5, -6});
  const Array w = f32({3}, {1, 2, 3});
  // none: -w[t]·logp[n, t] = {9, 4}; mean divides by the summed weights 3 + 1.
  EXPECT_TRUE(test::arrays_close(run_op(13, "NegativeLogLikelihoodLoss", logp, {i64({2}, {2, 0}), w},
                                        {{"reduction", Attribute::from_string("none")}}),
                                 f32({2}, {9, 4}), 0, 0));
  EXPECT_TRUE(test::arrays_close(run_op(13, "NegativeLogLikelihoodLoss", logp, {i64({2}, {2, 0}), w}),
                                 f32({}, {13.0f / 4}), 0, 0));
  // The ignored element counts neither in the sum nor in the divisor.
  EXPECT_TRUE(test::arrays_close(run_op(13, "NegativeLogLikelihoodLoss", logp, {i64({2}, {2, -1}), w},
                                        {{"ignore_index", Attribute::from_int(-1)}}),
                                 f32({}, {3}), 0, 0));
  expect_error([&] { run_op(13, "NegativeLogLikelihoodLoss", logp, {i64({2}, {3, 0})}); },
               "node 'n' (NegativeLogLikelihoodLoss, opset 13): target 3 at flat index 0 is outside [0, 3)");
  expect_error([&] { run_op(13, "SoftmaxCrossEntropyLoss", logp, {i64({2}, {1, 0}), f32({2}, {1, 1})}); },
               "weights must have shape (3)");
  expect_error([&] { run_op(13, "SoftmaxCrossEntropyLoss", logp, {i64({3}, {1, 0, 0})}); }, "target must have shape [2]");
  expect_error([&] { run_op(13, "SoftmaxCrossEntropyLoss", logp, {i64({2}, {1, 0})}, {{"reduction", Attribute::from_string("max")}}); },
               "reduction must be none, sum or mean");
}

TEST(WildOps, EinsumForms) {
  auto eq = [](const char* e) { return Attributes{{"equation", Attribute::from_string(e)}}; };
  const Array m = f32({2, 2}, {1, 2, 3, 4});
  EXPECT_TRUE(test::arrays_close(run_op(12, "Einsum", m, {}, eq("ii")), f32({}, {5}), 0, 0));         // trace
  EXPECT_TRUE(test::arrays_close(run_op(12, "Einsum", m, {}, eq("ii->i")), f32({2}, {1, 4}), 0, 0));  // diagonal
  EXPECT_TRUE(test::arrays_close(run_op(12, "Einsum", m, {}, eq("ji")), f32({2, 2}, {1, 3, 2, 4}), 0, 0));  // implicit: sorted
  // Batched product with the ellipsis broadcast: x (2, 1, 2) against m (2, 2) -> (2, 1, 2).
  const Array x = f32({2, 1, 2}, {1, 0, 0, 1});
  EXPECT_TRUE(test::arrays_close(run_op(12, "Einsum", x, {m}, eq("...ij,jk->...ik")), f32({2, 1, 2}, {1, 2, 3, 4}), 0, 0));
  EXPECT_TRUE(test::arrays_close(run_op(12, "Einsum", x, {m}, eq("b i j , j k")), f32({2, 1, 2}, {1, 2, 3, 4}), 0, 0));
  expect_error([&] { run_op(12, "Einsum", m, {f32({3, 2}, {1, 2, 3, 4, 5, 6})}, eq("ij,jk->ik")); },
               "label 'j' has extent 2 in one input and 3 in another");
  expect_error([&] { run_op(12, "Einsum", m, {}, eq("ij->ik")); }, "output label 'k' appears in no input");
  expect_error([&] { run_op(12, "Einsum", m, {}, eq("ijk->i")); }, "term 'ijk' has 3 labels for input 0 of rank 2");
  expect_error([&] { run_op(12, "Einsum", m, {}, eq("i1->i")); }, "character '1'");
}

TEST(WildOps, NonMaxSuppressionCenterBoxesAndBadShapes) {
  // Two overlapping centre-format boxes (IoU 0.6) and a far one; one class.
  const Array boxes = f32({1, 3, 4}, {0, 0, 2, 2, 0.5f, 0, 2, 2, 10, 10, 2, 2});
  const Array scores = f32({1, 1, 3}, {0.9f, 0.95f, 0.1f});
  const Attributes center{{"center_point_box", Attribute::from_int(1)}};
  const Array keep = run_op(11, "NonMaxSuppression", boxes, {scores, i64({1}, {10}), f32({1}, {0.5f})}, center);
  EXPECT_TRUE(test::arrays_close(keep, i64({2, 3}, {0, 0, 1, 0, 0, 2}), 0, 0));  // box 0 suppressed by box 1
  const Array loose = run_op(11, "NonMaxSuppression", boxes, {scores, i64({1}, {10}), f32({1}, {0.7f}), f32({1}, {0.2f})}, center);
  EXPECT_TRUE(test::arrays_close(loose, i64({2, 3}, {0, 0, 1, 0, 0, 0}), 0, 0));  // IoU 0.6 kept; box 2 under the score floor
  expect_error([&] { run_op(11, "NonMaxSuppression", f32({1, 3, 3}, std::vector<float>(9, 0)), {scores}); },
               "boxes must be (num_batches, spatial_dimension, 4)");
  expect_error([&] { run_op(11, "NonMaxSuppression", boxes, {f32({1, 1, 2}, {1, 2})}); }, "scores must be");
}

TEST(WildOps, CompressReverseSequenceEyeLikeAndTheirErrors) {
  const Array x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  bool cond[3] = {true, false, true};
  const Array c3 = Array::from<bool>({3}, std::span<const bool>(cond, 3));
  EXPECT_TRUE(test::arrays_close(run_op(11, "Compress", x, {c3}, {{"axis", Attribute::from_int(1)}}),
                                 f32({2, 2}, {1, 3, 4, 6}), 0, 0));
  EXPECT_TRUE(test::arrays_close(run_op(11, "Compress", x, {c3}), f32({2}, {1, 3}), 0, 0));  // flattened, condition shorter
  expect_error([&] { run_op(11, "Compress", x, {c3}, {{"axis", Attribute::from_int(0)}}); },
               "condition has 3 entries for an extent of 2");
  // time-major (T=3, B=2): sequence 0 reversed over 3 steps, sequence 1 over 2.
  const Array seq = f32({3, 2}, {1, 10, 2, 20, 3, 30});
  EXPECT_TRUE(test::arrays_close(run_op(10, "ReverseSequence", seq, {i64({2}, {3, 2})}), f32({3, 2}, {3, 20, 2, 10, 1, 30}), 0, 0));
  expect_error([&] { run_op(10, "ReverseSequence", seq, {i64({2}, {4, 1})}); }, "sequence_lens[0] = 4 is outside [0, 3]");
  expect_error([&] { run_op(10, "ReverseSequence", seq, {i64({3}, {1, 1, 1})}); }, "sequence_lens must have shape [2]");
  EXPECT_TRUE(test::arrays_close(run_op(9, "EyeLike", x, {}, {{"k", Attribute::from_int(1)}}), f32({2, 3}, {0, 1, 0, 0, 0, 1}), 0, 0));
  expect_error([&] { run_op(9, "EyeLike", f32({2}, {0, 0}), {}); }, "input must be 2-d");
}

TEST(WildOps, UniqueGridSampleRoiAlignEdgesAndErrors) {
  // Unique in first-occurrence order.
  const Array x = f32({5}, {3, 1, 3, 2, 1});
  EXPECT_TRUE(test::arrays_close(run_op(11, "Unique", x, {}, {{"sorted", Attribute::from_int(0)}}), f32({3}, {3, 1, 2}), 0, 0));
  EXPECT_TRUE(test::arrays_close(run_op(11, "Unique", x, {}), f32({3}, {1, 2, 3}), 0, 0));
  expect_error([&] { run_op(11, "Unique", x, {}, {{"axis", Attribute::from_int(2)}}); }, "axis");
  // GridSample: a NaN grid point gives 0, far-out points the border value with border padding.
  const Array img = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  const Array grid = f32({1, 1, 2, 2}, {std::nanf(""), 0, 1e30f, 1e30f});
  EXPECT_TRUE(test::arrays_close(run_op(16, "GridSample", img, {grid}, {{"padding_mode", Attribute::from_string("border")}}),
                                 f32({1, 1, 1, 2}, {0, 4}), 0, 0));
  expect_error([&] { run_op(16, "GridSample", img, {grid}, {{"mode", Attribute::from_string("area")}}); },
               "mode must be bilinear, nearest or bicubic");
  expect_error([&] { run_op(16, "GridSample", img, {f32({1, 1, 2, 3}, std::vector<float>(6, 0))}); }, "grid must be (N=1");
  // RoiAlign: a batch index outside the batch, and a NaN roi (sampled as zero, no crash).
  const Array rois = f32({1, 4}, {0, 0, 1, 1});
  expect_error([&] { run_op(16, "RoiAlign", img, {rois, i64({1}, {1})}); }, "batch_indices[0] = 1 is outside [0, 1)");
  const Array nan_roi = f32({1, 4}, {std::nanf(""), 0, 1, 1});
  EXPECT_TRUE(test::arrays_close(run_op(16, "RoiAlign", img, {nan_roi, i64({1}, {0})}), f32({1, 1, 1, 1}, {0}), 0, 0));
}

}  // namespace
}  // namespace lowbit::onnx
