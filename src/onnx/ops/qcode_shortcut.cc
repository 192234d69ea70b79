// Ops between the convs, each able to read channels-last:
// lowbit.SubsamplePad: Slice on the two spatial axes (start, end, step ≥ 1 each) followed by a
// Pad of the channel axis with a fill value — the option-A shortcut of CIFAR ResNets, on float
// activations (passes_shortcut.cc) or on uint8/int8 codes (passes_qdq_codes.cc). One op instead
// of two or three, reading and writing channels-last when its neighbours do, so the shortcut no
// longer breaks the channels-last chain of the convs around it.
//   inputs: x [B, C, H, W] (any fixed-size element type), fill (optional scalar of x's type; zero)
//   attrs:  start_h, end_h, step_h, start_w, end_w, step_w, pad_c_before, pad_c_after
//   output: [B, pad_c_before + C + pad_c_after, ceil((min(end_h, H) − start_h) / step_h), … w]
#include <algorithm>
#include <cstring>
#include <vector>

#include "lowbit/core/threads.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

struct Spec {
  int64_t h0, h1, sh, w0, w1, sw, cb, ca;
};

Spec spec_of(const Node& n) {
  return Spec{n.attr_i("start_h", 0), n.attr_i("end_h", 0), n.attr_i("step_h", 1), n.attr_i("start_w", 0),
              n.attr_i("end_w", 0),   n.attr_i("step_w", 1), n.attr_i("pad_c_before", 0), n.attr_i("pad_c_after", 0)};
}

int64_t out_len(int64_t start, int64_t end, int64_t step, int64_t dim) {
  const int64_t e = std::min(end, dim);
  return e > start ? (e - start + step - 1) / step : 0;
}

void infer(InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(elem_size(ctx.in[0].elem) > 0 || ctx.in[0].elem == ElemType::undefined, ctx, "element type {} is not supported",
                      elem_name(ctx.in[0].elem));
  if (ctx.has(1)) {
    LOWBIT_NODE_REQUIRE(ctx.in[1].elem == ctx.in[0].elem, ctx, "fill of type {} for data of type {}", elem_name(ctx.in[1].elem),
                        elem_name(ctx.in[0].elem));
    LOWBIT_NODE_REQUIRE(!ctx.shape_known(1) || checked_numel(ctx.shape(1), "SubsamplePad") == 1, ctx, "fill must be one value, got shape {}",
                        shape_str(ctx.shape(1)));
  }
  const Spec s = spec_of(ctx.node);
  LOWBIT_NODE_REQUIRE(s.sh >= 1 && s.sw >= 1 && s.h0 >= 0 && s.w0 >= 0 && s.cb >= 0 && s.ca >= 0, ctx, "invalid slice/pad attributes");
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Shape& x = ctx.shape(0);
  LOWBIT_NODE_REQUIRE(x.size() == 4, ctx, "expects a 4-d input, got {}", shape_str(x));
  ctx.set_out(0, ctx.in[0].elem, {x[0], s.cb + x[1] + s.ca, out_len(s.h0, s.h1, s.sh, x[2]), out_len(s.w0, s.w1, s.sw, x[3])});
}

// Copies of one element size; `fill` holds one element's bytes.
template <typename T>
void subsample_pad(const Spec& s, bool nhwc, const T* src, T fill, const Shape& xs, const Shape& ys, T* dst) {
  const int64_t B = xs[0], C = xs[1], H = xs[2], W = xs[3], Co = ys[1], OH = ys[2], OW = ys[3];
  if (nhwc) {  // [B, H, W, C] → [B, OH, OW, Co]
    parallel_for(B * OH, std::max<int64_t>(1, 4096 / std::max<int64_t>(OW * Co, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t b = r / OH, ih = s.h0 + (r % OH) * s.sh;
        for (int64_t ow = 0; ow < OW; ++ow) {
          T* o = dst + (r * OW + ow) * Co;
          std::fill_n(o, s.cb, fill);
          std::copy_n(src + ((b * H + ih) * W + s.w0 + ow * s.sw) * C, C, o + s.cb);
          std::fill_n(o + s.cb + C, s.ca, fill);
        }
      }
    });
    return;
  }
  parallel_for(B * Co, std::max<int64_t>(1, 4096 / std::max<int64_t>(OH * OW, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / Co, c = r % Co - s.cb;
      T* o = dst + r * OH * OW;
      if (c < 0 || c >= C) {
        std::fill_n(o, OH * OW, fill);
        continue;
      }
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) o[oh * OW + ow] = src[((b * C + c) * H + s.h0 + oh * s.sh) * W + s.w0 + ow * s.sw];
    }
  });
}

