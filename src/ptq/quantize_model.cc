// QDQ rewriting (quantize_model.h): plan which tensors and weights to quantize, calibrate the
// activation ranges, insert QuantizeLinear/DequantizeLinear pairs, quantize the weights and
// biases, then measure the SQNR of every quantized tensor against the float model.
#include "lowbit/ptq/quantize_model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "lowbit/core/error.h"
#include "lowbit/kernels/bf16.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/passes.h"

namespace lowbit::ptq {
namespace {

using onnx::Array;
using onnx::ElemType;
using onnx::Graph;
using onnx::Node;
using Shape = std::vector<int64_t>;

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
  int in_b = -1;          // MatMul of two activations: its second input
};

// Quantizable layers and the activation tensors they need quantized, in topological order.
std::vector<Layer> plan_layers(const Graph& g, const std::set<std::string>& exclude, std::vector<int>* tensors, bool act_matmul) {
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
    const bool act_act = act_matmul && n.op_type == "MatMul" && n.inputs.size() == 2 && !g.is_constant(n.inputs[0]) &&
                         !g.is_constant(n.inputs[1]);
    if (!linear && !add && !act_act) continue;
    if (n.op_type == "Gemm" && (n.attr_i("transA", 0) || n.attr_f("alpha", 1) != 1 || n.attr_f("beta", 1) != 1)) continue;
    if (linear && n.op_type != "Conv" && g.constant(n.inputs[1])->dim() != 2) continue;
    Layer l{id, n.inputs[0], n.outputs[0]};
    if (const int a = sole_consumer(g, l.out); a >= 0) {
      const Node& act = g.nodes[static_cast<size_t>(a)];
      if (act.op_type == "Relu" || act.op_type == "Clip") l.out = act.outputs[0];
    }
    if (is_graph_output(g, l.out)) l.out = -1;
    // A product of two activations keeps a float result: its readers (the attention scale and
    // Softmax; P·V's Transpose/Reshape into the output projection, which quantizes its own
    // input) are float, so a Q/DQ pair there would only add a rounding and two passes.
    if (act_act) l.out = -1;
    want(l.in);
    if (add || act_act) want(n.inputs[1]);
    if (act_act) l.in_b = n.inputs[1];
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
// amax / q or the MSE-clipped one (weight_range.h); fills the layer report (precision "w8a8" or "w4a8").
// The input channel (of the layer's input tensor, along the axis plan_qdq collects moments on)
// that weight element i multiplies; -1 if the layout is not one of the planned ones.
int64_t input_channel(const Node& n, const Shape& ws, int64_t i) {
  if (n.op_type == "Conv" && ws.size() >= 3) {
    int64_t spatial = 1;
    for (size_t d = 2; d < ws.size(); ++d) spatial *= ws[d];
    const int64_t cg = ws[1], per_group = ws[0] / std::max<int64_t>(1, n.attr_i("group", 1));
    const int64_t o = i / (cg * spatial);
    return (per_group > 0 ? o / per_group : 0) * cg + (i / spatial) % cg;
  }
  if (ws.size() != 2) return -1;
  if (n.op_type == "Gemm" && n.attr_i("transB", 0)) return i % ws[1];  // B is (N, K)
  return i / ws[1];                                                   // Gemm/MatMul B is (K, N)
}

// Channel axis of a layer's input for its per-channel moments (the K axis of the product).
int input_channel_axis(const Node& n) {
  if (n.op_type == "Conv") return 1;
  if (n.op_type == "Gemm") return n.attr_i("transA", 0) ? 0 : 1;
  return kLastAxis;
}

int quantize_weight(Graph& g, Node& n, bool per_channel, LayerReport& rep, std::vector<float>* scales, int bits,
                    WeightRange range, const TensorRange* input = nullptr) {
  LOWBIT_REQUIRE(bits == 8 || bits == 4, "quantize", "weights of {} bits are not supported (8 or 4)", bits);
  const float qmax = bits == 4 ? 7.0f : 127.0f;
  const Array& w = *g.constant(n.inputs[1]);
  const int64_t axis = weight_axis(n);
  const int64_t ch = per_channel ? w.shape()[static_cast<size_t>(axis)] : 1;
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(axis) + 1; d < w.shape().size(); ++d) inner *= w.shape()[d];
  auto chan = [&](int64_t i) { return per_channel ? (i / inner) % ch : 0; };
  // act-mse: each weight's squared error counts with its input channel's E[x^2].
  const bool weighted = range == WeightRange::act_mse && input && !input->sq.empty();
  std::vector<std::vector<float>> values(static_cast<size_t>(ch));
  std::vector<std::vector<double>> importance(weighted ? static_cast<size_t>(ch) : 0);
  for (int64_t i = 0; i < w.numel(); ++i) {
    values[static_cast<size_t>(chan(i))].push_back(w.data<float>()[i]);
    if (!weighted) continue;
    const int64_t k = input_channel(n, w.shape(), i);
    importance[static_cast<size_t>(chan(i))].push_back(k >= 0 && k < static_cast<int64_t>(input->sq.size()) ? input->sq[static_cast<size_t>(k)] : 1.0);
  }
  scales->assign(static_cast<size_t>(ch), 1.0f);
  for (int64_t c = 0; c < ch; ++c)
    (*scales)[static_cast<size_t>(c)] =
        weight_scale(values[static_cast<size_t>(c)], qmax, range, weighted ? &importance[static_cast<size_t>(c)] : nullptr);
  Array codes = Array::empty(ElemType::i8, w.shape());
  quantize_weight_codes(w.numel(), w.data<float>(), ch, per_channel ? inner : w.numel(), scales->data(),
                        static_cast<int32_t>(qmax), codes.data<int8_t>());
  Array scale = per_channel ? Array::from<float>({ch}, *scales) : Array::scalar<float>((*scales)[0]);
  Array zero = per_channel ? Array::zeros(ElemType::i8, {ch}) : Array::scalar<int8_t>(0);
  rep.precision = bits == 4 ? "w4a8" : "w8a8";
  rep.channels = ch;
  rep.w_scale_min = *std::min_element(scales->begin(), scales->end());
  rep.w_scale_max = *std::max_element(scales->begin(), scales->end());
  const std::string base = g.values[static_cast<size_t>(n.inputs[1])].name;
  return add_const_dq(g, base, std::move(codes), std::move(scale), std::move(zero), axis);
}

// Group-wise int4 weights of a MatMul/Gemm (QuantizeOptions::group_size): one symmetric scale
// per G consecutive k of each output channel (the weight range method on the group's values,
// unweighted), codes in [-7, 7] by the same quantizer, written as DequantizeLinear-21 with
// block_size G along K. Returns the DQ output.
int quantize_weight_grouped(Graph& g, const Node& n, int64_t G, LayerReport& rep, WeightRange range) {
  const Array& w = *g.constant(n.inputs[1]);
  const bool nk = n.op_type == "Gemm" && n.attr_i("transB", 0);  // B is (N, K), else (K, N)
  const int64_t K = w.shape()[nk ? 1 : 0], N = w.shape()[nk ? 0 : 1], groups = (K + G - 1) / G;
  auto at = [&](int64_t k, int64_t j) { return nk ? j * K + k : k * N + j; };
  const Shape sshape = nk ? Shape{N, groups} : Shape{groups, N};
  Array scale = Array::empty(ElemType::f32, sshape);
  Array codes = Array::empty(ElemType::i8, w.shape());
  std::vector<float> vals;
  std::vector<int8_t> q;
  for (int64_t j = 0; j < N; ++j)
    for (int64_t gi = 0; gi < groups; ++gi) {
      vals.clear();
      for (int64_t k = gi * G; k < std::min(K, (gi + 1) * G); ++k) vals.push_back(w.data<float>()[at(k, j)]);
      const float s = weight_scale(vals, 7.0f, range == WeightRange::act_mse ? WeightRange::mse : range);
      scale.data<float>()[nk ? j * groups + gi : gi * N + j] = s;
      q.resize(vals.size());
      quantize_weight_codes(static_cast<int64_t>(vals.size()), vals.data(), 1, static_cast<int64_t>(vals.size()), &s, 7, q.data());
      for (int64_t k = gi * G; k < std::min(K, (gi + 1) * G); ++k) codes.data<int8_t>()[at(k, j)] = q[static_cast<size_t>(k - gi * G)];
    }
  rep.precision = "w4a8";
  rep.channels = N * groups;
  const float* sp = scale.data<float>();
  rep.w_scale_min = *std::min_element(sp, sp + scale.numel());
  rep.w_scale_max = *std::max_element(sp, sp + scale.numel());
  const std::string base = g.values[static_cast<size_t>(n.inputs[1])].name;
  Array zero = Array::zeros(ElemType::i8, sshape);
  const int out = add_const_dq(g, base, std::move(codes), std::move(scale), std::move(zero), nk ? 1 : 0);
  Node& dq = g.nodes[static_cast<size_t>(g.values[static_cast<size_t>(out)].producer)];
  dq.attrs["axis"] = onnx::Attribute::from_int(nk ? 1 : 0);
  dq.attrs["block_size"] = onnx::Attribute::from_int(G);
  return out;
}

// Bias correction (Nagel et al. 2019, empirical form): the quantized weights shift the layer's
// expected output by dW·E[x] (E[x] per input channel from calibration; a conv's zero padding is
// taken to hold the channel mean too). The float bias absorbs -shift before it is quantized; a
// Conv or Gemm without bias gets one. MatMul has no bias input: left as is (returns false).
bool correct_bias(Graph& g, int node_id, const Array& w, int wv, const std::vector<float>& ws, const TensorRange& in) {
  const Node& n = g.nodes[static_cast<size_t>(node_id)];
  if (n.op_type == "MatMul" || in.mean.empty()) return false;
  const double alpha = n.op_type == "Gemm" ? n.attr_f("alpha", 1.0f) : 1.0, beta = n.op_type == "Gemm" ? n.attr_f("beta", 1.0f) : 1.0;
  if (beta == 0) return false;
  const Node& dq = g.nodes[static_cast<size_t>(g.values[static_cast<size_t>(wv)].producer)];
  const Array& codes = *g.constant(dq.inputs[0]);
  const Shape& s = w.shape();
  const int64_t axis = weight_axis(n), out_ch = s[static_cast<size_t>(axis)];
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(axis) + 1; d < s.size(); ++d) inner *= s[d];
  std::vector<double> shift(static_cast<size_t>(out_ch), 0.0);
  for (int64_t i = 0; i < w.numel(); ++i) {
    const int64_t o = (i / inner) % out_ch, k = input_channel(n, s, i);
    if (k < 0 || k >= static_cast<int64_t>(in.mean.size())) return false;
    const float scale = ws[ws.size() == 1 ? 0 : static_cast<size_t>(o)];
    shift[static_cast<size_t>(o)] += (static_cast<double>(codes.data<int8_t>()[i]) * scale - w.data<float>()[i]) * in.mean[static_cast<size_t>(k)];
  }
  const Array* b = has_in(n, 2) ? g.constant(n.inputs[2]) : nullptr;
  if (has_in(n, 2) && (!b || b->type() != ElemType::f32 || b->dim() != 1 || b->numel() != out_ch)) return false;
  Array nb = Array::empty(ElemType::f32, {out_ch});
  for (int64_t o = 0; o < out_ch; ++o)
    nb.data<float>()[o] = static_cast<float>((b ? b->get_f64(o) : 0.0) - alpha * shift[static_cast<size_t>(o)] / beta);
  const std::string base = n.name.empty() ? "layer" + std::to_string(node_id) : n.name;
  const int bv = add_const(g, base + "_bias_corrected", std::move(nb));
  Node& n2 = g.nodes[static_cast<size_t>(node_id)];
  n2.inputs.resize(std::max<size_t>(n2.inputs.size(), 3), onnx::kNoValue);
  n2.inputs[2] = bv;
  return true;
}

