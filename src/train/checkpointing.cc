// Resumable training checkpoints: module state, optimizer state and progress in one file.
#include <nlohmann/json.hpp>

#include "lowbit/nn/checkpoint.h"
#include "lowbit/train/trainer.h"

namespace lowbit::train {

void save_training_checkpoint(const std::string& path, nn::Classifier& model, nn::Optimizer& opt,
                              int64_t epochs_done, const std::string& meta_json) {
  nlohmann::json meta = nlohmann::json::parse(meta_json.empty() ? "{}" : meta_json);
  meta["epochs_done"] = epochs_done;
  meta["optimizer"] = std::string(opt.type());
  meta["optimizer_steps"] = opt.steps();
  nn::Checkpoint ck;
  ck.meta_json = meta.dump();
  nn::add_module_state(ck, model);
  nn::add_optimizer_state(ck, opt);
  nn::save_checkpoint(path, ck);
}

int64_t load_training_checkpoint(const std::string& path, nn::Classifier& model, nn::Optimizer& opt) {
  const nn::Checkpoint ck = nn::load_checkpoint(path);
  const nlohmann::json meta = nlohmann::json::parse(ck.meta_json, nullptr, false);
  if (meta.is_discarded() || !meta.is_object() || !meta.contains("epochs_done") ||
      !meta["epochs_done"].is_number_integer())
    throw IoError(fmt::format("[checkpoint] {}: not a training checkpoint (no 'epochs_done' in its metadata)", path));
  if (meta.value("optimizer", "") != opt.type())
    throw IoError(fmt::format("[checkpoint] {}: written with optimizer '{}', this run uses '{}'", path,
                              meta.value("optimizer", "?"), opt.type()));
  nn::load_module_state(ck, model, path);
  nn::load_optimizer_state(ck, opt, path);
  opt.set_steps(meta.value("optimizer_steps", int64_t{0}));
  return meta["epochs_done"].get<int64_t>();
}

}  // namespace lowbit::train
