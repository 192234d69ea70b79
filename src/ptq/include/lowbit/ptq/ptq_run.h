// `lowbit ptq`: the whole mixed-precision job behind the CLI. Loads the model and data,
// calibrates once, measures sensitivities and in-context latencies, runs the search, and writes
// the mixed-precision QDQ model, its config JSON, a JSON summary and an HTML report, all
// atomically (temporary files renamed only once everything is written).
#pragma once

#include <string>
#include <vector>

#include "lowbit/ptq/calib_data.h"
#include "lowbit/ptq/quantize_model.h"

namespace lowbit::ptq {

struct PtqOptions {
  std::string model;
  DataSource calib;                  // count = calibration samples
  std::string eval;                  // .npy or data set name (its test split)
  std::string eval_labels;           // .npy of int64 class ids (with a .npy --eval)
  int64_t eval_count = 1000;         // every ⌊N / count⌋-th test sample
  std::string metric = "augmented", search = "dp", objective = "latency";  // objective: latency | size (dp)
  std::string max_drop, band;        // "1%" / "0.5pt"; band "lo,hi"
  std::vector<std::string> precisions{"fp32", "int8"};
  double lambda = 1.0;
  int64_t grad_samples = 32;         // evaluation samples the gradient metrics use
  bool skip_violations = false;      // greedy: skip a violating layer and continue
  int dp_sweep = 0;                  // dp: also evaluate this many proposals along the front
  int threads = 1;
  int64_t latency_batch = 64;
  int latency_repeats = 7;
  int64_t min_calib = 16;            // fewer calibration samples is an error
  QuantizeOptions quant;
  std::string out, config_out, report, json, cache;  // "" = not written (cache: <json or out>.cache.jsonl)
  bool progress = true;
};

// Returns the process exit code: 0, or 3 when no evaluated configuration meets the budget (the
// closest is printed; nothing is written). Errors (bad input) throw lowbit::Error.
int run_ptq(const PtqOptions& opt);

// `lowbit ptq sensitivity`: ranking, Kendall τ against the measured single-layer order, cost.
// Prints a table, or the JSON to stdout when json == "-" (else to the file).
void run_sensitivity(const PtqOptions& opt);

// The HTML page (exposed for tests): `summary` is the JSON run_ptq writes.
std::string ptq_html_report(const std::string& summary_json);

}  // namespace lowbit::ptq
