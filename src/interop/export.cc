// Checkpoint -> ONNX (fp32 or QDQ at the training precision); see export.h for what is exact.
#include "lowbit/interop/export.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "lowbit/core/error.h"
#include "lowbit/data/cifar.h"
#include "lowbit/data/dsads.h"
#include "lowbit/data/idx.h"
#include "lowbit/data/load.h"
#include "lowbit/fqt/quant_config.h"
#include "lowbit/interop/module_onnx.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/ptq/calib_data.h"
#include "lowbit/ptq/weight_range.h"
#include "lowbit/quant/quantize.h"
#include "lowbit/train/classifier_meta.h"

namespace lowbit::interop {
namespace {

using onnx::Array;
using onnx::ElemType;
using onnx::Graph;

std::vector<std::string> class_names(const std::string& dataset, int64_t classes) {
  std::vector<std::string> names;
  if (dataset == "fashion-mnist") names = data::fashion_mnist_classes();
  else if (dataset == "dsads") names = data::dsads_classes();
  else if (dataset == "cifar10") names = data::cifar10_classes();
  if (static_cast<int64_t>(names.size()) != classes) names.clear();  // a head grown or cut by CIL
  return names;
}

int add_constant(Graph& g, const std::string& name, Array a) {
  const int v = g.add_value(name, onnx::ValueType{a.type(), a.shape(), true});
  g.constants[v] = std::move(a);
  return v;
}

int add_op(Graph& g, const std::string& op, std::vector<int> inputs, const std::string& name) {
  const int out = g.add_value(name + "_out");
  onnx::Node n;
  n.name = name;
  n.op_type = op;
  n.inputs = std::move(inputs);
  n.outputs = {out};
  g.add_node(std::move(n));
  return out;
}

Array scalar_f32(float v) { return Array::scalar<float>(v); }

// Per Gemm/Conv input: clip × mean over batches of max|x|, and whether any value was negative.
struct InputRange {
  double sum_max = 0;
  int64_t batches = 0;
  bool negative = false;
};

std::vector<InputRange> calibrate(const Graph& g, const std::vector<int>& inputs, const data::Dataset& train,
                                  const ExportOptions& opt) {
  Graph probe = g;
  probe.outputs = inputs;  // the float inputs of the quantized layers
  onnx::Session session(std::move(probe), onnx::SessionOptions{1, 0, true});
  const Tensor x = train.inputs.contiguous();
  const int64_t n = train.size(), take = std::min(n, opt.calib_samples), stride = n / std::max<int64_t>(take, 1);
  const int64_t per = x.numel() / std::max<int64_t>(n, 1);
  std::vector<InputRange> ranges(inputs.size());
  for (int64_t b0 = 0; b0 < take; b0 += opt.calib_batch) {
    const int64_t rows = std::min(opt.calib_batch, take - b0);
    Shape shape = train.sample_shape();
    shape.insert(shape.begin(), rows);
    Array batch = Array::empty(ElemType::f32, shape);
    for (int64_t i = 0; i < rows; ++i)
      std::memcpy(batch.data<float>() + i * per, x.data<float>() + (b0 + i) * stride * per, static_cast<size_t>(per) * 4);
    const std::vector<Array> outs = session.run(std::vector<Array>{batch});
    for (size_t t = 0; t < outs.size(); ++t) {
      const float* p = outs[t].data<float>();
      float m = 0;
      for (int64_t i = 0; i < outs[t].numel(); ++i) {
        m = std::max(m, std::fabs(p[i]));
        ranges[t].negative |= p[i] < 0;
      }
      ranges[t].sum_max += m;
      ++ranges[t].batches;
    }
  }
  return ranges;
}

// Rewrites every Gemm/Conv of the fp32 graph to read DequantizeLinear'd int8 weights and a
// Quantize/DequantizeLinear'd input (export.h). Returns the per-layer record.
std::vector<ExportLayer> to_qdq(Graph& g, const fqt::QuantConfig& cfg, const data::Dataset& train, const ExportOptions& opt) {
  std::vector<int> layers, inputs;
  for (int id : g.topo_order())
    if (g.nodes[static_cast<size_t>(id)].op_type == "Gemm" || g.nodes[static_cast<size_t>(id)].op_type == "Conv") layers.push_back(id);
  if (!cfg.quantize_first_layer && !layers.empty()) layers.erase(layers.begin());
  if (!cfg.quantize_last_layer && !layers.empty()) layers.pop_back();
  for (int id : layers) inputs.push_back(g.nodes[static_cast<size_t>(id)].inputs[0]);
  const std::vector<InputRange> ranges = calibrate(g, inputs, train, opt);
  std::vector<ExportLayer> report;
  for (size_t l = 0; l < layers.size(); ++l) {
    const std::string name = g.nodes[static_cast<size_t>(layers[l])].name;
    const std::string op = g.nodes[static_cast<size_t>(layers[l])].op_type;
    // Weight: symmetric per-tensor codes, as fqt::quantize_operand computes them.
    const fqt::OperandConfig& wc = cfg.forward.b;
    const int wv = g.nodes[static_cast<size_t>(layers[l])].inputs[1];
    const Array& w = *g.constant(wv);
    float wmax = 0;
    for (int64_t i = 0; i < w.numel(); ++i) wmax = std::max(wmax, std::fabs(w.data<float>()[i]));
    const int32_t wq = quant::q_max(wc.bits);
    const float wm = wc.clip * wmax, ws = wm > 0 && std::isfinite(wm) ? wm / static_cast<float>(wq) : 1.0f;
    Array codes = Array::empty(ElemType::i8, w.shape());
    ptq::quantize_weight_codes(w.numel(), w.data<float>(), 1, w.numel(), &ws, wq, codes.data<int8_t>());
    const std::string wname = g.values[static_cast<size_t>(wv)].name;
    const int wdq = add_op(g, "DequantizeLinear",
                           {add_constant(g, wname + "_q", std::move(codes)), add_constant(g, wname + "_scale", scalar_f32(ws)),
                            add_constant(g, wname + "_zp", Array::scalar<int8_t>(0))},
                           wname + "_dq");
    // Input: a static scale from calibration (the one inexact part).
    const fqt::OperandConfig& ac = cfg.forward.a;
    const InputRange& r = ranges[l];
    const bool is_unsigned = !r.negative && ac.bits <= 7;
    const int32_t aq = is_unsigned ? (1 << ac.bits) - 1 : quant::q_max(ac.bits);
    const float am = ac.clip * static_cast<float>(r.sum_max / std::max<int64_t>(r.batches, 1));
    const float as = am > 0 && std::isfinite(am) ? am / static_cast<float>(aq) : 1.0f;
    int x = g.nodes[static_cast<size_t>(layers[l])].inputs[0];
    const std::string xname = name + "_input";
    if (ac.bits < 8)
      x = add_op(g, "Clip", {x, add_constant(g, xname + "_lo", scalar_f32(is_unsigned ? 0.0f : -static_cast<float>(aq) * as)),
                             add_constant(g, xname + "_hi", scalar_f32(static_cast<float>(aq) * as))}, xname + "_clip");
    const int zp = is_unsigned ? add_constant(g, xname + "_zp", Array::scalar<uint8_t>(0))
                               : add_constant(g, xname + "_zp", Array::scalar<int8_t>(0));
    const int scale = add_constant(g, xname + "_scale", scalar_f32(as));
    const int xq = add_op(g, "QuantizeLinear", {x, scale, zp}, xname + "_q");
    const int xdq = add_op(g, "DequantizeLinear", {xq, scale, zp}, xname + "_dq");
    onnx::Node& n = g.nodes[static_cast<size_t>(layers[l])];
    n.inputs[0] = xdq;
    n.inputs[1] = wdq;
    report.push_back(ExportLayer{name, op, ac.bits, ws, as, is_unsigned});
  }
  g.relink();
  g.remove_dead();
  g.validate();
  return report;
}

}  // namespace

onnx::Graph export_checkpoint(const std::string& checkpoint, const ExportOptions& opt, ExportReport* report) {
  const nn::Checkpoint ck = nn::load_checkpoint(checkpoint);
  const train::ClassifierMeta meta = train::parse_classifier_meta(ck, checkpoint);
  std::shared_ptr<nn::Classifier> model;
  try {
    model = train::build_classifier(meta);
  } catch (const ValueError& e) {
    throw ValueError(fmt::format("[export] {}: cannot rebuild the network: {}", checkpoint, e.what()));
  }
  nn::load_module_state(ck, *model, checkpoint);
  model->eval();
  Graph g = classifier_graph(*model, meta.input_shape, opt.opset);
  ptq::ModelDataInfo info;
  info.dataset = meta.dataset;
  info.has_preprocess = !meta.norm.mean.empty();
  info.pre = ptq::Preprocess{meta.norm.mean, meta.norm.stddev, 1.0f};
  info.class_names = class_names(meta.dataset, meta.num_classes);
  ptq::set_model_data_info(g, info);
  const std::string quant = meta.quant_preset == "fp32"
                                ? "fp32"
                                : fmt::format("{} bits={} acc_bits={}", meta.quant_preset, meta.quant_bits, meta.quant_acc_bits);
  g.metadata["lowbit.model"] = meta.model;
  g.metadata["lowbit.trained_quant"] = quant;
  ExportReport rep{meta.model, meta.dataset, quant, meta.num_classes, {}};
  if (opt.qdq) {
    const fqt::QuantConfig cfg = fqt::preset(fqt::PresetSpec{meta.quant_preset, meta.quant_bits, meta.quant_acc_bits, {}});
    LOWBIT_REQUIRE(cfg.enabled, "export", "{} was trained in fp32: --qdq needs an integer-trained checkpoint "
                   "(lowbit train --quant hdqt|naive-int|int8); quantize an fp32 export with `lowbit quantize`", checkpoint);
    LOWBIT_REQUIRE(opt.calib_samples >= 1 && opt.calib_batch >= 1, "export", "the calibration set is empty");
    data::DatasetOptions dopt;
    dopt.data_dir = opt.data_dir;
    const data::DatasetSplit split = data::load_dataset(meta.dataset, dopt);  // normalized as in training
    LOWBIT_REQUIRE(split.train.sample_shape() == meta.input_shape, "export", "{} expects inputs {}; data set '{}' has {}",
                   checkpoint, shape_str(meta.input_shape), meta.dataset, shape_str(split.train.sample_shape()));
    rep.layers = to_qdq(g, cfg, split.train, opt);
    g.metadata["lowbit.qdq"] = "weights exact (per-tensor symmetric, training forward quantizer); activation scales "
                               "static from calibration; accumulation exact";
  }
  if (report) *report = std::move(rep);
  return g;
}

}  // namespace lowbit::interop
