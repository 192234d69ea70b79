// Cross-entropy plus distillation against precomputed teacher logits, as a train::LossFn.
#include "lowbit/cil/loss.h"

#include "lowbit/data/dataset.h"
#include "lowbit/ops/ops.h"

namespace lowbit::cil {

Var distillation_loss(const Var& logits, const Tensor& old_logits, float temperature) {
  const int64_t old = old_logits.size(1);
  LOWBIT_REQUIRE(old >= 1 && old <= logits.size(1) && old_logits.size(0) == logits.size(0), "cil::distillation_loss",
                 "teacher logits {} do not fit the student logits {}", shape_str(old_logits.shape()), shape_str(logits.shape()));
  LOWBIT_REQUIRE(temperature > 0, "cil::distillation_loss", "temperature must be > 0, got {}", temperature);
  const Var student = scale(narrow(logits, 1, 0, old), 1.0f / temperature);
  return scale(soft_cross_entropy(student, softmax(old_logits, temperature)), temperature * temperature);
}

namespace {

Tensor shift_labels(const Tensor& labels, int by) {
  Tensor out = labels.clone();
  for (int64_t i = 0; i < out.numel(); ++i) out.data<int32_t>()[i] -= by;
  return out;
}

}  // namespace

train::LossFn make_task_loss(TaskLoss spec, Tensor teacher_logits, int64_t train_size) {
  if (spec.distills())
    LOWBIT_REQUIRE(teacher_logits.defined() && teacher_logits.dim() == 2 && teacher_logits.size(0) == train_size &&
                       teacher_logits.size(1) == spec.num_old,
                   "cil::make_task_loss", "distillation needs teacher logits ({}, {}), got {}", train_size, spec.num_old,
                   teacher_logits.defined() ? shape_str(teacher_logits.shape()) : std::string("none"));
  return [spec = std::move(spec), teacher = std::move(teacher_logits)](nn::Classifier&, const data::Batch& batch,
                                                                       const Var& raw_logits) {
    const Var logits = spec.transform ? spec.transform(raw_logits) : raw_logits;
    Var ce;
    if (spec.ce_new_only && spec.num_old > 0) {
      const int64_t fresh = logits.size(1) - spec.num_old;
      ce = cross_entropy(narrow(logits, 1, spec.num_old, fresh), shift_labels(batch.labels, spec.num_old));
    } else {
      ce = cross_entropy(logits, batch.labels);
    }
    Var loss = spec.ce_weight == 1.0f ? ce : scale(ce, spec.ce_weight);
    if (spec.distills()) {
      LOWBIT_REQUIRE(batch.indices.size() == static_cast<size_t>(batch.size()), "cil::make_task_loss",
                     "distillation needs the batch's sample indices ({} samples, {} indices)", batch.size(),
                     batch.indices.size());
      const Tensor old_logits = data::gather_rows(teacher, batch.indices);
      loss = add(loss, scale(distillation_loss(logits, old_logits, spec.temperature), spec.kd_weight));
    }
    return loss;
  };
}

}  // namespace lowbit::cil
