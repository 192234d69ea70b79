// A self-contained HTML page of class-incremental runs (`lowbit cil --report`): inline SVG plots
// (accuracy on seen classes per task and forgetting per task, one line per preset with a band
// over seeds), the degradation table against the baseline preset, no network access.
#pragma once

#include <string>
#include <vector>

#include "lowbit/cil/report.h"
#include "lowbit/cil/runner.h"

namespace lowbit::cil {

struct HtmlReportInfo {
  std::string title;                 // headline, e.g. "icarl on fashion-mnist (mlp)"
  std::string subtitle;              // one line of settings
  std::vector<std::string> presets;  // plot and table order
  std::string baseline;              // preset the degradation table subtracts
  CilEval eval;
};

// Plots, in order: seen-class accuracy of the primary classifier, of NME when both are
// evaluated, then forgetting after each task of the primary one. Each is an
// <svg class="lowbit-plot"> holding one <path class="mean"> per preset. An inline script
// checks on load that every plot is there and sets the status element
// (id "lowbit-report-status") to data-status="ok" (or "error" with the reason).
int html_plot_count(const HtmlReportInfo& info, const std::vector<RunResult>& runs);
// ValueError when a preset has no runs or the runs of a preset differ in task count.
std::string html_report(const HtmlReportInfo& info, const std::vector<RunResult>& runs);

}  // namespace lowbit::cil
