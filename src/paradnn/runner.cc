// Timed training and inference steps of a generated model on lowbit's engines.
#include "lowbit/paradnn/runner.h"

#include <chrono>
#include <filesystem>
#include <functional>

#include "lowbit/core/error.h"
#include "lowbit/core/rng.h"
#include "lowbit/core/threads.h"
#include "lowbit/fqt/quant_config.h"
#include "lowbit/nn/optim.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/ops/ops.h"
#include "lowbit/paradnn/model.h"
#include "lowbit/ptq/quantize_model.h"

namespace lowbit::paradnn {
namespace {

// Floats ~ N(0, 1); for rnn, int32 token ids uniform over the vocabulary.
Tensor random_batch(const ModelConfig& c, uint64_t seed) {
  Shape s = example_shape(c);
  s.insert(s.begin(), c.get("batch"));
  if (c.family == "rnn") {
    Tensor x = Tensor::empty(s, DType::i32);
    Rng rng(seed);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<int32_t>()[i] = static_cast<int32_t>(rng.below(static_cast<uint64_t>(c.get("vocab"))));
    return x;
  }
  Tensor x = Tensor::empty(s);
  normal_fill(seed, 0, 0, x.numel(), x.data<float>());
  return x;
}

// The ONNX graphs take float inputs, or int64 token ids (ONNX Gather indices) for rnn.
onnx::Array onnx_input(const Tensor& x) {
  if (x.dtype() == DType::i32) {
    std::vector<int64_t> ids(x.data<int32_t>(), x.data<int32_t>() + x.numel());
    return onnx::Array::from<int64_t>(x.shape(), std::span<const int64_t>(ids));
  }
  return onnx::Array::from<float>(x.shape(), std::span<const float>(x.data<float>(), x.numel()));
}

std::vector<double> time_steps(const RunOptions& o, const std::function<void()>& step) {
  for (int i = 0; i < o.warmup; ++i) step();
  std::vector<double> ms;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  while (static_cast<int>(ms.size()) < o.min_steps || elapsed() < o.min_time) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return ms;
}

}  // namespace

std::vector<std::string> lowbit_engine_names() { return {"lowbit", "lowbit-int8"}; }

RunResult run_lowbit(const ModelConfig& c, const RunOptions& o) {
  validate(c);
  const bool int8 = o.engine == "lowbit-int8";
  if (!int8 && o.engine != "lowbit")
    throw ValueError(fmt::format("[paradnn run] unknown engine '{}' (expected lowbit or lowbit-int8)", o.engine));
  if (o.mode != "train" && o.mode != "infer")
    throw ValueError(fmt::format("[paradnn run] unknown mode '{}' (expected train or infer)", o.mode));
  auto model = build_module(c, o.seed);
  const Tensor x = random_batch(c, o.seed + 1);
  RunResult r;
  // Inference runs the ONNX engine: fp32, or for lowbit-int8 the QDQ model that `lowbit quantize`
  // would write (calibrated on this batch), which the engine lowers to its fused integer kernels.
  // RNN cells have no integer inference kernels, so lowbit-int8 rnn inference (and all int8
  // training) runs the integer-training layers of src/fqt instead.
  if (o.mode == "infer" && (!int8 || c.family != "rnn")) {
    onnx::Graph graph = build_onnx(c, *model);
    if (int8) graph = ptq::quantize_model(graph, onnx_input(x), ptq::QuantizeOptions{}, nullptr);
    onnx::Session session(std::move(graph), onnx::SessionOptions{1, num_threads(), true});
    const std::vector<onnx::Array> inputs{onnx_input(x)};
    r.step_ms = time_steps(o, [&] { session.run(inputs); });
    r.planned_bytes = session.memory().peak_bytes();
    return r;
  }
  if (int8) fqt::quantize_model(*model, fqt::preset("int8"), o.seed);
  if (o.mode == "infer") {
    model->eval();
    NoGradGuard no_grad;
    r.step_ms = time_steps(o, [&] { (*model)(Var(x)); });
    return r;
  }
  // One label per example, or per (step, example) for rnn (time-major like its logits).
  Tensor y = Tensor::empty({c.get("batch") * (c.family == "rnn" ? c.get("length") : 1)}, DType::i32);
  Rng rng(o.seed + 2);
  for (int64_t i = 0; i < y.numel(); ++i) y.data<int32_t>()[i] = static_cast<int32_t>(rng.below(static_cast<uint64_t>(num_classes(c))));
  nn::Sgd opt(model->named_parameters(), nn::SgdOptions{.lr = 0.01f, .momentum = 0.9f});
  r.step_ms = time_steps(o, [&] {
    opt.zero_grad();
    cross_entropy((*model)(Var(x)), y).backward();
    opt.step();
  });
  return r;
}

void export_bundle(const ModelConfig& c, const std::string& dir, uint64_t seed) {
  std::filesystem::create_directories(dir);
  auto model = build_module(c, seed);
  onnx::save_model(build_onnx(c, *model), (std::filesystem::path(dir) / "model.onnx").string());
  const Tensor x = random_batch(c, seed + 1);
  onnx::save_npy((std::filesystem::path(dir) / "input_0.npy").string(), onnx_input(x));
}

}  // namespace lowbit::paradnn