template <typename T>
void run_typed(RunCtx& ctx, const Spec& s) {
  const Array& x = ctx.input(0);
  Array& y = *ctx.out[0];
  T fill{};
  if (ctx.has(1)) std::memcpy(&fill, ctx.input(1).raw(), sizeof(T));
  subsample_pad<T>(s, ctx.nhwc_inputs & 1, reinterpret_cast<const T*>(x.raw()), fill, x.shape(), y.shape(), reinterpret_cast<T*>(y.raw()));
}

void run(RunCtx& ctx) {
  const Spec s = spec_of(ctx.node);
  switch (elem_size(ctx.input(0).type())) {  // the op only moves elements: their bytes will do
    case 1: return run_typed<uint8_t>(ctx, s);
    case 2: return run_typed<uint16_t>(ctx, s);
    case 4: return run_typed<uint32_t>(ctx, s);
    case 8: return run_typed<uint64_t>(ctx, s);
    default: throw InternalError(fmt::format("[onnx] {}: element size {}", ctx.node.describe(), elem_size(ctx.input(0).type())));
  }
}

// lowbit.DequantizeMeanHW (x codes [B, C, H, W], x_scale, x_zero_point) → float [B, C, 1, 1]:
// GlobalAveragePool(DequantizeLinear(x)) with the sum taken exactly in integers, then
// (sum / (H·W) − z)·s in double rounded once to fp32.
void mean_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::u8, ElemType::i8});
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ElemType::f32);
  const Shape& x = ctx.shape(0);
  LOWBIT_NODE_REQUIRE(x.size() == 4, ctx, "expects a 4-d input, got {}", shape_str(x));
  ctx.set_out(0, ElemType::f32, {x[0], x[1], 1, 1});
}

void mean_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  const double s = ctx.input(1).get_f64(0), z = ctx.has(2) ? static_cast<double>(ctx.input(2).get_i64(0)) : 0.0;
  const int64_t B = x.shape()[0], C = x.shape()[1], HW = x.shape()[2] * x.shape()[3];
  const bool u8 = x.type() == ElemType::u8, nhwc = ctx.nhwc_inputs & 1;
  const auto* p = reinterpret_cast<const uint8_t*>(x.raw());
  float* y = ctx.out[0]->data<float>();  // [B, C, 1, 1]: the same bytes in either layout
  auto code = [&](int64_t i) { return u8 ? int64_t{p[i]} : int64_t{static_cast<int8_t>(p[i])}; };
  parallel_for(B, 1, [&](int64_t b0, int64_t b1) {
    std::vector<int64_t> sum(static_cast<size_t>(C));
    for (int64_t b = b0; b < b1; ++b) {
      std::fill(sum.begin(), sum.end(), 0);
      if (nhwc)
        for (int64_t i = 0; i < HW; ++i)
          for (int64_t c = 0; c < C; ++c) sum[static_cast<size_t>(c)] += code((b * HW + i) * C + c);
      else
        for (int64_t c = 0; c < C; ++c)
          for (int64_t i = 0; i < HW; ++i) sum[static_cast<size_t>(c)] += code((b * C + c) * HW + i);
      for (int64_t c = 0; c < C; ++c)
        y[b * C + c] = static_cast<float>((static_cast<double>(sum[static_cast<size_t>(c)]) / static_cast<double>(HW) - z) * s);
    }
  });
}

}  // namespace

void add_qcode_shortcut_ops(OpList& ops) {
  ops.push_back(OpDef{"lowbit", "DequantizeMeanHW", 1, {}, mean_infer, mean_run});
  ops.back().channels_last = [](const InferCtx& ctx) -> uint64_t {
    return ctx.shape_known(0) && ctx.shape(0).size() == 4 ? 1 : 0;
  };
  ops.push_back(OpDef{"lowbit", "SubsamplePad", 1,
                      {"start_h", "end_h", "step_h", "start_w", "end_w", "step_w", "pad_c_before", "pad_c_after"}, infer, run});
  ops.back().channels_last = [](const InferCtx& ctx) -> uint64_t {
    return ctx.shape_known(0) && ctx.shape(0).size() == 4 ? (1 | kTiedLayout) : 0;
  };
}

}  // namespace lowbit::onnx