// A bf16 layer in the file: its weight stored as a bfloat16 initializer read through
// Cast(to=FLOAT), its input through Cast(to=BFLOAT16) -> Cast(to=FLOAT). ONNX Runtime runs
// that as the float simulation; lowbit lowers it to bf16 kernels (onnx::lower_bf16).
int add_cast(Graph& g, int in, ElemType to, const std::string& name) {
  const int out = g.add_value(name);
  Node c;
  c.name = name;
  c.op_type = "Cast";
  c.inputs = {in};
  c.outputs = {out};
  c.attrs["to"] = onnx::Attribute::from_int(static_cast<int64_t>(to));
  g.add_node(std::move(c));
  return out;
}

void to_bf16(Graph& g, int node_id) {
  const Node& n = g.nodes[static_cast<size_t>(node_id)];
  const std::string base = n.name.empty() ? "layer" + std::to_string(node_id) : n.name;
  const Array& w = *g.constant(n.inputs[1]);
  Array wb = Array::empty(ElemType::bf16, w.shape());
  for (int64_t i = 0; i < w.numel(); ++i) wb.data<uint16_t>()[i] = onnx::float_to_bf16(w.data<float>()[i]);
  const int x = n.inputs[0];
  const int wv = add_cast(g, add_const(g, g.values[static_cast<size_t>(n.inputs[1])].name + "_bf16", std::move(wb)), ElemType::f32,
                          base + "_weight_float");
  const int xv = add_cast(g, add_cast(g, x, ElemType::bf16, base + "_input_bf16"), ElemType::f32, base + "_input_float");
  Node& n2 = g.nodes[static_cast<size_t>(node_id)];  // add_node may have moved the node table
  n2.inputs[0] = xv;
  n2.inputs[1] = wv;
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

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::bf16: return "bf16";
    case Precision::int8: return "int8";
    case Precision::w4a8: return "w4a8";
  }
  return "?";
}

