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

int64_t restore_training_state(const nn::Checkpoint& ck, const std::string& origin, nn::Classifier& model,
                               nn::Optimizer& opt) {
  const nlohmann::json meta = nlohmann::json::parse(ck.meta_json, nullptr, false);
  const auto count = [&](const char* key) {
    if (!meta.contains(key) || !meta[key].is_number_integer() || meta[key].get<int64_t>() < 0)
      throw IoError(fmt::format("[checkpoint] {}: not a training checkpoint ('{}' in its metadata is not a count)", origin, key));
    return meta[key].get<int64_t>();
  };
  if (meta.is_discarded() || !meta.is_object())
    throw IoError(fmt::format("[checkpoint] {}: metadata is not a JSON object", origin));
  const int64_t epochs_done = count("epochs_done");
  const std::string written = meta.contains("optimizer") && meta["optimizer"].is_string() ? meta["optimizer"].get<std::string>() : "?";
  if (written != opt.type())
    throw IoError(fmt::format("[checkpoint] {}: written with optimizer '{}', this run uses '{}'", origin, written, opt.type()));
  const int64_t steps = meta.contains("optimizer_steps") ? count("optimizer_steps") : 0;
  nn::load_module_state(ck, model, origin);
  nn::load_optimizer_state(ck, opt, origin);
  opt.set_steps(steps);
  return epochs_done;
}

int64_t load_training_checkpoint(const std::string& path, nn::Classifier& model, nn::Optimizer& opt) {
  return restore_training_state(nn::load_checkpoint(path), path, model, opt);
}

}  // namespace lowbit::train
