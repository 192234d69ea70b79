// End to end on separable synthetic data (6 Gaussian classes, 3 tasks, a tiny fcnet): every
// method runs, iCaRL keeps the old classes that fine-tuning forgets, runs are reproducible.
#include <gtest/gtest.h>

#include "lowbit/cil/runner.h"
#include "synthetic_data.h"

namespace lowbit::cil {
namespace {

TEST(CilEndToEnd, IcarlBeatsFineTuning) {
  const data::DatasetSplit split = synthetic();
  const CilSetup setup = prepare(split, config("icarl"));
  ASSERT_EQ(setup.tasks.size(), 3u);
  const RunResult icarl = run_one(setup, config("icarl"), {}, 1);
  const RunResult ft = run_one(prepare(split, config("finetune")), config("finetune"), {}, 1);
  ASSERT_EQ(icarl.head.num_tasks(), 3);
  ASSERT_EQ(icarl.nme.num_tasks(), 3);
  EXPECT_TRUE(ft.nme.seen.empty());
  EXPECT_GT(icarl.head.seen[0], 0.9);  // the first task alone is easy
  // Fine-tuning only predicts the last task's classes: about a third of the seen test set.
  EXPECT_LT(final_accuracy(ft.head), 0.5);
  EXPECT_GT(final_accuracy(icarl.head), final_accuracy(ft.head) + 0.25);
  EXPECT_GT(final_accuracy(icarl.nme), final_accuracy(ft.head) + 0.25);
  EXPECT_GT(forgetting(ft.head), forgetting(icarl.head));
}

TEST(CilEndToEnd, EveryMethodRunsAndIsReproducible) {
  const data::DatasetSplit split = synthetic();
  for (const std::string& m : method_names()) {
    const CilConfig cfg = config(m);
    const CilSetup setup = prepare(split, cfg);
    const RunResult a = run_one(setup, cfg, {}, 3);
    const RunResult b = run_one(setup, cfg, {}, 3);
    EXPECT_EQ(a.head.seen, b.head.seen) << m;
    EXPECT_EQ(a.nme.seen, b.nme.seen) << m;
    EXPECT_GT(final_accuracy(a.head), 1.0 / kClasses) << m;  // better than chance
    if (m == "joint") {
      EXPECT_GT(final_accuracy(a.head), 0.9);
    }
  }
}

TEST(CilEndToEnd, RunAllReusesFinishedRunsAndRejectsBadSettings) {
  const data::DatasetSplit split = synthetic();
  CilConfig cfg = config("lwf");
  const CilSetup setup = prepare(split, cfg);
  RunResult fake;
  fake.preset = "fp32";
  fake.seed = 4;
  fake.head.seen = {0.123};
  int fresh = 0;
  const auto runs = run_all(setup, cfg, {QuantSpec{}}, {4, 5}, {fake}, [&](const RunResult&) { ++fresh; });
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].head.seen, std::vector<double>{0.123});  // reused, not rerun
  EXPECT_EQ(runs[1].head.num_tasks(), 3);
  EXPECT_EQ(fresh, 1);

  cfg.classes_per_task = kClasses;
  EXPECT_THROW(prepare(split, cfg), ValueError);
  cfg = config("icarl");
  cfg.method_cfg.memory = 3;
  EXPECT_THROW(prepare(split, cfg), ValueError);
  cfg.method = "der";
  EXPECT_THROW(prepare(split, cfg), ValueError);
  EXPECT_THROW(run_one(setup, config("lwf"), QuantSpec{"no-such-preset"}, 1), ValueError);
  EXPECT_THROW(run_all(setup, config("lwf"), {QuantSpec{"hdqt", 9, 0}}, {1}, {}), ValueError);
}

TEST(CilEndToEnd, QuantizedPresetKeepsTheGrownHeadQuantized) {
  const data::DatasetSplit split = synthetic();
  const CilConfig cfg = config("icarl");
  const CilSetup setup = prepare(split, cfg);
  const QuantSpec hdqt{"hdqt", 4, 8};
  const RunResult q = run_one(setup, cfg, hdqt, 2);
  EXPECT_EQ(q.head.num_tasks(), 3);
  EXPECT_GT(final_accuracy(q.head), 1.5 / kClasses);
  EXPECT_EQ(q.head.seen, run_one(setup, cfg, hdqt, 2).head.seen);  // stochastic rounding is seeded
  // The head grown for the last task must be a quantized layer again.
  ModelOps ops;
  ops.build = [&](int64_t n) {
    auto m = nn::build_model("fcnet", setup.train.sample_shape(), n);
    nn::init_parameters(*m, 2);
    fqt::apply_preset(*m, hdqt, 0);
    return m;
  };
  ops.requantize = [&](nn::Classifier& m, int t) { fqt::apply_preset(m, hdqt, static_cast<uint64_t>(t)); };
  auto method = make_method("finetune", cfg.method_cfg, ops);
  for (int t = 0; t < 3; ++t) method->train_task(setup.train, setup.tasks, t);
  EXPECT_EQ(method->model().num_classes(), kClasses);
  EXPECT_EQ(method->model().find("fc")->type(), "QLinear");
}

}  // namespace
}  // namespace lowbit::cil
