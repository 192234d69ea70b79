// Scale choice, quantize/dequantize/requantize and int4 packing on Tensors: argument checks
// here, arithmetic in lowbit/kernels/quant.h. A tensor is seen by the kernels as
// (outer, channels, inner) around the channel axis (channels = 1 per tensor).
#include "lowbit/quant/quantize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "lowbit/core/rng.h"
#include "lowbit/kernels/quant.h"

namespace lowbit::quant {
namespace {

namespace k = lowbit::kernels;

void check_bits(int bits, std::string_view op) {
  LOWBIT_REQUIRE(bits >= 2 && bits <= 8, op, "bits must be in [2, 8], got {}", bits);
}

// (outer, channels, inner) of x around `axis` (-1: the whole tensor is one channel).
k::QuantGrid grid_of(const Shape& shape, int64_t axis) {
  k::QuantGrid g;
  if (axis < 0) {
    g.inner = shape_numel(shape);
    return g;
  }
  for (int64_t d = 0; d < axis; ++d) g.outer *= shape[d];
  g.channels = shape[axis];
  for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) g.inner *= shape[d];
  return g;
}

int64_t normalize_axis(const Tensor& x, int64_t axis, std::string_view op) {
  if (axis == -1 && x.dim() == 0) return -1;
  const int64_t a = axis < 0 ? axis + x.dim() : axis;
  LOWBIT_REQUIRE(a >= 0 && a < x.dim(), op, "axis {} out of range for a {}-d tensor", axis, x.dim());
  return a;
}

struct Stats {
  float lo = 0, hi = 0;
};

// Per-channel min and max of a contiguous f32 tensor laid out as grid g (NaN ignored).
std::vector<Stats> channel_stats(const float* x, const k::QuantGrid& g) {
  std::vector<Stats> s(static_cast<size_t>(g.channels), Stats{INFINITY, -INFINITY});
  for (int64_t o = 0; o < g.outer; ++o)
    for (int64_t c = 0; c < g.channels; ++c) {
      float lo, hi;
      k::min_max_f32(g.inner, x + (o * g.channels + c) * g.inner, &lo, &hi);
      s[c].lo = std::min(s[c].lo, lo);
      s[c].hi = std::max(s[c].hi, hi);
    }
  return s;
}

void check_f32(const Tensor& x, std::string_view op) {
  LOWBIT_REQUIRE(x.defined(), op, "input tensor is undefined");
  LOWBIT_REQUIRE(x.dtype() == DType::f32, op, "expected an f32 tensor, got {}", dtype_name(x.dtype()));
}

}  // namespace

RandomKey keyed_stream(uint64_t seed, uint64_t step, uint64_t tensor_id) { return {seed, mix_stream(step, tensor_id), 0}; }

QuantParams QuantParams::per_tensor_grid(int bits, int32_t qmin, int32_t qmax, float scale) {
  QuantParams p;
  p.bits = bits;
  p.qmin = qmin;
  p.qmax = qmax;
  p.scale = Tensor::full({1}, scale);
  return p;
}

float QuantParams::scale_at(int64_t c) const { return scale.data<float>()[c]; }

