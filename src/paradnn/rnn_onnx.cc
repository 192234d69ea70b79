// ONNX forms of a generated RNN: one fused RNN/LSTM/GRU node per layer, or unrolled over time
// with standard ops (the oracle the fused form is tested against).
#include <map>

#include "lowbit/core/error.h"
#include "rnn_model.h"

namespace lowbit::paradnn {

namespace {

// ONNX gate blocks in the order of PyTorch's blocks: LSTM i o f c <- i f g o; GRU z r h <- r z n.
std::vector<int64_t> onnx_gate_order(int64_t cell) {
  if (cell == 1) return {0, 3, 1, 2};
  if (cell == 2) return {1, 0, 2};
  return {0};
}

onnx::Array reorder_rows(const Tensor& t, const std::vector<int64_t>& order, int64_t H, const Shape& shape) {
  const int64_t cols = t.numel() / (static_cast<int64_t>(order.size()) * H);
  onnx::Array a = onnx::Array::empty(onnx::ElemType::f32, shape);
  for (size_t g = 0; g < order.size(); ++g)
    std::copy_n(t.data<float>() + order[g] * H * cols, H * cols, a.data<float>() + static_cast<int64_t>(g) * H * cols);
  return a;
}

onnx::Graph build_fused(const ModelConfig& c, nn::Module& m) {
  using onnx::Attribute;
  std::map<std::string, Tensor> w;
  for (auto& [name, v] : m.named_parameters()) w[name] = v.value().contiguous();
  auto arr = [](const Tensor& t) { return onnx::Array::from<float>(t.shape(), std::span<const float>(t.data<float>(), t.numel())); };
  const int64_t H = c.get("embedding"), L = c.get("layers"), cell = c.get("cell"), G = rnn_gates(c);
  const auto order = onnx_gate_order(cell);
  onnx::GraphBuilder b(14);
  const int tokens = b.input("tokens", onnx::ElemType::i64, {-1, c.get("length")});
  int x = b.op("Transpose", {b.op("Gather", {b.constant("embedding", arr(w.at("embedding"))), tokens})},
               {{"perm", Attribute::from_ints({1, 0, 2})}});  // (T, N, H)
  const int squeeze_axis = b.constant("axis1", onnx::Array::from<int64_t>({1}, std::vector<int64_t>{1}));
  for (int64_t l = 0; l < L; ++l) {
    const auto p = [&](const char* what) { return w.at(fmt::format("l{}_{}", l, what)); };
    onnx::Array bias = onnx::Array::empty(onnx::ElemType::f32, {1, 2 * G * H});
    const onnx::Array bi = reorder_rows(p("b_ih"), order, H, {G * H}), bh = reorder_rows(p("b_hh"), order, H, {G * H});
    std::copy_n(bi.data<float>(), G * H, bias.data<float>());
    std::copy_n(bh.data<float>(), G * H, bias.data<float>() + G * H);
    onnx::Attributes attrs = {{"hidden_size", Attribute::from_int(H)}};
    if (cell == 2) attrs["linear_before_reset"] = Attribute::from_int(1);
    const int y = b.op(cell == 0 ? "RNN" : cell == 1 ? "LSTM" : "GRU",
                       {x, b.constant(fmt::format("l{}_W", l), reorder_rows(p("w_ih"), order, H, {1, G * H, H})),
                        b.constant(fmt::format("l{}_R", l), reorder_rows(p("w_hh"), order, H, {1, G * H, H})),
                        b.constant(fmt::format("l{}_B", l), bias)},
                       attrs);                       // Y (T, 1, N, H)
    x = b.op("Squeeze", {y, squeeze_axis});          // (T, N, H)
  }
  const int flat = b.op("Reshape", {x, b.constant("rows", onnx::Array::from<int64_t>({2}, std::vector<int64_t>{-1, H}))});
  b.output(b.op("Gemm", {flat, b.constant("out.weight", arr(w.at("out.weight"))), b.constant("out.bias", arr(w.at("out.bias")))},
                {{"transB", Attribute::from_int(1)}}),
           "logits");
  onnx::Graph g = b.finish();
  g.name = "paradnn_rnn";
  return g;
}

}  // namespace

onnx::Graph build_rnn_onnx(const ModelConfig& c, nn::Module& m, bool fused) {
  if (fused) return build_fused(c, m);
  using onnx::Attribute;
  std::map<std::string, Tensor> w;
  for (auto& [name, v] : m.named_parameters()) w[name] = v.value().contiguous();
  onnx::GraphBuilder b(17);
  auto weight = [&](const std::string& name) {
    auto it = w.find(name);
    if (it == w.end()) throw InternalError(fmt::format("[paradnn onnx] rnn module has no parameter '{}'", name));
    return b.constant(name, onnx::Array::from<float>(it->second.shape(), std::span<const float>(it->second.data<float>(), it->second.numel())));
  };
  auto i64 = [&](const std::string& name, std::vector<int64_t> v) {
    return b.constant(name, onnx::Array::from<int64_t>({static_cast<int64_t>(v.size())}, std::span<const int64_t>(v)));
  };
  const int64_t H = c.get("embedding"), T = c.get("length"), L = c.get("layers"), cell = c.get("cell");
  const int tokens = b.input("tokens", onnx::ElemType::i64, {-1, T});
  const int seq = b.op("Gather", {weight("embedding"), tokens});  // (N, T, H)
  const int axis1 = i64("axis1", {1});
  std::vector<int> wih(static_cast<size_t>(L)), whh = wih, bih = wih, bhh = wih;
  for (int64_t l = 0; l < L; ++l) {
    wih[l] = weight(fmt::format("l{}_w_ih", l)), whh[l] = weight(fmt::format("l{}_w_hh", l));
    bih[l] = weight(fmt::format("l{}_b_ih", l)), bhh[l] = weight(fmt::format("l{}_b_hh", l));
  }
  auto gemm = [&](int x, int wt, int bias) { return b.op("Gemm", {x, wt, bias}, {{"transB", Attribute::from_int(1)}}); };
  auto gate = [&](int g, int64_t k) {
    return b.op("Slice", {g, i64(fmt::format("s{}_{}", k, b.graph().values.size()), {k * H}),
                          i64(fmt::format("e{}_{}", k, b.graph().values.size()), {(k + 1) * H}), axis1});
  };
  std::vector<int> h(static_cast<size_t>(L), -1), cs = h, tops;
  for (int64_t t = 0; t < T; ++t) {
    const int step = b.constant(fmt::format("t{}", t), onnx::Array::scalar<int64_t>(t));
    int x = b.op("Gather", {seq, step}, {{"axis", Attribute::from_int(1)}});  // (N, H)
    for (int64_t l = 0; l < L; ++l) {
      const int gi = gemm(x, wih[l], bih[l]);
      // Step 0 starts from h = 0, where h W_hh^T + b_hh is just b_hh.
      const int gh = h[l] < 0 ? b.op("Add", {b.op("Mul", {gi, b.constant(fmt::format("zero{}_{}", t, l), onnx::Array::scalar<float>(0))}), bhh[l]})
                              : gemm(h[l], whh[l], bhh[l]);
      if (cell == 0) {
        h[l] = b.op("Tanh", {b.op("Add", {gi, gh})});
      } else if (cell == 1) {
        const int g = b.op("Add", {gi, gh});
        const int ig = b.op("Sigmoid", {gate(g, 0)}), fg = b.op("Sigmoid", {gate(g, 1)});
        const int cand = b.op("Tanh", {gate(g, 2)}), og = b.op("Sigmoid", {gate(g, 3)});
        const int keep = b.op("Mul", {ig, cand});
        cs[l] = cs[l] < 0 ? keep : b.op("Add", {b.op("Mul", {fg, cs[l]}), keep});
        h[l] = b.op("Mul", {og, b.op("Tanh", {cs[l]})});
      } else {
        const int r = b.op("Sigmoid", {b.op("Add", {gate(gi, 0), gate(gh, 0)})});
        const int z = b.op("Sigmoid", {b.op("Add", {gate(gi, 1), gate(gh, 1)})});
        const int n = b.op("Tanh", {b.op("Add", {gate(gi, 2), b.op("Mul", {r, gate(gh, 2)})})});
        const int prev = h[l] < 0 ? b.op("Mul", {n, b.constant(fmt::format("zeroh{}_{}", t, l), onnx::Array::scalar<float>(0))}) : h[l];
        h[l] = b.op("Add", {n, b.op("Mul", {z, b.op("Sub", {prev, n})})});
      }
      x = h[l];
    }
    tops.push_back(x);
  }
  const int all = T == 1 ? tops[0] : b.op("Concat", tops, {{"axis", Attribute::from_int(0)}});
  b.output(gemm(all, weight("out.weight"), weight("out.bias")), "logits");
  onnx::Graph g = b.finish();
  g.name = "paradnn_rnn";
  return g;
}

}  // namespace lowbit::paradnn
