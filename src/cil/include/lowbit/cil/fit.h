// One task's training loop for class-incremental methods: cross-entropy on the seen (or only
// the new) classes plus knowledge distillation from the previous model's logits, and the
// batched no-gradient forward used for evaluation, herding and teacher outputs.
//
// Teacher outputs are computed once per task, before the head grows, from the model as it was
// after the previous task (frozen: nothing trains it any more). That equals running a frozen
// copy on every batch because training uses no data augmentation: each sample's teacher logits
// are constants. (Quantized forwards use per-tensor scales, so a sample's teacher logits can
// differ in the last bits with the batch it is computed in; both are valid frozen teachers.)
#pragma once

#include <functional>
#include <string>

#include "lowbit/data/dataset.h"
#include "lowbit/nn/models.h"
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
};

struct FitReport {
  double seconds = 0, final_loss = 0, final_accuracy = 0;
  int64_t samples = 0;  // samples processed over all epochs
};

// Trains `model` on `train` (labels in order-label space, < model.num_classes()) for
// cfg.epochs with a fresh optimizer and LR schedule. teacher_logits: (train.size(), num_old),
// row i belonging to sample i; needed when loss.kd_weight > 0. Batches follow
// data::BatchLoader(train, cfg.batch_size, shuffle, cfg.seed, drop_last when N > batch).
FitReport fit_task(nn::Classifier& model, const data::Dataset& train, const Tensor& teacher_logits,
                   const train::TrainConfig& cfg, const TaskLoss& loss, const std::string& label = "train");

struct Outputs {
  Tensor features;  // (N, feature_dim)
  Tensor logits;    // (N, num_classes)
};
// Eval-mode forward without gradients in batches; restores the training flag afterwards.
Outputs forward_all(nn::Classifier& model, const Tensor& inputs, int64_t batch_size = 256);

}  // namespace lowbit::cil
