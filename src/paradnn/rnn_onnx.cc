// ONNX form of a generated RNN, unrolled over time with standard ops so that lowbit's engine
// and ONNX Runtime run the same graph (the fused ONNX RNN/LSTM/GRU ops are not used).
#include <map>

#include "lowbit/core/error.h"
#include "rnn_model.h"

namespace lowbit::paradnn {

onnx::Graph build_rnn_onnx(const ModelConfig& c, nn::Module& m) {
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
