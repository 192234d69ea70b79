// Supervised training and evaluation of a Classifier on an in-memory Dataset: the loop that
// `lowbit train` and class-incremental learning share. Deterministic for a given seed and
// thread count; checkpoints after every epoch (atomically) and resumes from one.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "lowbit/data/dataset.h"
#include "lowbit/nn/checkpoint.h"
#include "lowbit/nn/models.h"
#include "lowbit/nn/optim.h"

namespace lowbit::train {

struct TrainConfig {
  std::string optimizer = "sgd";   // sgd | adam
  float lr = 0.05f;                // base learning rate
  float momentum = 0.9f;           // sgd
  float weight_decay = 5e-4f;
  std::string schedule = "cosine";  // constant | cosine | multistep
  std::vector<int64_t> milestones;  // multistep epochs
  float gamma = 0.1f;               // multistep factor
  int64_t epochs = 5;
  int64_t batch_size = 128;
  uint64_t seed = 0;
  bool progress = true;  // progress bar on stderr
  std::string label;     // prefix of the progress lines (e.g. "hdqt seed 0 task 2/5 ")
};

struct EvalResult {
  double loss = 0, accuracy = 0;
  int64_t samples = 0;
};

struct EpochReport {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_accuracy = 0, seconds = 0, images_per_second = 0, lr = 0;
};

std::unique_ptr<nn::Optimizer> make_optimizer(const TrainConfig& cfg, nn::NamedParams params);
std::unique_ptr<nn::LrSchedule> make_schedule(const TrainConfig& cfg);

struct Outputs {
  Tensor features;  // (N, feature_dim)
  Tensor logits;    // (N, num_classes)
};
// Batched forward in eval mode without recording gradients over the whole set (N, ...);
// restores the training flag afterwards. predict_logits keeps only the logits.
Outputs predict(nn::Classifier& model, const Tensor& inputs, int64_t batch_size = 256);
Tensor predict_logits(nn::Classifier& model, const Tensor& inputs, int64_t batch_size = 256);
EvalResult evaluate(nn::Classifier& model, const data::Dataset& ds, int64_t batch_size = 256);

// A per-batch loss hook: given the model, the batch and the logits, returns the loss to
// minimize (default: cross-entropy). Class-incremental methods add distillation terms here
// (cil::make_task_loss), gathering each sample's teacher logits with batch.indices.
using LossFn = std::function<Var(nn::Classifier&, const data::Batch&, const Var& logits)>;

class Trainer {
 public:
  Trainer(nn::Classifier& model, TrainConfig cfg, LossFn loss = {});
  // Runs epochs [first_epoch, cfg.epochs) with batches of data::BatchLoader(train,
  // cfg.batch_size, shuffled, cfg.seed, drop_last when N > batch size); on_epoch is called
  // after each (e.g. to checkpoint).
  void fit(const data::Dataset& train, int64_t first_epoch = 0,
           const std::function<void(const EpochReport&)>& on_epoch = {});
  nn::Optimizer& optimizer() { return *opt_; }
  double train_seconds() const { return train_seconds_; }
  int64_t images_seen() const { return images_; }

 private:
  nn::Classifier& model_;
  TrainConfig cfg_;
  LossFn loss_;
  std::unique_ptr<nn::Optimizer> opt_;
  std::unique_ptr<nn::LrSchedule> sched_;
  double train_seconds_ = 0;
  int64_t images_ = 0;
};

// A resumable training checkpoint: model parameters and buffers, optimizer state, and the
// metadata JSON object `meta` (caller's: model name, input shape, ...) extended with
// "epochs_done" and "optimizer_steps". Written atomically.
void save_training_checkpoint(const std::string& path, nn::Classifier& model, nn::Optimizer& opt,
                              int64_t epochs_done, const std::string& meta_json);
// Restores what save_training_checkpoint wrote into a model and optimizer of the same shape;
// returns epochs_done. Errors (IoError) name the file and the mismatching entry.
int64_t load_training_checkpoint(const std::string& path, nn::Classifier& model, nn::Optimizer& opt);
// The same from an already parsed checkpoint; IoError naming `origin` for malformed metadata
// (epochs_done and optimizer_steps must be non-negative integers, optimizer a string).
int64_t restore_training_state(const nn::Checkpoint& ck, const std::string& origin, nn::Classifier& model,
                               nn::Optimizer& opt);

}  // namespace lowbit::train
