// One class-incremental experiment as `lowbit cil` runs it: options with per-data-set defaults,
// the run state that makes a session resumable (a fingerprint of every setting that changes the
// numbers, <json>.partial holding the finished (preset, seed) runs, and the task checkpoint of
// the run in progress, task_checkpoint.h), and its reports (text tables on stdout, the JSON
// report, the HTML report).
//
// Defaults per data set (any option given explicitly wins):
//   data set       model     classes/task  memory  epochs/task  lr    batch  weight decay
//   fashion-mnist  mlp       2 (5 tasks)   2000    20           0.01  128    5e-4    (`make run` uses resnet20, 1000/class, 2 epochs)
//   dsads          fcnet     2 (10 tasks)  200     100          0.01  128    5e-4    (the spec's HAR setting;
//                  quantized presets default to --quant-set first.x=digits2, resolved_quant_set())
//   cifar10        resnet32  2 (5 tasks)   2000    30           0.05  128    2e-4
//   cifar100       resnet32  20 (5 tasks)  2000    30           0.05  128    2e-4
// Every task trains with SGD (momentum 0.9) and a cosine schedule over its epochs. The CIFAR
// epoch counts are far below the reference's 170, to fit a CPU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lowbit/cil/runner.h"

namespace lowbit::cil {

// Unset numbers (0 or negative, as marked) take the data set's default.
struct SessionOptions {
  std::string dataset = "fashion-mnist";
  std::string data_dir;   // empty: the data set's standard place
  std::string method = "icarl";
  std::string model;      // empty: per data set
  std::vector<std::string> presets = {"fp32"};
  int bits = 0, acc_bits = 0;  // > 0 overrides every preset's widths
  std::string quant_set;       // fqt::apply_overrides() settings for every quantized preset; empty: per data set
  std::string split = "subject";  // dsads: subject | random (data::DatasetOptions::split)
  int classes_per_task = 0;    // 0: per data set
  int64_t memory = -1;         // < 0: per data set
  int64_t epochs = 0, batch_size = 0;  // 0: per data set
  float lr = -1, weight_decay = -1;    // < 0: per data set
  float momentum = 0.9f, temperature = 2.0f;
  int64_t max_train_per_class = 0;  // > 0: only the first N training samples of each class
  int seeds = 1;
  uint64_t seed = 0, class_order_seed = 1993;
  std::string eval = "both";  // head | nme | both
  std::string json;           // report path ("-" stdout); empty: none
  std::string report;         // HTML report path (html_report.h); empty: none
  // Reuse the finished runs in <json>.partial and continue an unfinished run from its task
  // checkpoint (after its last finished task), bit for bit as if it had not stopped.
  bool resume = false;
  // > 0: stop after training this many tasks in this invocation (summed over runs), leaving the
  // task checkpoint for --resume, e.g. to fit a long session into time-limited jobs.
  int stop_after_tasks = 0;
  // Final model of each new run as <out_dir>/<preset>-seed<S>.ckpt, a `lowbit train` classifier
  // checkpoint (head rows by global class id; BiC's bias correction is not in it); empty: none.
  std::string out_dir;
  bool quiet = false;         // no progress output
};

// The method, model and training configuration the options resolve to.
CilConfig resolve_config(const SessionOptions& opt);
// The --quant-set the quantized presets get: the given one, else the data set's default
// ("first.x=digits2" for dsads, none elsewhere; "first.x=auto" gives the spec's encoding).
std::string resolved_quant_set(const SessionOptions& opt);

// Every setting that changes a run's numbers except the preset list and the seeds: a partial
// file written under other settings must not be resumed.
nlohmann::json fingerprint(const SessionOptions& opt, const CilConfig& cfg);

// The finished runs recorded in a partial file (none when it does not exist). IoError when it is
// not one; ValueError when its fingerprint differs from `fp`.
std::vector<RunResult> load_partial(const std::string& path, const nlohmann::json& fp, size_t tasks);

// Loads the data, runs every (seed, preset) not already finished, prints the task tables (and
// the comparison of presets) on stdout and writes the JSON report and the partial file. With a
// --json file, a task checkpoint is written after every task that leaves tasks to run and
// removed when its run is recorded in the partial file.
void run_session(const SessionOptions& opt);

}  // namespace lowbit::cil
