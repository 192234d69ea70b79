// ConvPlan: per geometry the AVX-512 direct kernel (weights packed once into blocks of 16 output
// channels, epilogue fused; chosen by direct_conv_preferred or LOWBIT_CONV), a MatmulPlan for the
// convs that are one GEMM (fp32_conv_gemm.h, conv_gemm_preferred) or one GEMM after a gather of
// the sampled pixels (strided 1×1, fp32_conv_strided.h), or a forward_inference oneDNN
// convolution built once, its weights reordered once into the primitive's layout, the activation
// and the residual sum as oneDNN post-ops. nchw activations go through per-thread scratch (the
// primitive's blocked layout, or nhwc for the direct kernel).
#include "lowbit/kernels/fp32_conv_plan.h"

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fp32_conv_direct.h"
#include "fp32_conv_gemm.h"
#include "fp32_conv_strided.h"
#include "fp32_conv_impl.h"
#include "lowbit/core/error.h"
#include "lowbit/kernels/transpose.h"
#include "fp32_runtime.h"

namespace lowbit::kernels {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;

// Per-thread scratch for the reordered activations; grows to the largest plan seen.
float* scratch(size_t slot, size_t bytes) {
  thread_local std::array<std::vector<float>, 2> bufs;
  auto& b = bufs[slot];
  if (b.size() * sizeof(float) < bytes) b.resize((bytes + sizeof(float) - 1) / sizeof(float));
  return b.data();
}

memory::desc weights_desc(const ConvGeom& s, Tag tag, memory::data_type dt = kF32) {
  const memory::dim G = s.groups;
  if (G > 1) return memory::desc({G, s.K / G, s.C / G, s.R(), s.S()}, dt, tag == Tag::any ? tag : Tag::goihw);
  return memory::desc({s.K, s.C, s.R(), s.S()}, dt, tag == Tag::any ? tag : Tag::oihw);
}

Tag act_tag(ConvLayout l) { return l == ConvLayout::nhwc ? Tag::nhwc : Tag::nchw; }

// (N, C, H, W) between nchw and nhwc; `to_nhwc` says which way.
void convert_layout(bool to_nhwc, int64_t N, int64_t C, int64_t HW, const float* in, float* out) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < HW; ++p) {
        const int64_t nchw = (n * C + c) * HW + p, nhwc = (n * HW + p) * C + c;
        if (to_nhwc) out[nhwc] = in[nchw];
        else out[nchw] = in[nhwc];
      }
}

std::atomic<int>& path_setting() {  // -1: not set, read LOWBIT_CONV
  static std::atomic<int> v{-1};
  return v;
}

}  // namespace

void set_conv_plan_path(ConvPlanPath path) { path_setting().store(static_cast<int>(path)); }
void reset_conv_plan_path() { path_setting().store(-1); }

ConvPlanPath conv_plan_path() {
  const int v = path_setting().load();
  if (v >= 0) return static_cast<ConvPlanPath>(v);
  const char* env = std::getenv("LOWBIT_CONV");
  if (!env || !*env || std::string_view(env) == "auto") return ConvPlanPath::automatic;
  if (std::string_view(env) == "onednn") return ConvPlanPath::onednn;
  if (std::string_view(env) == "direct") return ConvPlanPath::direct;
  if (std::string_view(env) == "gemm") return ConvPlanPath::gemm;
  throw ValueError(fmt::format("[LOWBIT_CONV] unknown value '{}' (expected auto, onednn, direct or gemm)", env));
}

struct ConvPlan::Impl {
  ConvGeom s;
  ConvEpilogue ep;
  ConvLayout x_layout, y_layout;
  PlanMath math = PlanMath::f32;
  int threads = -1;
  // oneDNN path.
  std::optional<dnnl::convolution_forward> prim;
  memory::desc x_user, y_user, x_prim, y_prim;
  std::optional<dnnl::reorder> x_reorder, y_in_reorder, y_out_reorder;
  memory packed_w, packed_b;
  // Fallback path (no primitive): the plain weights and bias.
  std::vector<float> w, b;
  // Direct path: the kernel and its packed weights and bias.
  detail::DirectConvFn direct = nullptr;
  std::vector<float> direct_w, direct_b;
  // Gemm path (fp32_conv_gemm.h): the matmul with its packed weights; `gather`: a strided 1×1
  // conv whose sampled pixels are first packed into per-thread scratch (fp32_conv_strided.h).
  std::optional<MatmulPlan> gemm;
  bool gather = false;

