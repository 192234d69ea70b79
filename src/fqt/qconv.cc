// QConv2d: convolution lowered to im2col per sample (spec hdqt.md §1.3). Forward scales are per
// tensor; backward scales are per sample, and the batch-side transform of the weight gradient
// runs over the L output positions of each sample; per-sample dW are summed in fp32.
#include <algorithm>
#include <memory>
#include <vector>

#include "conv_lowering.h"
#include "qgemm_packed.h"
#include "sample_sum.h"
#include "lowbit/core/threads.h"
#include "lowbit/fqt/qlayers.h"
#include "lowbit/fqt/qmatmul.h"
#include "lowbit/kernels/hadamard.h"
#include "lowbit/nn/module.h"

namespace lowbit::fqt {
namespace {

// Which operand of a per-sample GEMM the integer GEMM packs (its B) changes nothing in the
// result (the same integer dot products; the two scales commute exactly) but changes its speed.
// Measured with the AVX-512 VNNI kernel at ResNet-20 shapes (µs per sample, packed/other): the
// weight gradient packs G_n for up to 32 output channels (16: 8.9/11.0, 32: 7.7/9.1) and the
// transformed columns beyond (64: 13.5/16.9). The forward packs the columns, straight from
// im2col's rows (int_matmul_bt), at every stage.
bool pack_small_output_channels(int64_t K) { return K <= 32; }

// Rows row[0], row[1], ... of q's codes (same scale).
QTensor permute_rows(const QTensor& q, const std::vector<int64_t>& row) {
  const int64_t cols = q.codes.size(1);
  QTensor out{Tensor::empty({static_cast<int64_t>(row.size()), cols}, DType::i8), q.params};
  for (size_t m = 0; m < row.size(); ++m)
    std::copy_n(q.codes.data<int8_t>() + row[m] * cols, cols, out.codes.data<int8_t>() + static_cast<int64_t>(m) * cols);
  return out;
}

// x (C, H, W) codes as im2col's rows (CRS, L): from the taps of a same-size conv, else through
// a zero-padded copy.
void im2col(const ConvGeom& g, const TapMasks* taps, const int8_t* x, int8_t* out) {
  if (taps) return im2col_rows_i8(g, *taps, x, out);
  Tensor padded = Tensor::empty({padded_bytes(g)}, DType::i8);
  im2col_rows_i8(g, x, padded.data<int8_t>(), out);
}

// A same-size conv's im2col rows as shifted views of one sample (kernels::ShiftedRows): row
// c·RS + t is channel c shifted by tap t's delta under its mask.
struct ImageRows {
  const TapMasks& taps;
  std::vector<int64_t> offset;        // [CRS], from the sample's start
  std::vector<const uint64_t*> mask;  // [CRS]
  ImageRows(const ConvGeom& g, const TapMasks& t) : taps(t) {
    const int64_t RS = g.R() * g.S();
    for (int64_t k = 0; k < patch_rows(g); ++k) {
      offset.push_back(k / RS * g.H() * g.W() + t.delta[static_cast<size_t>(k % RS)]);
      mask.push_back(t.mask[static_cast<size_t>(k % RS)].data());
    }
  }
  kernels::ShiftedRows of(const int8_t* sample) const { return {sample, offset.data(), mask.data()}; }
};

}  // namespace

// A same-size conv's tables (tap masks, the fused col2im's rows, the im2col rows as shifted
// views): they depend on the geometry but not on N or the data, so a layer builds them on its
// first call and keeps them in its QuantContext while the geometry stays (they were rebuilt
// serially on the main thread twice per layer and step). Nodes share them.
struct ConvTables {
  ConvGeom geo;  // with N = 0
  Col2imScatter scatter;
  ImageRows rows;
  explicit ConvTables(const ConvGeom& g) : geo(batchless(g)), scatter(col2im_scatter(g)), rows(g, scatter.taps) {}
  static ConvGeom batchless(ConvGeom g) {
    g.N = 0;
    return g;
  }
};

namespace {

// ctx's tables when built for g's geometry (any N), else new ones, kept. g: col2im_fusable.
std::shared_ptr<const ConvTables> same_size_tables(QuantContext& ctx, const ConvGeom& g) {
  if (!ctx.conv_tables || !(ctx.conv_tables->geo == ConvTables::batchless(g)))
    ctx.conv_tables = std::make_shared<const ConvTables>(g);
  return ctx.conv_tables;
}

// Floats of dcol computed and added to dX at a time (64 KiB: two 3×3 channels at 784 positions).
constexpr int64_t kDcolPieceFloats = 16384;

struct QConvNode : Node {
  ConvGeom geo;
  QTensor x, w;  // x codes (N, C*H*W), w codes (K, CRS)
  std::shared_ptr<QuantContext> ctx;
  std::shared_ptr<const ConvTables> tables;  // same-size convs (col2im_fusable), else null
  QConvNode(const Var& xv, const Var& wv, const Var& bv, ConvGeom g, QTensor xc, QTensor wc,
            std::shared_ptr<QuantContext> c, std::shared_ptr<const ConvTables> t)
      : Node({xv, wv, bv}), geo(g), x(std::move(xc)), w(std::move(wc)), ctx(std::move(c)), tables(std::move(t)) {}
  std::string_view name() const override { return "quantized_conv2d"; }

