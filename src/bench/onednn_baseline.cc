// oneDNN matmul baselines (see onednn_matmul.h): primitive built once, weights reordered once.
#include <oneapi/dnnl/dnnl.hpp>

#include "lowbit/core/error.h"
#include "lowbit/core/threads.h"
#include "lowbit/bench/onednn_matmul.h"

namespace lowbit::bench {

struct OnednnMatmul::Impl {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  dnnl::memory::desc src_md, dst_md;
  dnnl::memory weights;
  dnnl::matmul prim;
};

OnednnMatmul::OnednnMatmul(Kind kind, int64_t M, int64_t N, int64_t K, const void* B) : impl_(std::make_unique<Impl>()) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  LOWBIT_REQUIRE(M >= 1 && N >= 1 && K >= 1, "OnednnMatmul", "shape {}x{}x{} must be positive", M, N, K);
  const bool i8 = kind == Kind::u8s8s32;
  Impl& p = *impl_;
  p.src_md = dnnl::memory::desc({M, K}, i8 ? dt::u8 : dt::f32, tag::ab);
  p.dst_md = dnnl::memory::desc({M, N}, i8 ? dt::s32 : dt::f32, tag::ab);
  // Bᵀ as a K×N matrix: B (N,K) row-major is K×N in "ba" order.
  const dnnl::memory::desc user_w({K, N}, i8 ? dt::s8 : dt::f32, tag::ba);
  const dnnl::memory::desc any_w({K, N}, i8 ? dt::s8 : dt::f32, tag::any);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(p.src_md, any_w, p.dst_md), p.eng);
  p.prim = dnnl::matmul(pd);
  dnnl::memory user(user_w, p.eng, const_cast<void*>(B));
  p.weights = dnnl::memory(pd.weights_desc(), p.eng);
  dnnl::reorder(user, p.weights).execute(p.strm, user, p.weights);
  p.strm.wait();
}

OnednnMatmul::~OnednnMatmul() = default;

void OnednnMatmul::run(const void* A, void* C) {
  Impl& p = *impl_;
  dnnl::memory src(p.src_md, p.eng, const_cast<void*>(A)), dst(p.dst_md, p.eng, C);
  p.prim.execute(p.strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, p.weights}, {DNNL_ARG_DST, dst}});
  p.strm.wait();
}

}  // namespace lowbit::bench