  bool build(int nthreads);
  void run_direct(const float* x, float* y);
  void run_onednn(const float* x, float* y);
  void run_fallback(const float* x, float* y);
};

// Creates the primitive for the current thread count and moves the weights into its layout
// (from the plain copy on the first build, from the previous packing afterwards).
bool ConvPlan::Impl::build(int nthreads) {
  auto& eng = detail::cpu_engine();
  const Tag xt = x_layout == ConvLayout::nhwc ? Tag::nhwc : Tag::any;
  const Tag yt = y_layout == ConvLayout::nhwc ? Tag::nhwc : Tag::any;
  // bf16: the primitive reads bf16 activations (converted by the input reorder) and weights.
  const auto in_dt = math == PlanMath::bf16 ? memory::data_type::bf16 : kF32;
  const memory::desc src({s.N, s.C, s.H(), s.W()}, in_dt, xt), dst({s.N, s.K, s.OH(), s.OW()}, kF32, yt);
  const memory::desc bias_md = b.empty() && !packed_b ? memory::desc() : memory::desc({s.K}, kF32, Tag::x);
  dnnl::primitive_attr attr;
  attr.set_post_ops(detail::epilogue_post_ops(ep));
  try {
    auto make_pd = [&](const memory::desc& x_md, const memory::desc& y_md) {
      const dnnl::convolution_forward::desc fd(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, x_md, weights_desc(s, Tag::any, in_dt),
          bias_md, y_md, {s.stride_h(), s.stride_w()}, {s.dil_h() - 1, s.dil_w() - 1}, {s.pad_t(), s.pad_l()}, {s.pad_b(), s.pad_r()});
      return dnnl::convolution_forward::primitive_desc(fd, attr, eng);
    };
    dnnl::convolution_forward::primitive_desc pd = make_pd(src, dst);
    // oneDNN 2.x has no JIT kernel for some shapes in channels-last (grouped convs with 8
    // channels per group: RegNet), only its reference loops, ~400x slower. Then the primitive
    // runs in its own blocked layout and the reorders below convert at the interface.
    if (std::string_view(pd.impl_info_str()).rfind("ref", 0) == 0 && (xt != Tag::any || yt != Tag::any)) {
      const dnnl::convolution_forward::primitive_desc blocked = make_pd(memory::desc({s.N, s.C, s.H(), s.W()}, in_dt, Tag::any),
                                                                        memory::desc({s.N, s.K, s.OH(), s.OW()}, kF32, Tag::any));
      if (std::string_view(blocked.impl_info_str()).rfind("ref", 0) != 0) pd = blocked;
    }
    auto& strm = detail::thread_stream();
    memory new_w(pd.weights_desc(), eng);
    if (packed_w) {
      dnnl::reorder(packed_w, new_w).execute(strm, packed_w, new_w);
    } else {
      memory user(weights_desc(s, Tag::oihw), eng, w.data());
      dnnl::reorder(user, new_w).execute(strm, user, new_w);
    }
    if (!packed_b && !b.empty()) {
      packed_b = memory(bias_md, eng);
      std::memcpy(packed_b.get_data_handle(), b.data(), b.size() * sizeof(float));
    }
    strm.wait();
    const memory::desc xu({s.N, s.C, s.H(), s.W()}, kF32, act_tag(x_layout));
    const memory::desc yu({s.N, s.K, s.OH(), s.OW()}, kF32, act_tag(y_layout));
    std::optional<dnnl::reorder> xr, yr_in, yr_out;
    if (pd.src_desc() != xu) xr = dnnl::reorder(dnnl::reorder::primitive_desc(eng, xu, eng, pd.src_desc()));
    if (pd.dst_desc() != yu) {
      if (ep.sum) yr_in = dnnl::reorder(dnnl::reorder::primitive_desc(eng, yu, eng, pd.dst_desc()));
      yr_out = dnnl::reorder(dnnl::reorder::primitive_desc(eng, pd.dst_desc(), eng, yu));
    }
    prim = dnnl::convolution_forward(pd);
    // Nothing below throws: the plan changes only once every piece exists.
    x_user = xu;
    y_user = yu;
    x_prim = pd.src_desc();
    y_prim = pd.dst_desc();
    x_reorder = xr;
    y_in_reorder = yr_in;
    y_out_reorder = yr_out;
    packed_w = new_w;
    threads = nthreads;
    w.clear();
    w.shrink_to_fit();
    b.clear();
    return true;
  } catch (const dnnl::error&) {
    return false;
  }
}

