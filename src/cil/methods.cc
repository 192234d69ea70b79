// The class-incremental methods: a shared task loop (select data, record teacher outputs, grow
// the head, train on train::Trainer, update the exemplar memory) with per-method hooks for the
// data, the loss and the stage after training (BiC's bias correction).
#include "lowbit/cil/methods.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "lowbit/core/rng.h"
#include "lowbit/fqt/quant_state.h"
#include "lowbit/nn/optim.h"
#include "lowbit/ops/ops.h"
#include "lowbit/ops/tensor_math.h"

namespace lowbit::cil {
namespace {

constexpr uint64_t kHeadStream = 0x48454144ULL;     // "HEAD": new head rows of task t
constexpr uint64_t kTrainStream = 0x545241494eULL;  // "TRAIN": shuffling of task t
constexpr uint64_t kValStream = 0x56414cULL;        // "VAL": BiC's held-out samples

// A JSON number as a float; values beyond the float range become infinities (which the callers
// reject) instead of an out-of-range conversion.
float json_float(const nlohmann::json& v) {
  const double d = v.get<double>();
  if (!(std::fabs(d) <= std::numeric_limits<float>::max())) return std::isnan(d) ? NAN : (d > 0 ? INFINITY : -INFINITY);
  return static_cast<float>(d);
}

class Learner : public Method {
 public:
  Learner(std::string name, MethodConfig cfg, ModelOps ops, bool memory)
      : name_(std::move(name)), cfg_(std::move(cfg)), ops_(std::move(ops)), memory_on_(memory), memory_(cfg_.memory) {}

  const std::string& name() const override { return name_; }
  bool has_memory() const override { return memory_on_; }
  nn::Classifier& model() override {
    LOWBIT_REQUIRE(model_ != nullptr, "cil::Method", "{}: no task trained yet", name_);
    return *model_;
  }

  void train_task(const data::Dataset& train, const std::vector<Task>& tasks, int t) override {
    LOWBIT_REQUIRE(t >= 0 && t < static_cast<int>(tasks.size()) && t == tasks_done_, "cil::Method",
                   "{}: tasks must be trained in order (expected task {}, got {})", name_, tasks_done_ + 1, t + 1);
    const Task& task = tasks[static_cast<size_t>(t)];
    const std::vector<int64_t> idx = training_indices(train, task);
    const data::Dataset subset = train.subset(idx);
    TaskLoss loss = loss_for(task);
    Tensor teacher;
    if (t > 0 && loss.kd_weight > 0) teacher = corrected_logits(train::predict(*model_, subset.inputs).logits);
    grow(task, t);
    train::TrainConfig tc = cfg_.train;
    tc.seed = mix_stream(mix_stream(cfg_.train.seed, kTrainStream), static_cast<uint64_t>(t));
    tc.progress = tc.progress && isatty(STDERR_FILENO);  // dozens of tasks x epochs: no log spam
    tc.label = fmt::format("{}task {}/{} ", cfg_.label, t + 1, tasks.size());
    train::Trainer trainer(*model_, tc, make_task_loss(std::move(loss), teacher, subset.size()));
    trainer.fit(subset);
    after_fit(train, task);
    if (memory_on_) update_memory(train, task);
    ++tasks_done_;
  }

  int tasks_done() const override { return tasks_done_; }

  nlohmann::json save_state(nn::Checkpoint& ck) override {
    nn::add_module_state(ck, model());
    nlohmann::json quant = nlohmann::json::array();
    for (const fqt::LayerQuantState& q : fqt::quant_state(*model_))
      quant.push_back({{"layer", q.layer}, {"step", q.step}, {"range_x", q.range_x}, {"range_w", q.range_w},
                       {"range_x_at", q.range_x_at}, {"range_w_at", q.range_w_at}});
    nlohmann::json j = {{"method", name_}, {"quant", quant}};
    if (memory_on_) {
      j["memory"] = memory_.to_json();
      ck.tensors.emplace_back("nme.means", means_);
    }
    save_extra(j);
    return j;
  }

