// Runs a class-incremental method over tasks, seeds and quantization presets. Every preset
// sees the same class order, the same seeds and so the same initial weights, head rows and
// batch orders; only the arithmetic differs. Each (preset, seed) run builds its model with
// init seed = the run's seed, applies the preset after building and after each head expansion,
// and after every task evaluates on the test samples of all classes seen so far.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lowbit/cil/methods.h"
#include "lowbit/cil/metrics.h"
#include "lowbit/cil/task_split.h"
#include "lowbit/data/dataset.h"
#include "lowbit/fqt/quant_config.h"

namespace lowbit::cil {

// A quantization preset of a run (fqt::preset name and width overrides); "fp32" = none.
using QuantSpec = fqt::PresetSpec;

struct CilConfig {
  std::string method = "icarl";
  std::string model = "mlp";
  int classes_per_task = 2;
  uint64_t class_order_seed = 1993;  // one class order for every seed and preset
  MethodConfig method_cfg;           // method_cfg.train.seed is ignored: runs use their own seed
};

// The data of a CIL experiment in order-label space (see task_split.h).
struct CilSetup {
  std::vector<int> order;  // global class ids in arrival order
  std::vector<Task> tasks;
  data::Dataset train, test;
  std::vector<std::vector<int64_t>> test_seen;  // per task: test indices of the classes seen so far
};
// Validates the configuration against the data set (ValueError naming what is wrong).
CilSetup prepare(const data::DatasetSplit& split, const CilConfig& cfg);

struct RunResult {
  std::string preset;
  uint64_t seed = 0;
  AccuracyMatrix head;  // linear head (bias-corrected for BiC)
  AccuracyMatrix nme;   // nearest mean of exemplars; empty for methods without memory
  std::vector<double> task_seconds;  // training + memory update + evaluation, per task
  bool stopped = false;  // RunHooks::on_task asked to stop after this result's last task
};

// What a session hooks into a run (every one optional).
struct RunHooks {
  // Before the first task, on the fresh method of (preset, seed): may restore a task checkpoint
  // into it (Method::load_state) and return the results of the tasks it had done; nullopt (or
  // no hook) starts from task 0.
  std::function<std::optional<RunResult>(const std::string& preset, uint64_t seed, Method&)> restore;
  // After each task, with the result so far and the method as the next task will find it (to
  // save a task checkpoint). Returning false stops the run after this task.
  std::function<bool(const RunResult&, int task, Method&)> on_task;
  // Once at the end of a run that trained every task, with the final method (e.g. to save its model).
  std::function<void(const RunResult&, Method&)> on_model;
};

// One (preset, seed) run; a run stopped by hooks.on_task returns the tasks done so far, with
// `stopped` set.
RunResult run_one(const CilSetup& setup, const CilConfig& cfg, const QuantSpec& quant, uint64_t seed,
                  const RunHooks& hooks = {});

// Runs every (seed, preset) pair, seed-major (so partial results compare presets early),
// skipping pairs already in `done` (their results are reused). on_run fires after each new run
// that trained every task. A stopped run ends it: it is then the last element returned.
std::vector<RunResult> run_all(const CilSetup& setup, const CilConfig& cfg, const std::vector<QuantSpec>& presets,
                               const std::vector<uint64_t>& seeds, const std::vector<RunResult>& done,
                               const std::function<void(const RunResult&)>& on_run = {}, const RunHooks& hooks = {});

// Mean/std over runs of the summary metrics and of each task's seen-class accuracy.
struct Summary {
  MeanStd avg_incremental_accuracy, final_accuracy, forgetting;
  std::vector<MeanStd> seen;  // per task
  std::vector<std::vector<double>> seen_per_run;  // [task][run]
};
Summary summarize(const std::vector<const AccuracyMatrix*>& runs);

}  // namespace lowbit::cil
