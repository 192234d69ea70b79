// Convolution and pooling ops (NCHW) on the fp32 kernels, plus the option-A ResNet shortcut.
#include "lowbit/kernels/fp32.h"
#include "lowbit/ops/ops.h"

namespace lowbit {
namespace {

kernels::ConvGeom conv_shape(const Tensor& x, const Tensor& w, const Conv2dOptions& o) {
  return kernels::ConvGeom::conv2d(x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3))
      .strides(o.stride, o.stride)
      .pads(o.padding, o.padding)
      .dilations(o.dilation, o.dilation)
      .grouped(o.groups);
}

struct Conv2dNode : Node {
  kernels::ConvGeom s;
  Conv2dNode(const Var& x, const Var& w, const Var& b, kernels::ConvGeom sh) : Node({x, w, b}), s(sh) {}
  std::string_view name() const override { return "conv2d"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor gc = g.contiguous();
    const Tensor x = inputs()[0].value().contiguous();
    const Tensor w = inputs()[1].value().contiguous();
    Tensor dx, dw, db;
    if (inputs()[0].requires_grad()) {
      dx = Tensor::empty(x.shape());
      kernels::conv2d_backward_data(s, gc.data<float>(), w.data<float>(), dx.data<float>());
    }
    const bool want_b = inputs()[2].defined() && inputs()[2].requires_grad();
    if (inputs()[1].requires_grad() || want_b) {
      dw = Tensor::empty(w.shape());
      if (want_b) db = Tensor::empty({s.K});
      kernels::conv2d_backward_weight(s, x.data<float>(), gc.data<float>(), dw.data<float>(),
                                      want_b ? db.data<float>() : nullptr);
      if (!inputs()[1].requires_grad()) dw = Tensor();
    }
    return {dx, dw, db};
  }
};

kernels::ConvGeom pool_shape(const Tensor& x, int64_t k, int64_t stride, int64_t pad) {
  return kernels::ConvGeom::pool2d(x.size(0), x.size(1), x.size(2), x.size(3), k, k).strides(stride, stride).pads(pad, pad);
}

void check_pool(const Var& x, int64_t k, int64_t stride, int64_t pad, const char* op) {
  LOWBIT_REQUIRE(x.defined() && x.value().dim() == 4, op, "expects (N,C,H,W), got {}",
                 x.defined() ? shape_str(x.shape()) : "undefined");
  LOWBIT_REQUIRE(k >= 1 && stride >= 1 && pad >= 0 && 2 * pad <= k, op,
                 "bad geometry kernel={} stride={} padding={} (padding must be at most half the kernel)", k, stride,
                 pad);
  LOWBIT_REQUIRE(x.size(2) + 2 * pad >= k && x.size(3) + 2 * pad >= k, op, "kernel {} larger than padded input {}",
                 k, shape_str(x.shape()));
}

struct MaxPoolNode : Node {
  kernels::ConvGeom s;
  Tensor argmax;
  MaxPoolNode(const Var& x, kernels::ConvGeom sh, Tensor am) : Node({x}), s(sh), argmax(std::move(am)) {}
  std::string_view name() const override { return "max_pool2d"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor gc = g.contiguous();
    Tensor dx = Tensor::empty(inputs()[0].shape());
    kernels::maxpool2d_backward(s, gc.data<float>(), argmax.data<int32_t>(), dx.data<float>());
    return {dx};
  }
};

struct AvgPoolNode : Node {
  kernels::ConvGeom s;
  bool global;
  AvgPoolNode(const Var& x, kernels::ConvGeom sh, bool g) : Node({x}), s(sh), global(g) {}
  std::string_view name() const override { return global ? "global_avg_pool2d" : "avg_pool2d"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor gc = g.contiguous();
    Tensor dx = Tensor::empty(inputs()[0].shape());
    kernels::avgpool2d_backward(s, gc.data<float>(), dx.data<float>());
    return {dx};
  }
};

struct ShortcutNode : Node {
  int64_t stride, before;
  ShortcutNode(const Var& x, int64_t st, int64_t b) : Node({x}), stride(st), before(b) {}
  std::string_view name() const override { return "shortcut_pad"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor& x = inputs()[0].value();
    Tensor dx = Tensor::zeros(x.shape());
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    const int64_t K = g.size(1), OH = g.size(2), OW = g.size(3);
    const Tensor gc = g.contiguous();
    const float* gp = gc.data<float>();
    float* dp = dx.data<float>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < OH; ++i)
          for (int64_t j = 0; j < OW; ++j)
            dp[((n * C + c) * H + i * stride) * W + j * stride] = gp[((n * K + c + before) * OH + i) * OW + j];
    return {dx};
  }
};

}  // namespace

