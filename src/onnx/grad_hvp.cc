// Second order on top of Backprop: Hessian-vector products by central differences of
// gradients (with a Richardson estimate of their error) and Hutchinson's trace estimator with
// Rademacher probes drawn from Philox (seed, stream = (iteration, tensor), index = element).
#include <chrono>
#include <cmath>

#include "lowbit/core/rng.h"
#include "lowbit/onnx/grad.h"

namespace lowbit::onnx {
namespace {

constexpr double kUnitRoundoff = 0x1.0p-24;  // float32

// base + s * v (f32).
Array axpy(const Array& base, double s, const Array& v) {
  Array r = Array::empty(ElemType::f32, base.shape());
  const float* b = base.data<float>();
  const float* x = v.data<float>();
  float* o = r.data<float>();
  for (int64_t i = 0; i < base.numel(); ++i) o[i] = static_cast<float>(b[i] + s * x[i]);
  return r;
}

Array scaled(const Array& v, double s) {
  Array r = Array::empty(ElemType::f32, v.shape());
  for (int64_t i = 0; i < v.numel(); ++i) r.data<float>()[i] = static_cast<float>(s * v.data<float>()[i]);
  return r;
}

}  // namespace

std::map<std::string, Array> Backprop::hvp(const std::vector<Array>& inputs, const LossSpec& loss,
                                           const std::map<std::string, Array>& v, double eps, double* error_bound) {
  if (!(eps > 0) || !std::isfinite(eps)) throw ValueError(fmt::format("[onnx.grad] hvp: eps must be > 0, got {}", eps));
  std::vector<std::string> names;
  for (const auto& [name, a] : v) {
    const int id = value_id(name, "hvp");
    if (a.type() != ElemType::f32) throw ValueError(fmt::format("[onnx.grad] hvp: v['{}'] must be float32", name));
    if (const Array* w = graph_.constant(id); w && w->shape() != a.shape())
      throw ValueError(fmt::format("[onnx.grad] hvp: v['{}'] has shape {}, the initializer {}", name,
                                   shape_str(a.shape()), shape_str(w->shape())));
    names.push_back(name);
  }
  // Gradients at x + s*v (initializers replaced, activations perturbed), on the pieces of x.
  struct Unfreeze {
    std::map<int, std::pair<Array, Array>>& p;
    ~Unfreeze() { p.clear(); }
  } unfreeze{pieces_};
  freeze_pieces(inputs);
  auto grads_at = [&](double s) {
    std::map<std::string, Array> rep, add;
    for (const auto& [name, a] : v) {
      if (const Array* w = graph_.constant(value_id(name, "hvp")))
        rep[name] = axpy(*w, s, a);
      else
        add[name] = scaled(a, s);
    }
    return run(inputs, loss, names, rep, add).grads;
  };
  auto difference = [&](double h, double* grad_norm) {
    const auto gp = grads_at(h), gm = grads_at(-h);
    std::map<std::string, std::vector<double>> d;
    double n2 = 0;
    for (const std::string& name : names) {
      const float* p = gp.at(name).data<float>();
      const float* m = gm.at(name).data<float>();
      auto& out = d[name];
      out.resize(static_cast<size_t>(gp.at(name).numel()));
      for (size_t i = 0; i < out.size(); ++i) {
        out[i] = (static_cast<double>(p[i]) - m[i]) / (2 * h);
        n2 += static_cast<double>(p[i]) * p[i] + static_cast<double>(m[i]) * m[i];
      }
    }
    if (grad_norm) *grad_norm = std::sqrt(n2);
    return d;
  };
  double gnorm = 0;
  const auto d1 = difference(eps, &gnorm);
  std::map<std::string, Array> out;
  for (const std::string& name : names) {
    const auto& d = d1.at(name);
    Array a = Array::empty(ElemType::f32, v.at(name).shape());
    for (size_t i = 0; i < d.size(); ++i) a.data<float>()[i] = static_cast<float>(d[i]);
    out[name] = a;
  }
  if (error_bound) {
    // Truncation: d(h) = Hv + c h^2 + ..., so |d(2h) - d(h)| / 3 estimates c h^2 (Richardson).
    // Rounding: each float32 gradient carries about u * |g| of error, divided by 2h.
    const auto d2 = difference(2 * eps, nullptr);
    double t2 = 0;
    for (const std::string& name : names)
      for (size_t i = 0; i < d1.at(name).size(); ++i) t2 += std::pow(d2.at(name)[i] - d1.at(name)[i], 2);
    *error_bound = std::sqrt(t2) / 3 + kUnitRoundoff * gnorm / (2 * eps);
  }
  return out;
}

TraceResult hutchinson_traces(Backprop& bp, const std::vector<Array>& inputs, const LossSpec& loss,
                              const std::vector<std::string>& tensors, const TraceOptions& opt) {
  if (tensors.empty()) throw ValueError("[onnx.grad] hutchinson_traces: no tensors named");
  if (opt.min_iter < 2 || opt.max_iter < opt.min_iter || !(opt.rel_tol > 0))
    throw ValueError(fmt::format("[onnx.grad] hutchinson_traces: need 2 <= min_iter ({}) <= max_iter ({}) and rel_tol > 0",
                                 opt.min_iter, opt.max_iter));
  for (size_t i = 0; i < tensors.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (tensors[i] == tensors[j]) throw ValueError(fmt::format("[onnx.grad] hutchinson_traces: '{}' named twice", tensors[i]));
  const auto t0 = std::chrono::steady_clock::now();
  const std::map<std::string, Array> shapes = bp.values(inputs, tensors);
  TraceResult r;
  std::map<std::string, double> sum;
  for (int k = 0; k < opt.max_iter; ++k) {
    std::map<std::string, Array> v;
    for (size_t t = 0; t < tensors.size(); ++t) {
      Array a = Array::empty(ElemType::f32, shapes.at(tensors[t]).shape());
      float* p = a.data<float>();
      const uint64_t stream = mix_stream(static_cast<uint64_t>(k), t);
      for (int64_t i = 0; i < a.numel(); ++i)
        p[i] = (random_u32(opt.seed, stream, static_cast<uint64_t>(i)) & 1u) ? 1.f : -1.f;
      v[tensors[t]] = a;
    }
    std::map<std::string, Array> hv;
    if (opt.separate) {
      for (const auto& [name, a] : v) hv[name] = bp.hvp(inputs, loss, {{name, a}}, opt.eps).at(name);
    } else {
      hv = bp.hvp(inputs, loss, v, opt.eps);
    }
    bool all_converged = true;
    for (const std::string& name : tensors) {
      double e = 0;
      const float* x = v.at(name).data<float>();
      const float* y = hv.at(name).data<float>();
      for (int64_t i = 0; i < v.at(name).numel(); ++i) e += static_cast<double>(x[i]) * y[i];
      sum[name] += e;
      auto& h = r.history[name];
      const double m = sum[name] / (k + 1);
      if (!h.empty()) {  // relative change of the running mean, on absolute values
        const double prev = h.back();
        const bool ok = prev != 0 ? std::fabs(m - prev) / std::fabs(prev) < opt.rel_tol : m == 0;
        all_converged = all_converged && ok;
      }
      h.push_back(m);
      r.trace[name] = m;
    }
    r.iterations = k + 1;
    if (r.iterations >= opt.min_iter && all_converged) {
      r.converged = true;
      break;
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace lowbit::onnx