  void load_state(const nn::Checkpoint& ck, const nlohmann::json& state, int done, const data::Dataset& train,
                  const std::vector<Task>& tasks, const std::string& origin) override {
    LOWBIT_REQUIRE(tasks_done_ == 0 && !model_, "cil::Method", "{}: load_state needs a method that trained nothing yet", name_);
    const auto bad = [&](const std::string& what) { return IoError(fmt::format("[cil] {}: {}", origin, what)); };
    if (done < 1 || done > static_cast<int>(tasks.size()))
      throw bad(fmt::format("{} tasks done, this run has {}", done, tasks.size()));
    if (!state.is_object() || !state.contains("method") || state["method"] != name_)
      throw bad(fmt::format("written by method {}, this run uses {}", state.is_object() && state.contains("method")
                                                                          ? state["method"].dump() : "?", name_));
    for (int t = 0; t < done; ++t) grow(tasks[static_cast<size_t>(t)], t);
    nn::load_module_state(ck, *model_, origin);
    std::vector<fqt::LayerQuantState> quant;
    if (!state.contains("quant") || !state["quant"].is_array()) throw bad("no quantizer state recorded");
    for (const auto& q : state["quant"]) {
      const auto field = [&](const char* key, bool integer) -> const nlohmann::json& {
        if (!q.is_object() || !q.contains(key) || !(integer ? q[key].is_number_integer() : q[key].is_number()))
          throw bad(fmt::format("quantizer state entry {} lacks a numeric '{}'", q.dump().substr(0, 80), key));
        return q[key];
      };
      if (!q.is_object() || !q.contains("layer") || !q["layer"].is_string())
        throw bad(fmt::format("quantizer state entry {} names no layer", q.dump().substr(0, 80)));
      quant.push_back({q["layer"].get<std::string>(), field("step", true).get<int64_t>(), json_float(field("range_x", false)),
                       json_float(field("range_w", false)), field("range_x_at", true).get<int64_t>(),
                       field("range_w_at", true).get<int64_t>()});
    }
    fqt::restore_quant_state(*model_, quant, origin);
    const int seen = tasks[static_cast<size_t>(done - 1)].end;
    if (memory_on_) {
      if (!state.contains("memory")) throw bad("no exemplar memory recorded");
      memory_.load_json(state["memory"], train.labels, seen, origin);
      const Tensor* means = ck.find("nme.means");
      if (!means || means->dtype() != DType::f32 || means->shape() != Shape{seen, model_->feature_dim()})
        throw bad(fmt::format("'nme.means' must be f32 ({}, {})", seen, model_->feature_dim()));
      means_ = means->contiguous().clone();
      for (int64_t i = 0; i < means_.numel(); ++i)
        if (!std::isfinite(means_.data<float>()[i])) throw bad(fmt::format("'nme.means' holds {} at element {}", means_.data<float>()[i], i));
    }
    load_extra(state, tasks, done, origin);
    tasks_done_ = done;
  }

  Prediction predict(const Tensor& inputs) override {
    const train::Outputs out = train::predict(model(), inputs);
    Prediction p;
    p.head = argmax_rows(corrected_logits(out.logits));
    if (memory_on_) p.nme = nme_predict(out.features, means_);
    return p;
  }

 protected:
  // The task's samples, plus every stored exemplar.
  virtual std::vector<int64_t> training_indices(const data::Dataset& train, const Task& task) {
    std::vector<int64_t> idx = indices_in_range(train, task.first, task.end);
    if (memory_on_) {
      const std::vector<int64_t> mem = memory_.all();
      idx.insert(idx.end(), mem.begin(), mem.end());
    }
    return idx;
  }
  virtual TaskLoss loss_for(const Task& task) const {
    TaskLoss l;
    l.num_old = task.num_old();
    l.temperature = cfg_.temperature;
    return l;
  }
  // Maps raw logits to the ones the method predicts with (BiC's bias correction).
  virtual Var correct(const Var& raw) const { return raw; }
  virtual void after_fit(const data::Dataset& train, const Task& task) {}
  // Method-specific state of task checkpoints (BiC's corrections).
  virtual void save_extra(nlohmann::json& state) const {}
  virtual void load_extra(const nlohmann::json& state, const std::vector<Task>& tasks, int done, const std::string& origin) {}

  Tensor corrected_logits(const Tensor& raw) const {
    NoGradGuard no_grad;
    return correct(Var(raw)).value();
  }

  std::string name_;
  MethodConfig cfg_;
  ModelOps ops_;
  bool memory_on_;
  ExemplarMemory memory_;
  std::shared_ptr<nn::Classifier> model_;
  Tensor means_;  // (seen, feature_dim) NME class means
  int tasks_done_ = 0;

 private:
  void grow(const Task& task, int t) {
    if (!model_) {
      model_ = ops_.build(task.end);
      return;
    }
    model_->expand_classes(task.end, mix_stream(mix_stream(cfg_.train.seed, kHeadStream), static_cast<uint64_t>(t)));
    ops_.requantize(*model_, t);
  }

