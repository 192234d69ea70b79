// The per-task training loop (CE + distillation with precomputed teacher logits) and the
// batched eval-mode forward.
#include "lowbit/cil/fit.h"

#include <unistd.h>

#include <chrono>

#include "lowbit/ops/ops.h"
#include "lowbit/ops/tensor_math.h"
#include "lowbit/train/progress.h"

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

Var task_loss(const Var& raw_logits, const data::Batch& batch, const Tensor& teacher, const TaskLoss& spec) {
  const Var logits = spec.transform ? spec.transform(raw_logits) : raw_logits;
  Var ce;
  if (spec.ce_new_only && spec.num_old > 0) {
    const int64_t fresh = logits.size(1) - spec.num_old;
    ce = cross_entropy(narrow(logits, 1, spec.num_old, fresh), shift_labels(batch.labels, spec.num_old));
  } else {
    ce = cross_entropy(logits, batch.labels);
  }
  Var loss = spec.ce_weight == 1.0f ? ce : scale(ce, spec.ce_weight);
  if (spec.kd_weight > 0 && spec.num_old > 0)
    loss = add(loss, scale(distillation_loss(logits, teacher, spec.temperature), spec.kd_weight));
  return loss;
}

}  // namespace

FitReport fit_task(nn::Classifier& model, const data::Dataset& train, const Tensor& teacher_logits,
                   const train::TrainConfig& cfg, const TaskLoss& loss, const std::string& label) {
  LOWBIT_REQUIRE(train.size() > 0, "cil::fit_task", "the task's training set is empty");
  LOWBIT_REQUIRE(cfg.epochs >= 1 && cfg.batch_size >= 1, "cil::fit_task", "epochs and batch size must be >= 1");
  const bool distill = loss.kd_weight > 0 && loss.num_old > 0;
  if (distill)
    LOWBIT_REQUIRE(teacher_logits.defined() && teacher_logits.dim() == 2 && teacher_logits.size(0) == train.size() &&
                       teacher_logits.size(1) == loss.num_old,
                   "cil::fit_task", "distillation needs teacher logits ({}, {}), got {}", train.size(), loss.num_old,
                   teacher_logits.defined() ? shape_str(teacher_logits.shape()) : std::string("none"));
  auto opt = train::make_optimizer(cfg, model.named_parameters());
  auto sched = train::make_schedule(cfg);
  // drop_last keeps batch statistics meaningful (a final batch of 1 breaks batch norm).
  data::BatchLoader loader(train, cfg.batch_size, true, cfg.seed, train.size() > cfg.batch_size);
  const int64_t nb = loader.num_batches();
  train::ProgressBar bar(label, cfg.epochs * nb, cfg.progress && isatty(2));
  FitReport rep;
  const auto t0 = std::chrono::steady_clock::now();
  model.train();
  for (int64_t epoch = 0; epoch < cfg.epochs; ++epoch) {
    const std::vector<int64_t> order = loader.permutation(epoch);
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    for (int64_t b = 0; b < nb; ++b) {
      opt->set_lr(sched->lr(static_cast<double>(epoch) + static_cast<double>(b) / static_cast<double>(nb)));
      const data::Batch batch = loader.make_batch(order, b);
      Tensor teacher;
      if (distill)
        teacher = data::gather_rows(teacher_logits, std::span<const int64_t>(order).subspan(
                                                        static_cast<size_t>(b * cfg.batch_size), static_cast<size_t>(batch.size())));
      opt->zero_grad();
      const Var logits = model(Var(batch.inputs));
      const Var l = task_loss(logits, batch, teacher, loss);
      l.backward();
      opt->step();
      const Tensor pred = argmax_rows(logits.value());
      for (int64_t i = 0; i < batch.size(); ++i) correct += pred.data<int32_t>()[i] == batch.labels.data<int32_t>()[i];
      loss_sum += l.value().item() * static_cast<double>(batch.size());
      seen += batch.size();
      bar.update(epoch * nb + b + 1, fmt::format("epoch {}/{} loss {:.4f}", epoch + 1, cfg.epochs, loss_sum / seen));
    }
    rep.samples += seen;
    rep.final_loss = loss_sum / std::max<int64_t>(seen, 1);
    rep.final_accuracy = static_cast<double>(correct) / std::max<int64_t>(seen, 1);
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  bar.finish(fmt::format("loss {:.4f} acc {:.4f} {:.1f} s", rep.final_loss, rep.final_accuracy, rep.seconds));
  return rep;
}

Outputs forward_all(nn::Classifier& model, const Tensor& inputs, int64_t batch_size) {
  const bool was_training = model.training();
  model.eval();
  NoGradGuard no_grad;
  const int64_t n = inputs.size(0);
  Outputs out;
  out.features = Tensor::empty({n, model.feature_dim()});
  out.logits = Tensor::empty({n, model.num_classes()});
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t len = std::min(batch_size, n - start);
    const Var f = model.features(Var(inputs.narrow(0, start, len).contiguous()));
    const Var z = model.head(f);
    out.features.narrow(0, start, len).copy_(f.value());
    out.logits.narrow(0, start, len).copy_(z.value());
  }
  model.train(was_training);
  return out;
}

}  // namespace lowbit::cil
