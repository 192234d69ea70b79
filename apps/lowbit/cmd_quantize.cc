// `lowbit quantize model.onnx --calib DATA --out model_q.onnx`: post-training int8 quantization
// to a QDQ model in ONNX Runtime's layout (src/ptq), plus a JSON summary per layer and tensor.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "command.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/ptq/calib_data.h"
#include "lowbit/ptq/quantize_model.h"

namespace lowbit::app {
namespace {

struct QuantizeArgs {
  std::string model, calib, data_dir, out, summary, weights = "int8", weight_range = "minmax", method = "minmax", exclude, config;
  std::vector<float> mean, std;
  float scale = 1.0f;
  int64_t count = 256, group_size = 0;
  double percentile = 99.99;
  bool per_channel = true, bias_correction = false, act_matmul = true;
  int threads = 0;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

void run_quantize(const QuantizeArgs& a) {
  onnx::Graph g = onnx::load_model(a.model);
  LOWBIT_REQUIRE(!g.inputs.empty(), "quantize", "{} has no inputs", a.model);
  ptq::DataSource src{a.calib, a.data_dir, ptq::Preprocess{a.mean, a.std, a.scale}, a.count};
  // A data set without --mean/--std takes the preprocessing the model records (lowbit export).
  if (const auto info = ptq::model_data_info(g); a.mean.empty() && a.std.empty() && info.has_preprocess) src.pre = info.pre;
  const ptq::InputBatch calib = ptq::load_calibration(src, g);
  ptq::QuantizeOptions opt;
  opt.calib.method = ptq::parse_calib_method(a.method);
  opt.calib.percentile = a.percentile;
  opt.per_channel = a.per_channel;
  LOWBIT_REQUIRE(a.weights == "int8" || a.weights == "int4", "quantize", "--weights must be int8 or int4, not '{}'", a.weights);
  opt.weight_bits = a.weights == "int4" ? 4 : 8;
  opt.group_size = a.group_size;
  opt.weight_range = ptq::parse_weight_range(a.weight_range);
  opt.bias_correction = a.bias_correction;
  opt.act_matmul = a.act_matmul;
  opt.exclude = split_list(a.exclude);
  if (!a.config.empty()) opt.config_json = (std::stringstream() << std::ifstream(a.config).rdbuf()).str();
  ptq::QuantizeReport rep;
  const onnx::Graph q = ptq::quantize_model(g, calib, opt, &rep);
  onnx::save_model(q, a.out);
  nlohmann::json j;
  j["model"] = a.model;
  j["out"] = a.out;
  j["calibration"] = {{"source", a.calib}, {"samples", rep.calib_samples}, {"method", a.method}};
  if (a.method == "percentile") j["calibration"]["percentile"] = a.percentile;
  j["weights"] = {{"bits", opt.weight_bits}, {"per_channel", opt.per_channel}, {"group_size", opt.group_size},
                  {"range", ptq::weight_range_name(opt.weight_range)}, {"bias_correction", opt.bias_correction}};
  j["act_matmul"] = opt.act_matmul;
  j["output_sqnr_db"] = rep.output_sqnr_db;
  for (const auto& l : rep.layers)
    j["layers"].push_back({{"node", l.node}, {"op", l.op}, {"precision", l.precision}, {"input", l.input}, {"output", l.output},
                           {"weight_scales", l.channels}, {"weight_scale_min", l.w_scale_min}, {"weight_scale_max", l.w_scale_max}, {"bias_corrected", l.bias_corrected}});
  for (const auto& t : rep.tensors)
    j["tensors"].push_back({{"name", t.name}, {"observed", {t.min, t.max}}, {"range", {t.lo, t.hi}}, {"scale", t.scale},
                            {"zero_point", t.zero_point}, {"sqnr_db", t.sqnr_db}});
  const std::string summary = a.summary.empty() ? a.out + ".json" : a.summary;
  std::ofstream(summary) << j.dump(2) << "\n";
  std::printf("wrote %s (%zu layers quantized, weights %s, %zu activation tensors; output SQNR %.1f dB on %lld calibration samples)\n",
              a.out.c_str(), static_cast<size_t>(std::count_if(rep.layers.begin(), rep.layers.end(), [](const auto& l) { return l.precision != "fp32"; })), a.config.empty() ? a.weights.c_str() : "per --config", rep.tensors.size(), rep.output_sqnr_db, static_cast<long long>(rep.calib_samples));
  std::printf("summary %s\n", summary.c_str());
}

LOWBIT_COMMAND("quantize", "post-training int8 / W4A8 quantization of an ONNX model to QDQ (ONNX Runtime's layout)", [](CLI::App& cmd) {
  auto a = std::make_shared<QuantizeArgs>();
  cmd.add_option("model", a->model, "float model.onnx")->required()->check(CLI::ExistingFile);
  cmd.add_option("--calib", a->calib,
                 "calibration data, batch first: file.npy (one-input models), input=file.npy,input2=file2.npy, a folder of <input>.npy, "
                 "random:N (N samples: floats ~ N(0,1), token ids over the embedding table, masks ones) or a data set name (cifar10, ...)")
      ->required();
  cmd.add_option("--data-dir", a->data_dir, "folder of the calibration data set");
  cmd.add_option("--calib-count", a->count, "calibration samples")->capture_default_str();
  cmd.add_option("--mean", a->mean, "per-channel mean subtracted after --scale (data sets)")->delimiter(',');
  cmd.add_option("--std", a->std, "per-channel std divided by (data sets)")->delimiter(',');
  cmd.add_option("--scale", a->scale, "factor applied first to the loader's [0, 1] pixels")->capture_default_str();
  cmd.add_option("--out", a->out, "quantized model.onnx")->required();
  cmd.add_option("--summary", a->summary, "JSON summary (default: <out>.json)");
  cmd.add_option("--weights", a->weights, "weight precision: int8, or int4 (W4A8: int8 codes in [-7, 7], which lowbit packs two per byte)")->capture_default_str();
  cmd.add_option("--weight-range", a->weight_range,
                 "weight scales: minmax (amax/q), mse (the clip ratio with the least quantization error) or act-mse (that error weighted by each input channel's E[x^2])")
      ->capture_default_str();
  cmd.add_option("--group-size", a->group_size,
                 "int4 only: one weight scale per this many input features (a multiple of 8, e.g. 32, 64, 128) of each MatMul/Gemm "
                 "output, written as INT4 + blocked DequantizeLinear-21 (the model becomes opset 21); Convs stay per channel; 0: off")
      ->capture_default_str();
  cmd.add_flag("--bias-correction", a->bias_correction, "absorb the quantized weights' expected output shift dW·E[x] (calibration means) into the biases");
  cmd.add_flag("--act-matmul,!--no-act-matmul", a->act_matmul,
               "quantize MatMuls of two activations (attention's Q·K^T, P·V) too: both inputs per tensor, int8 (default) — or leave them float");
  cmd.add_flag("--per-channel,!--per-tensor", a->per_channel, "weight scales per output channel (default) or per tensor");
  cmd.add_option("--calib-method", a->method, "minmax | percentile | mse | entropy")->capture_default_str();
  cmd.add_option("--percentile", a->percentile, "percentile method: share of values kept in range")->capture_default_str();
  cmd.add_option("--exclude", a->exclude, "comma-separated node names left in float");
  cmd.add_option("--config", a->config, "per-layer precisions (JSON written by lowbit ptq: {\"default\": .., \"layers\": {node: fp32|int8|w4a8}})")
      ->check(CLI::ExistingFile);
  add_threads_option(cmd, &a->threads);
  cmd.callback([a] { run_quantize(*a); });
});

}  // namespace
}  // namespace lowbit::app