  // Streams of one backward: element e of a sample's tensor uses index (sample offset + e).
  struct Streams {
    uint64_t grad_input_g, grad_weight_g, grad_weight_x;
  };

  // dX_n (C,H,W) += col2im(dcol) with dcol (CRS, L) = (s_w' s_g / h(K)) · sat(Q(H_K W_q) Q_sr(G_nᵀ H_K)ᵀ):
  // the spec's (L, CRS) product computed transposed, so col2im reads rows. It runs a few input
  // channels (their R·S rows of dcol) at a time, so that each piece of dcol is added to dX while
  // still in L1/L2; a dX element only receives terms of its own channel, in the same order.
  // With `fused` (col2im_fusable convs), w_op's rows are in fused->row order and the GEMM adds
  // straight into dX (col2im in its epilogue): no dcol at all.
  void grad_input_sample(int64_t n, const float* gn, const QTensor& w_op, const Col2imScatter* fused, const Streams& st,
                         float* dx_n) const {
    const QuantConfig& cfg = ctx->cfg;
    const int64_t K = geo.K, L = positions(geo), RS = geo.R() * geo.S();
    Tensor gt = Tensor::empty({L, K});
    transpose_f32(gn, K, L, gt.data<float>());
    const QTensor gq =
        grad_operand(gt.data<float>(), L, K, cfg.grad_input, {ctx->seed, st.grad_input_g, static_cast<uint64_t>(n * L * K)});
    const PackedOperand gp = pack_operand(gq, cfg.grad_input);
    if (fused) return int_matmul_scatter_add(w_op, gp, cfg.grad_input, 1.0f, fused->offset.data(), fused->mask.data(), dx_n);
    const int64_t channels = std::clamp<int64_t>(kDcolPieceFloats / (RS * L), 1, geo.C);
    Tensor dcol = Tensor::empty({channels * RS, L});
    for (int64_t c0 = 0; c0 < geo.C; c0 += channels) {
      ConvGeom piece = geo;
      piece.C = std::min(channels, geo.C - c0);
      int_matmul_rows(w_op, c0 * RS, (c0 + piece.C) * RS, gp, cfg.grad_input, 1.0f, dcol.data<float>(), L);
      col2im_rows_add(piece, dcol.data<float>(), dx_n + c0 * geo.H() * geo.W());
    }
  }

