// The report: regression recovers known coefficients; the page has every plot and renders in
// headless Chromium without script errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "lowbit/core/error.h"
#include "lowbit/paradnn/report.h"
#include "lowbit/paradnn/sweep.h"
#include "paradnn_test_util.h"
#include "require_peer.h"

namespace lowbit::paradnn {
namespace {

TEST(ParadnnRegression, RecoversCoefficientsOfAnExactLinearModel) {
  // y = 1 + 2 z1 - 3 z2 on standardized columns: x1 in {0,1,2,3} (sd sqrt(1.25)), x2 alternating.
  std::vector<std::vector<double>> X;
  std::vector<double> y;
  for (int i = 0; i < 8; ++i) {
    const double x1 = i % 4, x2 = (i / 4) * 10.0;
    X.push_back({x1, x2});
    y.push_back(1 + 2 * (x1 - 1.5) / std::sqrt(1.25) - 3 * (x2 - 5.0) / 5.0);
  }
  const Regression r = fit_standardized(X, y);
  EXPECT_NEAR(r.intercept, 1, 1e-9);
  EXPECT_NEAR(r.coef[0], 2, 1e-9);
  EXPECT_NEAR(r.coef[1], -3, 1e-9);
  EXPECT_NEAR(r.r2, 1, 1e-9);
  EXPECT_THROW(fit_standardized({{1, 2}, {1, 3}, {1, 4}, {1, 5}}, {1, 2, 3, 4}), ValueError);  // constant column
}

std::vector<nlohmann::json> synthetic_rows() {
  Peak p;
  p.cpu_model = "test cpu";
  p.fp32_flops_per_core = 1e11;
  p.int8_ops_per_core = 4e11;
  p.triad_bytes_per_second = 2e10;
  std::vector<nlohmann::json> rows;
  for (int64_t nodes : {32, 64, 128})
    for (int64_t batch : {16, 64})
      for (int64_t layers : {2, 4})
        for (const char* engine : {"lowbit", "pytorch"}) {
          const ModelConfig c = test::fc(layers, nodes, batch);
          // Synthetic: lowbit wins on big shapes, loses on the smallest (so the loss table fills).
          const double base = 1.0 + 0.01 * nodes + 0.02 * batch;
          const double ms = std::string(engine) == "lowbit" ? (nodes == 32 ? 1.2 : 0.8) * base : base;
          rows.push_back(make_row(c, engine, "train", 1, {ms, ms * 1.1, ms * 0.9}, p));
        }
  nlohmann::json fail = rows[0];
  fail["status"] = "error: killed (out of memory?)";
  fail["engine"] = "onnxruntime";
  rows.push_back(fail);
  return rows;
}

// Every engine at three sizes; lowbit-int8 loses to onnxruntime-int8 at 128 nodes.
std::vector<nlohmann::json> precision_rows() {
  Peak p;
  p.cpu_model = "test cpu";
  p.fp32_flops_per_core = 1e11, p.int8_ops_per_core = 4e11, p.bf16_flops_per_core = 2e11, p.triad_bytes_per_second = 1e10;
  std::vector<nlohmann::json> rows;
  for (int64_t nodes : {32, 64, 128})
    for (const std::string engine : {"lowbit", "lowbit-int8", "lowbit-bf16", "onnxruntime", "onnxruntime-int8"}) {
      const double ms = engine == "lowbit-int8" ? (nodes == 128 ? 0.6 : 0.3) : engine == "onnxruntime-int8" ? 0.4 : 1.0;
      rows.push_back(make_row(test::fc(2, nodes, 16), engine, "infer", 1, {ms * static_cast<double>(nodes)}, p));
    }
  return rows;
}

TEST(ParadnnReport, PairsIncludeInt8WithInt8AndBf16WithFp32) {
  ReportSummary s;
  const std::string html = render_report(precision_rows(), &s);
  for (const char* want : {"Speedup of lowbit over onnxruntime infer", "Speedup of lowbit-int8 over onnxruntime-int8 infer",
                           "Speedup of lowbit-int8 over lowbit infer", "Speedup of lowbit-bf16 over lowbit infer", "Roofline (bf16)",
                           "lowbit-int8 is at least as fast on 2 of 3 configurations.",
                           "<td>lowbit-int8</td><td>onnxruntime-int8</td><td>infer</td><td>1</td><td>0.67x</td>"})
    EXPECT_NE(html.find(want), std::string::npos) << want;
  EXPECT_EQ(html.find("<td>lowbit-bf16</td><td>lowbit</td>"), std::string::npos) << "bf16 vs fp32 is not a loss to a peer";
}

TEST(ParadnnReport, HasEveryAnalysis) {
  ReportSummary s;
  const std::string html = render_report(synthetic_rows(), &s);
  EXPECT_EQ(s.rows, 25);
  EXPECT_EQ(s.ok_rows, 24);
  // heatmaps: 2 engines x 2 layer counts; speedup: 1 peer; roofline: fp32; regression: 2 engines.
  EXPECT_EQ(s.plots, 4 + 1 + 1 + 2);
  for (const char* want : {"Utilization: fc lowbit train t=1 (layers=2)", "Speedup of lowbit over pytorch train", "Roofline (fp32)",
                           "Which knob matters: fc|lowbit train t=1", "error: killed (out of memory?)", "Where lowbit loses"})
    EXPECT_NE(html.find(want), std::string::npos) << want;
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // only the SVG namespace: no network
}

TEST(ParadnnReport, RendersInHeadlessChromium) {
  if (std::system("command -v chromium > /dev/null 2>&1") != 0)
    LOWBIT_SKIP_ABSENT_PEER("chromium is not installed (Debian package chromium; scripts/setup)");
  const std::string dir = test::scratch("report");
  {
    std::ofstream f(dir + "/rows.jsonl");
    for (const auto& r : synthetic_rows()) f << r.dump() << "\n";
    for (const auto& r : precision_rows()) f << r.dump() << "\n";  // the int8 and bf16 pairs and roofline
  }
  const ReportSummary s = write_report({dir + "/rows.jsonl"}, dir + "/report.html");
  const std::string cmd = "timeout 120 chromium --headless=new --no-sandbox --disable-gpu --user-data-dir='" + dir +
                          "/profile' --dump-dom 'file://" + dir + "/report.html' > '" + dir + "/dom.html' 2> /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream f(dir + "/dom.html");
  const std::string dom((std::istreambuf_iterator<char>(f)), {});
  const std::string want = fmt::format("ok: {0} of {0} plots drawn", s.plots);
  EXPECT_NE(dom.find(want), std::string::npos) << "render status not '" << want << "'; DOM starts: " << dom.substr(0, 400);
}

TEST(ParadnnReport, RejectsFilesThatAreNotSweepRows) {
  const std::string dir = test::scratch("report_bad");
  std::ofstream(dir + "/bad.jsonl") << "{\"family\": \"fc\"}\n";
  EXPECT_THROW(write_report({dir + "/bad.jsonl"}, dir + "/r.html"), ValueError);
}

}  // namespace
}  // namespace lowbit::paradnn

namespace lowbit::paradnn {
namespace {

TEST(ParadnnReport, RegressionTakesCategoricalKnobs) {
  // Block type (0/1) and cell kind (0/1/2) are codes, not sizes: they must not collapse.
  Peak p;
  p.fp32_flops_per_core = 1e11;
  std::vector<nlohmann::json> rows;
  for (int64_t cell : {0, 1, 2})
    for (int64_t layers : {1, 2, 4})
      rows.push_back(make_row(test::rnn(cell, layers), "lowbit", "train", 1, {1.0 + cell + 0.1 * layers}, p));
  ReportSummary s;
  const std::string html = render_report(rows, &s);
  EXPECT_NE(html.find("Which knob matters: rnn|lowbit train t=1"), std::string::npos);
  EXPECT_NE(html.find(">cell<"), std::string::npos);
}

}  // namespace
}  // namespace lowbit::paradnn
