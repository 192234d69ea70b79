// The training loop: shuffled batches, forward, loss, backward, optimizer step, LR schedule.
#include "lowbit/train/trainer.h"

#include <fmt/format.h>

#include <chrono>

#include "lowbit/ops/ops.h"
#include "lowbit/ops/tensor_math.h"
#include "lowbit/train/progress.h"

namespace lowbit::train {

std::unique_ptr<nn::Optimizer> make_optimizer(const TrainConfig& cfg, nn::NamedParams params) {
  if (cfg.optimizer == "sgd")
    return std::make_unique<nn::Sgd>(std::move(params), nn::SgdOptions{.lr = cfg.lr, .momentum = cfg.momentum,
                                                                        .weight_decay = cfg.weight_decay});
  if (cfg.optimizer == "adam")
    return std::make_unique<nn::Adam>(std::move(params), nn::AdamOptions{.lr = cfg.lr, .weight_decay = cfg.weight_decay});
  throw ValueError(fmt::format("[train] unknown optimizer '{}' (expected sgd or adam)", cfg.optimizer));
}

std::unique_ptr<nn::LrSchedule> make_schedule(const TrainConfig& cfg) {
  if (cfg.schedule == "constant") return std::make_unique<nn::ConstantLr>(cfg.lr);
  if (cfg.schedule == "cosine") return std::make_unique<nn::CosineLr>(cfg.lr, static_cast<double>(cfg.epochs));
  if (cfg.schedule == "multistep") return std::make_unique<nn::MultiStepLr>(cfg.lr, cfg.milestones, cfg.gamma);
  throw ValueError(fmt::format("[train] unknown schedule '{}' (expected constant, cosine or multistep)", cfg.schedule));
}

Outputs predict(nn::Classifier& model, const Tensor& inputs, int64_t batch_size) {
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

Tensor predict_logits(nn::Classifier& model, const Tensor& inputs, int64_t batch_size) {
  return predict(model, inputs, batch_size).logits;
}

EvalResult evaluate(nn::Classifier& model, const data::Dataset& ds, int64_t batch_size) {
  EvalResult r;
  r.samples = ds.size();
  if (r.samples == 0) return r;
  const Tensor logits = predict_logits(model, ds.inputs, batch_size);
  const Tensor pred = argmax_rows(logits);
  const Tensor labels = ds.labels.contiguous();
  int64_t correct = 0;
  for (int64_t i = 0; i < r.samples; ++i) correct += pred.data<int32_t>()[i] == labels.data<int32_t>()[i];
  r.accuracy = static_cast<double>(correct) / static_cast<double>(r.samples);
  r.loss = cross_entropy(Var(logits), labels).value().item();
  return r;
}

Trainer::Trainer(nn::Classifier& model, TrainConfig cfg, LossFn loss)
    : model_(model), cfg_(std::move(cfg)), loss_(std::move(loss)) {
  LOWBIT_REQUIRE(cfg_.epochs >= 1 && cfg_.batch_size >= 1, "train", "epochs and batch size must be >= 1, got {} and {}",
                 cfg_.epochs, cfg_.batch_size);
  if (!loss_) loss_ = [](nn::Classifier&, const data::Batch& b, const Var& logits) { return cross_entropy(logits, b.labels); };
  opt_ = make_optimizer(cfg_, model_.named_parameters());
  sched_ = make_schedule(cfg_);
}

void Trainer::fit(const data::Dataset& train, int64_t first_epoch,
                  const std::function<void(const EpochReport&)>& on_epoch) {
  LOWBIT_REQUIRE(train.size() > 0, "train", "the training set is empty");
  // drop_last keeps batch statistics meaningful (a final batch of 1 breaks batch norm).
  const bool drop_last = train.size() > cfg_.batch_size;
  data::BatchLoader loader(train, cfg_.batch_size, true, cfg_.seed, drop_last);
  const int64_t nb = loader.num_batches();
  for (int64_t epoch = first_epoch; epoch < cfg_.epochs; ++epoch) {
    model_.train();
    const auto t0 = std::chrono::steady_clock::now();
    ProgressBar bar(fmt::format("{}epoch {}/{}", cfg_.label, epoch + 1, cfg_.epochs), nb, cfg_.progress);
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    EpochReport rep;
    rep.epoch = epoch + 1;
    int64_t b = 0;
    for (const data::Batch& batch : loader.epoch(epoch)) {
      const float lr = sched_->lr(static_cast<double>(epoch) + static_cast<double>(b) / static_cast<double>(nb));
      opt_->set_lr(lr);
      rep.lr = lr;
      opt_->zero_grad();
      const Var logits = model_(Var(batch.inputs));
      const Var loss = loss_(model_, batch, logits);
      loss.backward();
      opt_->step();
      const Tensor pred = argmax_rows(logits.value());
      for (int64_t i = 0; i < batch.size(); ++i)
        correct += pred.data<int32_t>()[i] == batch.labels.data<int32_t>()[i];
      loss_sum += loss.value().item() * static_cast<double>(batch.size());
      seen += batch.size();
      ++b;
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      bar.update(b, fmt::format("loss {:.4f} acc {:.4f} {:.0f} img/s", loss_sum / seen,
                                static_cast<double>(correct) / seen, seen / std::max(secs, 1e-9)));
    }
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rep.train_loss = loss_sum / std::max<int64_t>(seen, 1);
    rep.train_accuracy = static_cast<double>(correct) / std::max<int64_t>(seen, 1);
    rep.images_per_second = seen / std::max(rep.seconds, 1e-9);
    bar.finish(fmt::format("loss {:.4f} acc {:.4f} {:.0f} img/s", rep.train_loss, rep.train_accuracy,
                           rep.images_per_second));
    train_seconds_ += rep.seconds;
    images_ += seen;
    if (on_epoch) on_epoch(rep);
  }
}

}  // namespace lowbit::train