Precision parse_precision(const std::string& s) {
  for (Precision p : {Precision::fp32, Precision::bf16, Precision::int8, Precision::w4a8})
    if (s == precision_name(p)) return p;
  throw ValueError(fmt::format("[ptq] unknown precision '{}' (expected fp32, bf16, int8 or w4a8)", s));
}

double weight_bytes_per_value(Precision p) {
  return p == Precision::fp32 ? 4.0 : p == Precision::bf16 ? 2.0 : p == Precision::int8 ? 1.0 : 0.5;
}

std::string precision_unavailable(Precision p) {
  // Detected, not assumed: without AVX512-BF16 oneDNN emulates bf16, slower than fp32.
  if (p == Precision::bf16 && !kernels::bf16_native()) return "bf16: this CPU has no AVX512-BF16 instructions";
  return "";
}

QdqPlan plan_qdq(const Graph& input, const InputBatch& calib, const QuantizeOptions& opt) {
  QdqPlan plan;
  plan.opt = opt;
  Graph& g = plan.graph;
  g = input;
  onnx::fold_constants(g);
  onnx::fold_batchnorm(g);
  g.remove_dead();
  g.relink();
  const std::set<std::string> exclude(opt.exclude.begin(), opt.exclude.end());
  for (const std::string& name : exclude) {
    const bool found = std::any_of(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return !n.dead && n.name == name; });
    LOWBIT_REQUIRE(found, "quantize", "--exclude names node '{}', which the model does not have", name);
  }
  // Every Conv/Gemm/MatMul is a layer (exclusion is a config choice); excluded Adds stay float.
  const std::vector<Layer> all = plan_layers(g, {}, &plan.tensors, opt.act_matmul);
  for (const Layer& l : all) {
    const Node& n = g.nodes[static_cast<size_t>(l.node)];
    if (n.op_type == "Add") {
      if (!exclude.count(n.name)) plan.adds.push_back(l.node);
      continue;
    }
    plan.layers.push_back(QuantLayer{n.name, n.op_type, l.node, l.in, l.out, l.in_b >= 0 ? 0 : g.constant(n.inputs[1])->numel(), l.in_b});
  }
  LOWBIT_REQUIRE(!plan.layers.empty(), "quantize", "the model has no Conv, Gemm or MatMul to quantize");
  // Per-channel input moments, for act-mse weight ranges and bias correction.
  std::vector<int> axes;
  if (opt.weight_range == WeightRange::act_mse || opt.bias_correction) {
    axes.assign(plan.tensors.size(), kNoMoments);
    for (const QuantLayer& l : plan.layers)
      for (size_t i = 0; i < plan.tensors.size(); ++i)
        if (plan.tensors[i] == l.in) axes[i] = input_channel_axis(g.nodes[static_cast<size_t>(l.node_id)]);
  }
  plan.ranges = calibrate(g, plan.tensors, calib, opt.calib, axes);
  plan.calib_samples = calib.samples();
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    const ActParams p = act_params(plan.ranges[i]);
    plan.act[plan.tensors[i]] = {p.scale, p.zp};
  }
  // A tensor that only rearranges a quantized one (the Slice/Pad shortcut of CIFAR ResNets)
  // shares its parameters: its codes are then the source's codes, moved (passes_qdq.cc).
  for (int t : plan.tensors)
    if (const int src = moved_from(g, t); src != t && plan.act.count(src)) plan.act[t] = plan.act[src];
  return plan;
}

