// `lowbit export` and the module -> ONNX emitter: the exported graph computes what the training
// engine computes (eval mode), the accuracy through the ONNX engine equals the checkpoint's,
// ONNX Runtime agrees, QDQ weights are the training quantizer's codes, bad files fail clearly.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "lowbit/core/rng.h"
#include "lowbit/data/load.h"
#include "lowbit/fqt/quant_config.h"
#include "lowbit/interop/export.h"
#include "lowbit/interop/module_onnx.h"
#include "lowbit/kernels/quant_ref.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/ptq/calib_data.h"
#include "lowbit/ptq/evaluate.h"
#include "lowbit/train/classifier_meta.h"
#include "lowbit/train/trainer.h"
#include "onnx/ort_util.h"
#include "require_peer.h"

namespace lowbit::interop {
namespace {

namespace fs = std::filesystem;
using onnx::test::temp_dir;

onnx::Array to_array(const Tensor& t) {
  const Tensor c = t.contiguous();
  return onnx::Array::from<float>(c.shape(), std::span<const float>(c.data<float>(), c.numel()));
}

Tensor random_tensor(const Shape& s, uint64_t seed) {
  Tensor t = Tensor::zeros(s);
  normal_fill(seed, 0, 0, t.numel(), t.data<float>());
  return t;
}

// Random weights and non-trivial BatchNorm statistics, so every path of the emitter matters.
std::shared_ptr<nn::Classifier> random_model(const std::string& name, const Shape& input, int64_t classes) {
  auto m = nn::build_model(name, input, classes);
  nn::init_parameters(*m, 7);
  uint64_t seed = 100;
  for (auto& [path, t] : m->named_buffers()) {
    Tensor r = random_tensor(t->shape(), ++seed);
    float* p = r.data<float>();
    for (int64_t i = 0; i < r.numel(); ++i) p[i] = path.find("var") != std::string::npos ? 0.5f + std::fabs(p[i]) : 0.1f * p[i];
    t->copy_(r);
  }
  return m;
}

// |got - want| <= 1e-4 · (1 + max|want|): fp32 sums of a few thousand terms in another order
// (BatchNorm folded into the conv, oneDNN vs the training kernels).
void expect_close(const onnx::Array& got, const Tensor& want) {
  const Tensor w = want.contiguous();
  ASSERT_EQ(got.numel(), w.numel());
  double peak = 0;
  for (int64_t i = 0; i < w.numel(); ++i) peak = std::max(peak, std::fabs(double(w.data<float>()[i])));
  for (int64_t i = 0; i < w.numel(); ++i)
    ASSERT_NEAR(got.data<float>()[i], w.data<float>()[i], 1e-4 * (1 + peak)) << "element " << i;
}

struct ZooCase {
  std::string model;
  Shape input;
};

TEST(ModuleEmitter, EveryZooModelMatchesTheTrainingEngine) {
  for (const ZooCase& c : std::vector<ZooCase>{{"mlp", {1, 12, 12}}, {"fcnet", {40}}, {"cnn", {3, 16, 16}},
                                               {"resnet20", {3, 16, 16}}, {"resnet32", {1, 8, 8}}}) {
    SCOPED_TRACE(c.model);
    auto m = random_model(c.model, c.input, 5);
    Shape xs = c.input;
    xs.insert(xs.begin(), 3);
    const Tensor x = random_tensor(xs, 42);
    const Tensor want = train::predict_logits(*m, x);
    const onnx::Graph g = classifier_graph(*m, c.input);
    const auto got = onnx::Session(g).run(std::vector<onnx::Array>{to_array(x)});
    expect_close(got[0], want);
    if (!onnx::test::ort_missing().empty()) continue;
    const std::string path = temp_dir() + "/interop_zoo_" + c.model + ".onnx";
    onnx::save_model(g, path);
    expect_close(onnx::test::run_ort(path, {to_array(x)}, "interop_" + c.model)[0], want);
  }
}

TEST(ModuleEmitter, QuantizedLayersHaveNoOnnxForm) {
  auto m = random_model("mlp", {4}, 3);
  fqt::apply_preset(*m, {"int8", 0, 0}, 1);
  try {
    classifier_graph(*m, {4});
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("backbone.1"), std::string::npos) << e.what();
  }
}

TEST(ModelDataInfo, RoundTripsThroughTheFile) {
  auto m = random_model("mlp", {4}, 3);
  onnx::Graph g = classifier_graph(*m, {4});
  ptq::ModelDataInfo info{"dsads", true, ptq::Preprocess{{0.1f, 1.0f / 3}, {0.7f, 2.5e-7f}, 1.0f}, {"a", "b", "c"}};
  ptq::set_model_data_info(g, info);
  const std::string path = temp_dir() + "/interop_meta.onnx";
  onnx::save_model(g, path);
  const ptq::ModelDataInfo back = ptq::model_data_info(onnx::load_model(path));
  EXPECT_EQ(back.dataset, "dsads");
  EXPECT_TRUE(back.has_preprocess);
  EXPECT_EQ(back.pre.mean, info.pre.mean);  // exact floats
  EXPECT_EQ(back.pre.std, info.pre.std);
  EXPECT_EQ(back.class_names, info.class_names);
  for (const char* bad : {"{\"mean\": 3}", "[1, 2]", "{\"std\": [1e300]}", "{\"scale\": \"x\"}", "{\"mean\": [null]}", "{"}) {
    g.metadata["lowbit.preprocess"] = bad;
    EXPECT_THROW(ptq::model_data_info(g), ValueError) << bad;
  }
  g.metadata.erase("lowbit.preprocess");
  for (const char* bad : {"{}", "[1]", "x"}) {
    g.metadata["lowbit.class_names"] = bad;
    EXPECT_THROW(ptq::model_data_info(g), ValueError) << bad;
  }
}

// A checkpoint as `lowbit train` writes it (meta + model state), without training.
std::string write_checkpoint(nn::Classifier& m, train::ClassifierMeta meta, const std::string& name) {
  nn::Checkpoint ck;
  ck.meta_json = train::to_json(meta);
  nn::add_module_state(ck, m);
  const std::string path = temp_dir() + "/" + name;
  nn::save_checkpoint(path, ck);
  return path;
}

TEST(ExportCheckpoint, BadFilesFailNamingTheFile) {
  auto m = random_model("mlp", {1, 4, 4}, 3);
  train::ClassifierMeta meta{"mlp", "fashion-mnist", {1, 4, 4}, 3, {{0.5f}, {0.25f}}, 0, "fp32", 0, 0};
  const std::string good = write_checkpoint(*m, meta, "interop_good.ckpt");
  const onnx::Graph g = export_checkpoint(good, {});
  EXPECT_EQ(g.metadata.at("lowbit.dataset"), "fashion-mnist");
  EXPECT_EQ(ptq::model_data_info(g).pre.mean, std::vector<float>{0.5f});
  // --qdq of an fp32 checkpoint.
  ExportOptions qdq;
  qdq.qdq = true;
  EXPECT_THROW(export_checkpoint(good, qdq), ValueError);
  // Unknown model in the metadata.
  meta.model = "transformer9";
  const std::string unknown = write_checkpoint(*m, meta, "interop_unknown.ckpt");
  try {
    export_checkpoint(unknown, {});
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("interop_unknown.ckpt"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("transformer9"), std::string::npos) << e.what();
  }
  // Truncated and absent files.
  std::string bytes;
  {
    std::ifstream f(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  const std::string torn = temp_dir() + "/interop_torn.ckpt";
  std::ofstream(torn, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_THROW(export_checkpoint(torn, {}), IoError);
  EXPECT_THROW(export_checkpoint(temp_dir() + "/interop_absent.ckpt", {}), IoError);
}

// ---- trained models on Fashion-MNIST ----

bool have_fashion_mnist() { return fs::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"); }

struct Trained {
  std::string checkpoint;
  double checkpoint_accuracy = 0;
  data::Dataset test;
};

// Trains `model` on the first `train_n` training images for one epoch, writes the checkpoint
// and returns the training engine's accuracy on the first `test_n` test images.
Trained train_small(const std::string& model, const std::string& preset, int64_t train_n, int64_t test_n) {
  data::DatasetSplit split = data::load_dataset("fashion-mnist");
  std::vector<int64_t> tr(static_cast<size_t>(train_n)), te(static_cast<size_t>(test_n));
  for (int64_t i = 0; i < train_n; ++i) tr[static_cast<size_t>(i)] = i;
  for (int64_t i = 0; i < test_n; ++i) te[static_cast<size_t>(i)] = i;
  const data::Dataset train_set = split.train.subset(tr);
  auto m = nn::build_model(model, split.train.sample_shape(), split.train.num_classes);
  nn::init_parameters(*m, 3);
  train::ClassifierMeta meta = train::classifier_meta(*m, split, "fashion-mnist");
  meta.seed = 3;
  meta.quant_preset = preset;
  fqt::apply_preset(*m, {preset, 0, 0}, 3);
  train::TrainConfig cfg;
  cfg.epochs = 1;
  cfg.seed = 3;
  cfg.progress = false;
  train::Trainer trainer(*m, cfg);
  trainer.fit(train_set);
  Trained t;
  t.checkpoint = temp_dir() + "/interop_" + model + "_" + preset + ".ckpt";
  train::save_training_checkpoint(t.checkpoint, *m, trainer.optimizer(), 1, train::to_json(meta));
  t.test = split.test.subset(te);
  t.checkpoint_accuracy = train::evaluate(*m, t.test).accuracy;
  return t;
}

// The first `n` test images preprocessed as `lowbit eval model.onnx` does (from the metadata).
ptq::LabelledSet onnx_test_set(const onnx::Graph& g, int64_t n) {
  ptq::LabelledSet s = ptq::load_test_split("fashion-mnist", "", ptq::model_data_info(g).pre);
  Shape shape = s.inputs.shape();
  shape[0] = n;
  onnx::Array head = onnx::Array::empty(onnx::ElemType::f32, shape);
  std::memcpy(head.raw(), s.inputs.raw(), head.nbytes());
  s.inputs = std::move(head);
  s.labels.resize(static_cast<size_t>(n));
  return s;
}

void expect_same_accuracy(const std::string& model, int64_t train_n, int64_t test_n) {
  if (!have_fashion_mnist()) LOWBIT_SKIP_ABSENT_PEER("Fashion-MNIST is not installed (/usr/share/datasets/fashion-mnist)");
  const Trained t = train_small(model, "fp32", train_n, test_n);
  const onnx::Graph g = export_checkpoint(t.checkpoint, {});
  const std::string path = temp_dir() + "/interop_" + model + ".onnx";
  onnx::save_model(g, path);
  const ptq::LabelledSet s = onnx_test_set(onnx::load_model(path), test_n);
  const ptq::EvalReport r = ptq::evaluate_classifier(onnx::load_model(path), s, nullptr, {});
  EXPECT_EQ(r.top1, t.checkpoint_accuracy) << model;
  EXPECT_GT(r.top1, 0.2) << "the model did not train (chance is 0.1)";
  if (!onnx::test::ort_missing().empty()) return;
  // ONNX Runtime on the same tensors: same logits within the fp32 tolerance.
  const onnx::Array ort = onnx::test::run_ort(path, {s.inputs}, "interop_acc_" + model)[0];
  const onnx::Array ours = onnx::Session(onnx::load_model(path)).run(std::vector<onnx::Array>{s.inputs})[0];
  double peak = 0;
  for (int64_t i = 0; i < ours.numel(); ++i) peak = std::max(peak, std::fabs(double(ours.data<float>()[i])));
  for (int64_t i = 0; i < ours.numel(); ++i)
    ASSERT_NEAR(ort.data<float>()[i], ours.data<float>()[i], 1e-4 * (1 + peak)) << "element " << i;
}

TEST(ExportCheckpoint, MlpAccuracyThroughOnnxEqualsTheCheckpoints) { expect_same_accuracy("mlp", 38400, 10000); }
TEST(ExportCheckpoint, Resnet20AccuracyThroughOnnxEqualsTheCheckpoints) { expect_same_accuracy("resnet20", 2048, 1000); }

TEST(ExportCheckpoint, QdqWeightsAreTheTrainingQuantizersCodes) {
  if (!have_fashion_mnist()) LOWBIT_SKIP_ABSENT_PEER("Fashion-MNIST is not installed (/usr/share/datasets/fashion-mnist)");
  const Trained t = train_small("mlp", "int8", 12800, 2000);
  ExportOptions opt;
  opt.qdq = true;
  opt.calib_samples = 512;
  ExportReport rep;
  const onnx::Graph g = export_checkpoint(t.checkpoint, opt, &rep);
  ASSERT_EQ(rep.layers.size(), 3u);  // 784->512, 512->256, head
  EXPECT_FALSE(rep.layers[0].input_unsigned);  // normalized pixels are signed
  // Each weight's dequantized codes: s·round(w/s), s = 0.975·max|w|/127, as fqt computes them.
  const nn::Checkpoint ck = nn::load_checkpoint(t.checkpoint);
  const Tensor* w0 = ck.find("model.backbone.1.weight");
  ASSERT_NE(w0, nullptr);
  float wmax = 0;
  for (int64_t i = 0; i < w0->numel(); ++i) wmax = std::max(wmax, std::fabs(w0->data<float>()[i]));
  EXPECT_EQ(rep.layers[0].weight_scale, 0.975f * wmax / 127.0f);
  const int codes = g.find_value("backbone.1.weight_q");
  ASSERT_GE(codes, 0);
  const onnx::Array& q = *g.constant(codes);
  for (int64_t i = 0; i < q.numel(); ++i)
    ASSERT_EQ(q.data<int8_t>()[i],
              static_cast<int8_t>(std::nearbyint(std::clamp(w0->data<float>()[i] / rep.layers[0].weight_scale, -127.0f, 127.0f))));
  // ... and so the kernels' quantizer's (its scalar specification), the rounding training uses.
  kernels::QuantGrid grid;
  grid.inner = w0->numel();
  grid.scale = &rep.layers[0].weight_scale;
  std::vector<int8_t> want(static_cast<size_t>(w0->numel()));
  kernels::ref::quantize_f32_i8(grid, w0->data<float>(), want.data(), kernels::Rounding::nearest, {});
  EXPECT_EQ(std::vector<int8_t>(q.data<int8_t>(), q.data<int8_t>() + q.numel()), want);
  // Accuracy within a point of the checkpoint's (activation scales are static in the file).
  const std::string path = temp_dir() + "/interop_mlp_qdq.onnx";
  onnx::save_model(g, path);
  const ptq::LabelledSet s = onnx_test_set(g, 2000);
  const ptq::EvalReport r = ptq::evaluate_classifier(onnx::load_model(path), s, nullptr, {});
  EXPECT_NEAR(r.top1, t.checkpoint_accuracy, 0.01);
  if (!onnx::test::ort_missing().empty()) return;
  const onnx::Array ort = onnx::test::run_ort(path, {s.inputs}, "interop_qdq")[0];
  int64_t agree = 0;
  const onnx::Array ours = onnx::Session(onnx::load_model(path)).run(std::vector<onnx::Array>{s.inputs})[0];
  const int64_t classes = ours.shape()[1];
  for (int64_t i = 0; i < s.inputs.shape()[0]; ++i) {
    const float* a = ours.data<float>() + i * classes;
    const float* b = ort.data<float>() + i * classes;
    agree += std::max_element(a, a + classes) - a == std::max_element(b, b + classes) - b;
  }
  EXPECT_GE(static_cast<double>(agree) / static_cast<double>(s.inputs.shape()[0]), 0.99);
}

// A 4-bit (hdqt) ResNet-20: QDQ convolutions with Clip to the 4-bit range, the option-A shortcut
// on dequantized tensors; lowbit and ONNX Runtime both run it, near the checkpoint's accuracy.
TEST(ExportCheckpoint, QdqResnet20At4BitsRunsInLowbitAndOrt) {
  if (!have_fashion_mnist()) LOWBIT_SKIP_ABSENT_PEER("Fashion-MNIST is not installed (/usr/share/datasets/fashion-mnist)");
  const Trained t = train_small("resnet20", "hdqt", 2048, 500);
  ExportOptions opt;
  opt.qdq = true;
  opt.calib_samples = 256;
  ExportReport rep;
  const onnx::Graph g = export_checkpoint(t.checkpoint, opt, &rep);
  EXPECT_EQ(rep.layers.size(), 20u);  // 19 convolutions + the head
  for (const ExportLayer& l : rep.layers) EXPECT_EQ(l.bits, 4) << l.node;
  const std::string path = temp_dir() + "/interop_r20_hdqt_qdq.onnx";
  onnx::save_model(g, path);
  const ptq::LabelledSet s = onnx_test_set(g, 500);
  const ptq::EvalReport r = ptq::evaluate_classifier(onnx::load_model(path), s, nullptr, {});
  std::printf("checkpoint %.4f, QDQ %.4f\n", t.checkpoint_accuracy, r.top1);
  EXPECT_NEAR(r.top1, t.checkpoint_accuracy, 0.05);
  if (!onnx::test::ort_missing().empty()) return;
  const onnx::Array ort = onnx::test::run_ort(path, {s.inputs}, "interop_r20_qdq")[0];
  const onnx::Array ours = onnx::Session(onnx::load_model(path)).run(std::vector<onnx::Array>{s.inputs})[0];
  int64_t agree = 0;
  const int64_t classes = ours.shape()[1], n = s.inputs.shape()[0];
  for (int64_t i = 0; i < n; ++i) {
    const float* a = ours.data<float>() + i * classes;
    const float* b = ort.data<float>() + i * classes;
    agree += std::max_element(a, a + classes) - a == std::max_element(b, b + classes) - b;
  }
  std::printf("lowbit vs ORT top-1 agreement %.4f\n", static_cast<double>(agree) / static_cast<double>(n));
  EXPECT_GE(static_cast<double>(agree) / static_cast<double>(n), 0.95);
}

}  // namespace
}  // namespace lowbit::interop
