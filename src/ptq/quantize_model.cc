// QDQ rewriting (quantize_model.h): plan which tensors and weights to quantize, calibrate the
// activation ranges, insert QuantizeLinear/DequantizeLinear pairs, quantize the weights and
// biases, then measure the SQNR of every quantized tensor against the float model.
#include "lowbit/ptq/quantize_model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "lowbit/core/error.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/passes.h"

namespace lowbit::ptq {
namespace {

using onnx::Array;
using onnx::ElemType;
using onnx::Graph;
using onnx::Node;

bool has_in(const Node& n, size_t i) { return i < n.inputs.size() && n.inputs[i] != onnx::kNoValue; }

int sole_consumer(const Graph& g, int v) {
  const auto& c = g.values[static_cast<size_t>(v)].consumers;
  if (c.size() != 1) return -1;
  for (int o : g.outputs)
    if (o == v) return -1;
  return c[0];
}

bool is_graph_output(const Graph& g, int v) { return std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end(); }

// The weight's output-channel axis for the igemm and ONNX Runtime's per-channel layout.
int64_t weight_axis(const Node& n) {
  if (n.op_type == "Conv") return 0;
  if (n.op_type == "Gemm") return n.attr_i("transB", 0) ? 0 : 1;
  return 1;  // MatMul B is K×N
}

struct Layer {
  int node = -1;
  int in = -1, out = -1;  // activation tensors (out = -1: left float, e.g. a graph output)
};

// Quantizable layers and the activation tensors they need quantized, in topological order.
std::vector<Layer> plan_layers(const Graph& g, const std::set<std::string>& exclude, std::vector<int>* tensors) {
  std::vector<Layer> layers;
  std::set<int> seen;
  auto want = [&](int v) {
    if (v >= 0 && !g.is_constant(v) && seen.insert(v).second) tensors->push_back(v);
  };
  for (int id : g.topo_order()) {
    const Node& n = g.nodes[static_cast<size_t>(id)];
    if (exclude.count(n.name)) continue;
    const bool linear = (n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul") && n.inputs.size() >= 2 &&
                        g.constant(n.inputs[1]) && g.constant(n.inputs[1])->type() == ElemType::f32;
    const bool add = n.op_type == "Add" && n.inputs.size() == 2 && !g.is_constant(n.inputs[0]) && !g.is_constant(n.inputs[1]);
    if (!linear && !add) continue;
    if (n.op_type == "Gemm" && (n.attr_i("transA", 0) || n.attr_f("alpha", 1) != 1 || n.attr_f("beta", 1) != 1)) continue;
    if (linear && n.op_type != "Conv" && g.constant(n.inputs[1])->dim() != 2) continue;
    Layer l{id, n.inputs[0], n.outputs[0]};
    if (const int a = sole_consumer(g, l.out); a >= 0) {
      const Node& act = g.nodes[static_cast<size_t>(a)];
      if (act.op_type == "Relu" || act.op_type == "Clip") l.out = act.outputs[0];
    }
    if (is_graph_output(g, l.out)) l.out = -1;
    want(l.in);
    if (add) want(n.inputs[1]);
    want(l.out);
    layers.push_back(l);
  }
  return layers;
}

struct ActParams {
  float scale = 1;
  uint8_t zp = 0;
};
ActParams act_params(const TensorRange& r) {
  const double lo = std::min<double>(r.lo, 0), hi = std::max<double>(r.hi, 0);
  ActParams p;
  if (hi - lo <= 0) return p;
  p.scale = static_cast<float>((hi - lo) / 255.0);
  p.zp = static_cast<uint8_t>(std::clamp(std::nearbyint(-lo / p.scale), 0.0, 255.0));
  return p;
}

int add_const(Graph& g, const std::string& name, Array a) {
  const int v = g.add_value(name, onnx::ValueType{a.type(), a.shape(), true});
  g.constants[v] = std::move(a);
  return v;
}

// Inserts Q → DQ after tensor v; every reader of v now reads the DQ output.
int insert_qdq(Graph& g, int v, const ActParams& p) {
  const std::string name = g.values[static_cast<size_t>(v)].name;
  const auto readers = g.values[static_cast<size_t>(v)].consumers;
  const int s = add_const(g, name + "_scale", Array::scalar<float>(p.scale));
  const int z = add_const(g, name + "_zero_point", Array::scalar<uint8_t>(p.zp));
  const int qv = g.add_value(name + "_quantized");
  const int dv = g.add_value(name + "_dequantized");
  for (int r : readers)
    for (int& in : g.nodes[static_cast<size_t>(r)].inputs)
      if (in == v) in = dv;
  Node q;
  q.name = name + "_QuantizeLinear";
  q.op_type = "QuantizeLinear";
  q.inputs = {v, s, z};
  q.outputs = {qv};
  g.add_node(std::move(q));
  Node dq;
  dq.name = name + "_DequantizeLinear";
  dq.op_type = "DequantizeLinear";
  dq.inputs = {qv, s, z};
  dq.outputs = {dv};
  g.add_node(std::move(dq));
  g.relink();
  return dv;
}

// DQ(codes, scale, zero) with `axis` for a constant; returns the DQ output.
int add_const_dq(Graph& g, std::string base, Array codes, Array scale, Array zero, int64_t axis) {
  const int c = add_const(g, base + "_quantized", std::move(codes));
  const int s = add_const(g, base + "_scale", std::move(scale));
  const int z = add_const(g, base + "_zero_point", std::move(zero));
  const int out = g.add_value(base + "_dequantized");
  Node dq;
  dq.name = base + "_DequantizeLinear";
  dq.op_type = "DequantizeLinear";
  dq.inputs = {c, s, z};
  dq.outputs = {out};
  if (g.constants[s].numel() > 1) dq.attrs["axis"] = onnx::Attribute::from_int(axis);
  g.add_node(std::move(dq));
  return out;
}

// Symmetric weights of `bits` bits (8, or 4: W4A8) stored as int8 codes in [-q, q],
// q = 2^(bits-1) - 1 (int4 codes in [-7, 7] fit ONNX's int8 type, which lowbit and ONNX Runtime
// both run; lowbit packs them two per byte): per output channel (axis) or one scale, scale =
// amax / q; fills the layer report (precision "w8a8" or "w4a8").
int quantize_weight(Graph& g, Node& n, bool per_channel, LayerReport& rep, std::vector<float>* scales, int bits = 8) {
  LOWBIT_REQUIRE(bits == 8 || bits == 4, "quantize", "weights of {} bits are not supported (8 or 4)", bits);
  const float qmax = bits == 4 ? 7.0f : 127.0f;
  const Array& w = *g.constant(n.inputs[1]);
  const int64_t axis = weight_axis(n);
  const int64_t ch = per_channel ? w.shape()[static_cast<size_t>(axis)] : 1;
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(axis) + 1; d < w.shape().size(); ++d) inner *= w.shape()[d];
  auto chan = [&](int64_t i) { return per_channel ? (i / inner) % ch : 0; };
  std::vector<float> amax(static_cast<size_t>(ch), 0.0f);
  for (int64_t i = 0; i < w.numel(); ++i)
    amax[static_cast<size_t>(chan(i))] = std::max(amax[static_cast<size_t>(chan(i))], std::fabs(w.data<float>()[i]));
  scales->assign(static_cast<size_t>(ch), 1.0f);
  for (int64_t c = 0; c < ch; ++c)
    if (amax[static_cast<size_t>(c)] > 0) (*scales)[static_cast<size_t>(c)] = amax[static_cast<size_t>(c)] / qmax;
  Array codes = Array::empty(ElemType::i8, w.shape());
  for (int64_t i = 0; i < w.numel(); ++i) {
    const float q = std::nearbyint(w.data<float>()[i] / (*scales)[static_cast<size_t>(chan(i))]);
    codes.data<int8_t>()[i] = static_cast<int8_t>(std::clamp(q, -qmax, qmax));
  }
  Array scale = per_channel ? Array::from<float>({ch}, *scales) : Array::scalar<float>((*scales)[0]);
  Array zero = per_channel ? Array::zeros(ElemType::i8, {ch}) : Array::scalar<int8_t>(0);
  rep.precision = bits == 4 ? "w4a8" : "w8a8";
  rep.channels = ch;
  rep.w_scale_min = *std::min_element(scales->begin(), scales->end());
  rep.w_scale_max = *std::max_element(scales->begin(), scales->end());
  const std::string base = g.values[static_cast<size_t>(n.inputs[1])].name;
  return add_const_dq(g, base, std::move(codes), std::move(scale), std::move(zero), axis);
}

// int32 bias in units of x_scale·w_scale[c] (ONNX Runtime's layout).
int quantize_bias(Graph& g, int bias, float x_scale, const std::vector<float>& w_scales) {
  const Array& b = *g.constant(bias);
  const int64_t n = b.numel();
  Array codes = Array::empty(ElemType::i32, {n});
  std::vector<float> s(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    s[static_cast<size_t>(i)] = x_scale * w_scales[w_scales.size() == 1 ? 0 : static_cast<size_t>(i)];
    const double q = std::nearbyint(b.get_f64(i) / s[static_cast<size_t>(i)]);
    codes.data<int32_t>()[i] = static_cast<int32_t>(std::clamp(q, -2147483648.0, 2147483647.0));
  }
  return add_const_dq(g, g.values[static_cast<size_t>(bias)].name, std::move(codes), Array::from<float>({n}, s),
                      Array::zeros(ElemType::i32, {n}), 0);
}

// The tensor whose values `v` merely rearranges (Slice, Pad with zeros, Reshape, ...), or v.
int moved_from(const Graph& g, int v) {
  for (int p = g.values[static_cast<size_t>(v)].producer; p >= 0; p = g.values[static_cast<size_t>(v)].producer) {
    const Node& n = g.nodes[static_cast<size_t>(p)];
    const bool pad0 = n.op_type == "Pad" && n.attr_s("mode", "constant") == "constant" &&
                      (!has_in(n, 2) || (g.constant(n.inputs[2]) && g.constant(n.inputs[2])->get_f64(0) == 0.0));
    if (!pad0 && n.op_type != "Slice" && n.op_type != "Reshape" && n.op_type != "Flatten" && n.op_type != "Transpose" &&
        n.op_type != "Squeeze" && n.op_type != "Unsqueeze")
      break;
    v = n.inputs[0];
  }
  return v;
}

double sqnr_db(const Array& ref, const Array& q) {
  double sig = 0, noise = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double r = ref.get_f64(i), d = r - q.get_f64(i);
    sig += r * r;
    noise += d * d;
  }
  if (noise == 0) return 200.0;
  return 10.0 * std::log10(std::max(sig, 1e-30) / noise);
}

}  // namespace

