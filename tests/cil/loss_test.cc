// The task loss on the Trainer: teacher rows follow batch.indices, the terms combine as
// specified, and distillation without teacher logits or indices is refused.
#include <gtest/gtest.h>

#include "lowbit/cil/loss.h"
#include "lowbit/core/rng.h"
#include "lowbit/data/dataset.h"
#include "lowbit/nn/models.h"
#include "lowbit/ops/ops.h"

namespace lowbit::cil {
namespace {

Tensor normal(Shape shape, uint64_t stream) {
  Tensor t = Tensor::empty(shape);
  normal_fill(3, stream, 0, t.numel(), t.data<float>());
  return t;
}

TEST(CilTaskLoss, GathersTeacherRowsByBatchIndices) {
  const int64_t n = 10, seen = 5, old = 3;
  const Tensor teacher = normal({n, old}, 1);
  const Tensor logits = normal({4, seen}, 2);
  data::Batch batch;
  batch.indices = {7, 2, 9, 0};
  batch.labels = Tensor::empty({4}, DType::i32);
  for (int i = 0; i < 4; ++i) batch.labels.data<int32_t>()[i] = 3 + i % 2;
  batch.inputs = Tensor::zeros({4, 1});
  TaskLoss spec;
  spec.num_old = old;
  spec.ce_weight = 0.25f;
  spec.kd_weight = 0.75f;
  spec.temperature = 2.0f;
  auto model = nn::build_model("fcnet", {1}, 5);  // unused by the loss
  const train::LossFn loss = make_task_loss(spec, teacher, n);
  const double got = loss(*model, batch, Var(logits)).value().item();
  const Tensor rows = data::gather_rows(teacher, batch.indices);
  const double want = 0.25 * cross_entropy(Var(logits), batch.labels).value().item() +
                      0.75 * distillation_loss(Var(logits), rows, 2.0f).value().item();
  EXPECT_NEAR(got, want, 1e-6 * std::abs(want));
  // Other rows of the teacher give a different loss: the gather is not a no-op.
  batch.indices = {0, 1, 2, 3};
  EXPECT_NE(loss(*model, batch, Var(logits)).value().item(), got);
}

TEST(CilTaskLoss, RefusesDistillationWithoutTeacherOrIndices) {
  TaskLoss spec;
  spec.num_old = 2;
  spec.kd_weight = 1.0f;
  EXPECT_THROW(make_task_loss(spec, Tensor(), 4), ValueError);
  EXPECT_THROW(make_task_loss(spec, Tensor::zeros({4, 3}), 4), ValueError);
  const train::LossFn loss = make_task_loss(spec, Tensor::zeros({4, 2}), 4);
  data::Batch batch{Tensor::zeros({2, 1}), Tensor::zeros({2}, DType::i32), {}};
  auto model = nn::build_model("fcnet", {1}, 5);  // unused by the loss
  EXPECT_THROW(loss(*model, batch, Var(Tensor::zeros({2, 3}))), ValueError);
}

}  // namespace
}  // namespace lowbit::cil