QuantParams choose_params(const Tensor& x, int bits, Scheme scheme, float clip, int64_t axis) {
  constexpr std::string_view op = "choose_params";
  check_f32(x, op);
  check_bits(bits, op);
  LOWBIT_REQUIRE(clip > 0.0f && clip <= 1.0f, op, "clip factor must be in (0, 1], got {}", clip);
  const Tensor xc = x.contiguous();
  QuantParams p;
  p.bits = bits;
  p.axis = axis < 0 ? -1 : normalize_axis(x, axis, op);
  const k::QuantGrid g = grid_of(x.shape(), p.axis);
  const std::vector<Stats> st = channel_stats(xc.data<float>(), g);
  bool any_negative = false;
  for (const Stats& s : st) any_negative |= s.lo < 0.0f;
  if (scheme == Scheme::auto_sign) scheme = any_negative ? Scheme::symmetric : Scheme::unsigned_;
  const bool asym = scheme == Scheme::asymmetric || scheme == Scheme::asymmetric_signed;
  if (scheme == Scheme::symmetric) p.qmin = -q_max(bits), p.qmax = q_max(bits);
  else if (scheme == Scheme::asymmetric_signed) p.qmin = -q_max(bits) - 1, p.qmax = q_max(bits);
  else p.qmin = 0, p.qmax = (1 << bits) - 1;
  const int64_t C = g.channels;
  p.scale = Tensor::empty({C});
  if (asym) p.zero_point = Tensor::zeros({C}, DType::i32);
  for (int64_t c = 0; c < C; ++c) {
    const float lo = std::isfinite(st[c].lo) ? st[c].lo : 0.0f, hi = std::isfinite(st[c].hi) ? st[c].hi : 0.0f;
    float s;
    if (asym) {
      const float a = clip * std::min(lo, 0.0f), b = clip * std::max(hi, 0.0f);
      s = (b - a) / static_cast<float>(p.qmax - p.qmin);
      if (s > 0.0f) {
        const float z = static_cast<float>(p.qmin) - std::nearbyint(a / s);
        p.zero_point.data<int32_t>()[c] = static_cast<int32_t>(std::clamp(z, float(p.qmin), float(p.qmax)));
      }
    } else {
      // Signed: m = clip·max|x|, s = m / q_max(b). Unsigned: m = clip·max(x), s = m / (2^b - 1).
      const float m = clip * (p.qmin < 0 ? std::max(std::fabs(lo), std::fabs(hi)) : std::max(hi, 0.0f));
      s = m / static_cast<float>(p.qmax);
    }
    p.scale.data<float>()[c] = s > 0.0f && std::isfinite(s) ? s : 1.0f;
  }
  return p;
}

QTensor quantize(const Tensor& x, const QuantParams& p, Rounding rounding, RandomKey rs) {
  constexpr std::string_view op = "quantize";
  check_f32(x, op);
  check_bits(p.bits, op);
  LOWBIT_REQUIRE(p.qmin < p.qmax && p.qmin >= -128 && p.qmax <= 255 && (p.qmin >= 0 || p.qmax <= 127), op,
                 "code range [{}, {}] does not fit 8 bits", p.qmin, p.qmax);
  const int64_t axis = p.axis < 0 ? -1 : normalize_axis(x, p.axis, op);
  k::QuantGrid g = grid_of(x.shape(), axis);
  LOWBIT_REQUIRE(p.scale.defined() && p.scale.dtype() == DType::f32 && p.scale.numel() == g.channels, op,
                 "scale must be f32 with {} values, got {}", g.channels, p.scale.defined() ? p.scale.numel() : 0);
  const float* sc = p.scale.data<float>();
  for (int64_t c = 0; c < g.channels; ++c)
    LOWBIT_REQUIRE(sc[c] > 0.0f && std::isfinite(sc[c]), op, "scale[{}] = {} is not positive and finite", c, sc[c]);
  if (p.zero_point.defined())
    LOWBIT_REQUIRE(p.zero_point.dtype() == DType::i32 && p.zero_point.numel() == g.channels, op,
                   "zero_point must be i32 with {} values", g.channels);
  const Tensor xc = x.contiguous();
  const Tensor scale = p.scale.contiguous();
  const Tensor zp = p.zero_point.defined() ? p.zero_point.contiguous() : Tensor();
  g.scale = scale.data<float>();
  g.zero_point = zp.defined() ? zp.data<int32_t>() : nullptr;
  g.qmin = p.qmin;
  g.qmax = p.qmax;
  QTensor q{Tensor::empty(x.shape(), p.code_dtype()), p};
  if (q.codes.dtype() == DType::u8) k::quantize_f32_u8(g, xc.data<float>(), q.codes.data<uint8_t>(), rounding, rs);
  else k::quantize_f32_i8(g, xc.data<float>(), q.codes.data<int8_t>(), rounding, rs);
  return q;
}

QTensor quantize_per_tensor(const Tensor& x, int bits, Scheme scheme, Rounding rounding, float clip, RandomKey rs) {
  return quantize(x, choose_params(x, bits, scheme, clip, -1), rounding, rs);
}

QTensor quantize_per_channel(const Tensor& x, int64_t axis, int bits, Scheme scheme, Rounding rounding, float clip,
                             RandomKey rs) {
  LOWBIT_REQUIRE(x.dim() >= 1, "quantize_per_channel", "needs a tensor with at least one dimension");
  return quantize(x, choose_params(x, bits, scheme, clip, normalize_axis(x, axis, "quantize_per_channel")), rounding, rs);
}