  // Shrinks the old classes to the new per-class budget, herds exemplars for the new classes
  // with the model just trained, and recomputes every class mean from its exemplars.
  void update_memory(const data::Dataset& train, const Task& task) {
    memory_.reduce(task.end);
    const int64_t budget = memory_.per_class(task.end);
    for (int c = task.first; c < task.end; ++c) {
      const std::vector<int64_t> idx = indices_in_range(train, c, c + 1);
      const Tensor features = train::predict(*model_, data::gather_rows(train.inputs, idx)).features;
      std::vector<int64_t> picked = herding_select(features, budget);
      for (int64_t& i : picked) i = idx[static_cast<size_t>(i)];
      memory_.set_class(c, std::move(picked));
    }
    const std::vector<int64_t> all = memory_.all();
    const Tensor features = train::predict(*model_, data::gather_rows(train.inputs, all)).features;
    means_ = class_means(features, data::gather_rows(train.labels, all), task.end);
  }
};

class FineTune : public Learner {
 public:
  FineTune(MethodConfig cfg, ModelOps ops) : Learner("finetune", std::move(cfg), std::move(ops), false) {}
};

class Joint : public Learner {
 public:
  Joint(MethodConfig cfg, ModelOps ops) : Learner("joint", std::move(cfg), std::move(ops), false) {}

 protected:
  std::vector<int64_t> training_indices(const data::Dataset& train, const Task& task) override {
    return indices_in_range(train, 0, task.end);
  }
};

class Lwf : public Learner {
 public:
  Lwf(MethodConfig cfg, ModelOps ops) : Learner("lwf", std::move(cfg), std::move(ops), false) {}

 protected:
  TaskLoss loss_for(const Task& task) const override {
    TaskLoss l = Learner::loss_for(task);
    l.ce_new_only = true;
    l.kd_weight = cfg_.lwf_kd_weight;
    return l;
  }
};

class Icarl : public Learner {
 public:
  Icarl(MethodConfig cfg, ModelOps ops) : Learner("icarl", std::move(cfg), std::move(ops), true) {}

 protected:
  TaskLoss loss_for(const Task& task) const override {
    TaskLoss l = Learner::loss_for(task);
    l.kd_weight = 1.0f;
    return l;
  }
};

// BiC: each corrected task keeps (alpha, beta) applied to its own logit range; earlier tasks'
// corrections stay frozen and also apply while later tasks train (as in PyCIL).
class Bic : public Learner {
 public:
  Bic(MethodConfig cfg, ModelOps ops) : Learner("bic", std::move(cfg), std::move(ops), true) {}

 protected:
  std::vector<int64_t> training_indices(const data::Dataset& train, const Task& task) override {
    std::vector<int64_t> idx = Learner::training_indices(train, task);
    val_.clear();
    if (task.num_old() == 0) return idx;
    // Balanced validation split: v samples of every seen class, held out of stage-1 training.
    const auto v = std::max<int64_t>(
        1, static_cast<int64_t>(cfg_.bic_val_fraction * static_cast<double>(memory_.per_class(task.num_old()))));
    for (int c = 0; c < task.end; ++c) {
      std::vector<int64_t> pool = c < task.first ? memory_.exemplars(c) : indices_in_range(train, c, c + 1);
      Rng rng(mix_stream(cfg_.train.seed, kValStream), static_cast<uint64_t>(c));
      // Keep at least one sample of every class for training.
      const auto take = static_cast<size_t>(std::clamp<int64_t>(static_cast<int64_t>(pool.size()) - 1, 0, v));
      for (size_t i = 0; i < take; ++i) std::swap(pool[i], pool[i + rng.below(pool.size() - i)]);
      val_.insert(val_.end(), pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(take));
    }
    std::sort(val_.begin(), val_.end());
    std::erase_if(idx, [&](int64_t i) { return std::binary_search(val_.begin(), val_.end(), i); });
    return idx;
  }

  TaskLoss loss_for(const Task& task) const override {
    TaskLoss l = Learner::loss_for(task);
    const float lambda = static_cast<float>(task.num_old()) / static_cast<float>(task.num_seen());
    l.ce_weight = 1.0f - lambda;
    l.kd_weight = lambda;
    if (!corrections_.empty()) l.transform = [this](const Var& z) { return correct(z); };
    return l;
  }

  Var correct(const Var& raw) const override {
    if (corrections_.empty()) return raw;
    std::vector<Var> pieces;
    int64_t cursor = 0;
    for (const Correction& c : corrections_) {
      if (c.first > cursor) pieces.push_back(narrow(raw, 1, cursor, c.first - cursor));
      const Var slice = narrow(raw, 1, c.first, c.end - c.first);
      pieces.push_back(add_scalar(mul_scalar(slice, Var(Tensor::full({1}, c.alpha))), Var(Tensor::full({1}, c.beta))));
      cursor = c.end;
    }
    if (cursor < raw.size(1)) pieces.push_back(narrow(raw, 1, cursor, raw.size(1) - cursor));
    return cat(pieces, 1);
  }

