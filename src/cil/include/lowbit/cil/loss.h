// The class-incremental training loss, as a train::LossFn on the one train::Trainer:
// cross-entropy on the seen (or only the new) classes plus knowledge distillation from the
// previous model's logits.
//
// Teacher outputs are computed once per task, before the head grows, from the model as it was
// after the previous task (frozen: nothing trains it any more), and the loss gathers each
// batch's rows with data::Batch::indices. That equals running a frozen copy on every batch
// because training uses no data augmentation: each sample's teacher logits are constants.
// (Quantized forwards use per-tensor scales, so a sample's teacher logits can differ in the last
// bits with the batch it is computed in; both are valid frozen teachers.)
#pragma once

#include <functional>

#include "lowbit/train/trainer.h"

namespace lowbit::cil {

// Knowledge distillation (Hinton et al. 2015) on the old classes:
//   T^2 * soft_cross_entropy(logits[:, :old] / T, softmax(old_logits / T))
// with old = old_logits.size(1). The T^2 factor keeps the gradient scale independent of T (the
// standard form; PyCIL's iCaRL/LwF omit it, which is the same loss with weight 1/T^2).
// Soft cross-entropy differs from KL divergence by the targets' entropy, a constant, so the
// gradients are the KL gradients.
Var distillation_loss(const Var& logits, const Tensor& old_logits, float temperature);

struct TaskLoss {
  int num_old = 0;            // classes before this task: logits [0, num_old) are "old"
  bool ce_new_only = false;   // LwF: cross-entropy over the new classes' logits only
  float ce_weight = 1.0f;
  float kd_weight = 0.0f;     // 0: no distillation (teacher logits unused)
  float temperature = 2.0f;
  // Applied to the model's logits before both terms (BiC's frozen bias corrections of earlier
  // tasks); empty = identity.
  std::function<Var(const Var&)> transform;

  bool distills() const { return kd_weight > 0 && num_old > 0; }
};

// The loss of one task's training. teacher_logits: (N, num_old) over the Trainer's training set,
// row i belonging to sample i; required (ValueError otherwise) when spec.distills().
// Samples per batch are taken from batch.indices.
train::LossFn make_task_loss(TaskLoss spec, Tensor teacher_logits, int64_t train_size);

}  // namespace lowbit::cil
