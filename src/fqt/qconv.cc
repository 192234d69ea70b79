// QConv2d: convolution lowered to im2col per sample (spec hdqt.md §1.3). Forward scales are per
// tensor; backward scales are per sample, and the batch-side transform of the weight gradient
// runs over the L output positions of each sample; per-sample dW are summed in fp32.
#include <vector>

#include "lowbit/fqt/qlayers.h"
#include "lowbit/fqt/qmatmul.h"
#include "lowbit/nn/module.h"

namespace lowbit::fqt {
namespace {

struct Geometry {
  int64_t N, C, H, W, K, R, S, stride, pad, OH, OW;
  int64_t L() const { return OH * OW; }
  int64_t CRS() const { return C * R * S; }
};

// Codes of one sample (C,H,W) -> (L, CRS) when rows_are_positions, else (CRS, L); padding is
// code 0, which is value 0 for signed and unsigned codes alike.
void im2col_i8(const Geometry& g, const int8_t* x, int8_t* out, bool rows_are_positions) {
  const int64_t L = g.L(), CRS = g.CRS();
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        const int64_t k = (c * g.R + r) * g.S + s;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.stride - g.pad + r;
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const int64_t iw = ow * g.stride - g.pad + s;
            const bool in = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
            const int8_t v = in ? x[(c * g.H + ih) * g.W + iw] : int8_t{0};
            const int64_t l = oh * g.OW + ow;
            out[rows_are_positions ? l * CRS + k : k * L + l] = v;
          }
        }
      }
}

// Adds a (L, CRS) column gradient back into one sample's (C,H,W) input gradient.
void col2im_add(const Geometry& g, const float* col, float* dx) {
  const int64_t CRS = g.CRS();
  for (int64_t oh = 0; oh < g.OH; ++oh)
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const float* row = col + (oh * g.OW + ow) * CRS;
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t r = 0; r < g.R; ++r) {
          const int64_t ih = oh * g.stride - g.pad + r;
          if (ih < 0 || ih >= g.H) continue;
          for (int64_t s = 0; s < g.S; ++s) {
            const int64_t iw = ow * g.stride - g.pad + s;
            if (iw >= 0 && iw < g.W) dx[(c * g.H + ih) * g.W + iw] += row[(c * g.R + r) * g.S + s];
          }
        }
    }
}

struct QConvNode : Node {
  Geometry geo;
  Codes x, w;  // x codes (N, C*H*W), w codes (K, CRS)
  std::shared_ptr<QuantContext> ctx;
  QConvNode(const Var& xv, const Var& wv, const Var& bv, Geometry g, Codes xc, Codes wc, std::shared_ptr<QuantContext> c)
      : Node({xv, wv, bv}), geo(g), x(std::move(xc)), w(std::move(wc)), ctx(std::move(c)) {}
  std::string_view name() const override { return "quantized_conv2d"; }

  std::vector<Tensor> backward(const Tensor& g) override {
    const QuantConfig& cfg = ctx->cfg;
    const Tensor gc = g.contiguous();  // (N, K, L)
    const int64_t N = geo.N, K = geo.K, L = geo.L(), CRS = geo.CRS(), CHW = geo.C * geo.H * geo.W;
    const bool want_x = inputs()[0].requires_grad(), want_w = inputs()[1].requires_grad();
    const bool want_b = inputs()[2].defined() && inputs()[2].requires_grad();
    Tensor dx = want_x ? Tensor::zeros({N, geo.C, geo.H, geo.W}) : Tensor();
    Tensor dw = want_w ? Tensor::zeros({K, geo.C, geo.R, geo.S}) : Tensor();
    Tensor db = want_b ? Tensor::zeros({K}) : Tensor();
    const Codes w_op = want_x ? grad_input_weight_operand(w, cfg.grad_input) : Codes{};
    std::vector<float> gt(L * K), dcol(L * CRS), dw_n(K * CRS);
    Codes xt{Tensor::empty({CRS, L}, DType::i8), x.scale, x.is_unsigned};
    const uint64_t s_in = sr_stream(*ctx, SrTensor::grad_input_g), s_wg = sr_stream(*ctx, SrTensor::grad_weight_g),
                   s_wx = sr_stream(*ctx, SrTensor::grad_weight_x);
    for (int64_t n = 0; n < N; ++n) {
      const float* gn = gc.data<float>() + n * K * L;  // (K, L)
      if (want_x) {  // dX_col (L, CRS): reduction over the K output channels
        for (int64_t k = 0; k < K; ++k)
          for (int64_t l = 0; l < L; ++l) gt[l * K + k] = gn[k * L + l];
        qgrad_input(gt.data(), L, K, w_op, cfg.grad_input, {ctx->seed, s_in, static_cast<uint64_t>(n * L * K)},
                    dcol.data(), CRS);
        col2im_add(geo, dcol.data(), dx.data<float>() + n * CHW);
      }
      if (want_w) {  // dW_n (K, CRS): reduction over the L positions of this sample
        im2col_i8(geo, x.q.data<int8_t>() + n * CHW, xt.q.data<int8_t>(), false);
        qgrad_weight(gn, K, L, xt, cfg.grad_weight, {ctx->seed, s_wg, static_cast<uint64_t>(n * K * L)},
                     {ctx->seed, s_wx, static_cast<uint64_t>(n * CRS * L)}, dw_n.data(), CRS);
        float* d = dw.data<float>();
        for (int64_t i = 0; i < K * CRS; ++i) d[i] += dw_n[i];
      }
      if (want_b)
        for (int64_t k = 0; k < K; ++k)
          for (int64_t l = 0; l < L; ++l) db.data<float>()[k] += gn[k * L + l];
    }
    ++ctx->step;
    return {dx, dw, db};
  }
};

}  // namespace

