// Range estimation: one pass for min/max; the other methods add a second pass that fills a
// histogram over [min, max] per tensor and pick the range from it (calibrate.h).
#include "lowbit/ptq/calibrate.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "lowbit/core/error.h"
#include "lowbit/onnx/executor.h"

namespace lowbit::ptq {

CalibMethod parse_calib_method(const std::string& name) {
  if (name == "minmax") return CalibMethod::minmax;
  if (name == "percentile") return CalibMethod::percentile;
  if (name == "mse") return CalibMethod::mse;
  if (name == "entropy") return CalibMethod::entropy;
  throw ValueError(fmt::format("[quantize] unknown calibration method '{}' (expected minmax, percentile, mse or entropy)", name));
}

const char* calib_method_name(CalibMethod m) {
  switch (m) {
    case CalibMethod::minmax: return "minmax";
    case CalibMethod::percentile: return "percentile";
    case CalibMethod::mse: return "mse";
    case CalibMethod::entropy: return "entropy";
  }
  return "?";
}

onnx::Array batch_rows(const onnx::Array& x, int64_t r0, int64_t r1) {
  Shape s = x.shape();
  const int64_t per = x.numel() / std::max<int64_t>(s[0], 1);
  s[0] = r1 - r0;
  onnx::Array out = onnx::Array::empty(x.type(), s);
  std::memcpy(out.raw(), x.raw() + r0 * per * static_cast<int64_t>(onnx::elem_size(x.type())), out.nbytes());
  return out;
}

namespace {

// Expected squared error of uint8 quantization with range [lo, hi] for the histogram
// (values at bin centres): clipping error outside, Δ²/12 rounding noise inside.
double quant_mse(float min, float max, const std::vector<double>& counts, double lo, double hi) {
  const double width = (static_cast<double>(max) - min) / static_cast<double>(counts.size());
  const double step = (hi - lo) / 255.0;
  double err = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0) continue;
    const double v = min + (static_cast<double>(i) + 0.5) * width;
    if (v < lo) err += counts[i] * (lo - v) * (lo - v);
    else if (v > hi) err += counts[i] * (v - hi) * (v - hi);
    else err += counts[i] * step * step / 12.0;
  }
  return err;
}

// KL divergence between the histogram clipped to bins [b0, b1) (outliers folded into the edge
// bins) and its quantization to `levels` levels (TensorRT's entropy calibration). The bin
// holding 0 is left out: after a ReLU it holds a large share of the values, which quantize
// exactly, and spreading it over its level's neighbours would make every wide range look bad.
double kl_for(std::vector<double> counts, size_t b0, size_t b1, int levels, size_t zero_bin) {
  if (zero_bin < counts.size()) counts[zero_bin] = 0;
  const size_t n = b1 - b0;
  std::vector<double> p(counts.begin() + static_cast<long>(b0), counts.begin() + static_cast<long>(b1));
  for (size_t i = 0; i < b0; ++i) p.front() += counts[i];
  for (size_t i = b1; i < counts.size(); ++i) p.back() += counts[i];
  std::vector<double> q(n, 0.0);
  for (int l = 0; l < levels; ++l) {
    const size_t s = n * static_cast<size_t>(l) / static_cast<size_t>(levels), e = n * static_cast<size_t>(l + 1) / static_cast<size_t>(levels);
    double sum = 0;
    size_t nonzero = 0;
    for (size_t i = s; i < e; ++i) {
      sum += counts[b0 + i];
      nonzero += counts[b0 + i] > 0;
    }
    for (size_t i = s; i < e; ++i)
      if (counts[b0 + i] > 0) q[i] = sum / static_cast<double>(nonzero);
  }
  double ps = 0, qs = 0;
  for (size_t i = 0; i < n; ++i) ps += p[i], qs += q[i];
  if (ps <= 0 || qs <= 0) return std::numeric_limits<double>::infinity();
  double kl = 0;
  for (size_t i = 0; i < n; ++i) {
    if (p[i] <= 0) continue;
    const double pi = p[i] / ps, qi = q[i] / qs;
    kl += qi > 0 ? pi * std::log(pi / qi) : pi * 20.0;  // an empty quantized bin: a large penalty
  }
  return kl;
}

}  // namespace

TensorRange choose_range(float min, float max, const std::vector<double>& counts, const CalibOptions& opt) {
  TensorRange r{min, max, std::min(min, 0.0f), std::max(max, 0.0f), {}, {}};
  if (opt.method == CalibMethod::minmax || max <= min || counts.empty()) return r;
  const size_t nb = counts.size();
  const double width = (static_cast<double>(max) - min) / static_cast<double>(nb);
  auto edge = [&](size_t b) { return static_cast<float>(min + width * static_cast<double>(b)); };
  double total = 0;
  for (double c : counts) total += c;
  if (opt.method == CalibMethod::percentile) {
    const double tail = total * (1.0 - opt.percentile / 100.0);
    double acc = 0;
    size_t b0 = 0, b1 = nb;
    while (b0 < nb && acc + counts[b0] <= tail) acc += counts[b0++];
    acc = 0;
    while (b1 > b0 + 1 && acc + counts[b1 - 1] <= tail) acc += counts[--b1];
    r.lo = std::min(edge(b0), 0.0f);
    r.hi = std::max(edge(b1), 0.0f);
    return r;
  }
  // mse and entropy: shrink both ends of [lo, hi] by the same fraction of the range.
  double best = std::numeric_limits<double>::infinity();
  const size_t zero_bin = static_cast<size_t>(std::clamp((0.0 - min) / width, 0.0, static_cast<double>(nb)));
  for (int step = 0; step <= 100; ++step) {
    const double f = 1.0 - 0.0075 * step;  // down to 25 % of the observed range
    const size_t b0 = static_cast<size_t>(static_cast<double>(zero_bin) * (1.0 - f));
    const size_t b1 = zero_bin + static_cast<size_t>(std::ceil(static_cast<double>(nb - zero_bin) * f));
    if (b1 <= b0 + 1) break;
    const double lo = std::min(static_cast<double>(edge(b0)), 0.0), hi = std::max(static_cast<double>(edge(b1)), 0.0);
    const double score = opt.method == CalibMethod::mse ? quant_mse(min, max, counts, lo, hi) : kl_for(counts, b0, b1, 255, std::min(zero_bin, nb - 1));
    if (score < best) {
      best = score;
      r.lo = static_cast<float>(lo);
      r.hi = static_cast<float>(hi);
    }
  }
  return r;
}