Graph build_qdq(const QdqPlan& plan, const LayerConfig& config, std::map<int, int>* dq_of, std::vector<LayerReport>* reports) {
  LOWBIT_REQUIRE(config.size() == plan.layers.size(), "ptq", "the configuration has {} layers but the model has {}", config.size(),
                 plan.layers.size());
  for (Precision p : config)
    if (const std::string why = precision_unavailable(p); !why.empty() && p != Precision::fp32)
      throw ValueError("[ptq] precision " + why);
  Graph g = plan.graph;
  auto act = [&](int v) {
    const auto& a = plan.act.at(v);
    return ActParams{a.first, static_cast<uint8_t>(a.second)};
  };
  // Which activations to quantize: inputs and outputs of quantized layers, then Adds whose
  // inputs both are (in topological order, so an Add feeding an Add is settled first).
  std::set<int> quantized;
  for (size_t i = 0; i < config.size(); ++i) {
    if (config[i] == Precision::fp32 || config[i] == Precision::bf16) continue;
    quantized.insert(plan.layers[i].in);
    if (plan.layers[i].act_act()) quantized.insert(plan.layers[i].in_b);
    if (plan.layers[i].out >= 0) quantized.insert(plan.layers[i].out);
  }
  auto is_q = [&](int v) { return quantized.count(v) || quantized.count(moved_from(g, v)); };
  std::vector<int> q_adds;
  for (int id : plan.adds) {
    const Node& n = g.nodes[static_cast<size_t>(id)];
    if (!is_q(n.inputs[0]) || !is_q(n.inputs[1])) continue;
    q_adds.push_back(id);
    quantized.insert(n.inputs[0]);
    quantized.insert(n.inputs[1]);
    int out = n.outputs[0];
    if (const int a = sole_consumer(g, out); a >= 0 && g.nodes[static_cast<size_t>(a)].op_type == "Relu") out = g.nodes[static_cast<size_t>(a)].outputs[0];
    if (!is_graph_output(g, out)) quantized.insert(out);
  }
  std::map<int, const TensorRange*> range_of;  // calibrated tensor -> its range and moments
  for (size_t i = 0; i < plan.tensors.size() && i < plan.ranges.size(); ++i) range_of[plan.tensors[i]] = &plan.ranges[i];
  // Weights and biases first (node indices stay valid: add_node appends).
  bool grouped = false;
  for (size_t i = 0; i < config.size(); ++i) {
    const QuantLayer& l = plan.layers[i];
    LayerReport lr{l.node, l.op, precision_name(config[i]), g.values[static_cast<size_t>(l.in)].name,
                   l.out >= 0 ? g.values[static_cast<size_t>(l.out)].name : "", 0, 0, 0};
    if (l.act_act()) {
      // No weights: the inputs' Q/DQ pairs (inserted below) are the whole layer.
      lr.precision = config[i] == Precision::fp32 || config[i] == Precision::bf16 ? "fp32" : "a8a8";
    } else if (config[i] == Precision::bf16) {
      to_bf16(g, l.node_id);
    } else if (config[i] != Precision::fp32) {
      Node& n = g.nodes[static_cast<size_t>(l.node_id)];
      const int64_t out_channels = g.constant(n.inputs[1])->shape()[static_cast<size_t>(weight_axis(n))];
      std::vector<float> ws;
      const int bits = config[i] == Precision::w4a8 ? 4 : 8;
      const TensorRange* in = range_of.count(l.in) ? range_of[l.in] : nullptr;
      const Array w_float = plan.opt.bias_correction ? *g.constant(n.inputs[1]) : Array();
      if (bits == 4 && plan.opt.group_size > 0 && n.op_type != "Conv") {
        const int wv = quantize_weight_grouped(g, n, plan.opt.group_size, lr, plan.opt.weight_range);
        g.nodes[static_cast<size_t>(l.node_id)].inputs[1] = wv;  // the float bias stays: no per-channel scale
        grouped = true;
        if (reports) reports->push_back(lr);
        continue;
      }
      const int wv = quantize_weight(g, n, plan.opt.per_channel, lr, &ws, bits, plan.opt.weight_range, in);
      g.nodes[static_cast<size_t>(l.node_id)].inputs[1] = wv;  // add_node may have moved the node table
      if (plan.opt.bias_correction && in) lr.bias_corrected = correct_bias(g, l.node_id, w_float, wv, ws, *in);
      Node& n2 = g.nodes[static_cast<size_t>(l.node_id)];
      const Array* b = has_in(n2, 2) ? g.constant(n2.inputs[2]) : nullptr;
      if (b && b->type() == ElemType::f32 && b->dim() == 1 && b->numel() == out_channels) {
        // quantize_bias adds nodes (the node table may move): index it again afterwards.
        const int bq = quantize_bias(g, n2.inputs[2], act(l.in).scale, ws);
        g.nodes[static_cast<size_t>(l.node_id)].inputs[2] = bq;
      }
    }
    if (reports) reports->push_back(lr);
  }
  if (reports)
    for (int id : q_adds) {
      const Node& n = g.nodes[static_cast<size_t>(id)];
      reports->push_back(LayerReport{n.name, n.op_type, "w8a8", g.values[static_cast<size_t>(n.inputs[0])].name, "", 0, 0, 0});
    }
  g.relink();
  std::map<int, int> dq;
  for (int t : plan.tensors)  // plan order: deterministic names and node order
    if (quantized.count(t)) dq[t] = insert_qdq(g, t, act(t));
  g.remove_dead();  // the float weights and biases nobody reads any more
  if (grouped) onnx::upgrade_to_opset21(g, "quantize --group-size");
  g.validate();
  if (dq_of) *dq_of = std::move(dq);
  return g;
}

