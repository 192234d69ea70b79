// The paradnn report: one self-contained HTML page (inline SVG and CSS, a few lines of inline
// script that only checks the page rendered; no network) from sweep JSON Lines rows:
//   - utilization heatmaps: fc nodes x batch per layer count, cnn filters x blocks per
//     (block type, image size), rnn embedding x layers per (cell, length); others averaged
//   - speedup of lowbit over every other engine versus parameter count
//   - roofline: achieved FLOP/s versus arithmetic intensity under the measured compute peak
//     and triad-bandwidth ceilings
//   - linear regression of utilization on standardized log2 hyperparameters ("which knob")
//   - the configurations where lowbit loses, with the likely reason; failures; all rows
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lowbit::paradnn {

struct Regression {
  std::vector<double> coef;  // per standardized feature
  double intercept = 0, r2 = 0;
};
// Ordinary least squares of y on the columns of X after standardizing each column (zero mean,
// unit variance). Needs rows > columns + 1 and no constant column (caller drops those).
Regression fit_standardized(const std::vector<std::vector<double>>& X, const std::vector<double>& y);

struct ReportSummary {
  int rows = 0, ok_rows = 0, plots = 0;
};

std::string render_report(const std::vector<nlohmann::json>& rows, ReportSummary* summary);
// Reads JSON Lines files (errors name the file and line) and writes `out` atomically.
ReportSummary write_report(const std::vector<std::string>& inputs, const std::string& out);

}  // namespace lowbit::paradnn
