// Mixed-precision PTQ: a per-layer config builds a QDQ graph that ONNX Runtime runs, Kendall τ,
// each search on a fake oracle with a known answer, the DP never proposes a precision measured
// slower than a wider one, the evaluation cache resumes, and bad input fails before writing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "lowbit/core/error.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/ptq/oracle.h"
#include "lowbit/ptq/ptq_run.h"
#include "lowbit/ptq/search.h"
#include "lowbit/ptq/sensitivity.h"
#include "ort_util.h"
#include "ptq_test_models.h"
#include "qdq_test_models.h"
#include "require_peer.h"

namespace lowbit::ptq {
namespace {

using onnx::Array;
using onnx::ElemType;
using onnx::Graph;


std::string tmp(const std::string& name) { return onnx::test::temp_dir() + "/ptqs_" + name; }


int count_op(const Graph& g, const std::string& op) {
  int n = 0;
  for (const auto& node : g.nodes) n += !node.dead && node.op_type == op;
  return n;
}

TEST(LayerConfig, JsonRoundTripAndQdqPerLayer) {
  const Array calib = onnx::test::random_f32({32, 3, 8, 8}, 40);
  const QdqPlan plan = plan_qdq(test::small_cnn(), calib, QuantizeOptions{});
  ASSERT_EQ(plan.layers.size(), 3u);  // c1, c2, fc (the Add follows its neighbours)
  const LayerConfig mixed{Precision::int8, Precision::fp32, Precision::int8};
  EXPECT_EQ(config_from_json(plan, config_to_json(plan, mixed)), mixed);
  EXPECT_EQ(config_key(mixed), "8F8");
  EXPECT_EQ(config_from_json(plan, R"({"default": "int8", "layers": {"c2": "fp32"}})"), mixed);
  test::expect_error([&] { config_from_json(plan, R"({"layers": {"nope": "int8"}})"); }, "nope");
  test::expect_error([&] { config_from_json(plan, R"({"default": "int3"})"); }, "int3");
  // All fp32: no QDQ at all, the float graph's outputs exactly.
  const Graph fp = build_qdq(plan, LayerConfig(3, Precision::fp32));
  EXPECT_EQ(count_op(fp, "QuantizeLinear") + count_op(fp, "DequantizeLinear"), 0);
  // All int8 equals quantize_model's graph (same nodes).
  const Graph all8 = build_qdq(plan, LayerConfig(3, Precision::int8));
  const Graph q = quantize_model(test::small_cnn(), calib, QuantizeOptions{}, nullptr);
  EXPECT_EQ(count_op(all8, "QuantizeLinear"), count_op(q, "QuantizeLinear"));
  EXPECT_EQ(count_op(all8, "DequantizeLinear"), count_op(q, "DequantizeLinear"));
  // Mixed: c2 keeps float weights, so the Add (one input float) stays float too: fewer Q nodes.
  const Graph mg = build_qdq(plan, mixed);
  EXPECT_LT(count_op(mg, "QuantizeLinear"), count_op(all8, "QuantizeLinear"));
  EXPECT_GT(count_op(mg, "QuantizeLinear"), 0);
  for (const auto& n : mg.nodes)
    if (!n.dead && n.name == "c2") {
      EXPECT_TRUE(mg.constant(n.inputs[1]) && mg.constant(n.inputs[1])->type() == ElemType::f32);
    }
  test::expect_error([&] { build_qdq(plan, LayerConfig(2, Precision::int8)); }, "2 layers");
  if (!precision_unavailable(Precision::w4a8).empty())
    test::expect_error([&] { build_qdq(plan, LayerConfig(3, Precision::w4a8)); }, "w4a8");
}

TEST(LayerConfig, OnnxRuntimeRunsAMixedModel) {
  if (const std::string why = onnx::test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  const Array calib = onnx::test::random_f32({32, 3, 8, 8}, 41);
  const QdqPlan plan = plan_qdq(test::small_cnn(), calib, QuantizeOptions{});
  for (const LayerConfig& c : {LayerConfig{Precision::int8, Precision::fp32, Precision::int8},
                               LayerConfig{Precision::fp32, Precision::int8, Precision::fp32},
                               LayerConfig{Precision::w4a8, Precision::int8, Precision::fp32}}) {
    const Graph g = build_qdq(plan, c);
    const std::string path = tmp("mixed_" + config_key(c) + ".onnx");
    onnx::save_model(g, path);
    const Array x = onnx::test::random_f32({16, 3, 8, 8}, 42);
    const auto ref = onnx::test::run_ort(path, {x}, "ptq_mixed_" + config_key(c));
    const auto got = onnx::Session(g, onnx::SessionOptions{1, 1, true}).run(std::vector<Array>{x});
    ASSERT_EQ(ref.size(), 1u);
    double mag = 0, diff = 0;
    for (int64_t i = 0; i < ref[0].numel(); ++i) {
      mag = std::max(mag, std::fabs(ref[0].get_f64(i)));
      diff = std::max(diff, std::fabs(ref[0].get_f64(i) - got[0].get_f64(i)));
    }
    EXPECT_LE(diff, 0.02 * mag) << config_key(c);  // a few quantization steps of the logits at most
  }
}

TEST(Sensitivity, GradientMetricsOnTheFloatGraph) {
  const Array x = onnx::test::random_f32({16, 3, 8, 8}, 43);
  const QdqPlan plan = plan_qdq(test::small_cnn(), x, QuantizeOptions{});
  const std::vector<int32_t> labels{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5};
  const std::vector<Precision> cand{Precision::int8, Precision::w4a8};
  GradOptions go;
  go.samples = 16;
  go.max_iter = 8;
  const GradScores f = grad_scores(plan, x, labels, Metric::fisher, cand, go);
  const GradScores h = grad_scores(plan, x, labels, Metric::hessian, cand, go);
  ASSERT_EQ(f.score.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_GT(f.score[i][0], 0.0);
    EXPECT_GT(f.score[i][1], f.score[i][0]) << "int4 weights perturb layer " << i << " more than int8";
    EXPECT_TRUE(std::isfinite(h.score[i][0]) && std::isfinite(h.score[i][1]));
  }
  EXPECT_GE(h.iterations, 4);
  // Q(W) for int8 is within half a step of W per channel; int4 further away.
  const Array w = *plan.graph.constant(plan.graph.nodes[static_cast<size_t>(plan.layers[1].node_id)].inputs[1]);
  const Array q8 = quantized_weight(plan, 1, Precision::int8), q4 = quantized_weight(plan, 1, Precision::w4a8);
  double e8 = 0, e4 = 0, amax = 0;
  for (int64_t i = 0; i < w.numel(); ++i) {
    amax = std::max(amax, std::fabs(w.get_f64(i)));
    e8 = std::max(e8, std::fabs(q8.get_f64(i) - w.get_f64(i)));
    e4 = std::max(e4, std::fabs(q4.get_f64(i) - w.get_f64(i)));
  }
  EXPECT_LE(e8, 0.5 * amax / 127 * 1.0001);
  EXPECT_LE(e4, 0.5 * amax / 7 * 1.0001);
  EXPECT_GT(e4, e8);
}

TEST(Sensitivity, KendallTau) {
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0);
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  EXPECT_NEAR(kendall_tau({1, 2, 3, 4}, {1, 3, 2, 4}), 4.0 / 6.0, 1e-12);  // one discordant pair of six
  EXPECT_NEAR(kendall_tau({1, 1, 2}, {1, 2, 3}), 2.0 / std::sqrt(2.0 * 3.0), 1e-12);  // τ-b with a tie
  EXPECT_TRUE(std::isnan(kendall_tau({1, 1, 1}, {1, 2, 3})));
}

// Accuracy falls additively by drop[i][p] per lowered layer; latency is a per-layer sum. Layer
// `slow` is slower in int8 than in fp32 (a small layer with conversion overhead).
struct FakeOracle : Oracle {
  std::vector<double> drop8, drop4, ms32, ms8, ms4;
  double interaction = 0;  // extra drop when layers 0 and 1 are both lowered (non-additive)
  size_t layers() const override { return drop8.size(); }
  Measurement evaluate(const LayerConfig& c) override {
    double acc = 0.9;
    for (size_t i = 0; i < c.size(); ++i) acc -= c[i] == Precision::int8 ? drop8[i] : c[i] == Precision::w4a8 ? drop4[i] : 0;
    if (c[0] != Precision::fp32 && c[1] != Precision::fp32) acc -= interaction;
    Measurement m{acc, 1.0 - acc, 60.0 - 100 * (0.9 - acc)};
    trajectory.push_back(Probe{config_key(c), phase, m, false});
    return m;
  }
  double latency_ms(const LayerConfig& c) override {
    double t = 0;
    for (size_t i = 0; i < c.size(); ++i) t += c[i] == Precision::fp32 ? ms32[i] : c[i] == Precision::int8 ? ms8[i] : ms4[i];
    return t;
  }
  double size_bytes(const LayerConfig& c) const override {
    double b = 0;
    for (Precision p : c) b += 1000 * weight_bytes_per_value(p);
    return b;
  }
};

FakeOracle fake(size_t n) {
  FakeOracle o;
  for (size_t i = 0; i < n; ++i) {
    o.drop8.push_back(0.001 * static_cast<double>(i + 1));  // layer i costs (i+1) tenths of a point
    o.drop4.push_back(0.004 * static_cast<double>(i + 1));
    o.ms32.push_back(10), o.ms8.push_back(3), o.ms4.push_back(2);
  }
  return o;
}

std::vector<std::vector<double>> scores_of(const FakeOracle& o) {
  std::vector<std::vector<double>> s;
  for (size_t i = 0; i < o.drop8.size(); ++i) s.push_back({o.drop8[i], o.drop4[i]});
  return s;
}

TEST(Search, GreedyStopsOrSkipsAtTheKnownLayer) {
  FakeOracle o = fake(8);
  o.drop8[2] = 0.02;  // layer 2 alone breaks a 1.5-point budget
  const Budget b = parse_budget("1.5pt", "");
  const std::vector<Precision> cand{Precision::int8};
  auto s = scores_of(o);
  s[2][0] = 0.0001;  // a misleading score puts layer 2 first
  const auto moves = lowering_order(s, cand, {});
  ASSERT_EQ(moves.front().layer, 2u);
  const SearchResult stop = greedy_search(o, moves, b, 0.9, false);
  EXPECT_EQ(config_key(stop.config), "FFFFFFFF");
  EXPECT_EQ(stop.evaluations, 1);
  const SearchResult skip = greedy_search(o, moves, b, 0.9, true);
  // Skipping layer 2, the rest go in order 0,1,3,4,...: drops 0.1,0.2,0.4,0.5 (sum 1.2) fit, 0.6 does not.
  EXPECT_EQ(config_key(skip.config), "88F88FFF");
  EXPECT_TRUE(skip.met);
  EXPECT_LE(skip.evaluations, 8);
}

TEST(Search, BisectionUsesLogProbesAndReportsNonMonotonicity) {
  FakeOracle o = fake(16);
  const Budget b = parse_budget("3.6pt", "");  // layers 0..7 in int8: 0.1+...+0.8 = 3.6 points
  const auto moves = lowering_order(scores_of(o), {Precision::int8}, {});
  const SearchResult r = bisection_search(o, moves, b, 0.9);
  EXPECT_EQ(config_key(r.config), "88888888FFFFFFFF");
  EXPECT_LE(r.evaluations, 1 + 4);  // ⌈log2 16⌉ + 1
  EXPECT_TRUE(r.notes.empty());
  // Non-monotone: lowering layer 3 as well raises accuracy again; the k = 4 probe shows it.
  FakeOracle bad = fake(4);
  bad.drop8 = {0.0, 0.02, 0.0, -0.03};
  const SearchResult nm = bisection_search(bad, lowering_order({{0}, {0.1}, {0.2}, {0.3}}, {Precision::int8}, {}), parse_budget("1pt", ""), 0.9);
  EXPECT_EQ(config_key(nm.config), "8888");  // k = 4 probed first and passes
  bool reported = false;
  for (const auto& n : nm.notes) reported = reported || n.find("monotonicity violated: k = 4") != std::string::npos;
  EXPECT_TRUE(reported);
}

TEST(Search, DpIsLatencyOptimalAndNeverShipsASlowerPrecision) {
  FakeOracle o = fake(6);
  o.ms8[4] = 12;  // int8 of layer 4 measured slower than its fp32 (10)
  o.ms4[4] = 11;  // and w4a8 too
  o.ms4[1] = 5;   // w4a8 of layer 1 slower than its int8 (3)
  const std::vector<Precision> cand{Precision::int8, Precision::w4a8};
  const LatencyTable lat = measure_layer_latency(o, cand);
  EXPECT_FALSE(lat.allowed[4][0]);
  EXPECT_FALSE(lat.allowed[4][1]);
  EXPECT_TRUE(lat.allowed[1][0]);
  EXPECT_FALSE(lat.allowed[1][1]);
  const auto props = dp_proposals(scores_of(o), cand, lat, DpOptions{});
  ASSERT_GE(props.size(), 3u);
  for (const auto& c : props) {
    EXPECT_EQ(c[4], Precision::fp32) << config_key(c);
    EXPECT_NE(c[1], Precision::w4a8) << config_key(c);
  }
  const Budget b = parse_budget("1pt", "");
  const SearchResult dp = dp_search(o, scores_of(o), cand, lat, b, 0.9);
  EXPECT_TRUE(dp.met);
  EXPECT_EQ(dp.config[4], Precision::fp32);
  const SearchResult bis = bisection_search(o, lowering_order(scores_of(o), cand, lat.allowed), b, 0.9);
  const SearchResult gr = greedy_search(o, lowering_order(scores_of(o), cand, lat.allowed), b, 0.9, true);
  EXPECT_LE(dp.latency_ms, bis.latency_ms);
  EXPECT_LE(dp.latency_ms, gr.latency_ms);
  EXPECT_LE(dp.evaluations, gr.evaluations);
  // Size objective: the smallest passing proposal; still never a disallowed precision.
  DpOptions size;
  size.size_objective = true;
  size.weight_values.assign(6, 1000);
  const SearchResult small = dp_search(o, scores_of(o), cand, lat, b, 0.9, size);
  EXPECT_TRUE(small.met);
  EXPECT_EQ(small.config[4], Precision::fp32);
  EXPECT_LE(small.size_bytes, dp.size_bytes);
}

TEST(Search, Hypervolume) {
  // Two points (x 1, y 0.9) and (x 2, y 0.95) against (x 4, y 0.8): 3·0.1 + 2·0.05 = 0.4.
  EXPECT_NEAR(hypervolume({{2, 0.95}, {1, 0.9}, {3, 0.85}}, 4, 0.8), 0.4, 1e-12);  // (3, .85) is dominated
  EXPECT_DOUBLE_EQ(hypervolume({{5, 0.99}, {1, 0.7}}, 4, 0.8), 0.0);                 // outside the reference box
}

TEST(Search, BudgetSyntax) {
  EXPECT_TRUE(parse_budget("1%", "").relative);
  EXPECT_DOUBLE_EQ(parse_budget("0.5pt", "").max_drop, 0.005);
  const Budget band = parse_budget("", "0.5%,1%");
  EXPECT_DOUBLE_EQ(band.band_lo, 0.005);
  EXPECT_TRUE(band.in_band(1.0, 0.993));
  test::expect_error([] { parse_budget("1", ""); }, "unit");
  test::expect_error([] { parse_budget("", "1%,0.5pt"); }, "mixes");
  test::expect_error([] { parse_budget("", "2%,1%"); }, "lo <= hi");
}

// A small labelled set for the small net, written as .npy files.
struct Files {
  std::string model, x, y;
};
Files write_small(const std::string& tag, int64_t label_max = 10) {
  Files f{tmp(tag + ".onnx"), tmp(tag + "_x.npy"), tmp(tag + "_y.npy")};
  onnx::save_model(test::small_cnn(), f.model);
  onnx::save_npy(f.x, onnx::test::random_f32({64, 3, 8, 8}, 50));
  std::vector<int64_t> y;
  const auto logits = onnx::Session(test::small_cnn(), onnx::SessionOptions{1, 1, true}).run(std::vector<Array>{onnx::test::random_f32({64, 3, 8, 8}, 50)})[0];
  for (int64_t r = 0; r < 64; ++r) {
    int64_t best = 0;
    for (int64_t c = 1; c < 10; ++c) best = logits.get_f64(r * 10 + c) > logits.get_f64(r * 10 + best) ? c : best;
    y.push_back(r == 0 ? label_max - 1 : best);  // fp32 is right on all but maybe the first
  }
  onnx::save_npy(f.y, Array::from<int64_t>({64}, y));
  return f;
}

PtqOptions small_options(const Files& f, const std::string& tag) {
  PtqOptions o;
  o.model = f.model;
  o.calib = DataSource{f.x, "", {}, 32};
  o.eval = f.x;
  o.eval_labels = f.y;
  o.eval_count = 64;
  o.metric = "measured";
  o.latency_batch = 8;
  o.latency_repeats = 3;
  o.out = tmp(tag + "_mp.onnx");
  o.json = tmp(tag + "_mp.json");
  o.report = tmp(tag + "_mp.html");
  o.cache = tmp(tag + "_cache.jsonl");
  o.progress = false;
  for (const auto& p : {o.out, o.json, o.report, o.cache, o.out + ".config.json"}) std::filesystem::remove(p);
  return o;
}

TEST(PtqRun, WritesEverythingAndResumesFromTheCache) {
  const Files f = write_small("run");
  PtqOptions o = small_options(f, "run");
  for (const char* search : {"dp", "bisection", "greedy"}) {
    o.search = search;
    ASSERT_EQ(run_ptq(o), 0) << search;
    for (const auto& p : {o.out, o.json, o.report, o.out + ".config.json"}) EXPECT_TRUE(std::filesystem::exists(p)) << p;
  }
  // Resume: a second oracle with the same fingerprint answers from the file, another one not.
  const QdqPlan plan = plan_qdq(test::small_cnn(), onnx::load_npy(f.x), QuantizeOptions{});
  std::vector<int32_t> labels(64, 0);
  ModelOracleOptions mo;
  mo.cache_path = tmp("resume.jsonl");
  mo.fingerprint = "a";
  std::filesystem::remove(mo.cache_path);
  {
    ModelOracle first(plan, onnx::load_npy(f.x), labels, mo);
    first.evaluate(LayerConfig(3, Precision::int8));
    first.evaluate(LayerConfig(3, Precision::fp32));
    EXPECT_EQ(first.fresh_evaluations, 2);
  }
  ModelOracle again(plan, onnx::load_npy(f.x), labels, mo);
  const Measurement m = again.evaluate(LayerConfig(3, Precision::int8));
  EXPECT_EQ(again.fresh_evaluations, 0);
  EXPECT_EQ(again.cached_evaluations, 1);
  EXPECT_GT(m.sqnr_db, 10.0);
  // The per-layer latency table is kept with the cache too: the second oracle reads it back.
  LatencyTable t1;
  {
    ModelOracle timer(plan, onnx::load_npy(f.x), labels, mo);
    t1 = measure_layer_latency(timer, {Precision::int8});
    EXPECT_FALSE(t1.cached);
  }
  ModelOracle reader(plan, onnx::load_npy(f.x), labels, mo);
  const LatencyTable t2 = measure_layer_latency(reader, {Precision::int8});
  EXPECT_TRUE(t2.cached);
  EXPECT_EQ(t2.cost_fp32, t1.cost_fp32);
  mo.fingerprint = "b";
  ModelOracle other(plan, onnx::load_npy(f.x), labels, mo);
  other.evaluate(LayerConfig(3, Precision::int8));
  EXPECT_EQ(other.fresh_evaluations, 1);
}

TEST(PtqRun, BadInputFailsAndWritesNothing) {
  const Files f = write_small("bad");
  PtqOptions o = small_options(f, "bad");
  o.max_drop = "-5pt";  // asks for a gain no configuration gives
  EXPECT_EQ(run_ptq(o), 3);
  for (const auto& p : {o.out, o.json, o.report, o.out + ".config.json"}) EXPECT_FALSE(std::filesystem::exists(p)) << p;
  o.max_drop = "1%";
  o.calib.count = 4;
  test::expect_error([&] { run_ptq(o); }, "too small");
  o.calib.count = 32;
  const Files wrong = write_small("labels", 12);  // a label 11 for a 10-class model
  o.eval_labels = wrong.y;
  test::expect_error([&] { run_ptq(o); }, "10 classes");
  o.eval_labels = f.y;
  o.metric = "hessian";
  if (!metric_unavailable(Metric::hessian).empty()) test::expect_error([&] { run_ptq(o); }, "not available");
  o.metric = "measured";
  o.precisions = {"fp32", "bf16"};  // refused, naming bf16, only where the CPU lacks AVX512-BF16
  if (!precision_unavailable(Precision::bf16).empty()) test::expect_error([&] { run_ptq(o); }, "bf16");
  o.precisions = {"fp32", "int8"};
  // No quantizable layer: a model of one Relu.
  onnx::GraphBuilder b;
  b.output(b.op("Relu", {b.input("x", ElemType::f32, {-1, 3, 8, 8})}, {}, 1, "r"), "y");
  onnx::save_model(b.finish(), tmp("relu.onnx"));
  o.model = tmp("relu.onnx");
  test::expect_error([&] { run_ptq(o); }, "no Conv, Gemm or MatMul");
  for (const auto& p : {o.out, o.json, o.report}) EXPECT_FALSE(std::filesystem::exists(p)) << p;
}

TEST(PtqRun, ReportIsSelfContained) {
  const Files f = write_small("html");
  PtqOptions o = small_options(f, "html");
  o.search = "greedy";
  ASSERT_EQ(run_ptq(o), 0);
  std::ifstream in(o.report);
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(html.find("http://", html.find("<body")), html.find("http://www.w3.org/2000/svg", html.find("<body")));  // only the SVG namespace
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_NE(html.find("Accuracy vs latency"), std::string::npos);
  EXPECT_NE(html.find("Accuracy vs size"), std::string::npos);
  EXPECT_NE(html.find("Trajectory"), std::string::npos);
}

// bf16 among the candidates (where the CPU has it): the search runs, every layer's chosen
// precision is one of the candidates, and the written model loads and runs.
TEST(PtqRun, Bf16IsACandidatePrecision) {
  if (!precision_unavailable(Precision::bf16).empty()) GTEST_SKIP() << precision_unavailable(Precision::bf16);
  const Files f = write_small("bf16");
  PtqOptions o = small_options(f, "bf16");
  o.precisions = {"fp32", "bf16", "int8"};
  ASSERT_EQ(run_ptq(o), 0);
  std::ifstream in(o.json);
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["precisions"], nlohmann::json({"bf16", "int8"}));
  for (const auto& l : j["layers"]) {
    const std::string c = l["chosen"];
    EXPECT_TRUE(c == "fp32" || c == "bf16" || c == "int8") << c;
  }
  onnx::Session s(onnx::load_model(o.out), onnx::SessionOptions{1, 1, true});
  EXPECT_EQ(s.run({onnx::load_npy(f.x)}).size(), 1u);
}

}  // namespace
}  // namespace lowbit::ptq
