// `lowbit bench model model.onnx`: latency and throughput of one model on lowbit's engine
// (median and p90 over timed runs after warm-up), with the peak planned memory. Random inputs
// for the declared shapes at --batch unless --input is given; --save-inputs writes them so a
// peer (bench/peers/ort_run.js) can run the very same data.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "command.h"
#include "lowbit/onnx/model_inputs.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/npy.h"
#include "model_common.h"

namespace lowbit::app {
namespace {

struct BenchModelArgs {
  std::string model, json, save_inputs;
  std::vector<std::string> inputs;
  int64_t batch = 1;
  int warmup = 3, iters = 10;
  double min_time = 1.0;
  uint64_t seed = 1;
  ParallelArgs par;
};

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(std::min<double>(static_cast<double>(v.size() - 1), q * static_cast<double>(v.size() - 1) + 0.5))];
}

void run_bench_model(const BenchModelArgs& a) {
  onnx::Graph g = onnx::load_model(a.model);
  std::vector<onnx::Array> inputs = a.inputs.empty() ? onnx::random_inputs(g, a.batch, a.seed, "bench model") : load_inputs(g, a.inputs);
  if (!a.save_inputs.empty()) {
    std::filesystem::create_directories(a.save_inputs);
    for (size_t i = 0; i < inputs.size(); ++i)
      onnx::save_npy((std::filesystem::path(a.save_inputs) / fmt::format("input_{}.npy", i)).string(), inputs[i]);
  }
  const int64_t batch = inputs.empty() || inputs[0].dim() == 0 ? 1 : inputs[0].shape()[0];
  const ParallelArgs par = resolve_parallel(a.par, g, batch);
  onnx::Session session(std::move(g), onnx::SessionOptions{par.inter_op, par.intra_op, true});
  for (int i = 0; i < a.warmup; ++i) session.run(inputs);
  std::vector<double> ms;
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  while (static_cast<int>(ms.size()) < a.iters || elapsed() < a.min_time) {
    const auto s = std::chrono::steady_clock::now();
    session.run(inputs);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
  }
  const double median = quantile(ms, 0.5), p90 = quantile(ms, 0.9);
  const onnx::MemoryStats mem = session.memory();
  std::printf("%s batch %lld inter-op %d intra-op %d: median %.3f ms, p90 %.3f ms, %.1f samples/s, peak %.1f MB "
              "(activations %.1f MB, %.1f MB without reuse), %zu runs\n",
              a.model.c_str(), static_cast<long long>(batch), session.inter_op(), session.intra_op(), median, p90,
              1000.0 * static_cast<double>(batch) / median, mem.peak_bytes() / 1e6, mem.arena_bytes / 1e6,
              mem.unshared_bytes / 1e6, ms.size());
  if (a.json.empty()) return;
  nlohmann::json j = {{"model", a.model}, {"batch", batch}, {"inter_op", session.inter_op()},
                      {"intra_op", session.intra_op()}, {"median_ms", median}, {"p90_ms", p90},
                      {"throughput", 1000.0 * static_cast<double>(batch) / median},
                      {"peak_memory_bytes", mem.peak_bytes()}, {"activation_bytes", mem.arena_bytes},
                      {"activation_bytes_without_reuse", mem.unshared_bytes}, {"buffers_taken_over", mem.taken_over},
                      {"iterations", ms.size()}};
  std::ofstream(a.json) << j.dump(1) << "\n";
}

LOWBIT_COMMAND("bench model", "latency/throughput/peak memory of an ONNX model on lowbit's engine", [](CLI::App& cmd) {
  auto args = std::make_shared<BenchModelArgs>();
  cmd.add_option("model", args->model, "model.onnx")->required()->check(CLI::ExistingFile);
  cmd.add_option("--input", args->inputs, ".npy input (repeat per graph input); default: random at --batch");
  cmd.add_option("--batch", args->batch, "batch for symbolic batch dimensions")->check(CLI::Range(1, 1 << 16));
  cmd.add_option("--warmup", args->warmup, "untimed runs first")->check(CLI::Range(0, 1000));
  cmd.add_option("--iters", args->iters, "at least this many timed runs")->check(CLI::Range(1, 100000));
  cmd.add_option("--min-time", args->min_time, "and at least this many seconds")->check(CLI::Range(0.0, 3600.0));
  cmd.add_option("--seed", args->seed, "seed of the random inputs");
  cmd.add_option("--save-inputs", args->save_inputs, "write the inputs used as input_<i>.npy into this folder");
  cmd.add_option("--json", args->json, "write median_ms, p90_ms, throughput, peak_memory_bytes here");
  add_parallel_options(cmd, &args->par);
  cmd.callback([args] { run_bench_model(*args); });
});

}  // namespace
}  // namespace lowbit::app