void ConvPlan::Impl::run_onednn(const float* x, float* y) {
  auto& eng = detail::cpu_engine();
  auto& strm = detail::thread_stream();
  memory xu(x_user, eng, const_cast<float*>(x)), yu(y_user, eng, y);
  memory xp = xu, yp = yu;
  if (x_reorder) {
    xp = memory(x_prim, eng, scratch(0, x_prim.get_size()));
    x_reorder->execute(strm, xu, xp);
  }
  if (y_out_reorder) {
    yp = memory(y_prim, eng, scratch(1, y_prim.get_size()));
    if (y_in_reorder) y_in_reorder->execute(strm, yu, yp);
  }
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, xp}, {DNNL_ARG_WEIGHTS, packed_w}, {DNNL_ARG_DST, yp}};
  if (packed_b) args.emplace(DNNL_ARG_BIAS, packed_b);
  prim->execute(strm, args);
  if (y_out_reorder) y_out_reorder->execute(strm, yp, yu);
  strm.wait();
}

// The direct kernel reads and writes channels-last; nchw sides go through per-thread scratch.
void ConvPlan::Impl::run_direct(const float* x, float* y) {
  const int64_t HW = s.H() * s.W(), OHW = s.OH() * s.OW();
  const float* xk = x;
  float* yk = y;
  if (x_layout == ConvLayout::nchw) {
    float* t = scratch(0, static_cast<size_t>(s.N * s.C * HW) * sizeof(float));
    for (int64_t n = 0; n < s.N; ++n) transpose_f32(s.C, HW, x + n * s.C * HW, HW, t + n * HW * s.C, s.C);
    xk = t;
  }
  if (y_layout == ConvLayout::nchw) {
    yk = scratch(1, static_cast<size_t>(s.N * s.K * OHW) * sizeof(float));
    if (ep.sum)
      for (int64_t n = 0; n < s.N; ++n) transpose_f32(s.K, OHW, y + n * s.K * OHW, OHW, yk + n * OHW * s.K, s.K);
  }
  direct(s, direct_w.data(), direct_b.data(), ep, xk, yk);
  if (y_layout == ConvLayout::nchw)
    for (int64_t n = 0; n < s.N; ++n) transpose_f32(OHW, s.K, yk + n * OHW * s.K, s.K, y + n * s.K * OHW, OHW);
}

// conv2d_forward on nchw copies, then the epilogue in plain loops; only reached when oneDNN
// cannot build a primitive or LOWBIT_ISA=ref.
void ConvPlan::Impl::run_fallback(const float* x, float* y) {
  const int64_t xn = s.N * s.C * s.H() * s.W(), OHW = s.OH() * s.OW(), yn = s.N * s.K * OHW;
  std::vector<float> xc, yc(static_cast<size_t>(yn)), yin;
  if (x_layout == ConvLayout::nhwc) {
    xc.resize(static_cast<size_t>(xn));
    convert_layout(false, s.N, s.C, s.H() * s.W(), x, xc.data());
    x = xc.data();
  }
  if (math == PlanMath::bf16) {  // w was rounded at construction
    if (xc.empty()) xc.assign(x, x + xn);
    round_to_bf16(xn, xc.data(), xc.data());
    x = xc.data();
  }
  conv2d_forward(s, x, w.data(), b.empty() ? nullptr : b.data(), yc.data());
  if (ep.sum) {
    const float* r = y;
    if (y_layout == ConvLayout::nhwc) {
      yin.resize(static_cast<size_t>(yn));
      convert_layout(false, s.N, s.K, OHW, y, yin.data());
      r = yin.data();
    }
    for (int64_t i = 0; i < yn; ++i) yc[static_cast<size_t>(i)] += r[i];
  }
  apply_epilogue_act(ep, yn, yc.data());
  if (y_layout == ConvLayout::nhwc) convert_layout(true, s.N, s.K, OHW, yc.data(), y);
  else std::memcpy(y, yc.data(), static_cast<size_t>(yn) * sizeof(float));
}

