// Small QDQ models in ONNX Runtime's layout (uint8 activations per tensor, int8 weights per
// output channel, float bias) built with GraphBuilder, for the integer-execution tests.
#pragma once

#include <cmath>
#include <string>

#include "lowbit/core/rng.h"
#include "lowbit/onnx/ir.h"

namespace lowbit::onnx::test {

inline Array random_f32(const Shape& s, uint64_t stream, float mul = 1.0f) {
  Array a = Array::empty(ElemType::f32, s);
  normal_fill(41, stream, 0, a.numel(), a.data<float>());
  for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] *= mul;
  return a;
}

// int8 codes in [-127, 127] and a per-channel scale that makes the real weights ~ 1/sqrt(K).
struct QWeight {
  Array codes, scale;
};
inline QWeight random_qweight(const Shape& s, int64_t axis, uint64_t stream) {
  QWeight w{Array::empty(ElemType::i8, s), Array()};
  const Array r = random_f32(s, stream);
  for (int64_t i = 0; i < r.numel(); ++i)
    w.codes.data<int8_t>()[i] = static_cast<int8_t>(std::clamp(std::nearbyint(r.data<float>()[i] * 40.0f), -127.0f, 127.0f));
  const int64_t ch = s[static_cast<size_t>(axis)], K = r.numel() / ch;
  w.scale = Array::empty(ElemType::f32, {ch});
  for (int64_t c = 0; c < ch; ++c) w.scale.data<float>()[c] = (1.0f + 0.1f * static_cast<float>(c % 5)) / (40.0f * std::sqrt(float(K)));
  return w;
}

class QdqBuilder {
 public:
  GraphBuilder b;
  int q(int x, float scale, int zp, const std::string& name) {
    const int s = b.constant(name + "_s", Array::scalar<float>(scale));
    const int z = b.constant(name + "_z", Array::scalar<uint8_t>(static_cast<uint8_t>(zp)));
    return b.op("QuantizeLinear", {x, s, z}, {}, 1, name + "_q");
  }
  int dq(int xq, float scale, int zp, const std::string& name) {
    const int s = b.constant(name + "_ds", Array::scalar<float>(scale));
    const int z = b.constant(name + "_dz", Array::scalar<uint8_t>(static_cast<uint8_t>(zp)));
    return b.op("DequantizeLinear", {xq, s, z}, {}, 1, name + "_dq");
  }
  int qdq(int x, float scale, int zp, const std::string& name) { return dq(q(x, scale, zp, name), scale, zp, name); }
  int weight(const QWeight& w, int64_t axis, const std::string& name) {
    const int c = b.constant(name + "_w", w.codes);
    const int s = b.constant(name + "_ws", w.scale);
    Array z = Array::zeros(ElemType::i8, w.scale.shape());
    const int zv = b.constant(name + "_wz", z);
    return b.op("DequantizeLinear", {c, s, zv}, {{"axis", Attribute::from_int(axis)}}, 1, name + "_wdq");
  }
};

// x [B,3,8,8] → Q/DQ → Conv3x3+Relu → Conv3x3 → Add(residual) + Relu → Conv1x1 stride 2 →
// GlobalAveragePool → Flatten → Gemm(transB) → Q (uint8 output "codes"), and a MatMul with a
// float result ("mm"): every fused pattern, with and without trailing Q.
inline Graph qdq_test_net(int64_t batch) {
  QdqBuilder q;
  auto& b = q.b;
  const int x = b.input("x", ElemType::f32, {batch, 3, 8, 8});
  const Attributes pad1{{"pads", Attribute::from_ints({1, 1, 1, 1})}};
  const int x0 = q.qdq(x, 8.0f / 255, 128, "in");
  int c1 = b.op("Conv", {x0, q.weight(random_qweight({8, 3, 3, 3}, 0, 1), 0, "c1"), b.constant("c1_b", random_f32({8}, 2, 0.1f))}, pad1, 1, "c1");
  c1 = b.op("Relu", {c1}, {}, 1, "c1_relu");
  const int a1 = q.qdq(c1, 4.0f / 255, 0, "a1");
  const int c2 = b.op("Conv", {a1, q.weight(random_qweight({8, 8, 3, 3}, 0, 3), 0, "c2")}, pad1, 1, "c2");
  const int a2 = q.qdq(c2, 8.0f / 255, 128, "a2");
  const int add = b.op("Relu", {b.op("Add", {a2, a1}, {}, 1, "add")}, {}, 1, "add_relu");
  const int a3 = q.qdq(add, 6.0f / 255, 0, "a3");
  const int c3 = b.op("Conv", {a3, q.weight(random_qweight({16, 8, 1, 1}, 0, 4), 0, "c3")},
                      {{"strides", Attribute::from_ints({2, 2})}}, 1, "c3");
  const int a4 = q.qdq(c3, 8.0f / 255, 120, "a4");
  const int flat = b.op("Flatten", {b.op("GlobalAveragePool", {a4}, {}, 1, "gap")}, {}, 1, "flat");
  const int a5 = q.qdq(flat, 2.0f / 255, 128, "a5");
  const int fc = b.op("Gemm", {a5, q.weight(random_qweight({10, 16}, 0, 5), 0, "fc"), b.constant("fc_b", random_f32({10}, 6, 0.1f))},
                      {{"transB", Attribute::from_int(1)}}, 1, "fc");
  b.output(q.q(fc, 1.0f / 255, 128, "out"), "codes");
  b.output(b.op("MatMul", {a5, q.weight(random_qweight({16, 4}, 1, 7), 1, "mm")}, {}, 1, "mm"), "mm");
  return b.finish();
}