Tensor dequantize(const QTensor& q) {
  constexpr std::string_view op = "dequantize";
  LOWBIT_REQUIRE(q.codes.defined(), op, "codes are undefined");
  if (q.codes.dtype() == DType::i4) return dequantize(unpack_int4(q));
  LOWBIT_REQUIRE(q.codes.dtype() == DType::i8 || q.codes.dtype() == DType::u8, op, "codes must be i8, u8 or i4, got {}",
                 dtype_name(q.codes.dtype()));
  k::QuantGrid g = grid_of(q.shape(), q.params.axis);
  LOWBIT_REQUIRE(q.params.scale.defined() && q.params.scale.numel() == g.channels, op, "expected {} scales", g.channels);
  const Tensor codes = q.codes.contiguous(), scale = q.params.scale.contiguous();
  const Tensor zp = q.params.zero_point.defined() ? q.params.zero_point.contiguous() : Tensor();
  g.scale = scale.data<float>();
  g.zero_point = zp.defined() ? zp.data<int32_t>() : nullptr;
  Tensor out = Tensor::empty(q.shape());
  if (codes.dtype() == DType::u8) k::dequantize_u8_f32(g, codes.data<uint8_t>(), out.data<float>());
  else k::dequantize_i8_f32(g, codes.data<int8_t>(), out.data<float>());
  return out;
}

QTensor requantize(const Tensor& acc, float unit, int bits, Rounding rounding, float clip, RandomKey rs) {
  constexpr std::string_view op = "requantize";
  LOWBIT_REQUIRE(acc.defined() && acc.dtype() == DType::i32, op, "expected an i32 tensor of accumulators");
  check_bits(bits, op);
  LOWBIT_REQUIRE(unit > 0.0f && std::isfinite(unit), op, "unit must be positive and finite, got {}", unit);
  LOWBIT_REQUIRE(clip > 0.0f && clip <= 1.0f, op, "clip factor must be in (0, 1], got {}", clip);
  const Tensor a = acc.contiguous();
  const int32_t m = kernels::max_abs_i32(a.numel(), a.data<int32_t>());
  // Scale in accumulator steps: codes = acc / s_int; the real scale is unit · s_int.
  float s_int = clip * static_cast<float>(m) / static_cast<float>(q_max(bits));
  if (!(s_int > 0.0f)) s_int = 1.0f;
  const QuantParams p = QuantParams::per_tensor_grid(bits, -q_max(bits), q_max(bits), unit * s_int);
  k::QuantGrid g;
  g.inner = a.numel();
  g.scale = &s_int;
  g.qmin = p.qmin;
  g.qmax = p.qmax;
  QTensor q{Tensor::empty(a.shape(), DType::i8), p};
  k::quantize_i32_i8(g, a.data<int32_t>(), q.codes.data<int8_t>(), rounding, rs);
  return q;
}

QTensor pack_int4(const QTensor& q) {
  LOWBIT_REQUIRE(q.codes.dtype() == DType::i8 && q.params.qmin >= -8 && q.params.qmax <= 7, "pack_int4",
                 "needs i8 codes in [-8, 7], got {} codes in [{}, {}]", dtype_name(q.codes.dtype()), q.params.qmin,
                 q.params.qmax);
  const Tensor c = q.codes.contiguous();
  QTensor out{Tensor::empty(c.shape(), DType::i4), q.params};
  kernels::pack_int4(c.numel(), c.data<int8_t>(), out.codes.packed());
  return out;
}

QTensor unpack_int4(const QTensor& q) {
  LOWBIT_REQUIRE(q.codes.dtype() == DType::i4, "unpack_int4", "needs i4 codes, got {}", dtype_name(q.codes.dtype()));
  QTensor out{Tensor::empty(q.shape(), DType::i8), q.params};
  kernels::unpack_int4(q.codes.numel(), q.codes.packed(), out.codes.data<int8_t>());
  return out;
}

Rounding parse_rounding(std::string_view name) {
  if (name == "nearest") return Rounding::nearest;
  if (name == "stochastic") return Rounding::stochastic;
  fail("parse_rounding", "unknown rounding '{}' (expected nearest or stochastic)", name);
}

std::string_view rounding_name(Rounding r) { return r == Rounding::nearest ? "nearest" : "stochastic"; }

}  // namespace lowbit::quant