  // Stage 2: fit alpha, beta on the new classes' logits of the held-out split (full batch,
  // Adam), the model and the earlier corrections frozen.
  void after_fit(const data::Dataset& train, const Task& task) override {
    if (task.num_old() == 0 || val_.empty()) return;
    const Tensor labels = data::gather_rows(train.labels, val_);
    const Tensor raw = train::predict(*model_, data::gather_rows(train.inputs, val_)).logits;
    const Tensor old_part = corrected_logits(raw).narrow(1, 0, task.first).contiguous();
    const Tensor new_part = raw.narrow(1, task.first, task.end - task.first).contiguous();
    Var alpha(Tensor::full({1}, 1.0f), true), beta(Tensor::zeros({1}), true);
    nn::Adam opt({{"alpha", alpha}, {"beta", beta}}, nn::AdamOptions{.lr = cfg_.bic_lr});
    for (int s = 0; s < cfg_.bic_steps; ++s) {
      opt.zero_grad();
      const Var z = cat({Var(old_part), add_scalar(mul_scalar(Var(new_part), alpha), beta)}, 1);
      cross_entropy(z, labels).backward();
      opt.step();
    }
    corrections_.push_back({task.first, task.end, alpha.value().item(), beta.value().item()});
  }

  void save_extra(nlohmann::json& state) const override {
    nlohmann::json c = nlohmann::json::array();
    for (const Correction& k : corrections_) c.push_back({k.first, k.end, k.alpha, k.beta});
    state["bic_corrections"] = c;
  }

  // One [first, end, alpha, beta] per corrected task: a task after the first, in order.
  void load_extra(const nlohmann::json& state, const std::vector<Task>& tasks, int done, const std::string& origin) override {
    const auto bad = [&](const std::string& what) {
      return IoError(fmt::format("[cil] {}: BiC bias corrections: {}", origin, what));
    };
    if (!state.contains("bic_corrections") || !state["bic_corrections"].is_array()) throw bad("missing");
    corrections_.clear();
    int next = 1;  // the earliest task the next correction may belong to
    for (const auto& e : state["bic_corrections"]) {
      if (!e.is_array() || e.size() != 4 || !e[0].is_number_integer() || !e[1].is_number_integer() || !e[2].is_number() ||
          !e[3].is_number())
        throw bad(fmt::format("entry {} is not [first, end, alpha, beta]", e.dump().substr(0, 80)));
      const int64_t first = e[0].get<int64_t>(), end = e[1].get<int64_t>();
      const float alpha = json_float(e[2]), beta = json_float(e[3]);
      while (next < done && tasks[static_cast<size_t>(next)].first != first) ++next;
      if (next >= done || tasks[static_cast<size_t>(next)].end != end || !std::isfinite(alpha) || !std::isfinite(beta))
        throw bad(fmt::format("entry {} is not the finite correction of a trained task after the first, in order", e.dump()));
      corrections_.push_back({first, end, alpha, beta});
      ++next;
    }
  }

 private:
  struct Correction {
    int64_t first, end;
    float alpha, beta;
  };
  std::vector<Correction> corrections_;
  std::vector<int64_t> val_;  // held-out training-set indices of the current task
};

}  // namespace

std::vector<std::string> method_names() { return {"finetune", "joint", "lwf", "icarl", "bic"}; }

bool method_has_memory(const std::string& name) { return name == "icarl" || name == "bic"; }

std::unique_ptr<Method> make_method(const std::string& name, MethodConfig cfg, ModelOps ops) {
  LOWBIT_REQUIRE(ops.build && ops.requantize, "cil::make_method", "model operations are not set");
  if (name == "finetune") return std::make_unique<FineTune>(std::move(cfg), std::move(ops));
  if (name == "joint") return std::make_unique<Joint>(std::move(cfg), std::move(ops));
  if (name == "lwf") return std::make_unique<Lwf>(std::move(cfg), std::move(ops));
  if (name == "icarl") return std::make_unique<Icarl>(std::move(cfg), std::move(ops));
  if (name == "bic") return std::make_unique<Bic>(std::move(cfg), std::move(ops));
  throw ValueError(fmt::format("[cil] unknown method '{}' (expected one of: {})", name, fmt::join(method_names(), ", ")));
}

}  // namespace lowbit::cil