// One quantized layer reading uint8 codes: x [B,C,H,W] (or [B,K] for gemm/matmul) → DQ → op →
// [Relu] → [Q]. kind: "conv3x3", "conv1x1s2", "dwconv" (depthwise 3x3, stride 2), "gemm",
// "matmul", "add".
inline Graph qdq_layer(const std::string& kind, int64_t batch, bool relu, bool quantize_out) {
  QdqBuilder q;
  auto& b = q.b;
  const bool dense = kind == "gemm" || kind == "matmul";
  const int x = b.input("x", ElemType::u8, dense ? Shape{batch, 24} : Shape{batch, 8, 7, 6});
  const int xd = q.dq(x, 4.0f / 255, 100, "x");
  int y = -1;
  if (kind == "conv3x3") {
    y = b.op("Conv", {xd, q.weight(random_qweight({9, 8, 3, 3}, 0, 21), 0, "w"), b.constant("b", random_f32({9}, 22, 0.2f))},
             {{"pads", Attribute::from_ints({1, 0, 1, 2})}}, 1, "layer");
  } else if (kind == "conv1x1s2") {
    y = b.op("Conv", {xd, q.weight(random_qweight({7, 8, 1, 1}, 0, 23), 0, "w")}, {{"strides", Attribute::from_ints({2, 2})}}, 1, "layer");
  } else if (kind == "dwconv") {
    y = b.op("Conv", {xd, q.weight(random_qweight({8, 1, 3, 3}, 0, 27), 0, "w"), b.constant("b", random_f32({8}, 28, 0.2f))},
             {{"group", Attribute::from_int(8)}, {"pads", Attribute::from_ints({1, 1, 1, 1})}, {"strides", Attribute::from_ints({2, 2})}},
             1, "layer");
  } else if (kind == "gemm") {
    y = b.op("Gemm", {xd, q.weight(random_qweight({24, 11}, 1, 24), 1, "w"), b.constant("b", random_f32({11}, 25, 0.2f))}, {}, 1, "layer");
  } else if (kind == "matmul") {
    y = b.op("MatMul", {xd, q.weight(random_qweight({24, 11}, 1, 26), 1, "w")}, {}, 1, "layer");
  } else {
    const int x2 = b.input("x2", ElemType::u8, {batch, 8, 7, 6});
    y = b.op("Add", {xd, q.dq(x2, 3.0f / 255, 90, "x2")}, {}, 1, "layer");
  }
  if (relu) y = b.op("Relu", {y}, {}, 1, "relu");
  b.output(quantize_out ? q.q(y, 3.0f / 255, relu ? 0 : 128, "y") : y, "y");
  return b.finish();
}

// The same model with int4-range weights (W4A8 as `lowbit quantize --weights int4` writes it):
// every constant int8 weight of a DequantizeLinear becomes round(c / 18) clamped to [-7, 7]
// (its first code -8, the other end of the int4 range) and its scale grows 18×.
inline Graph to_int4(Graph g) {
  for (const Node& n : g.nodes) {
    if (n.dead || n.op_type != "DequantizeLinear" || n.inputs.size() < 2) continue;
    const Array* c = g.constant(n.inputs[0]);
    if (!c || c->type() != ElemType::i8 || c->numel() < 2) continue;
    Array codes = *c;
    for (int64_t i = 0; i < codes.numel(); ++i)
      codes.data<int8_t>()[i] = static_cast<int8_t>(std::clamp(std::nearbyint(codes.data<int8_t>()[i] / 18.0), -7.0, 7.0));
    codes.data<int8_t>()[0] = -8;
    Array scale = *g.constant(n.inputs[1]);
    for (int64_t i = 0; i < scale.numel(); ++i) scale.data<float>()[i] *= 18.0f;
    g.constants[n.inputs[0]] = std::move(codes);
    g.constants[n.inputs[1]] = std::move(scale);
  }
  return g;
}

}  // namespace lowbit::onnx::test
