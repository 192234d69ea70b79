// Every op's VJP against double-precision central differences (grad_test_util.h): tiny one- or
// few-node graphs, random inputs, all inputs differentiated at once.
#include <algorithm>

#include "grad_test_util.h"
#include "lowbit/kernels/fp32_ref.h"

namespace lowbit::onnx::test {
namespace {

using A = Attribute;

GradCase unary(const std::string& op, Attributes attrs = {}, std::pair<double, double> range = {-1, 1}) {
  return {op, {{2, 3, 4}}, [op, attrs](GraphBuilder& b, const std::vector<int>& x, ElemType) {
            return b.op(op, {x[0]}, attrs);
          }, {range}};
}

// The engine's float64 path evaluates some activations in float (LeakyRelu, HardSigmoid,
// HardSwish, tanh Gelu): their oracle is this elementwise double function instead.
GradCase unary64(const std::string& op, Attributes attrs, std::pair<double, double> range, double (*f)(double)) {
  GradCase c = unary(op, std::move(attrs), range);
  c.name += " (double oracle)";
  c.forward64 = [f](const std::vector<Array>& in) {
    Array y = in[0].clone();
    for (int64_t i = 0; i < y.numel(); ++i) y.data<double>()[i] = f(in[0].data<double>()[i]);
    return y;
  };
  return c;
}

// Conv through the double reference kernel (the engine's Conv is float32 only). 1-d is H = 1.
GradCase conv_case(const std::string& name, Shape x, Shape w, int64_t group, int64_t stride, int64_t pad,
                   int64_t dil) {
  const bool one_d = x.size() == 3;
  const int64_t r = static_cast<int64_t>(x.size()) - 2;
  Attributes at{{"group", A::from_int(group)},
                {"strides", A::from_ints(std::vector<int64_t>(static_cast<size_t>(r), stride))},
                {"pads", A::from_ints(std::vector<int64_t>(static_cast<size_t>(2 * r), pad))},
                {"dilations", A::from_ints(std::vector<int64_t>(static_cast<size_t>(r), dil))}};
  GradCase c{name, {x, w, {w[0]}}, [at](GraphBuilder& b, const std::vector<int>& xs, ElemType) {
               return b.op("Conv", {xs[0], xs[1], xs[2]}, at);
             }};
  c.forward64 = [=](const std::vector<Array>& in) {
    const kernels::ConvGeom s = kernels::ConvGeom::conv2d(x[0], x[1], one_d ? 1 : x[2], x.back(), w[0], one_d ? 1 : w[2], w.back())
                                    .strides(one_d ? 1 : stride, stride)
                                    .pads(one_d ? 0 : pad, pad)
                                    .dilations(one_d ? 1 : dil, dil)
                                    .grouped(group);
    Shape ys = one_d ? Shape{s.N, s.K, s.OW()} : Shape{s.N, s.K, s.OH(), s.OW()};
    Array y = Array::empty(ElemType::f64, ys);
    kernels::ref::conv2d_forward<double>(s, in[0].data<double>(), in[1].data<double>(), in[2].data<double>(),
                                         y.data<double>());
    return y;
  };
  return c;
}

// 2-d Conv with asymmetric pads {top, left, bottom, right}: the oracle pads x explicitly.
GradCase conv_asymmetric_case(Shape x, Shape w, std::vector<int64_t> pads, int64_t stride) {
  Attributes at{{"strides", A::from_ints({stride, stride})}, {"pads", A::from_ints(pads)}};
  GradCase c{"conv2d asymmetric pads", {x, w, {w[0]}}, [at](GraphBuilder& b, const std::vector<int>& xs, ElemType) {
               return b.op("Conv", {xs[0], xs[1], xs[2]}, at);
             }};
  c.forward64 = [=](const std::vector<Array>& in) {
    const kernels::ConvGeom s =
        kernels::ConvGeom::conv2d(x[0], x[1], x[2] + pads[0] + pads[2], x[3] + pads[1] + pads[3], w[0], w[2], w[3]).strides(stride, stride);
    Array xp = Array::zeros(ElemType::f64, {s.N, s.C, s.H(), s.W()});
    for (int64_t nc = 0; nc < s.N * s.C; ++nc)
      for (int64_t h = 0; h < x[2]; ++h)
        for (int64_t v = 0; v < x[3]; ++v)
          xp.data<double>()[(nc * s.H() + h + pads[0]) * s.W() + v + pads[1]] = in[0].data<double>()[(nc * x[2] + h) * x[3] + v];
    Array y = Array::empty(ElemType::f64, {s.N, s.K, s.OH(), s.OW()});
    kernels::ref::conv2d_forward<double>(s, xp.data<double>(), in[1].data<double>(), in[2].data<double>(), y.data<double>());
    return y;
  };
  return c;
}

TEST(OnnxGrad, Conv) {
  check_grad_case(conv_asymmetric_case({1, 2, 5, 6}, {3, 2, 3, 3}, {1, 0, 0, 2}, 2));
  check_grad_case(conv_case("conv2d groups stride pad", {2, 4, 5, 5}, {6, 2, 3, 3}, 2, 2, 1, 1));
  check_grad_case(conv_case("conv2d dilation", {1, 3, 6, 6}, {2, 3, 3, 3}, 1, 1, 2, 2));
  check_grad_case(conv_case("conv1d", {2, 3, 7}, {4, 3, 3}, 1, 1, 1, 2));
  check_grad_case(conv_case("depthwise", {1, 3, 4, 4}, {3, 1, 3, 3}, 3, 1, 1, 1));
}

TEST(OnnxGrad, GemmAndMatMul) {
  check_grad_case({"gemm transposed", {{4, 3}, {5, 4}, {1, 5}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("Gemm", {x[0], x[1], x[2]},
                                 {{"transA", A::from_int(1)}, {"transB", A::from_int(1)}, {"alpha", A::from_float(0.75)},
                                  {"beta", A::from_float(1.25)}});
                   }});
  check_grad_case({"gemm plain", {{3, 4}, {4, 5}, {5}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("Gemm", {x[0], x[1], x[2]});
                   }});
  check_grad_case({"matmul broadcast", {{2, 1, 3, 4}, {3, 4, 5}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("MatMul", {x[0], x[1]});
                   }});
  check_grad_case({"matmul 1-d", {{4}, {2, 4, 3}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("MatMul", {x[0], x[1]});
                   }});
}

TEST(OnnxGrad, Norms) {
  check_grad_case({"batchnorm", {{2, 3, 2, 2}, {3}, {3}, {3}, {3}},
                   [](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("BatchNormalization", {x[0], x[1], x[2], x[3], x[4]}, {{"epsilon", A::from_float(1e-3)}});
                   },
                   {{-1, 1}, {-1, 1}, {-1, 1}, {-1, 1}, {0.5, 1.5}}});
  check_grad_case({"layernorm", {{2, 3, 5}, {5}, {5}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("LayerNormalization", {x[0], x[1], x[2]}, {{"axis", A::from_int(-1)}});
                   }});
  check_grad_case({"softmax axis 1", {{2, 4, 3}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("Softmax", {x[0]}, {{"axis", A::from_int(1)}});
                   }});
  check_grad_case({"logsoftmax", {{3, 5}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("LogSoftmax", {x[0]});
                   }});
  // The decomposed LayerNorm of PyTorch exports, op by op.
  check_grad_case({"decomposed layernorm", {{2, 6}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType e) {
                     const Attributes last{{"axes", A::from_ints({-1})}};
                     const int d = b.op("Sub", {x[0], b.op("ReduceMean", {x[0]}, last)});
                     const int var = b.op("ReduceMean", {b.op("Pow", {d, typed_const(b, e, "two", {}, {2.0})})}, last);
                     const int sd = b.op("Sqrt", {b.op("Add", {var, typed_const(b, e, "eps", {}, {1e-5})})});
                     return b.op("Div", {d, sd});
                   }});
}

TEST(OnnxGrad, Activations) {
  check_grad_case(unary("Relu"));
  check_grad_case(unary64("LeakyRelu", {{"alpha", A::from_float(0.1)}}, {-1, 1}, [](double x) { return x > 0 ? x : 0.1 * x; }));
  check_grad_case(unary64("HardSigmoid", {{"alpha", A::from_float(0.3)}}, {-3, 3},
                          [](double x) { return std::clamp(0.3 * x + 0.5, 0.0, 1.0); }));
  check_grad_case(unary64("HardSwish", {}, {-5, 5}, [](double x) { return x * std::clamp(x / 6 + 0.5, 0.0, 1.0); }));
  check_grad_case(unary("Sigmoid"));
  check_grad_case(unary("Tanh"));
  check_grad_case(unary("Gelu"));
  check_grad_case(unary64("Gelu", {{"approximate", A::from_string("tanh")}}, {-1, 1}, [](double x) {
    return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
  }));
  check_grad_case(unary("Erf"));
  check_grad_case(unary("Sqrt", {}, {0.5, 2}));
  check_grad_case(unary("Identity"));
  check_grad_case(unary("Dropout"));
  check_grad_case({"clip", {{3, 4}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType e) {
                     return b.op("Clip", {x[0], typed_const(b, e, "lo", {}, {-0.5}), typed_const(b, e, "hi", {}, {0.6})});
                   }});
  check_grad_case({"pow 3", {{3, 4}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType e) {
                     return b.op("Pow", {x[0], typed_const(b, e, "p", {}, {3.0})});
                   }});
}

// PyTorch's Gelu export, x * 0.5 * (1 + erf(x / sqrt 2)), op by op.
TEST(OnnxGrad, DecomposedGelu) {
  check_grad_case({"erf gelu pattern", {{3, 4}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType e) {
                     const int t = b.op("Erf", {b.op("Div", {x[0], typed_const(b, e, "r2", {}, {1.4142135381698608})})});
                     const int one = b.op("Add", {t, typed_const(b, e, "one", {}, {1.0})});
                     return b.op("Mul", {b.op("Mul", {x[0], typed_const(b, e, "half", {}, {0.5})}), one});
                   }});
}

TEST(OnnxGrad, BroadcastArithmetic) {
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    check_grad_case({std::string(op) + " broadcast", {{2, 3, 4}, {3, 1}},
                     [op](GraphBuilder& b, const std::vector<int>& x, ElemType) { return b.op(op, {x[0], x[1]}); },
                     {{-1, 1}, {0.5, 1.5}}});
    check_grad_case({std::string(op) + " scalar first", {{1}, {2, 3}},
                     [op](GraphBuilder& b, const std::vector<int>& x, ElemType) { return b.op(op, {x[0], x[1]}); },
                     {{-1, 1}, {0.5, 1.5}}});
  }
  check_grad_case({"reducesum axes input, neg", {{2, 3, 4}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     const std::vector<int64_t> axes{1};
                     const int ax = b.constant("axes", Array::from<int64_t>({1}, std::span<const int64_t>(axes)));
                     return b.op("Neg", {b.op("ReduceSum", {x[0], ax})});
                   }});
  check_grad_case({"reducemean keepdims 0", {{2, 3, 4}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("ReduceMean", {x[0]}, {{"axes", A::from_ints({0, 2})}, {"keepdims", A::from_int(0)}});
                   }});
}

TEST(OnnxGrad, Pools) {
  check_grad_case(unary("GlobalAveragePool"));
  check_grad_case({"maxpool", {{1, 2, 5, 5}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("MaxPool", {x[0]}, {{"kernel_shape", A::from_ints({3, 3})}, {"strides", A::from_ints({2, 2})},
                                                     {"pads", A::from_ints({1, 1, 1, 1})}});
                   }});
  check_grad_case({"maxpool 1-d", {{2, 2, 6}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("MaxPool", {x[0]}, {{"kernel_shape", A::from_ints({2})}, {"strides", A::from_ints({2})}});
                   }});
  check_grad_case({"avgpool padded", {{1, 2, 4, 4}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("AveragePool", {x[0]}, {{"kernel_shape", A::from_ints({2, 2})}, {"pads", A::from_ints({1, 1, 1, 1})}});
                   }});
}

TEST(OnnxGrad, DataMovement) {
  auto i64 = [](GraphBuilder& b, const std::string& n, std::vector<int64_t> v) {
    return b.constant(n, Array::from<int64_t>({static_cast<int64_t>(v.size())}, std::span<const int64_t>(v)));
  };
  check_grad_case(unary("Flatten", {{"axis", A::from_int(2)}}));
  check_grad_case(unary("Transpose", {{"perm", A::from_ints({2, 0, 1})}}));
  check_grad_case({"reshape squeeze unsqueeze", {{2, 3, 4}}, [i64](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     const int r = b.op("Reshape", {x[0], i64(b, "s", {6, 1, 4})});
                     const int s = b.op("Squeeze", {r, i64(b, "a", {1})});
                     return b.op("Unsqueeze", {s, i64(b, "u", {0})});
                   }});
  check_grad_case({"slice steps", {{4, 6}}, [i64](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("Slice", {x[0], i64(b, "st", {1, 5}), i64(b, "en", {4, 0}), i64(b, "ax", {0, 1}),
                                           i64(b, "sp", {1, -2})});
                   }});
  check_grad_case({"pad constant", {{2, 3}}, [i64](GraphBuilder& b, const std::vector<int>& x, ElemType e) {
                     return b.op("Pad", {x[0], i64(b, "p", {1, 0, 0, 2}), typed_const(b, e, "v", {}, {0.5})});
                   }});
  check_grad_case({"pad reflect", {{2, 4}}, [i64](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("Pad", {x[0], i64(b, "p", {0, 2, 0, 1})}, {{"mode", A::from_string("reflect")}});
                   }});
  check_grad_case({"concat", {{2, 3}, {2, 1}, {2, 2}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("Concat", {x[0], x[1], x[2]}, {{"axis", A::from_int(1)}});
                   }});
  check_grad_case({"expand", {{3, 1}}, [i64](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("Expand", {x[0], i64(b, "s", {2, 3, 4})});
                   }});
  check_grad_case({"tile", {{2, 3}}, [i64](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("Tile", {x[0], i64(b, "r", {2, 2})});
                   }});
  check_grad_case({"split then concat reversed", {{2, 5}}, [i64](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     const auto parts = b.op_multi("Split", {x[0], i64(b, "sp", {2, 3})}, {{"axis", A::from_int(1)}}, 2);
                     return b.op("Concat", {parts[1], parts[0]}, {{"axis", A::from_int(1)}});
                   }});
  check_grad_case({"depth to space", {{1, 8, 2, 3}}, [](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("DepthToSpace", {x[0]}, {{"blocksize", A::from_int(2)}, {"mode", A::from_string("CRD")}});
                   }});
  check_grad_case({"gather repeated", {{3, 4}}, [i64](GraphBuilder& b, const std::vector<int>& x, ElemType) {
                     return b.op("Gather", {x[0], i64(b, "i", {2, 0, 2})}, {{"axis", A::from_int(1)}});
                   }});
}

}  // namespace
}  // namespace lowbit::onnx::test
