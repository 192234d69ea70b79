// MatmulPlan: a forward oneDNN matmul built once per (M, N, K), weights reordered once into its
// layout (format `any`), bias and the epilogue (sum, activation) as attributes; plain row-major
// activations, no reorders.
#include "lowbit/kernels/fp32_matmul_plan.h"

#include <cstring>
#include <optional>
#include <unordered_map>
#include <vector>

#include "fp32_runtime.h"
#include "lowbit/kernels/fp32.h"
#include "fp32_conv_impl.h"  // detail::library_paths()

namespace lowbit::kernels {

using dnnl::memory;
using Tag = memory::format_tag;

struct MatmulPlan::Impl {
  int64_t M, N, K;
  ConvEpilogue ep;
  PlanMath math = PlanMath::f32;
  int threads = -1;
  std::optional<dnnl::matmul> prim;
  std::optional<dnnl::reorder> x_reorder;  // bf16: x converted per run
  memory::desc x_prim;
  memory packed_w, packed_b;
  std::vector<float> w, b;  // plain copies until the first build (and for the fallback)

  bool build(int nthreads) {
    auto& eng = detail::cpu_engine();
    constexpr auto f32 = memory::data_type::f32;
    const auto in_dt = math == PlanMath::bf16 ? memory::data_type::bf16 : f32;
    const memory::desc src({M, K}, in_dt, Tag::ab), dst({M, N}, f32, Tag::ab);
    const memory::desc wt_any({K, N}, in_dt, Tag::any), wt_user({K, N}, f32, Tag::ba);  // W (N, K) = W^T (K, N) in "ba"
    const memory::desc bias_md = b.empty() && !packed_b ? memory::desc() : memory::desc({1, N}, f32, Tag::ab);
    dnnl::primitive_attr attr;
    attr.set_post_ops(detail::epilogue_post_ops(ep));
    try {
      const dnnl::matmul::desc d(src, wt_any, bias_md, dst);
      const dnnl::matmul::primitive_desc pd(d, attr, eng);
      auto& strm = detail::thread_stream();
      memory new_w(pd.weights_desc(), eng);
      if (packed_w) {
        dnnl::reorder(packed_w, new_w).execute(strm, packed_w, new_w);
      } else {
        memory user(wt_user, eng, w.data());
        dnnl::reorder(user, new_w).execute(strm, user, new_w);
      }
      if (!packed_b && !b.empty()) {
        packed_b = memory(bias_md, eng);
        std::memcpy(packed_b.get_data_handle(), b.data(), b.size() * sizeof(float));
      }
      strm.wait();
      std::optional<dnnl::reorder> xr;
      if (math == PlanMath::bf16) xr = dnnl::reorder(dnnl::reorder::primitive_desc(eng, memory::desc({M, K}, f32, Tag::ab), eng, src));
      prim = dnnl::matmul(pd);
      x_reorder = xr;
      x_prim = src;
      packed_w = new_w;
      threads = nthreads;
      return true;
    } catch (const dnnl::error&) {
      return false;
    }
  }
};

MatmulPlan::MatmulPlan(int64_t M, int64_t N, int64_t K, const float* w, const float* bias,
                       const ConvEpilogue& epilogue, PlanMath math)
    : impl_(std::make_unique<Impl>()) {
  Impl& p = *impl_;
  p.M = M, p.N = N, p.K = K, p.ep = epilogue, p.math = math;
  p.w.assign(w, w + N * K);
  if (math == PlanMath::bf16) round_to_bf16(N * K, p.w.data(), p.w.data());
  if (bias) p.b.assign(bias, bias + N);
  if (detail::library_paths() && M > 0 && N > 0 && K > 0 && p.build(detail::sync_omp_threads())) {
    p.w.clear();
    p.w.shrink_to_fit();
  }
}

MatmulPlan::MatmulPlan(int64_t M, int64_t N, int64_t K, const float* w, const float* bias, bool relu, PlanMath math)
    : MatmulPlan(M, N, K, w, bias, ConvEpilogue{false, relu ? ConvEpilogue::Act::relu : ConvEpilogue::Act::none}, math) {}

MatmulPlan::~MatmulPlan() = default;
MatmulPlan::MatmulPlan(MatmulPlan&&) noexcept = default;
MatmulPlan& MatmulPlan::operator=(MatmulPlan&&) noexcept = default;

int64_t MatmulPlan::M() const { return impl_->M; }
bool MatmulPlan::uses_onednn() const { return impl_->prim.has_value(); }

void MatmulPlan::run(const float* x, float* y) {
  Impl& p = *impl_;
  if (p.M <= 0 || p.N <= 0) return;
  if (!p.prim) {  // fallback: the plain path
    std::vector<float> xr;
    if (p.math == PlanMath::bf16) {
      xr.resize(static_cast<size_t>(p.M * p.K));
      round_to_bf16(p.M * p.K, x, xr.data());
      x = xr.data();
    }
    for (int64_t i = 0; i < p.M; ++i)
      for (int64_t j = 0; j < p.N; ++j) {
        float& v = y[i * p.N + j];
        v = (p.ep.sum ? v : 0.0f) + (p.b.empty() ? 0.0f : p.b[static_cast<size_t>(j)]);
      }
    gemm_f32(false, true, p.M, p.N, p.K, 1.0f, x, p.K, p.w.data(), p.K, 1.0f, y, p.N);
    apply_epilogue_act(p.ep, p.M * p.N, y);
    return;
  }
  const int threads = detail::sync_omp_threads();
  if (threads != p.threads && !p.build(threads)) p.threads = threads;
  auto& eng = detail::cpu_engine();
  auto& strm = detail::thread_stream();
  constexpr auto f32 = memory::data_type::f32;
  memory xm(memory::desc({p.M, p.K}, f32, Tag::ab), eng, const_cast<float*>(x));
  memory ym(memory::desc({p.M, p.N}, f32, Tag::ab), eng, y);
  if (p.x_reorder) {  // bf16 copy of x in per-thread scratch
    thread_local std::vector<uint16_t> xs;
    if (xs.size() < static_cast<size_t>(p.M * p.K)) xs.resize(static_cast<size_t>(p.M * p.K));
    memory xb(p.x_prim, eng, xs.data());
    p.x_reorder->execute(strm, xm, xb);
    xm = xb;
  }
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, p.packed_w}, {DNNL_ARG_DST, ym}};
  if (p.packed_b) args.emplace(DNNL_ARG_BIAS, p.packed_b);
  p.prim->execute(strm, args);
  strm.wait();
}

}  // namespace lowbit::kernels
