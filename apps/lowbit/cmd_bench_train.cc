// `lowbit bench train`: timed training steps (forward, loss, backward, SGD step) of a model zoo
// network on random data, fp32 or under a quantization preset — the lowbit side of the
// side-by-side comparison with PyTorch (bench/peers/bench_train.sh).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <vector>

#include "command.h"
#include "lowbit/core/rng.h"
#include "lowbit/core/threads.h"
#include "lowbit/fqt/quant_config.h"
#include "lowbit/nn/models.h"
#include "lowbit/ops/ops.h"
#include "lowbit/train/trainer.h"
#include "train_common.h"

namespace lowbit::app {
namespace {

// CPU time of the whole process (all threads) in ms: less distorted than wall time when other
// processes share the cores, since time spent descheduled does not count.
double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

struct BenchTrainArgs {
  std::string model = "mlp", quant = "fp32", json;
  int64_t batch = 128, steps = 30, warmup = 5;
  int threads = 0;
};

void run_bench_train(const BenchTrainArgs& a) {
  const Shape input = a.model == "fcnet" ? Shape{405} : Shape{1, 28, 28};
  auto model = nn::build_model(a.model, input, 10);
  nn::init_parameters(*model, 0);
  fqt::quantize_model(*model, fqt::preset(a.quant), 0);
  train::TrainConfig cfg;
  auto opt = train::make_optimizer(cfg, model->named_parameters());
  Shape xs = input;
  xs.insert(xs.begin(), a.batch);
  Tensor x = Tensor::empty(xs), y = Tensor::empty({a.batch}, DType::i32);
  normal_fill(1, 0, 0, x.numel(), x.data<float>());
  Rng rng(2);
  for (int64_t i = 0; i < a.batch; ++i) y.data<int32_t>()[i] = static_cast<int32_t>(rng.below(10));
  auto step = [&] {
    opt->zero_grad();
    const Var loss = cross_entropy((*model)(Var(x)), y);
    loss.backward();
    opt->step();
  };
  for (int64_t i = 0; i < a.warmup; ++i) step();
  std::vector<double> ms, cpu;
  for (int64_t i = 0; i < a.steps; ++i) {
    const double c0 = process_cpu_ms();
    const auto t0 = std::chrono::steady_clock::now();
    step();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    cpu.push_back(process_cpu_ms() - c0);
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  const double median = ms[ms.size() / 2], median_cpu = cpu[cpu.size() / 2];
  double mean = 0;
  for (double v : ms) mean += v;
  mean /= static_cast<double>(ms.size());
  std::printf("%s/%s batch %lld, %d threads: median step %.3f ms (mean %.3f), %.0f images/s; median CPU time %.3f ms/step\n",
              a.model.c_str(), a.quant.c_str(), static_cast<long long>(a.batch), num_threads(), median, mean,
              a.batch / mean * 1e3, median_cpu);
  if (!a.json.empty())
    write_json(a.json, {{"engine", "lowbit"}, {"model", a.model}, {"quant", a.quant}, {"threads", num_threads()},
                        {"batch_size", a.batch}, {"step_ms", mean}, {"median_step_ms", median},
                        {"median_cpu_ms", median_cpu},
                        {"images_per_second", a.batch / mean * 1e3}});
}

void setup_bench_train(CLI::App& cmd) {
  auto a = std::make_shared<BenchTrainArgs>();
  cmd.add_option("--model", a->model, "network")->check(CLI::IsMember(nn::model_names()))->capture_default_str();
  cmd.add_option("--quant", a->quant, "quantization preset")->check(CLI::IsMember(fqt::preset_names()))->capture_default_str();
  cmd.add_option("--batch-size", a->batch, "batch")->check(CLI::Range(1, 1 << 16))->capture_default_str();
  cmd.add_option("--steps", a->steps, "timed steps")->check(CLI::Range(1, 1 << 20))->capture_default_str();
  cmd.add_option("--warmup", a->warmup, "untimed steps first")->check(CLI::Range(0, 1 << 20))->capture_default_str();
  cmd.add_option("--json", a->json, "write the result here ('-' for stdout)");
  add_threads_option(cmd, &a->threads);
  cmd.callback([a] { run_bench_train(*a); });
}

}  // namespace

LOWBIT_COMMAND("bench train", "time training steps of a model on random data (fp32 or a quantization preset)",
               setup_bench_train);

}  // namespace lowbit::app