Array quantized_weight(const QdqPlan& plan, size_t layer, Precision p) {
  Graph g = plan.graph;
  LOWBIT_REQUIRE(!plan.layers.at(layer).act_act(), "ptq", "layer '{}' multiplies two activations: it has no weight",
                 plan.layers.at(layer).node);
  Node& n = g.nodes[static_cast<size_t>(plan.layers.at(layer).node_id)];
  const Array w = *g.constant(n.inputs[1]);
  if (p == Precision::fp32) return w;
  if (p == Precision::bf16) {
    Array r = w.clone();
    kernels::round_to_bf16(r.numel(), r.data<float>(), r.data<float>());
    return r;
  }
  LOWBIT_REQUIRE(p == Precision::int8 || p == Precision::w4a8, "ptq", "no weight quantizer for {}", precision_name(p));
  const int64_t axis = weight_axis(n);
  LayerReport lr;
  std::vector<float> ws;
  const int bits = p == Precision::w4a8 ? 4 : 8;
  const TensorRange* in = nullptr;
  for (size_t i = 0; i < plan.tensors.size() && i < plan.ranges.size(); ++i)
    if (plan.tensors[i] == plan.layers.at(layer).in) in = &plan.ranges[i];
  const int dv = quantize_weight(g, n, plan.opt.per_channel, lr, &ws, bits, plan.opt.weight_range, in);
  const Node& dq = g.nodes[static_cast<size_t>(g.values[static_cast<size_t>(dv)].producer)];
  const Array& codes = *g.constant(dq.inputs[0]);
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(axis) + 1; d < w.shape().size(); ++d) inner *= w.shape()[d];
  const int64_t ch = static_cast<int64_t>(ws.size());
  Array out = Array::empty(ElemType::f32, w.shape());
  for (int64_t i = 0; i < w.numel(); ++i)
    out.data<float>()[i] = static_cast<float>(codes.data<int8_t>()[i]) * ws[static_cast<size_t>(ch == 1 ? 0 : (i / inner) % ch)];
  return out;
}