ConvPlan::ConvPlan(const ConvGeom& s, const float* w, const float* bias, const ConvEpilogue& epilogue,
                   ConvLayout x_layout, ConvLayout y_layout, PlanMath math)
    : impl_(std::make_unique<Impl>()) {
  Impl& p = *impl_;
  p.s = s;
  p.ep = epilogue;
  p.x_layout = x_layout;
  p.y_layout = y_layout;
  p.math = math;
  p.w.assign(w, w + s.K * (s.C / s.groups) * s.R() * s.S());
  if (math == PlanMath::bf16) round_to_bf16(static_cast<int64_t>(p.w.size()), p.w.data(), p.w.data());
  if (bias) p.b.assign(bias, bias + s.K);
  if (!detail::library_paths()) return;
  const ConvPlanPath path = conv_plan_path();
  if (detail::strided_1x1_applies(s, x_layout, y_layout, math) &&
      (path == ConvPlanPath::gemm || (path == ConvPlanPath::automatic && detail::strided_1x1_preferred(s)))) {
    MatmulPlan mm(s.N * s.OH() * s.OW(), s.K, s.C, w, bias, epilogue);
    if (mm.uses_onednn()) {  // else the conv primitive below
      p.gemm = std::move(mm);
      p.gather = true;
      p.w.clear();
      p.w.shrink_to_fit();
      p.b.clear();
      return;
    }
  }
  const detail::ConvGemm form = detail::conv_gemm_form(s, x_layout, y_layout, math);
  const bool want_gemm =
      path == ConvPlanPath::gemm || (path == ConvPlanPath::automatic && detail::conv_gemm_preferred(s, form));
  if (want_gemm && form != detail::ConvGemm::none) {
    MatmulPlan mm = detail::conv_gemm_plan(s, form, w, bias, epilogue);
    if (mm.uses_onednn()) {  // else the conv primitive below
      p.gemm = std::move(mm);
      p.w.clear();
      p.w.shrink_to_fit();
      p.b.clear();
      return;
    }
  }
  const bool want_direct = path == ConvPlanPath::direct ||
                           (path == ConvPlanPath::automatic && detail::direct_conv_preferred(s));
  if (want_direct && math == PlanMath::f32 && detail::direct_conv_supports(s)) p.direct = detail::direct_conv_kernel();
  if (p.direct) {
    p.direct_w = detail::direct_conv_pack_weights(s, w);
    p.direct_b = detail::direct_conv_pack_bias(s, bias);
    p.w.clear();
    p.w.shrink_to_fit();
    p.b.clear();
    return;
  }
  p.build(detail::sync_omp_threads());
}

ConvPlan::~ConvPlan() = default;
ConvPlan::ConvPlan(ConvPlan&&) noexcept = default;
ConvPlan& ConvPlan::operator=(ConvPlan&&) noexcept = default;

void ConvPlan::run(const float* x, float* y) {
  Impl& p = *impl_;
  const ConvGeom& s = p.s;
  if (s.N <= 0 || s.K <= 0 || s.OH() <= 0 || s.OW() <= 0) return;
  if (p.gemm && p.gather) {
    float* xs = scratch(0, static_cast<size_t>(s.N * s.OH() * s.OW() * s.C) * sizeof(float));
    detail::gather_strided_pixels(s, x, xs);
    return p.gemm->run(xs, y);
  }
  if (p.gemm) return p.gemm->run(x, y);
  if (p.direct) return p.run_direct(x, y);
  if (!p.prim) return p.run_fallback(x, y);
  const int threads = detail::sync_omp_threads();
  // A failed rebuild keeps the previous primitive, which is correct on any thread count.
  if (threads != p.threads && !p.build(threads)) p.threads = threads;
  p.run_onednn(x, y);
}

const ConvGeom& ConvPlan::shape() const { return impl_->s; }
bool ConvPlan::uses_onednn() const { return impl_->prim.has_value() || impl_->gemm.has_value(); }
bool ConvPlan::uses_gemm() const { return impl_->gemm.has_value(); }
bool ConvPlan::uses_direct() const { return impl_->direct != nullptr; }

}  // namespace lowbit::kernels
