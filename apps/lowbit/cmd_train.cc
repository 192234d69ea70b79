// `lowbit train`: supervised training of a model zoo network on a data set (fp32 or a
// quantization preset), with per-epoch atomic checkpoints, --resume, and a JSON summary.
#include <chrono>
#include <cstdio>

#include "command.h"
#include "lowbit/core/threads.h"
#include "lowbit/data/load.h"
#include "lowbit/fqt/quant_config.h"
#include "lowbit/train/classifier_meta.h"
#include "lowbit/train/trainer.h"
#include "train_common.h"

namespace lowbit::app {
namespace {

struct TrainArgs {
  std::string dataset = "fashion-mnist", data_dir, model = "mlp", out, json, resume, quant = "fp32";
  int bits = 0, acc_bits = 0;
  train::TrainConfig cfg;
  float lr = -1;
  int threads = 0;
  bool quiet = false;
};

void run_train(TrainArgs& a) {
  if (a.lr < 0) a.cfg.lr = a.cfg.optimizer == "adam" ? 1e-3f : 0.05f;
  else a.cfg.lr = a.lr;
  a.cfg.progress = !a.quiet;
  data::DatasetSplit split = load_split(a.dataset, a.data_dir);
  auto model = nn::build_model(a.model, split.train.sample_shape(), split.train.num_classes);
  nn::init_parameters(*model, a.cfg.seed);
  train::ClassifierMeta meta = train::classifier_meta(*model, split, a.dataset);
  meta.seed = a.cfg.seed;
  meta.quant_preset = a.quant, meta.quant_bits = a.bits, meta.quant_acc_bits = a.acc_bits;
  fqt::apply_preset(*model, {a.quant, a.bits, a.acc_bits, {}}, a.cfg.seed);
  train::Trainer trainer(*model, a.cfg);

  int64_t first_epoch = 0;
  if (!a.resume.empty()) {
    const auto old = train::parse_classifier_meta(nn::load_checkpoint(a.resume), a.resume);
    if (old.model != a.model || old.dataset != a.dataset)
      throw ValueError(fmt::format("[train] --resume {}: checkpoint is {} on {}, this run is {} on {}", a.resume,
                                   old.model, old.dataset, a.model, a.dataset));
    first_epoch = train::load_training_checkpoint(a.resume, *model, trainer.optimizer());
    std::fprintf(stderr, "resuming from %s after epoch %lld\n", a.resume.c_str(), static_cast<long long>(first_epoch));
  }

  nlohmann::json history = nlohmann::json::array();
  trainer.fit(split.train, first_epoch, [&](const train::EpochReport& r) {
    history.push_back({{"epoch", r.epoch}, {"train_loss", r.train_loss}, {"train_accuracy", r.train_accuracy},
                       {"seconds", r.seconds}, {"images_per_second", r.images_per_second}, {"lr", r.lr}});
    if (!a.out.empty()) train::save_training_checkpoint(a.out, *model, trainer.optimizer(), r.epoch, train::to_json(meta));
  });
  const train::EvalResult test = train::evaluate(*model, split.test);
  std::printf("test accuracy %.4f (loss %.4f) on %lld images; %s, %lld epochs, %.1f s, %.0f images/s, %d threads\n",
              test.accuracy, test.loss, static_cast<long long>(test.samples), a.model.c_str(),
              static_cast<long long>(a.cfg.epochs), trainer.train_seconds(),
              trainer.images_seen() / std::max(trainer.train_seconds(), 1e-9), num_threads());
  if (!a.json.empty()) {
    nlohmann::json j;
    j["model"] = a.model;
    j["quant"] = a.quant;
    j["dataset"] = a.dataset;
    j["epochs"] = a.cfg.epochs;
    j["batch_size"] = a.cfg.batch_size;
    j["optimizer"] = a.cfg.optimizer;
    j["lr"] = a.cfg.lr;
    j["seed"] = a.cfg.seed;
    j["threads"] = num_threads();
    j["parameters"] = model->num_parameters();
    j["test_accuracy"] = test.accuracy;
    j["test_loss"] = test.loss;
    j["train_seconds"] = trainer.train_seconds();
    j["images_per_second"] = trainer.images_seen() / std::max(trainer.train_seconds(), 1e-9);
    j["history"] = history;
    write_json(a.json, j);
  }
}

void setup_train(CLI::App& cmd) {
  auto a = std::make_shared<TrainArgs>();
  cmd.add_option("--dataset", a->dataset, "data set")->check(CLI::IsMember(data::dataset_names()))->capture_default_str();
  cmd.add_option("--data-dir", a->data_dir, "folder holding the data set files (default: the Debian package's)");
  cmd.add_option("--model", a->model, "network")->check(CLI::IsMember(nn::model_names()))->capture_default_str();
  cmd.add_option("--quant", a->quant, "arithmetic of every Linear/Conv2d GEMM (forward and backward)")
      ->check(CLI::IsMember(fqt::preset_names()))->capture_default_str();
  cmd.add_option("--bits", a->bits, "operand bits of the quantized presets (default: the preset's)")->check(CLI::Range(2, 8));
  cmd.add_option("--acc-bits", a->acc_bits, "accumulator bits of the quantized presets")->check(CLI::Range(2, 32));
  cmd.add_option("--epochs", a->cfg.epochs, "epochs")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd.add_option("--batch-size", a->cfg.batch_size, "mini-batch size")->check(CLI::Range(1, 1 << 20))->capture_default_str();
  cmd.add_option("--lr", a->lr, "base learning rate (default 0.05 for sgd, 1e-3 for adam)")->check(CLI::Range(0.0, 100.0));
  cmd.add_option("--optimizer", a->cfg.optimizer, "optimizer")->check(CLI::IsMember({"sgd", "adam"}))->capture_default_str();
  cmd.add_option("--momentum", a->cfg.momentum, "SGD momentum")->check(CLI::Range(0.0, 0.999))->capture_default_str();
  cmd.add_option("--weight-decay", a->cfg.weight_decay, "L2 weight decay")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd.add_option("--schedule", a->cfg.schedule, "LR schedule")
      ->check(CLI::IsMember({"constant", "cosine", "multistep"}))->capture_default_str();
  cmd.add_option("--milestones", a->cfg.milestones, "multistep: epochs where the LR is multiplied by --gamma");
  cmd.add_option("--gamma", a->cfg.gamma, "multistep factor")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd.add_option("--seed", a->cfg.seed, "seed of initialization and shuffling")->capture_default_str();
  cmd.add_option("--out", a->out, "checkpoint written (atomically) after every epoch");
  cmd.add_option("--resume", a->resume, "continue from this checkpoint (same model and data set)")->check(CLI::ExistingFile);
  cmd.add_option("--json", a->json, "write a JSON summary here ('-' for stdout)");
  cmd.add_flag("--quiet", a->quiet, "no progress bar");
  add_threads_option(cmd, &a->threads);
  cmd.callback([a] { run_train(*a); });
}

}  // namespace

LOWBIT_COMMAND("train", "train a network on a data set (fp32 or integer arithmetic: --quant hdqt)", setup_train);

}  // namespace lowbit::app
