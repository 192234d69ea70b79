// Loss ops of the ONNX standard domain: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss
// (scores (N, C) or (N, C, d1..dk), integer targets (N) or (N, d1..dk), optional class weights,
// ignore_index, reduction none|sum|mean). They validate and call kernels::nll_loss and
// kernels::softmax_strided; an exported training graph or a PTQ loss head can be run as is.
#include "lowbit/kernels/fp32.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

void loss_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32, ElemType::f64});
  require_type(ctx, 1, {ElemType::i32, ElemType::i64});
  if (ctx.has(2)) {
    LOWBIT_NODE_REQUIRE(ctx.in[2].elem == ctx.in[0].elem, ctx, "weights must have the scores' type {}, got {}",
                        elem_name(ctx.in[0].elem), elem_name(ctx.in[2].elem));
  }
  const std::string reduction = ctx.node.attr_s("reduction", "mean");
  LOWBIT_NODE_REQUIRE(reduction == "none" || reduction == "sum" || reduction == "mean", ctx,
                      "reduction must be none, sum or mean, got '{}'", reduction);
  const bool sce = ctx.node.op_type == "SoftmaxCrossEntropyLoss";
  if (!ctx.shape_known(0) || !ctx.shape_known(1)) {
    ctx.set_out_unknown(0, ctx.in[0].elem);
    if (sce && ctx.out.size() > 1) ctx.set_out_unknown(1, ctx.in[0].elem);
    return;
  }
  const Shape &x = ctx.shape(0), &t = ctx.shape(1);
  LOWBIT_NODE_REQUIRE(x.size() >= 2, ctx, "scores must be (N, C) or (N, C, d1, ...), got {}", shape_str(x));
  Shape want = {x[0]};
  want.insert(want.end(), x.begin() + 2, x.end());
  LOWBIT_NODE_REQUIRE(t == want, ctx, "target must have shape {} for scores {}, got {}", shape_str(want), shape_str(x),
                      shape_str(t));
  if (ctx.shape_known(2)) {
    LOWBIT_NODE_REQUIRE(ctx.shape(2) == Shape{x[1]}, ctx, "weights must have shape ({}) (one per class), got {}", x[1],
                        shape_str(ctx.shape(2)));
  }
  ctx.set_out(0, ctx.in[0].elem, reduction == "none" ? t : Shape{});
  if (sce && ctx.out.size() > 1) ctx.set_out(1, ctx.in[0].elem, x);
}

template <typename T>
void loss_run_typed(RunCtx& ctx) {
  const Array &x = ctx.input(0), &target = ctx.input(1);
  const int64_t N = x.shape()[0], C = x.shape()[1];
  int64_t D = 1;
  for (size_t i = 2; i < x.shape().size(); ++i) D *= x.shape()[i];
  const bool has_ignore = ctx.node.find("ignore_index") != nullptr;
  const int64_t ignore = ctx.node.attr_i("ignore_index", 0);
  std::vector<int64_t> t(static_cast<size_t>(target.numel()));
  for (int64_t i = 0; i < target.numel(); ++i) {
    t[static_cast<size_t>(i)] = target.get_i64(i);
    const int64_t v = t[static_cast<size_t>(i)];
    LOWBIT_NODE_REQUIRE((has_ignore && v == ignore) || (v >= 0 && v < C), infer_ctx_for(ctx),
                        "target {} at flat index {} is outside [0, {}) and is not ignore_index", v, i, C);
  }
  const bool sce = ctx.node.op_type == "SoftmaxCrossEntropyLoss";
  const T* logp = x.data<T>();
  Array log_prob;
  if (sce) {
    // log_prob output when wanted, else a scratch array of the scores' shape.
    log_prob = ctx.out.size() > 1 && ctx.out[1] ? *ctx.out[1] : Array::empty(x.type(), x.shape());
    kernels::softmax_strided(N, C, D, x.data<T>(), log_prob.data<T>(), true);
    logp = log_prob.data<T>();
  }
  const std::string reduction = ctx.node.attr_s("reduction", "mean");
  Array per = reduction == "none" ? *ctx.out[0] : Array::empty(x.type(), target.shape());
  const double weight_sum = kernels::nll_loss(N, C, D, logp, t.data(), ctx.has(2) ? ctx.input(2).data<T>() : nullptr,
                                              has_ignore, ignore, per.data<T>());
  if (reduction == "none") return;
  double sum = 0;
  for (int64_t i = 0; i < per.numel(); ++i) sum += per.data<T>()[i];
  // "mean" divides by the summed weights of the counted elements (0/0 = NaN when all are ignored).
  ctx.out[0]->data<T>()[0] = static_cast<T>(reduction == "sum" ? sum : sum / weight_sum);
}

void loss_run(RunCtx& ctx) {
  if (ctx.input(0).type() == ElemType::f32) loss_run_typed<float>(ctx);
  else loss_run_typed<double>(ctx);
}

}  // namespace

void add_loss_ops(OpList& ops) {
  ops.push_back(OpDef{"", "NegativeLogLikelihoodLoss", 12, {"reduction", "ignore_index"}, loss_infer, loss_run});
  ops.push_back(OpDef{"", "SoftmaxCrossEntropyLoss", 12, {"reduction", "ignore_index"}, loss_infer, loss_run});
}

}  // namespace lowbit::onnx