namespace {

// Adds one batch to per-channel sums of x and x^2 along `axis` (kLastAxis: the last one).
void add_moments(const onnx::Array& v, int axis, std::vector<double>& sum, std::vector<double>& sq, int64_t& count) {
  const auto& s = v.shape();
  if (s.empty()) return;
  const size_t a = axis == kLastAxis ? s.size() - 1 : static_cast<size_t>(axis);
  if (a >= s.size()) return;
  int64_t inner = 1;
  for (size_t d = a + 1; d < s.size(); ++d) inner *= s[d];
  const int64_t ch = s[a], outer = ch * inner > 0 ? v.numel() / (ch * inner) : 0;
  sum.resize(static_cast<size_t>(ch), 0.0);
  sq.resize(static_cast<size_t>(ch), 0.0);
  const float* p = v.data<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < ch; ++c) {
      double s1 = 0, s2 = 0;
      const float* q = p + (o * ch + c) * inner;
      for (int64_t i = 0; i < inner; ++i) s1 += q[i], s2 += static_cast<double>(q[i]) * q[i];
      sum[static_cast<size_t>(c)] += s1;
      sq[static_cast<size_t>(c)] += s2;
    }
  count += outer * inner;
}

}  // namespace

std::vector<TensorRange> calibrate(const onnx::Graph& g, const std::vector<int>& tensors, const InputBatch& calib,
                                   const CalibOptions& opt, const std::vector<int>& channel_axes) {
  LOWBIT_REQUIRE(channel_axes.empty() || channel_axes.size() == tensors.size(), "quantize", "{} channel axes for {} tensors",
                 channel_axes.size(), tensors.size());
  LOWBIT_REQUIRE(calib.samples() > 0, "quantize", "the calibration set is empty");
  LOWBIT_REQUIRE(g.inputs.size() == calib.arrays.size(), "quantize", "the model has {} inputs but the calibration data gives {}",
                 g.inputs.size(), calib.arrays.size());
  onnx::Graph probe = g;
  const size_t first = probe.outputs.size();
  for (int t : tensors) probe.outputs.push_back(t);
  onnx::Session session(std::move(probe), onnx::SessionOptions{1, 0, true});
  const int64_t n = calib.samples();
  std::vector<float> mn(tensors.size(), std::numeric_limits<float>::infinity()), mx(tensors.size(), -std::numeric_limits<float>::infinity());
  std::vector<std::vector<double>> hist(tensors.size()), msum(tensors.size()), msq(tensors.size());
  std::vector<int64_t> mcount(tensors.size(), 0);
  for (int pass = 0; pass < (opt.method == CalibMethod::minmax ? 1 : 2); ++pass) {
    for (int64_t r0 = 0; r0 < n; r0 += opt.batch) {
      const auto outs = session.run(calib.rows(r0, std::min(n, r0 + opt.batch)).arrays);
      for (size_t t = 0; t < tensors.size(); ++t) {
        const onnx::Array& v = outs[first + t];
        const float* p = v.data<float>();
        if (pass == 0) {
          if (!channel_axes.empty() && channel_axes[t] != kNoMoments) add_moments(v, channel_axes[t], msum[t], msq[t], mcount[t]);
          for (int64_t i = 0; i < v.numel(); ++i) {
            mn[t] = std::min(mn[t], p[i]);
            mx[t] = std::max(mx[t], p[i]);
          }
          continue;
        }
        auto& h = hist[t];
        h.resize(static_cast<size_t>(opt.bins), 0.0);
        const double w = (static_cast<double>(mx[t]) - mn[t]) / opt.bins;
        if (w <= 0) continue;
        for (int64_t i = 0; i < v.numel(); ++i)
          h[static_cast<size_t>(std::clamp<int64_t>(static_cast<int64_t>((p[i] - mn[t]) / w), 0, opt.bins - 1))] += 1;
      }
    }
  }
  std::vector<TensorRange> out;
  for (size_t t = 0; t < tensors.size(); ++t) {
    LOWBIT_REQUIRE(std::isfinite(mn[t]) && std::isfinite(mx[t]), "quantize", "tensor '{}' has non-finite values on the calibration data",
                   g.values[static_cast<size_t>(tensors[t])].name);
    out.push_back(choose_range(mn[t], mx[t], hist[t], opt));
    if (mcount[t] > 0) {
      const double n_per_channel = static_cast<double>(mcount[t]);
      for (size_t c = 0; c < msum[t].size(); ++c) {
        out.back().mean.push_back(msum[t][c] / n_per_channel);
        out.back().sq.push_back(msq[t][c] / n_per_channel);
      }
    }
  }
  return out;
}

}  // namespace lowbit::ptq
