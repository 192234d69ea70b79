// Timed training and inference steps of a generated model on lowbit's engines.
#include "lowbit/paradnn/runner.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>

#include "lowbit/core/error.h"
#include "lowbit/core/rng.h"
#include "lowbit/core/threads.h"
#include "lowbit/fqt/quant_config.h"
#include "lowbit/kernels/bf16.h"
#include "lowbit/nn/optim.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/ops/ops.h"
#include "lowbit/paradnn/engines.h"
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

double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return 1e3 * static_cast<double>(ts.tv_sec) + 1e-6 * static_cast<double>(ts.tv_nsec);
}

// Wall-clock and process CPU time of every timed step (CPU time: what the step cost, whatever
// share of the cores the other processes left it).
void time_steps(const RunOptions& o, const std::function<void()>& step, RunResult& r) {
  for (int i = 0; i < o.warmup; ++i) step();
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  while (static_cast<int>(r.step_ms.size()) < o.min_steps || elapsed() < o.min_time) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = process_cpu_ms();
    step();
    r.cpu_ms.push_back(process_cpu_ms() - c0);
    r.step_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
}

}  // namespace

std::vector<std::string> lowbit_engine_names() { return {"lowbit", "lowbit-int8", "lowbit-bf16"}; }

onnx::Graph inference_graph(const ModelConfig& c, nn::Module& model, const onnx::Array& x, const std::string& precision) {
  onnx::Graph graph = build_onnx(c, model);
  if (precision == "int8") return ptq::quantize_model(graph, x, ptq::QuantizeOptions{}, nullptr);
  if (precision == "bf16") {
    const ptq::QdqPlan plan = ptq::plan_qdq(graph, x, ptq::QuantizeOptions{});
    return ptq::build_qdq(plan, ptq::LayerConfig(plan.layers.size(), ptq::Precision::bf16));
  }
  LOWBIT_REQUIRE(precision == "fp32", "paradnn inference_graph", "precision must be fp32, int8 or bf16, got '{}'", precision);
  return graph;
}

RunResult run_lowbit(const ModelConfig& c, const RunOptions& o) {
  validate(c);
  const auto engines = lowbit_engine_names();
  if (std::find(engines.begin(), engines.end(), o.engine) == engines.end())
    throw ValueError(fmt::format("[paradnn run] unknown engine '{}' (expected lowbit, lowbit-int8 or lowbit-bf16)", o.engine));
  if (o.mode != "train" && o.mode != "infer")
    throw ValueError(fmt::format("[paradnn run] unknown mode '{}' (expected train or infer)", o.mode));
  if (const std::string why = engine_unsupported(o.engine, c.family, o.mode, kernels::bf16_native()); !why.empty())
    throw ValueError(fmt::format("[paradnn run] {} {} {}: {}", o.engine, c.family, o.mode, why));
  const std::string precision = engine_precision(o.engine);
  const bool int8 = precision == "int8";
  auto model = build_module(c, o.seed);
  const Tensor x = random_batch(c, o.seed + 1);
  RunResult r;
  // Inference runs the ONNX engine: fp32; for lowbit-int8 the QDQ model that `lowbit quantize`
  // would write (calibrated on this batch), which the engine lowers to its fused integer kernels;
  // for lowbit-bf16 the model `lowbit ptq` writes with every layer bf16, lowered to bf16 kernels.
  // RNN cells have no integer inference kernels, so lowbit-int8 rnn inference (and all int8
  // training) runs the integer-training layers of src/fqt instead.
  if (o.mode == "infer" && (!int8 || c.family != "rnn")) {
    onnx::Session session(inference_graph(c, *model, onnx_input(x), precision), onnx::SessionOptions{1, num_threads(), true});
    for (const auto& n : session.graph().nodes) r.bf16_layers += !n.dead && n.attr_i("lowbit_bf16", 0) != 0;
    if (precision == "bf16" && r.bf16_layers == 0)
      throw ValueError(fmt::format("[paradnn run] lowbit-bf16: no layer of {} was lowered to bf16 (LOWBIT_ONNX_BF16=0?); "
                                   "the measurement would be fp32", c.key()));
    const std::vector<onnx::Array> inputs{onnx_input(x)};
    time_steps(o, [&] { session.run(inputs); }, r);
    r.planned_bytes = session.memory().peak_bytes();
    return r;
  }
  if (int8) fqt::quantize_model(*model, fqt::preset("int8"), o.seed);
  if (o.mode == "infer") {
    model->eval();
    NoGradGuard no_grad;
    time_steps(o, [&] { (*model)(Var(x)); }, r);
    return r;
  }
  // One label per example, or per (step, example) for rnn (time-major like its logits).
  Tensor y = Tensor::empty({c.get("batch") * (c.family == "rnn" ? c.get("length") : 1)}, DType::i32);
  Rng rng(o.seed + 2);
  for (int64_t i = 0; i < y.numel(); ++i) y.data<int32_t>()[i] = static_cast<int32_t>(rng.below(static_cast<uint64_t>(num_classes(c))));
  nn::Sgd opt(model->named_parameters(), nn::SgdOptions{.lr = 0.01f, .momentum = 0.9f});
  time_steps(o, [&] {
    opt.zero_grad();
    cross_entropy((*model)(Var(x)), y).backward();
    opt.step();
  }, r);
  return r;
}

void export_bundle(const ModelConfig& c, const std::string& dir, uint64_t seed, const std::string& precision) {
  validate(c);
  if (precision != "fp32" && c.family == "rnn")
    throw ValueError(fmt::format("[paradnn export] --precision {}: rnn models are exported in fp32 only", precision));
  std::filesystem::create_directories(dir);
  auto model = build_module(c, seed);
  const Tensor x = random_batch(c, seed + 1);
  // Same weights, batch and calibration as run_lowbit: lowbit and ONNX Runtime run one model.
  onnx::save_model(inference_graph(c, *model, onnx_input(x), precision), (std::filesystem::path(dir) / "model.onnx").string());
  onnx::save_npy((std::filesystem::path(dir) / "input_0.npy").string(), onnx_input(x));
}

}  // namespace lowbit::paradnn