std::string config_key(const LayerConfig& config) {
  std::string k;
  for (Precision p : config) k += p == Precision::fp32 ? 'F' : p == Precision::bf16 ? 'B' : p == Precision::int8 ? '8' : '4';
  return k;
}

Graph quantize_model(const Graph& input, const InputBatch& calib, const QuantizeOptions& opt, QuantizeReport* report) {
  LOWBIT_REQUIRE(opt.weight_bits == 8 || opt.weight_bits == 4, "quantize", "--weights int{} is not supported (int8 or int4)",
                 opt.weight_bits);
  LOWBIT_REQUIRE(opt.group_size == 0 || (opt.weight_bits == 4 && opt.group_size >= 8 && opt.group_size % 8 == 0 &&
                                         opt.group_size <= 65536),
                 "quantize", "--group-size {} needs --weights int4 and a multiple of 8 from 8 to 65536", opt.group_size);
  const QdqPlan plan = plan_qdq(input, calib, opt);
  const std::set<std::string> exclude(opt.exclude.begin(), opt.exclude.end());
  LayerConfig config;
  for (const QuantLayer& l : plan.layers)
    config.push_back(exclude.count(l.node) ? Precision::fp32 : opt.weight_bits == 4 && !l.act_act() ? Precision::w4a8 : Precision::int8);
  if (!opt.config_json.empty()) config = config_from_json(plan, opt.config_json);
  std::map<int, int> dq_of;
  QuantizeReport rep;
  Graph g = build_qdq(plan, config, &dq_of, &rep.layers);
  rep.calib_samples = plan.calib_samples;
  std::stable_partition(rep.layers.begin(), rep.layers.end(), [](const LayerReport& l) { return l.precision != "fp32"; });
  // SQNR on the first calibration batch: float tensors vs their dequantized codes.
  const std::vector<Array> x = calib.rows(0, std::min<int64_t>(calib.samples(), opt.calib.batch)).arrays;
  Graph fp = plan.graph;
  Graph qg = g;
  const size_t first = fp.outputs.size();
  std::vector<size_t> range_of;
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    if (!dq_of.count(plan.tensors[i])) continue;
    fp.outputs.push_back(plan.tensors[i]);
    qg.outputs.push_back(dq_of[plan.tensors[i]]);
    range_of.push_back(i);
  }
  const auto ref = onnx::Session(std::move(fp), onnx::SessionOptions{1, 0, true}).run(x);
  const auto got = onnx::Session(std::move(qg), onnx::SessionOptions{1, 0, true}).run(x);
  rep.output_sqnr_db = sqnr_db(ref[0], got[0]);
  for (size_t k = 0; k < range_of.size(); ++k) {
    const size_t i = range_of[k];
    const int t = plan.tensors[i];
    const auto& a = plan.act.at(t);
    rep.tensors.push_back(TensorReport{plan.graph.values[static_cast<size_t>(t)].name, plan.ranges[i].min, plan.ranges[i].max,
                                       plan.ranges[i].lo, plan.ranges[i].hi, a.first, a.second,
                                       sqnr_db(ref[first + k], got[first + k])});
  }
  if (report) *report = std::move(rep);
  return g;
}

}  // namespace lowbit::ptq
