// Class-incremental methods behind one interface: fine-tuning (lower bound), joint training
// (upper bound), LwF (Li & Hoiem 2017), iCaRL (Rebuffi et al. 2017) and BiC (Wu et al. 2019).
// A method owns its model, grows the head task by task and predicts in order-label space
// (label = position of the class in the class order; see task_split.h).
//
//   method    trains on                      loss                                   memory
//   finetune  the task's classes             CE over all seen logits                 -
//   joint     every seen class's data        CE over all seen logits                 -
//   lwf       the task's classes             CE over the new logits + KD (old)       -
//   icarl     task's classes + exemplars     CE over all seen logits + KD (old)      herding, NME
//   bic       as icarl, minus a held-out     (1-l) CE + l KD, l = old/seen; then a   herding, NME
//             balanced validation split      bias layer (alpha, beta on the new logits) fitted on it
// KD = distillation_loss (loss.h), temperature 2 by default.
//
// Every method trains a task on the one train::Trainer with the loss of make_task_loss; the
// stages around it are hooks of the shared task loop (methods.cc): which samples to train on,
// the task's loss, a stage after training (BiC's bias layer) and the exemplar memory update.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lowbit/cil/loss.h"
#include "lowbit/cil/memory.h"
#include "lowbit/cil/task_split.h"
#include "lowbit/nn/checkpoint.h"

namespace lowbit::cil {

struct MethodConfig {
  train::TrainConfig train;   // per task; train.seed is the run's base seed
  int64_t memory = 2000;      // total exemplars (icarl, bic)
  float temperature = 2.0f;   // distillation temperature
  float lwf_kd_weight = 1.0f;
  double bic_val_fraction = 0.1;  // held-out samples per class = fraction * memory per old class
  int bic_steps = 300;            // full-batch Adam steps fitting (alpha, beta)
  float bic_lr = 0.01f;
  std::string label;              // prefix of progress lines
};

// How the runner builds models: `build(num_classes, task)` returns an initialized (and, for a
// quantized preset, quantized) classifier; `requantize(model, task)` is called after each head
// expansion, so the new head runs quantized too (quantize_model is idempotent).
struct ModelOps {
  std::function<std::shared_ptr<nn::Classifier>(int64_t num_classes)> build;
  std::function<void(nn::Classifier&, int task)> requantize;
};

struct Prediction {
  Tensor head;  // int32 (N): argmax of the (bias-corrected) logits
  Tensor nme;   // int32 (N): nearest mean of exemplars; undefined for methods without memory
};

class Method {
 public:
  virtual ~Method() = default;
  virtual const std::string& name() const = 0;
  virtual bool has_memory() const = 0;
  // Learns tasks[t]. `train` is the whole training set in order-label space; the method takes
  // only what it may see (the task's classes, its memory; joint: every seen class).
  virtual void train_task(const data::Dataset& train, const std::vector<Task>& tasks, int t) = 0;
  virtual Prediction predict(const Tensor& inputs) = 0;
  virtual nn::Classifier& model() = 0;
  virtual int tasks_done() const = 0;

  // Task checkpoints (task_checkpoint.h). What the next task depends on: the model's parameters
  // and buffers and the NME class means go into `ck` as tensors ("model.*", "nme.means"); the
  // quantizer state (fqt/quant_state.h), the exemplar memory and BiC's bias corrections come
  // back as JSON. Nothing else carries over: each task builds a fresh optimizer and schedule,
  // its shuffling, head rows and stochastic-rounding seeds derive from (seed, task), and the
  // distillation teacher is the restored model itself.
  virtual nlohmann::json save_state(nn::Checkpoint& ck) = 0;
  // Restores that state into a method that has trained nothing yet: rebuilds the model as tasks
  // 0..done-1 grew it (same builds, head expansions and quantizer seeds), then loads it.
  // IoError naming `origin` when anything disagrees with this run (shapes, layers, classes,
  // exemplars that are not samples of their class in `train`).
  virtual void load_state(const nn::Checkpoint& ck, const nlohmann::json& state, int done, const data::Dataset& train,
                          const std::vector<Task>& tasks, const std::string& origin) = 0;
};

// "finetune" | "joint" | "lwf" | "icarl" | "bic"; ValueError listing them otherwise.
std::unique_ptr<Method> make_method(const std::string& name, MethodConfig cfg, ModelOps ops);
std::vector<std::string> method_names();
bool method_has_memory(const std::string& name);

}  // namespace lowbit::cil