Var quantized_conv2d(const Var& x, const Var& w, const Var& bias, const Conv2dOptions& opt,
                     const std::shared_ptr<QuantContext>& ctx) {
  LOWBIT_REQUIRE(x.defined() && x.value().dim() == 4 && w.defined() && w.value().dim() == 4, "quantized_conv2d",
                 "expects x (N,C,H,W) and w (K,C,R,S)");
  LOWBIT_REQUIRE(opt.groups == 1 && opt.dilation == 1, "quantized_conv2d",
                 "only groups=1 and dilation=1 are supported, got groups={} dilation={}", opt.groups, opt.dilation);
  LOWBIT_REQUIRE(x.size(1) == w.size(1), "quantized_conv2d", "input has {} channels, weight expects {}", x.size(1),
                 w.size(1));
  const Tensor xc = x.value().contiguous(), wc = w.value().contiguous();
  Geometry g{xc.size(0), xc.size(1), xc.size(2), xc.size(3), wc.size(0), wc.size(2), wc.size(3), opt.stride, opt.padding,
             0, 0};
  g.OH = (g.H + 2 * g.pad - g.R) / g.stride + 1;
  g.OW = (g.W + 2 * g.pad - g.S) / g.stride + 1;
  LOWBIT_REQUIRE(g.OH >= 1 && g.OW >= 1, "quantized_conv2d", "kernel does not fit input {}", shape_str(xc.shape()));
  const QuantConfig& cfg = ctx->cfg;
  const int64_t CHW = g.C * g.H * g.W, L = g.L(), CRS = g.CRS();
  Codes xq = quantize_operand(xc.data<float>(), g.N, CHW, cfg.forward.a, true);
  Codes wq = quantize_operand(wc.data<float>(), g.K, CRS, cfg.forward.b, false);
  Tensor y = Tensor::empty({g.N, g.K, g.OH, g.OW});
  Codes col{Tensor::empty({L, CRS}, DType::i8), xq.scale, xq.is_unsigned};
  const Tensor bc = bias.defined() ? bias.value().contiguous() : Tensor();
  for (int64_t n = 0; n < g.N; ++n) {
    im2col_i8(g, xq.q.data<int8_t>() + n * CHW, col.q.data<int8_t>(), true);
    float* yn = y.data<float>() + n * g.K * L;
    qforward(wq, col, cfg.forward, yn, L);  // (K, L) = W_q · colᵀ
    if (bc.defined())
      for (int64_t k = 0; k < g.K; ++k)
        for (int64_t l = 0; l < L; ++l) yn[k * L + l] += bc.data<float>()[k];
  }
  return make_output<QConvNode>(y, {&x, &w, &bias}, x, w, bias, g, std::move(xq), std::move(wq), ctx);
}

QConv2d::QConv2d(nn::Conv2d& src, QuantConfig cfg, uint64_t seed, const std::string& path)
    : opt_(src.options()), ctx_(std::make_shared<QuantContext>()) {
  weight_ = register_parameter("weight", src.weight());
  if (src.bias()) bias_ = register_parameter("bias", *src.bias());
  ctx_->cfg = std::move(cfg);
  ctx_->seed = seed;
  ctx_->layer_id = nn::path_hash(path);
}

Var QConv2d::forward(const Var& x) { return quantized_conv2d(x, weight_, bias_, opt_, ctx_); }

}  // namespace lowbit::fqt