  // dW_n (K, CRS) = (s_g' s_hx s_x / h(L)) · sat(Q_sr(G_n H_L) · Q_sr(H_L X_nᵀ)ᵀ), reduction over
  // the L positions of the sample; written to dw_n, as its transpose (CRS, K) when
  // pack_small_output_channels(K): the GEMM then runs as dW_nᵀ so that its packed operand is
  // the small G_n rather than the CRS×L columns, and the batch sum is transposed once.
  // `taps`: those of a same-size conv, else null.
  // `rows`: a same-size conv's im2col rows as shifted views of the sample (ImageRows), else null.
  void grad_weight_sample(int64_t n, const float* gn, const ImageRows* rows, const Streams& st, float* dw_n) const {
    const GemmConfig& g = ctx->cfg.grad_weight;
    const int64_t K = geo.K, L = positions(geo), CRS = patch_rows(geo);
    const int8_t* xn = x.codes.data<int8_t>() + n * sample_size(geo);
    const QTensor gq = grad_operand(gn, K, L, g, {ctx->seed, st.grad_weight_g, static_cast<uint64_t>(n * K * L)});
    const RandomKey key_x{ctx->seed, st.grad_weight_x, static_cast<uint64_t>(n * CRS * L)};
    QTensor xh;
    if (rows && g.hadamard) {  // H·X straight from the sample: no im2col written
      xh = transformed_operand(rows->of(xn), CRS, L, x.scale(), g, key_x);
    } else {
      QTensor xt{Tensor::empty({CRS, L}, DType::i8), x.params};
      im2col(geo, rows ? &rows->taps : nullptr, xn, xt.codes.data<int8_t>());
      xh = transformed_operand(xt, g, key_x);
    }
    const float inv_h = g.hadamard ? 1.0f / static_cast<float>(kernels::hadamard_block(L)) : 1.0f;
    if (!pack_small_output_channels(K)) return int_matmul(gq, xh, g, inv_h, dw_n, CRS);
    int_matmul(xh, gq, g, inv_h, dw_n, K);  // s_hx·s_g equals s_g·s_hx exactly
  }

  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor gc = g.contiguous();  // (N, K, L)
    const int64_t N = geo.N, K = geo.K, L = positions(geo), CRS = patch_rows(geo);
    const bool want_x = inputs()[0].requires_grad(), want_w = inputs()[1].requires_grad();
    const bool want_b = inputs()[2].defined() && inputs()[2].requires_grad();
    // dX is zeroed one sample at a time, right before its col2im (in cache then, where zeroing the
    // whole batch up front would leave it in memory).
    Tensor dx = want_x ? Tensor::empty({N, geo.C, geo.H(), geo.W()}) : Tensor();
    Tensor dw = want_w ? Tensor::zeros({K, geo.C, geo.R(), geo.S()}) : Tensor();
    Tensor db = want_b ? Tensor::zeros({K}) : Tensor();
    const bool fuse = want_x && tables;
    const Col2imScatter* fused = tables ? &tables->scatter : nullptr;
    const ImageRows* image_rows = tables ? &tables->rows : nullptr;
    QTensor w_op = want_x ? grad_input_weight_operand(w, ctx->cfg.grad_input) : QTensor{};
    if (fuse) w_op = permute_rows(w_op, fused->row);
    const Streams st{sr_stream(*ctx, SrTensor::grad_input_g), sr_stream(*ctx, SrTensor::grad_weight_g),
                     sr_stream(*ctx, SrTensor::grad_weight_x)};
    const float* gp = gc.data<float>();
    auto input_grad = [&](int64_t n) {
      float* dx_n = dx.data<float>() + n * sample_size(geo);
      std::fill(dx_n, dx_n + sample_size(geo), 0.0f);
      grad_input_sample(n, gp + n * K * L, w_op, fuse ? fused : nullptr, st, dx_n);
    };
    // The per-sample dW are summed element by element in sample order (for any thread count), in
    // whichever layout grad_weight_sample wrote them; a transposed sum is transposed into dw.
    const bool transposed = pack_small_output_channels(K);
    Tensor dw_sum = want_w && transposed ? Tensor::zeros({CRS, K}) : dw;
    if (want_w) {
      for_each_sample_summed(N, K * CRS, dw_sum.data<float>(), [&](int64_t n, float* dw_n) {
        if (want_x) input_grad(n);
        grad_weight_sample(n, gp + n * K * L, image_rows, st, dw_n);
      });
    } else if (want_x) {
      parallel_for(N, 1, [&](int64_t b, int64_t e) {
        for (int64_t n = b; n < e; ++n) input_grad(n);
      });
    }
    if (want_w && transposed) transpose_f32(dw_sum.data<float>(), CRS, K, dw.data<float>());
    if (want_b) {
      float* dbp = db.data<float>();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k)
          for (int64_t l = 0; l < L; ++l) dbp[k] += gp[(n * K + k) * L + l];
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
  LOWBIT_REQUIRE(opt.stride >= 1 && opt.padding >= 0, "quantized_conv2d",
                 "expects stride >= 1 and padding >= 0, got stride={} padding={}", opt.stride, opt.padding);
  LOWBIT_REQUIRE(x.size(1) == w.size(1), "quantized_conv2d", "input has {} channels, weight expects {}", x.size(1),
                 w.size(1));
  const Tensor xc = x.value().contiguous(), wc = w.value().contiguous();
  const ConvGeom g = ConvGeom::conv2d(xc.size(0), xc.size(1), xc.size(2), xc.size(3), wc.size(0), wc.size(2), wc.size(3))
                         .strides(opt.stride, opt.stride)
                         .pads(opt.padding, opt.padding);
  require_lowerable(g);
  LOWBIT_REQUIRE(g.OH() >= 1 && g.OW() >= 1, "quantized_conv2d", "kernel does not fit input {}", shape_str(xc.shape()));
  const QuantConfig& cfg = ctx->cfg;
  const int64_t CHW = sample_size(g), L = positions(g), CRS = patch_rows(g);
  // x's codes are written per sample inside the samples' loop below (in cache for the GEMM).
  QTensor xq = operand_grid(xc.data<float>(), g.N, CHW, cfg.forward.a, true);
  QTensor wq = quantize_operand(wc.data<float>(), g.K, CRS, cfg.forward.b, false);
  Tensor y = Tensor::empty({g.N, g.K, g.OH(), g.OW()});
  const Tensor bc = bias.defined() ? bias.value().contiguous() : Tensor();
  const float* bias_p = bc.defined() ? bc.data<float>() : nullptr;
  const bool same_size = col2im_fusable(g);
  // Same-size convs: the GEMM packs its columns straight from the sample (no im2col written).
  std::shared_ptr<const ConvTables> tables = same_size ? same_size_tables(*ctx, g) : nullptr;
  parallel_for(g.N, 1, [&](int64_t b, int64_t e) {
    Tensor rows = same_size ? Tensor() : Tensor::empty({CRS, L}, DType::i8);
    for (int64_t n = b; n < e; ++n) {
      quantize_operand_rows(xc.data<float>(), n, n + 1, cfg.forward.a, {}, xq);
      const int8_t* xn = xq.codes.data<int8_t>() + n * CHW;
      float* yn = y.data<float>() + n * g.K * L;
      // (K, L) = W_q · colᵀ = qforward(wq, col) with col = rowsᵀ: the columns packed straight
      // from the rows (or the sample), the output in NCHW order (no transposes).
      if (same_size) {
        int_matmul_shifted(wq, tables->rows.of(xn), L, xq.scale(), cfg.forward, 1.0f, yn, L);
      } else {
        im2col(g, nullptr, xn, rows.data<int8_t>());
        int_matmul_bt(wq, rows.data<int8_t>(), L, L, xq.scale(), cfg.forward, 1.0f, yn, L);
      }
      if (bc.defined())
        for (int64_t k = 0; k < g.K; ++k)
          for (int64_t l = 0; l < L; ++l) yn[k * L + l] += bias_p[k];
    }
  });
  return make_output<QConvNode>(y, {&x, &w, &bias}, x, w, bias, g, std::move(xq), std::move(wq), ctx,
                                   std::move(tables));
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