Var conv2d(const Var& x, const Var& w, const Var& bias, const Conv2dOptions& o) {
  LOWBIT_REQUIRE(x.defined() && x.value().dim() == 4, "conv2d", "input must be (N,C,H,W), got {}",
                 x.defined() ? shape_str(x.shape()) : "undefined");
  LOWBIT_REQUIRE(w.defined() && w.value().dim() == 4, "conv2d", "weight must be (K,C/groups,R,S)");
  LOWBIT_REQUIRE(o.stride >= 1 && o.padding >= 0 && o.dilation >= 1 && o.groups >= 1, "conv2d",
                 "bad options stride={} padding={} dilation={} groups={}", o.stride, o.padding, o.dilation, o.groups);
  LOWBIT_REQUIRE(x.size(1) % o.groups == 0 && w.size(0) % o.groups == 0 && w.size(1) * o.groups == x.size(1),
                 "conv2d", "input {} and weight {} do not agree with groups={}", shape_str(x.shape()),
                 shape_str(w.shape()), o.groups);
  LOWBIT_REQUIRE(!bias.defined() || bias.shape() == Shape{w.size(0)}, "conv2d", "bias must be ({})", w.size(0));
  const Tensor xc = x.value().contiguous();
  const Tensor wc = w.value().contiguous();
  const kernels::ConvGeom s = conv_shape(xc, wc, o);
  LOWBIT_REQUIRE(s.OH() >= 1 && s.OW() >= 1, "conv2d", "kernel {}x{} does not fit input {} with padding {}", s.R(),
                 s.S(), shape_str(x.shape()), o.padding);
  Tensor y = Tensor::empty({s.N, s.K, s.OH(), s.OW()});
  kernels::conv2d_forward(s, xc.data<float>(), wc.data<float>(),
                          bias.defined() ? bias.value().contiguous().data<float>() : nullptr, y.data<float>());
  return make_output<Conv2dNode>(y, {&x, &w, &bias}, x, w, bias, s);
}

Var max_pool2d(const Var& x, int64_t kernel, int64_t stride, int64_t padding) {
  check_pool(x, kernel, stride, padding, "max_pool2d");
  const Tensor xc = x.value().contiguous();
  const kernels::ConvGeom s = pool_shape(xc, kernel, stride, padding);
  Tensor y = Tensor::empty({s.N, s.C, s.OH(), s.OW()});
  Tensor am = Tensor::empty(y.shape(), DType::i32);
  kernels::maxpool2d_forward(s, xc.data<float>(), y.data<float>(), am.data<int32_t>());
  return make_output<MaxPoolNode>(y, {&x}, x, s, am);
}

Var avg_pool2d(const Var& x, int64_t kernel, int64_t stride, int64_t padding) {
  check_pool(x, kernel, stride, padding, "avg_pool2d");
  const Tensor xc = x.value().contiguous();
  const kernels::ConvGeom s = pool_shape(xc, kernel, stride, padding);
  Tensor y = Tensor::empty({s.N, s.C, s.OH(), s.OW()});
  kernels::avgpool2d_forward(s, xc.data<float>(), y.data<float>());
  return make_output<AvgPoolNode>(y, {&x}, x, s, false);
}

Var global_avg_pool2d(const Var& x) {
  LOWBIT_REQUIRE(x.defined() && x.value().dim() == 4, "global_avg_pool2d", "expects (N,C,H,W)");
  const Tensor xc = x.value().contiguous();
  const int64_t H = xc.size(2), W = xc.size(3);
  const kernels::ConvGeom s = kernels::ConvGeom::pool2d(xc.size(0), xc.size(1), H, W, H, W).strides(H, W);
  Tensor y = Tensor::empty({s.N, s.C});
  kernels::avgpool2d_forward(s, xc.data<float>(), y.data<float>());
  return make_output<AvgPoolNode>(y, {&x}, x, s, true);
}

Var shortcut_pad(const Var& x, int64_t stride, int64_t out_channels) {
  LOWBIT_REQUIRE(x.defined() && x.value().dim() == 4, "shortcut_pad", "expects (N,C,H,W)");
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  LOWBIT_REQUIRE(stride >= 1 && out_channels >= C && (out_channels - C) % 2 == 0, "shortcut_pad",
                 "cannot pad {} channels to {} (difference must be even and non-negative)", C, out_channels);
  const int64_t OH = (H + stride - 1) / stride, OW = (W + stride - 1) / stride, before = (out_channels - C) / 2;
  const Tensor xc = x.value().contiguous();
  Tensor y = Tensor::zeros({N, out_channels, OH, OW});
  const float* xp = xc.data<float>();
  float* yp = y.data<float>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j)
          yp[((n * out_channels + c + before) * OH + i) * OW + j] = xp[((n * C + c) * H + i * stride) * W + j * stride];
  return make_output<ShortcutNode>(y, {&x}, x, stride, before);
}

}  // namespace lowbit
