// `lowbit ptq model.onnx --calib DATA --eval DATA --out model_mp.onnx`: mixed-precision
// post-training quantization guided by sensitivity (src/ptq/ptq_run.h), and `lowbit ptq
// sensitivity`, the per-layer ranking alone. Options only; the job lives in the library.
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "command.h"
#include "lowbit/ptq/ptq_run.h"

namespace lowbit::app {
namespace {

struct PtqArgs {
  ptq::PtqOptions o;
  std::string calib_method = "minmax", precisions = "fp32,int8", weight_range = "minmax";
};

void add_common(CLI::App& cmd, PtqArgs* a, bool required_model) {
  auto* model = cmd.add_option("model", a->o.model, "float model.onnx")->check(CLI::ExistingFile);
  auto* calib = cmd.add_option("--calib", a->o.calib.source, "calibration data, batch first: file.npy (one-input models), input=a.npy,input2=b.npy, a folder of <input>.npy, random:N, or a data set name (cifar10, ...)");
  cmd.add_option("--calib-count", a->o.calib.count, "calibration samples")->capture_default_str();
  cmd.add_option("--calib-method", a->calib_method, "minmax | percentile | mse | entropy")->capture_default_str();
  auto* eval = cmd.add_option("--eval", a->o.eval, "evaluation data: as --calib (random:N draws other samples), or a data set name (its test split, with labels)");
  if (required_model) model->required(), calib->required(), eval->required();
  cmd.add_option("--eval-labels", a->o.eval_labels,
                 "int64 class ids of a .npy --eval. Without labels the accuracy is fidelity to the fp32 model: top-1 agreement with "
                 "its classes for a [batch, classes] first output, else 1 - relative L2 error of the first output (fp32 scores 1)");
  cmd.add_option("--eval-count", a->o.eval_count, "evaluation samples (every N/count-th of the test split)")->capture_default_str();
  cmd.add_option("--data-dir", a->o.calib.data_dir, "folder of the data set");
  cmd.add_option("--mean", a->o.calib.pre.mean, "per-channel mean subtracted after --scale (data sets)")->delimiter(',');
  cmd.add_option("--std", a->o.calib.pre.std, "per-channel std divided by (data sets)")->delimiter(',');
  cmd.add_option("--scale", a->o.calib.pre.scale, "factor applied first to the loader's [0, 1] pixels")->capture_default_str();
  cmd.add_option("--metric", a->o.metric, "sqnr | measured | augmented | hessian | augmented-hessian | fisher")->capture_default_str();
  cmd.add_option("--grad-samples", a->o.grad_samples, "samples of the gradient metrics (hessian, fisher)")->capture_default_str();
  cmd.add_option("--lambda", a->o.lambda, "weight of the inter-layer term of --metric augmented")->capture_default_str();
  cmd.add_option("--precisions", a->precisions, "candidate precisions: fp32,bf16,int8,w4a8 (bf16 only where the CPU has AVX512-BF16)")->capture_default_str();
  cmd.add_option("--weight-range", a->weight_range, "weight scales: minmax, mse or act-mse (see lowbit quantize)")
      ->capture_default_str();
  cmd.add_flag("--bias-correction", a->o.quant.bias_correction, "absorb the quantized weights' expected output shift into the biases");
  cmd.add_flag("--act-matmul,!--no-act-matmul", a->o.quant.act_matmul,
               "MatMuls of two activations (attention's Q·K^T, P·V) are layers of the search (fp32 or int8; default) — or stay float");
  cmd.add_flag("--per-channel,!--per-tensor", a->o.quant.per_channel, "weight scales per output channel (default) or per tensor");
  cmd.add_option("--threads", a->o.threads, "intra-op threads of every measurement (fixed)")->capture_default_str();
  cmd.add_option("--cache", a->o.cache, "evaluation cache (JSON Lines; default <json or out>.cache.jsonl)");
  cmd.add_option("--json", a->o.json, "JSON summary ('-' = stdout)");
  cmd.add_flag("!--no-progress", a->o.progress, "no progress bar on stderr");
}

void finish_args(PtqArgs& a) {
  if (a.o.model.empty() || a.o.calib.source.empty() || a.o.eval.empty())
    throw ValueError("[ptq] model, --calib and --eval are required: lowbit ptq model.onnx --calib DATA --eval DATA");
  a.o.quant.calib.method = ptq::parse_calib_method(a.calib_method);
  a.o.quant.weight_range = ptq::parse_weight_range(a.weight_range);
  a.o.precisions.clear();
  for (size_t at = 0; at <= a.precisions.size();) {
    const size_t comma = std::min(a.precisions.find(',', at), a.precisions.size());
    if (comma > at) a.o.precisions.push_back(a.precisions.substr(at, comma - at));
    at = comma + 1;
  }
}

LOWBIT_COMMAND("ptq", "mixed-precision post-training quantization: the fastest model within an accuracy budget", [](CLI::App& cmd) {
  cmd.require_subcommand(0, 1);
  auto a = std::make_shared<PtqArgs>();
  add_common(cmd, a.get(), false);
  cmd.add_option("--search", a->o.search, "dp | bisection | greedy")->capture_default_str();
  cmd.add_option("--objective", a->o.objective, "dp: minimise measured latency or weight size")->capture_default_str();
  cmd.add_option("--dp-sweep", a->o.dp_sweep, "dp: also evaluate N proposals along the front (to compare metrics)");
  cmd.add_flag("--skip-violations", a->o.skip_violations, "greedy: skip a layer that violates the budget and continue");
  cmd.add_option("--max-drop", a->o.max_drop, "accuracy budget: 1% (relative to fp32) or 0.5pt (points of top-1); default 1%. On fidelity (no labels) fp32 scores 1, "
                 "so 1% allows 1 % disagreement with fp32's classes, or a relative L2 error of 0.01 of the outputs (SQNR >= 40 dB)");
  cmd.add_option("--band", a->o.band, "accepted drop band lo,hi (e.g. 0.5%,1%): bisection stops inside it");
  cmd.add_option("--latency-batch", a->o.latency_batch, "batch of the latency measurements")->capture_default_str();
  cmd.add_option("--latency-repeats", a->o.latency_repeats, "timed runs per latency (median; after 2 warm-up runs)")->capture_default_str();
  cmd.add_option("--out", a->o.out, "mixed-precision QDQ model.onnx");
  cmd.add_option("--config-out", a->o.config_out, "per-layer config JSON (default <out>.config.json)");
  cmd.add_option("--report", a->o.report, "self-contained HTML report");
  cmd.callback([a, &cmd] {
    if (cmd.got_subcommand("sensitivity")) return;
    finish_args(*a);
    const int rc = ptq::run_ptq(a->o);
    std::fflush(stdout);
    if (rc != 0) std::exit(rc);
  });
});

LOWBIT_COMMAND("ptq sensitivity", "per-layer sensitivity ranking, its Kendall tau against measured deltas, and its cost",
               [](CLI::App& cmd) {
                 auto a = std::make_shared<PtqArgs>();
                 add_common(cmd, a.get(), true);
                 cmd.callback([a] {
                   finish_args(*a);
                   ptq::run_sensitivity(a->o);
                 });
               });

}  // namespace
}  // namespace lowbit::app
