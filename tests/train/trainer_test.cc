// The training loop: learns a separable problem, is deterministic for a seed and thread count,
// and a run interrupted after an epoch and resumed from its checkpoint equals an uninterrupted one.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "lowbit/core/rng.h"
#include "lowbit/core/threads.h"
#include "lowbit/train/trainer.h"

namespace lowbit::train {
namespace {

// Four Gaussian blobs in 8x8 "images": class c has mean +2 on quadrant c.
data::Dataset blobs(int64_t n, uint64_t seed) {
  data::Dataset ds;
  ds.inputs = Tensor::empty({n, 1, 8, 8});
  ds.labels = Tensor::empty({n}, DType::i32);
  ds.num_classes = 4;
  ds.class_names = {"a", "b", "c", "d"};
  normal_fill(seed, 0, 0, ds.inputs.numel(), ds.inputs.data<float>());
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % 4);
    ds.labels.data<int32_t>()[i] = c;
    float* img = ds.inputs.data<float>() + i * 64;
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) img[(y + 4 * (c / 2)) * 8 + x + 4 * (c % 2)] += 2.0f;
  }
  return ds;
}

std::string tmp(const std::string& name) {
  const char* base = std::getenv("LOWBIT_TEST_TMP");
  std::filesystem::path dir = base ? base : std::filesystem::temp_directory_path();
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

std::vector<float> flat_params(nn::Module& m) {
  std::vector<float> out;
  for (auto& [name, p] : m.named_parameters()) {
    auto v = p.value().to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

TrainConfig small_config(int64_t epochs) {
  TrainConfig cfg;
  cfg.epochs = epochs;
  cfg.batch_size = 32;
  cfg.lr = 0.05f;
  cfg.progress = false;
  cfg.seed = 3;
  return cfg;
}

TEST(Trainer, LearnsSeparableBlobs) {
  const data::Dataset train = blobs(512, 1), test = blobs(256, 2);
  auto model = nn::build_model("cnn", {1, 8, 8}, 4);
  nn::init_parameters(*model, 1);
  Trainer(*model, small_config(3)).fit(train);
  EXPECT_GT(evaluate(*model, test).accuracy, 0.95);
}

TEST(Trainer, SameSeedSameThreadsSameWeights) {
  const data::Dataset train = blobs(256, 1);
  std::vector<float> runs[2];
  for (auto& r : runs) {
    auto model = nn::build_model("cnn", {1, 8, 8}, 4);
    nn::init_parameters(*model, 7);
    Trainer(*model, small_config(2)).fit(train);
    r = flat_params(*model);
  }
  EXPECT_EQ(runs[0], runs[1]);
}

TEST(Trainer, ResumedRunEqualsUninterruptedRun) {
  const data::Dataset train = blobs(256, 1);
  auto straight = nn::build_model("cnn", {1, 8, 8}, 4);
  nn::init_parameters(*straight, 7);
  Trainer(*straight, small_config(3)).fit(train);

  const std::string path = tmp("resume_test.ckpt");
  {  // "killed" after epoch 2 of 3 (the checkpoint callback ran, then the process died)
    auto first = nn::build_model("cnn", {1, 8, 8}, 4);
    nn::init_parameters(*first, 7);
    Trainer t(*first, small_config(3));
    EXPECT_THROW(t.fit(train, 0,
                       [&](const EpochReport& r) {
                         if (r.epoch < 2) return;
                         save_training_checkpoint(path, *first, t.optimizer(), r.epoch, R"({"note": "test"})");
                         throw std::runtime_error("simulated kill");
                       }),
                 std::runtime_error);
  }
  auto resumed = nn::build_model("cnn", {1, 8, 8}, 4);
  nn::init_parameters(*resumed, 99);  // different init: everything must come from the checkpoint
  Trainer t(*resumed, small_config(3));
  const int64_t done = load_training_checkpoint(path, *resumed, t.optimizer());
  EXPECT_EQ(done, 2);
  t.fit(train, done);
  EXPECT_EQ(flat_params(*resumed), flat_params(*straight));
}

TEST(Trainer, RejectsWrongCheckpoints) {
  const std::string path = tmp("resume_wrong.ckpt");
  auto model = nn::build_model("cnn", {1, 8, 8}, 4);
  Trainer t(*model, small_config(1));
  save_training_checkpoint(path, *model, t.optimizer(), 1, "{}");
  auto other = nn::build_model("cnn", {1, 8, 8}, 5);
  Trainer t2(*other, small_config(1));
  EXPECT_THROW(load_training_checkpoint(path, *other, t2.optimizer()), IoError);
  TrainConfig adam = small_config(1);
  adam.optimizer = "adam";
  Trainer t3(*model, adam);
  EXPECT_THROW(load_training_checkpoint(path, *model, t3.optimizer()), IoError);
}

}  // namespace
}  // namespace lowbit::train
