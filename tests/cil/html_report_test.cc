// The HTML report on hand-made runs: one plot per metric with one curve per preset, the band
// spans the seeds, the degradation table subtracts the baseline, names are escaped, and bad
// inputs are refused; forgetting_after against hand-computed values.
#include <gtest/gtest.h>

#include <string>

#include "lowbit/cil/html_report.h"

namespace lowbit::cil {
namespace {

int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

RunResult run(const std::string& preset, uint64_t seed, double shift, bool nme) {
  RunResult r;
  r.preset = preset;
  r.seed = seed;
  r.head.per_task = {{0.9 + shift}, {0.6 + shift, 0.8 + shift}, {0.5 + shift, 0.6 + shift, 0.7 + shift}};
  r.head.seen = {0.9 + shift, 0.7 + shift, 0.6 + shift};
  if (nme) r.nme = r.head;
  r.task_seconds = {1, 1, 1};
  return r;
}

TEST(HtmlReport, ForgettingAfterEachTask) {
  AccuracyMatrix m;
  m.per_task = {{0.9}, {0.6, 0.8}, {0.5, 0.7, 0.7}};
  m.seen = {0.9, 0.7, 0.6};
  EXPECT_EQ(forgetting_after(m, 0), 0.0);
  EXPECT_NEAR(forgetting_after(m, 1), 0.3, 1e-12);                  // task 0: 0.9 -> 0.6
  EXPECT_NEAR(forgetting_after(m, 2), (0.4 + 0.1) / 2, 1e-12);      // 0.9 -> 0.5, 0.8 -> 0.7
  EXPECT_NEAR(forgetting(m), forgetting_after(m, 2), 1e-15);
  EXPECT_THROW(forgetting_after(m, 3), ValueError);
}

TEST(HtmlReport, PlotsCurvesBandsAndDegradation) {
  std::vector<RunResult> runs = {run("fp32", 0, 0.0, true), run("hdqt", 0, -0.02, true), run("fp32", 1, 0.04, true),
                                 run("hdqt", 1, -0.04, true)};
  HtmlReportInfo info{"icarl <on> test", "3 tasks", {"fp32", "hdqt"}, "fp32", CilEval{}};
  const std::string html = html_report(info, runs);
  ASSERT_EQ(html_plot_count(info, runs), 3);  // head, NME, forgetting
  EXPECT_EQ(count(html, "<svg class=\"lowbit-plot\""), 3);
  EXPECT_EQ(count(html, "<path class=\"mean\""), 3 * 2);
  EXPECT_EQ(count(html, "<polygon class=\"band\""), 3 * 2);
  EXPECT_EQ(count(html, "<table class=\"degradation\""), 2);
  EXPECT_NE(html.find("icarl &lt;on&gt; test"), std::string::npos);
  EXPECT_EQ(html.find("icarl <on>"), std::string::npos);
  EXPECT_EQ(html.find("http://") , html.find("http://www.w3.org/2000/svg"));  // only the SVG namespace
  // fp32 average incremental accuracy: seeds 0.7333 and 0.7733 -> 75.33 ± 2.83; hdqt seeds
  // 0.7133 and 0.6933 -> 70.33, 5.00 points below (also for final accuracy).
  EXPECT_NE(html.find("<td>fp32</td><td>75.33 ± 2.83</td>"), std::string::npos) << html;
  EXPECT_EQ(count(html, "<td>-5.00</td>"), 2 * 2);
  // Mean line over tasks and a band with 2 points per task.
  const size_t mean = html.find("<path class=\"mean\" data-preset=\"fp32\" d=\"M");
  ASSERT_NE(mean, std::string::npos);
  const std::string d = html.substr(mean, html.find('"', html.find("d=\"M", mean) + 3) - mean);
  EXPECT_EQ(count(d, " L"), 2);
  // Without NME, two plots.
  info.eval = CilEval{true, false};
  EXPECT_EQ(count(html_report(info, runs), "<svg class=\"lowbit-plot\""), 2);
  // A preset without runs, and runs of one preset with different task counts, are refused.
  info.presets = {"fp32", "naive-int"};
  EXPECT_THROW(html_report(info, runs), ValueError);
  info.presets = {"fp32"};
  runs[2].head.seen.pop_back();
  runs[2].head.per_task.pop_back();
  EXPECT_THROW(html_report(info, runs), ValueError);
}

}  // namespace
}  // namespace lowbit::cil
