// Post-training quantization: calibration inputs are validated naming the file, range choices
// behave as specified, a quantized model has ONNX Runtime's QDQ layout, runs on lowbit's integer
// ops close to the float model and agrees with ONNX Runtime, and evaluation counts correctly.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "lowbit/core/error.h"
#include "lowbit/kernels/quant_ref.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/onnx/passes.h"
#include "lowbit/ptq/calib_data.h"
#include "lowbit/ptq/evaluate.h"
#include "lowbit/ptq/quantize_model.h"
#include "ort_util.h"
#include "ptq_test_models.h"
#include "qdq_test_models.h"
#include "require_peer.h"

namespace lowbit::ptq {
namespace {

using onnx::Array;
using onnx::ElemType;
using onnx::Graph;


std::string tmp_file(const std::string& name) { return onnx::test::temp_dir() + "/ptq_" + name; }


TEST(Calibration, BadFilesAreNamed) {
  const Graph input = test::small_cnn();  // input x: float32 [-1, 3, 8, 8]
  const std::string wrong_dtype = tmp_file("int64.npy"), wrong_shape = tmp_file("shape.npy"), empty = tmp_file("empty.npy");
  onnx::save_npy(wrong_dtype, Array::zeros(ElemType::i64, {2, 3, 8, 8}));
  onnx::save_npy(wrong_shape, Array::zeros(ElemType::f32, {2, 3, 8, 9}));
  onnx::save_npy(empty, Array::zeros(ElemType::f32, {0, 3, 8, 8}));
  test::expect_error([&] { load_calibration(DataSource{wrong_dtype, "", {}, 16}, input); }, "int64.npy");
  test::expect_error([&] { load_calibration(DataSource{wrong_dtype, "", {}, 16}, input); }, "float32");
  test::expect_error([&] { load_calibration(DataSource{wrong_shape, "", {}, 16}, input); }, "[2, 3, 8, 9]");
  test::expect_error([&] { load_calibration(DataSource{empty, "", {}, 16}, input); }, "empty");
  test::expect_error([&] { load_calibration(DataSource{tmp_file("missing.npy"), "", {}, 16}, input); }, "missing.npy");
  test::expect_error([&] { load_calibration(DataSource{wrong_dtype, "", {}, 0}, input); }, "empty");
  const std::string good = tmp_file("good.npy");
  onnx::save_npy(good, onnx::test::random_f32({5, 3, 8, 8}, 1));
  EXPECT_EQ(load_calibration(DataSource{good, "", {}, 3}, input).arrays.at(0).shape(), (Shape{3, 3, 8, 8}));
}

TEST(Calibration, RangeMethods) {
  // 1000 values at 0..9 (bins 0..9 of 100 over [0, 100)) and one outlier at 99.5.
  std::vector<double> counts(100, 0.0);
  for (int i = 0; i < 10; ++i) counts[static_cast<size_t>(i)] = 100;
  counts[99] = 1;
  CalibOptions opt;
  opt.method = CalibMethod::minmax;
  EXPECT_FLOAT_EQ(choose_range(0, 100, counts, opt).hi, 100.0f);
  opt.method = CalibMethod::percentile;
  opt.percentile = 99.0;  // drops the outlier (0.1 % of the mass)
  EXPECT_LE(choose_range(0, 100, counts, opt).hi, 11.0f);
  opt.method = CalibMethod::mse;
  const TensorRange mse = choose_range(0, 100, counts, opt);
  EXPECT_LT(mse.hi, 100.0f);  // clipping one outlier costs less than coarse steps for 1000 values
  EXPECT_GE(mse.hi, 25.0f);   // the search stops at a quarter of the range
  opt.method = CalibMethod::entropy;
  const TensorRange kl = choose_range(0, 100, counts, opt);
  EXPECT_GT(kl.hi, 0.0f);
  EXPECT_LE(kl.hi, 100.0f);
  EXPECT_EQ(kl.lo, 0.0f);
  test::expect_error([] { parse_calib_method("median"); }, "median");
}

TEST(Quantize, QdqLayoutAndIntegerExecution) {
  const Array calib = onnx::test::random_f32({32, 3, 8, 8}, 40);
  QuantizeOptions opt;
  QuantizeReport rep;
  const Graph q = quantize_model(test::small_cnn(), calib, opt, &rep);
  int qn = 0, dqn = 0;
  for (const auto& n : q.nodes) {
    if (n.dead) continue;
    qn += n.op_type == "QuantizeLinear";
    dqn += n.op_type == "DequantizeLinear";
    if (n.op_type == "DequantizeLinear" && q.constant(n.inputs[0])) {
      const Array& c = *q.constant(n.inputs[0]);
      EXPECT_TRUE(c.type() == ElemType::i8 || c.type() == ElemType::i32) << n.name;
      if (c.type() == ElemType::i8) {
        EXPECT_GT(q.constant(n.inputs[1])->numel(), 1) << n.name << " is not per channel";
      }
    }
  }
  EXPECT_GT(qn, 3);
  EXPECT_GT(dqn, qn);  // activations plus weights and biases
  EXPECT_EQ(rep.layers.size(), 4u);  // c1, c2, add, fc
  EXPECT_GT(rep.output_sqnr_db, 25.0);
  for (const auto& t : rep.tensors) EXPECT_GT(t.sqnr_db, 20.0) << t.name;
  Graph lowered = q;
  onnx::optimize_graph(lowered);
  int fused = 0, with_add = 0;
  for (const auto& n : lowered.nodes) {
    fused += !n.dead && n.domain == "lowbit" && n.op_type[0] == 'Q' && n.op_type != "Quantize";
    with_add += !n.dead && n.op_type == "QConv" && n.attr_i("lowbit_add", 0) != 0;
  }
  EXPECT_EQ(fused, 3);     // QConv ×2 (the residual QAdd runs in c2's epilogue), QGemm
  EXPECT_EQ(with_add, 1);
  test::expect_error([&] {
    QuantizeOptions bad;
    bad.exclude = {"nope"};
    quantize_model(test::small_cnn(), calib, bad, nullptr);
  }, "nope");
  QuantizeOptions keep;
  keep.exclude = {"c2"};
  QuantizeReport kept;
  quantize_model(test::small_cnn(), calib, keep, &kept);
  EXPECT_EQ(kept.layers.back().precision, "fp32");
}

TEST(Quantize, DeepMlpWithBiasesEveryLayer) {
  // Regression: quantizing a bias appends nodes, which once left the layer's node reference
  // dangling (heap-use-after-free, segfault on ParaDnn FC models; ResNets happened to survive).
  onnx::GraphBuilder b;
  int v = b.input("x", ElemType::f32, {-1, 40});
  for (int i = 0; i < 6; ++i) {
    const int64_t in = i == 0 ? 40 : 24;
    v = b.op("Gemm", {v, b.constant(fmt::format("w{}", i), onnx::test::random_f32({24, in}, 60 + i, 0.3f)),
                      b.constant(fmt::format("b{}", i), onnx::test::random_f32({24}, 70 + i, 0.1f))},
             {{"transB", onnx::Attribute::from_int(1)}}, 1, fmt::format("fc{}", i));
    if (i < 5) v = b.op("Relu", {v});
  }
  b.output(v, "y");
  const Array calib = onnx::test::random_f32({16, 40}, 41);
  QuantizeReport rep;
  const Graph q = quantize_model(b.finish(), calib, QuantizeOptions{}, &rep);
  EXPECT_EQ(rep.layers.size(), 6u);
  int qgemm = 0;
  Graph lowered = q;
  onnx::optimize_graph(lowered);
  for (const auto& n : lowered.nodes) qgemm += !n.dead && n.domain == "lowbit" && n.op_type == "QGemm";
  EXPECT_EQ(qgemm, 6);
  EXPECT_GT(rep.output_sqnr_db, 25.0);
}

// The weight codes in the file are the kernel quantizer's: kernels::ref::quantize_f32_i8 (the
// scalar specification of the quantizer that training and inference run) of the model's float
// weights with the file's scales, for int8 and int4 (W4A8) weights, per channel and per tensor.
TEST(Quantize, WeightCodesAreTheKernelQuantizers) {
  const Graph fp = test::small_cnn();
  const Array calib = onnx::test::random_f32({16, 3, 8, 8}, 42);
  for (const int bits : {8, 4})
    for (const bool per_channel : {true, false}) {
      QuantizeOptions opt;
      opt.weight_bits = bits;
      opt.per_channel = per_channel;
      const Graph q = quantize_model(fp, calib, opt, nullptr);
      int checked = 0;
      for (const auto& n : q.nodes) {
        if (n.dead || n.op_type != "DequantizeLinear" || !q.constant(n.inputs[0]) || q.constant(n.inputs[0])->type() != ElemType::i8)
          continue;
        const std::string name = q.values[static_cast<size_t>(n.inputs[0])].name;
        const int wv = fp.find_value(name.substr(0, name.size() - std::string("_quantized").size()));
        ASSERT_GE(wv, 0) << name;
        const Array &w = *fp.constant(wv), &codes = *q.constant(n.inputs[0]), &scale = *q.constant(n.inputs[1]);
        kernels::QuantGrid g;
        g.channels = scale.numel();
        if (g.channels > 1) {
          const auto axis = static_cast<size_t>(n.attr_i("axis", 1));
          for (size_t d = axis + 1; d < w.shape().size(); ++d) g.inner *= w.shape()[d];
        } else {
          g.inner = w.numel();
        }
        g.outer = w.numel() / (g.channels * g.inner);
        g.scale = scale.data<float>();
        g.qmax = bits == 4 ? 7 : 127;
        g.qmin = -g.qmax;
        std::vector<int8_t> want(static_cast<size_t>(w.numel()));
        kernels::ref::quantize_f32_i8(g, w.data<float>(), want.data(), kernels::Rounding::nearest, {});
        EXPECT_EQ(std::vector<int8_t>(codes.data<int8_t>(), codes.data<int8_t>() + codes.numel()), want)
            << name << " bits " << bits << (per_channel ? " per channel" : " per tensor");
        ++checked;
      }
      EXPECT_EQ(checked, 3);  // c1, c2, fc
    }
}

// --weights int4 (W4A8): int8 codes in [-7, 7] per output channel with scale amax / 7, layers
// reported as w4a8, and the lowering packs every Conv/Gemm weight as int4; other widths refused.
TEST(Quantize, Int4WeightsW4A8) {
  const Array calib = onnx::test::random_f32({32, 3, 8, 8}, 40);
  QuantizeOptions opt;
  opt.weight_bits = 4;
  QuantizeReport rep;
  const Graph q = quantize_model(test::small_cnn(), calib, opt, &rep);
  int weights = 0;
  for (const auto& n : q.nodes) {
    if (n.dead || n.op_type != "DequantizeLinear" || !q.constant(n.inputs[0]) || q.constant(n.inputs[0])->type() != ElemType::i8) continue;
    const Array& c = *q.constant(n.inputs[0]);
    int lo = 0, hi = 0;
    for (int64_t i = 0; i < c.numel(); ++i) lo = std::min<int>(lo, c.data<int8_t>()[i]), hi = std::max<int>(hi, c.data<int8_t>()[i]);
    EXPECT_GE(lo, -7) << n.name;
    EXPECT_LE(hi, 7) << n.name;
    EXPECT_TRUE(lo == -7 || hi == 7) << n.name << ": the largest weight maps to ±7";
    ++weights;
  }
  EXPECT_EQ(weights, 3);
  for (const auto& l : rep.layers) EXPECT_EQ(l.precision, l.op == "Add" ? "w8a8" : "w4a8") << l.node;
  Graph lowered = q;
  onnx::optimize_graph(lowered);
  int w4 = 0;
  for (const auto& n : lowered.nodes) w4 += !n.dead && n.attr_i("lowbit_wbits", 8) == 4;
  EXPECT_EQ(w4, 3);  // QConv ×2, QGemm
  EXPECT_GT(rep.output_sqnr_db, 10.0);
  test::expect_error([&] {
    QuantizeOptions bad;
    bad.weight_bits = 3;
    quantize_model(test::small_cnn(), calib, bad, nullptr);
  }, "int3");
}

TEST(Quantize, OnnxRuntimeRunsTheFileAndAgrees) {
  if (const std::string why = onnx::test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  const Array calib = onnx::test::random_f32({32, 3, 8, 8}, 41);
  const Graph q = quantize_model(test::small_cnn(), calib, QuantizeOptions{}, nullptr);
  const std::string path = tmp_file("float_net_q.onnx");
  onnx::save_model(q, path);
  const Array x = onnx::test::random_f32({16, 3, 8, 8}, 42);
  const auto ref = onnx::test::run_ort(path, {x}, "ptq_float_net");
  onnx::Session s(q, onnx::SessionOptions{1, 1, true});
  const auto got = s.run(std::vector<Array>{x});
  ASSERT_EQ(ref.size(), 1u);
  // The logits are float: both engines compute the same codes up to rare rounding ties, so
  // they agree to a small fraction of the logits' range and on every argmax.
  double mag = 0, diff = 0;
  for (int64_t i = 0; i < ref[0].numel(); ++i) {
    mag = std::max(mag, std::fabs(ref[0].get_f64(i)));
    diff = std::max(diff, std::fabs(ref[0].get_f64(i) - got[0].get_f64(i)));
  }
  EXPECT_LE(diff, 0.02 * mag);
  for (int64_t r = 0; r < 16; ++r) {
    int64_t a = 0, b = 0;
    for (int64_t c = 1; c < 10; ++c) {
      if (ref[0].get_f64(r * 10 + c) > ref[0].get_f64(r * 10 + a)) a = c;
      if (got[0].get_f64(r * 10 + c) > got[0].get_f64(r * 10 + b)) b = c;
    }
    EXPECT_EQ(a, b) << "sample " << r;
  }
}

// Real models quantized by lowbit (random calibration inputs: this checks the engines, not
// accuracy) run on lowbit's integer ops and on ONNX Runtime from the same QDQ file: the logits
// agree to a small fraction of their range, and every argmax whose two best logits are not within
// that tolerance agrees. CIFAR ResNets from ../shared/data/models, MobileNetV2 from data/models.
void compare_quantized_with_ort(const std::string& path, const std::string& name, int64_t side, int weight_bits = 8) {
  if (!std::filesystem::exists(path)) LOWBIT_SKIP_ABSENT_PEER(path + " is absent (scripts/setup-onnx)");
  if (const std::string why = onnx::test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  const Graph fp = onnx::load_model(path);
  QuantizeOptions opt;
  opt.weight_bits = weight_bits;
  const Graph q = quantize_model(fp, onnx::test::random_f32({8, 3, side, side}, 50), opt, nullptr);
  const std::string qpath = tmp_file(name + "_q.onnx");
  onnx::save_model(q, qpath);
  const Array x = onnx::test::random_f32({4, 3, side, side}, 51);
  const auto ref = onnx::test::run_ort(qpath, {x}, name + "_q");
  onnx::Session s(onnx::load_model(qpath), onnx::SessionOptions{1, 1, true});
  const Array got = s.run(std::vector<Array>{x})[0];
  ASSERT_EQ(got.shape(), ref[0].shape());
  double mag = 0;
  for (int64_t i = 0; i < ref[0].numel(); ++i) mag = std::max(mag, std::fabs(ref[0].get_f64(i)));
  const double tol = 0.02 * mag;
  for (int64_t i = 0; i < ref[0].numel(); ++i) EXPECT_NEAR(got.get_f64(i), ref[0].get_f64(i), tol) << name << " logit " << i;
  const int64_t classes = ref[0].shape().back();
  for (int64_t r = 0; r < 4; ++r) {
    int64_t a = 0, b = 0;
    for (int64_t c = 1; c < classes; ++c) {
      if (ref[0].get_f64(r * classes + c) > ref[0].get_f64(r * classes + a)) a = c;
      if (got.get_f64(r * classes + c) > got.get_f64(r * classes + b)) b = c;
    }
    if (a != b) {
      EXPECT_LE(std::fabs(ref[0].get_f64(r * classes + a) - ref[0].get_f64(r * classes + b)), 2 * tol) << name << " sample " << r;
    }
  }
}

const std::string kShared = onnx::test::source_dir() + "/../shared/data/models/";
TEST(Quantize, Resnet20CifarAgreesWithOnnxRuntime) {
  compare_quantized_with_ort(kShared + "resnet20_cifar10.onnx", "resnet20", 32);
}
TEST(Quantize, Resnet32CifarAgreesWithOnnxRuntime) {
  compare_quantized_with_ort(kShared + "resnet32_cifar10.onnx", "resnet32", 32);
}
TEST(Quantize, Resnet20CifarW4A8AgreesWithOnnxRuntime) {  // int4 weights: lowbit's packed-int4 GEMM
  compare_quantized_with_ort(kShared + "resnet20_cifar10.onnx", "resnet20_w4", 32, 4);
}
TEST(Quantize, MobilenetV2AgreesWithOnnxRuntime) {  // depthwise convs, Clip(0, 6), residual Adds
  compare_quantized_with_ort(onnx::test::source_dir() + "/data/models/mobilenet_v2.onnx", "mobilenet_v2", 224);
}

TEST(Evaluate, CountsTopKAndAgreement) {
  // Identity "classifier" over 4 classes: scores = inputs.
  auto identity = [] {
    onnx::GraphBuilder b;
    const int x = b.input("x", ElemType::f32, {-1, 4});
    b.output(b.op("Identity", {x}), "scores");
    return b.finish();
  };
  LabelledSet d;
  d.inputs = Array::from<float>({4, 4}, std::vector<float>{9, 1, 0, 0,  /* label 0: top-1 */
                                                          0, 1, 9, 0,  /* label 1: second */
                                                          0, 0, 9, 1,  /* label 2: top-1 */
                                                          9, 0, 1, 0}); /* label 3: last */
  d.labels = {0, 1, 2, 3};
  d.class_names = {"a", "b", "c", "d"};
  const Graph model = identity();
  EvalOptions opt;
  opt.batch = 3;  // two batches
  const EvalReport r = evaluate_classifier(model, d, &model, opt);
  EXPECT_DOUBLE_EQ(r.top1, 0.5);
  EXPECT_DOUBLE_EQ(r.top5, 1.0);  // 4 classes: top-5 holds everything
  EXPECT_DOUBLE_EQ(r.per_class[0], 1.0);
  EXPECT_DOUBLE_EQ(r.per_class[1], 0.0);
  EXPECT_DOUBLE_EQ(r.agreement, 1.0);
}

}  // namespace
}  // namespace lowbit::ptq
