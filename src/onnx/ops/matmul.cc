// MatMul (NumPy semantics: 1-d promotion, broadcast batch dims) and Gemm, both on
// lowbit::kernels::gemm_f32 for float32 and kernels::gemm_f64 for float64; Gemm's beta * C is
// the kernels' beta (C broadcast into Y first).
#include <cstdlib>
#include <string>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/bf16.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_matmul_plan.h"
#include "ops/activation.h"
#include "ops/broadcast.h"

namespace lowbit::onnx {

Activation fused_activation(const Node& node);  // conv.cc
void add_attention_ops(OpList& ops);             // attention.cc: lowbit.Attention

MatMulDims matmul_dims(const InferCtx& ctx, Shape a, Shape b) {
  LOWBIT_NODE_REQUIRE(!a.empty() && !b.empty(), ctx, "inputs must have rank >= 1");
  const bool a1 = a.size() == 1, b1 = b.size() == 1;
  if (a1) a.insert(a.begin(), 1);
  if (b1) b.push_back(1);
  MatMulDims d;
  d.M = a[a.size() - 2];
  d.K = a.back();
  d.N = b.back();
  LOWBIT_NODE_REQUIRE(b[b.size() - 2] == d.K, ctx, "inner dimensions differ: {} vs {}", shape_str(a), shape_str(b));
  d.a_batch.assign(a.begin(), a.end() - 2);
  d.b_batch.assign(b.begin(), b.end() - 2);
  d.batch = broadcast_shapes({d.a_batch, d.b_batch}, ctx);
  d.out = d.batch;
  if (!a1) d.out.push_back(d.M);
  if (!b1) d.out.push_back(d.N);
  return d;
}


int64_t MatMulDims::a_offset(int64_t i) const { return bcast_offset(i, a_batch); }
int64_t MatMulDims::b_offset(int64_t i) const { return bcast_offset(i, b_batch); }

int64_t MatMulDims::bcast_offset(int64_t i, const Shape& own) const {
  const std::vector<int64_t> st = broadcast_strides(own, batch);
  int64_t off = 0;
  for (size_t k = batch.size(); k-- > 0;) {
    off += (i % batch[k]) * st[k];
    i /= batch[k];
  }
  return off;
}

namespace {

// lowbit_bf16 (passes_bf16.cc): the operands rounded to bfloat16, products summed in fp32.
bool bf16_math(const Node& n) { return n.attr_i("lowbit_bf16", 0) != 0; }

Array bf16_copy(const Array& a) {
  Array r = a.clone();
  kernels::round_to_bf16(r.numel(), r.data<float>(), r.data<float>());
  return r;
}

// MatMul with a constant 2-d B shared by the whole batch, in bf16: a MatmulPlan on B^T (packed
// once, kept in RunCtx::state, rebuilt when the row count changes).
bool run_bf16_plan(RunCtx& ctx, int64_t rows, int64_t N, int64_t K) {
  if (!ctx.state || !(ctx.const_inputs & 0b10) || ctx.input(1).dim() != 2) return false;
  auto plan = std::static_pointer_cast<kernels::MatmulPlan>(*ctx.state);
  if (!plan || plan->M() != rows) {
    const float* b = ctx.input(1).data<float>();
    std::vector<float> bt(static_cast<size_t>(N * K));
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) bt[static_cast<size_t>(j * K + k)] = b[k * N + j];
    plan = std::make_shared<kernels::MatmulPlan>(rows, N, K, bt.data(), nullptr, false, kernels::PlanMath::bf16);
    *ctx.state = plan;
  }
  plan->run(ctx.input(0).data<float>(), ctx.out[0]->data<float>());
  return true;
}

void matmul_infer(InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(ctx.has(0) && ctx.has(1), ctx, "expects 2 inputs");
  require_type(ctx, 0, {ElemType::f32, ElemType::f64});
  LOWBIT_NODE_REQUIRE(ctx.in[0].elem == ctx.in[1].elem, ctx, "input types differ");
  if (!ctx.shape_known(0) || !ctx.shape_known(1)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  ctx.set_out(0, ctx.in[0].elem, matmul_dims(ctx, ctx.shape(0), ctx.shape(1)).out);
}

void matmul_run(RunCtx& ctx) {
  const InferCtx ictx = infer_ctx_for(ctx);
  const Array &a = ctx.input(0), &b = ctx.input(1);
  Array& y = *ctx.out[0];
  const MatMulDims d = matmul_dims(ictx, a.shape(), b.shape());
  const int64_t batches = checked_numel(d.batch, "MatMul");
  // A whole batch of A times a shared B is one tall GEMM (BERT's linear layers).
  const bool fold_batch = checked_numel(d.b_batch, "MatMul") == 1 && a.dim() >= 2;
  if (a.type() == ElemType::f32) {
    Array a16, b16;
    const float *pa = a.data<float>(), *pb = b.data<float>();
    float* py = y.data<float>();
    if (bf16_math(ctx.node)) {
      if (fold_batch && run_bf16_plan(ctx, batches * d.M, d.N, d.K)) return;
      a16 = bf16_copy(a), b16 = bf16_copy(b);
      pa = a16.data<float>(), pb = b16.data<float>();
    }
    if (fold_batch) {
      kernels::gemm_f32(false, false, batches * d.M, d.N, d.K, 1.0f, pa, d.K, pb, d.N, 0.0f, py, d.N);
    } else {
      for (int64_t i = 0; i < batches; ++i)
        kernels::gemm_f32(false, false, d.M, d.N, d.K, 1.0f, pa + d.a_offset(i) * d.M * d.K, d.K,
                          pb + d.b_offset(i) * d.K * d.N, d.N, 0.0f, py + i * d.M * d.N, d.N);
    }
  } else {
    const double *pa = a.data<double>(), *pb = b.data<double>();
    double* py = y.data<double>();
    for (int64_t i = 0; i < batches; ++i)
      kernels::gemm_f64(false, false, d.M, d.N, d.K, 1.0, pa + d.a_offset(i) * d.M * d.K, d.K,
                        pb + d.b_offset(i) * d.K * d.N, d.N, 0.0, py + i * d.M * d.N, d.N);
  }
}

void gemm_infer(InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(ctx.has(0) && ctx.has(1), ctx, "expects A and B");
  require_type(ctx, 0, {ElemType::f32, ElemType::f64});
  LOWBIT_NODE_REQUIRE(ctx.in[0].elem == ctx.in[1].elem && (!ctx.has(2) || ctx.in[2].elem == ctx.in[0].elem), ctx,
                      "input types differ");
  if (!ctx.shape_known(0) || !ctx.shape_known(1)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Shape &a = ctx.shape(0), &b = ctx.shape(1);
  LOWBIT_NODE_REQUIRE(a.size() == 2 && b.size() == 2, ctx, "A and B must be 2-d, got {} and {}", shape_str(a), shape_str(b));
  const bool ta = ctx.node.attr_i("transA", 0) != 0, tb = ctx.node.attr_i("transB", 0) != 0;
  const int64_t M = ta ? a[1] : a[0], K = ta ? a[0] : a[1], KB = tb ? b[1] : b[0], N = tb ? b[0] : b[1];
  LOWBIT_NODE_REQUIRE(K == KB, ctx, "inner dimensions differ: A {} B {} (transA={}, transB={})", shape_str(a),
                      shape_str(b), ta, tb);
  if (ctx.shape_known(2))
    LOWBIT_NODE_REQUIRE(broadcast_shapes({ctx.shape(2), Shape{M, N}}, ctx) == (Shape{M, N}), ctx,
                        "C {} does not broadcast to [{}, {}]", shape_str(ctx.shape(2)), M, N);
  ctx.set_out(0, ctx.in[0].elem, {M, N});
}

// A dense layer with constant weights inside a session, y = act(x W^T + bias) with W (N, K):
// a MatmulPlan packs W once (kept in RunCtx::state, rebuilt when M changes) and fuses ReLU.
// Returns false when the node is not of that form.
bool run_dense_plan(RunCtx& ctx, int64_t M, int64_t N, int64_t K, double alpha, double beta) {
  const bool ta = ctx.node.attr_i("transA", 0) != 0, tb = ctx.node.attr_i("transB", 0) != 0;
  const bool bias = ctx.has(2) && beta != 0;
  const uint64_t need_const = 0b10 | (bias ? 0b100 : 0);
  if (!ctx.state || ta || !tb || alpha != 1.0 || ctx.out[0]->type() != ElemType::f32 ||
      (ctx.const_inputs & need_const) != need_const || (bias && (beta != 1.0 || ctx.input(2).numel() != N)))
    return false;
  const Activation act = fused_activation(ctx.node);
  auto plan = std::static_pointer_cast<kernels::MatmulPlan>(*ctx.state);
  if (!plan || plan->M() != M) {
    plan = std::make_shared<kernels::MatmulPlan>(M, N, K, ctx.input(1).data<float>(),
                                                 bias ? ctx.input(2).data<float>() : nullptr, act.kind == Act::relu,
                                                 bf16_math(ctx.node) ? kernels::PlanMath::bf16 : kernels::PlanMath::f32);
    *ctx.state = plan;
  }
  Array& y = *ctx.out[0];
  plan->run(ctx.input(0).data<float>(), y.data<float>());
  if (act.kind != Act::none && act.kind != Act::relu) act_apply_n(act, y.numel(), y.data<float>(), y.data<float>());
  return true;
}

void gemm_run(RunCtx& ctx) {
  const Array &a = ctx.input(0), &b = ctx.input(1);
  Array& y = *ctx.out[0];
  const bool ta = ctx.node.attr_i("transA", 0) != 0, tb = ctx.node.attr_i("transB", 0) != 0;
  const int64_t M = y.shape()[0], N = y.shape()[1], K = ta ? a.shape()[0] : a.shape()[1];
  const double alpha = ctx.node.attr_f("alpha", 1.0), beta = ctx.node.attr_f("beta", 1.0);
  if (const char* v = std::getenv("LOWBIT_GEMM_PLAN"); (v == nullptr || std::string(v) != "0") &&
                                                       run_dense_plan(ctx, M, N, K, alpha, beta))
    return;
  const bool has_c = ctx.has(2) && beta != 0;
  if (has_c) broadcast_copy(ctx.input(2), y);  // the GEMM below adds alpha * A B to beta * Y
  if (y.type() == ElemType::f32) {
    const bool bf16 = bf16_math(ctx.node);
    const Array a16 = bf16 ? bf16_copy(a) : a, b16 = bf16 ? bf16_copy(b) : b;
    kernels::gemm_f32(ta, tb, M, N, K, static_cast<float>(alpha), a16.data<float>(), a.shape()[1], b16.data<float>(),
                      b.shape()[1], has_c ? static_cast<float>(beta) : 0.0f, y.data<float>(), N);
    const Activation act = fused_activation(ctx.node);
    if (act.kind != Act::none) act_apply_n(act, y.numel(), y.data<float>(), y.data<float>());
  } else {
    kernels::gemm_f64(ta, tb, M, N, K, alpha, a.data<double>(), a.shape()[1], b.data<double>(), b.shape()[1],
                      has_c ? beta : 0.0, y.data<double>(), N);
  }
}

}  // namespace

void add_matmul_ops(OpList& ops) {
  OpDef mm{"", "MatMul", 1, {"lowbit_bf16"}, matmul_infer, matmul_run};
  mm.flops = [](const InferCtx& ctx) {
    if (!ctx.out[0].has_shape || !ctx.shape_known(0)) return 0.0;
    return 2.0 * static_cast<double>(checked_numel(ctx.out[0].shape, "MatMul")) * static_cast<double>(ctx.shape(0).back());
  };
  ops.push_back(mm);
  OpDef gemm{"", "Gemm", 7, {"alpha", "beta", "transA", "transB", "lowbit_act", "lowbit_act_a", "lowbit_act_b", "lowbit_bf16"},
             gemm_infer, gemm_run};
  gemm.flops = [](const InferCtx& ctx) {
    if (!ctx.out[0].has_shape || !ctx.shape_known(0)) return 0.0;
    const bool ta = ctx.node.attr_i("transA", 0) != 0;
    const Shape& a = ctx.shape(0);
    return 2.0 * static_cast<double>(checked_numel(ctx.out[0].shape, "Gemm")) * static_cast<double>(ta ? a[0] : a[1]);
  };
  ops.push_back(gemm);
  add_attention_ops(ops);
}

}  // namespace lowbit::onnx