Graph quantize_model(const Graph& input, const Array& calib, const QuantizeOptions& opt, QuantizeReport* report) {
  LOWBIT_REQUIRE(opt.weight_bits == 8 || opt.weight_bits == 4, "quantize", "--weights int{} is not supported (int8 or int4)",
                 opt.weight_bits);
  Graph g = input;
  onnx::fold_constants(g);
  onnx::fold_batchnorm(g);
  g.remove_dead();
  g.relink();
  const std::set<std::string> exclude(opt.exclude.begin(), opt.exclude.end());
  for (const std::string& name : exclude) {
    const bool found = std::any_of(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return !n.dead && n.name == name; });
    LOWBIT_REQUIRE(found, "quantize", "--exclude names node '{}', which the model does not have", name);
  }
  std::vector<int> tensors;
  const std::vector<Layer> layers = plan_layers(g, exclude, &tensors);
  LOWBIT_REQUIRE(!layers.empty(), "quantize", "the model has no Conv, Gemm, MatMul or Add to quantize");
  const std::vector<TensorRange> ranges = calibrate(g, tensors, calib, opt.calib);
  QuantizeReport rep;
  rep.calib_samples = calib.shape()[0];
  std::map<int, ActParams> params;
  for (size_t i = 0; i < tensors.size(); ++i) params[tensors[i]] = act_params(ranges[i]);
  // A tensor that only rearranges a quantized one (the Slice/Pad shortcut of CIFAR ResNets)
  // shares its parameters: its codes are then the source's codes, moved (passes_qdq.cc).
  for (int t : tensors)
    if (const int src = moved_from(g, t); src != t && params.count(src)) params[t] = params[src];
  // Weights and biases first (node indices stay valid: add_node appends).
  for (const Layer& l : layers) {
    Node& n = g.nodes[static_cast<size_t>(l.node)];
    LayerReport lr{n.name, n.op_type, "w8a8", g.values[static_cast<size_t>(l.in)].name,
                   l.out >= 0 ? g.values[static_cast<size_t>(l.out)].name : "", 0, 0, 0};
    if (n.op_type != "Add") {
      const int64_t out_channels = g.constant(n.inputs[1])->shape()[static_cast<size_t>(weight_axis(n))];
      std::vector<float> ws;
      const int wv = quantize_weight(g, n, opt.per_channel, lr, &ws, opt.weight_bits);
      Node& n2 = g.nodes[static_cast<size_t>(l.node)];  // add_node may have moved the node table
      n2.inputs[1] = wv;
      const Array* b = has_in(n2, 2) ? g.constant(n2.inputs[2]) : nullptr;
      if (b && b->type() == ElemType::f32 && b->dim() == 1 && b->numel() == out_channels) {
        const int bv = quantize_bias(g, n2.inputs[2], params[l.in].scale, ws);  // adds nodes: n2 dangles
        g.nodes[static_cast<size_t>(l.node)].inputs[2] = bv;
      }
    }
    rep.layers.push_back(lr);
  }
  g.relink();
  std::map<int, int> dq_of;
  for (int t : tensors) dq_of[t] = insert_qdq(g, t, params[t]);
  for (const Node& n : g.nodes)
    if (!n.dead && exclude.count(n.name)) rep.layers.push_back(LayerReport{n.name, n.op_type, "fp32", "", "", 0, 0, 0});
  g.remove_dead();  // the float weights and biases nobody reads any more
  g.validate();
  // SQNR on the first calibration batch: float tensors vs their dequantized codes.
  const Array x = batch_rows(calib, 0, std::min<int64_t>(calib.shape()[0], opt.calib.batch));
  Graph fp = input;
  onnx::fold_constants(fp);
  onnx::fold_batchnorm(fp);
  fp.remove_dead();
  Graph qg = g;
  const size_t first = fp.outputs.size();
  for (int t : tensors) {
    fp.outputs.push_back(fp.find_value(g.values[static_cast<size_t>(t)].name));
    qg.outputs.push_back(dq_of[t]);
  }
  const auto ref = onnx::Session(std::move(fp), onnx::SessionOptions{1, 0, true}).run(std::vector<Array>{x});
  const auto got = onnx::Session(std::move(qg), onnx::SessionOptions{1, 0, true}).run(std::vector<Array>{x});
  rep.output_sqnr_db = sqnr_db(ref[0], got[0]);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const int t = tensors[i];
    rep.tensors.push_back(TensorReport{g.values[static_cast<size_t>(t)].name, ranges[i].min, ranges[i].max, ranges[i].lo,
                                       ranges[i].hi, params[t].scale, params[t].zp, sqnr_db(ref[first + i], got[first + i])});
  }
  if (report) *report = std::move(rep);
  return g;
}

}  // namespace lowbit::ptq
