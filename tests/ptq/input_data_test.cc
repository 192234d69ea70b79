// Calibration/evaluation data for any model inputs (int64 token ids, masks, several inputs) and
// fidelity to fp32 as the accuracy when there are no labels: random draws respect the embedding
// table, .npy lists and folders load, bad inputs are errors naming the input, a BERT quantizes
// onto the integer kernels and agrees with ONNX Runtime, and lowbit ptq runs on it.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "lowbit/core/error.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/model_inputs.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/onnx/passes.h"
#include "lowbit/ptq/calib_data.h"
#include "lowbit/ptq/oracle.h"
#include "lowbit/ptq/ptq_run.h"
#include "lowbit/ptq/search.h"
#include "lowbit/ptq/quantize_model.h"
#include "ort_util.h"
#include "ptq_test_models.h"
#include "qdq_test_models.h"
#include "require_peer.h"

namespace lowbit::ptq {
namespace {

using onnx::Array;
using onnx::ElemType;
using onnx::Graph;
namespace fs = std::filesystem;

constexpr int64_t kVocab = 11, kSeq = 4, kHidden = 8;

std::string tmp(const std::string& name) { return onnx::test::temp_dir() + "/ptq_inputs_" + name; }

// A two-input encoder in miniature: input_ids [N, 4] -> Gather(table [11, 8]) times the
// attention mask [N, 4] (Cast, Reshape to [N, 4, 1]) -> MatMul [8, 8] + bias -> hidden [N, 4, 8].
Graph tiny_encoder() {
  onnx::GraphBuilder b;
  const int ids = b.input("input_ids", ElemType::i64, {-1, kSeq});
  const int mask = b.input("attention_mask", ElemType::i64, {-1, kSeq});
  const int emb = b.op("Gather", {b.constant("table", onnx::test::random_f32({kVocab, kHidden}, 71)), ids}, {}, 1, "embed");
  const int mf = b.op("Cast", {mask}, {{"to", onnx::Attribute::from_int(1)}}, 1, "mask_f");
  const int m3 = b.op("Reshape", {mf, b.constant("shape", Array::from<int64_t>({3}, std::vector<int64_t>{-1, kSeq, 1}))}, {}, 1, "mask_3d");
  const int h = b.op("Mul", {emb, m3}, {}, 1, "masked");
  const int y = b.op("MatMul", {h, b.constant("w", onnx::test::random_f32({kHidden, kHidden}, 72, 0.4f))}, {}, 1, "proj");
  b.output(b.op("Add", {y, b.constant("bias", onnx::test::random_f32({kHidden}, 73, 0.1f))}, {}, 1, "proj_bias"), "hidden");
  return b.finish();
}

Array ids_array(int64_t n, int64_t value) {
  std::vector<int64_t> v(static_cast<size_t>(n * kSeq));
  for (size_t i = 0; i < v.size(); ++i) v[i] = value >= 0 ? value : static_cast<int64_t>(i % kVocab);
  return Array::from<int64_t>({n, kSeq}, v);
}

TEST(ModelInputs, RandomDrawsTokenIdsOverTheTableAndMasksAsOnes) {
  const Graph g = tiny_encoder();
  EXPECT_EQ(onnx::index_range(g, 0), kVocab);
  EXPECT_EQ(onnx::index_range(g, 1), 0);  // the mask indexes nothing
  const InputBatch b = load_calibration(DataSource{"random:64", "", {}, 256}, g, 5);
  ASSERT_EQ(b.arrays.size(), 2u);
  EXPECT_EQ(b.samples(), 64);
  EXPECT_EQ(b.arrays[0].shape(), (Shape{64, kSeq}));
  std::vector<int> seen(kVocab, 0);
  for (int64_t i = 0; i < b.arrays[0].numel(); ++i) {
    const int64_t id = b.arrays[0].get_i64(i);
    ASSERT_TRUE(id >= 0 && id < kVocab) << id;
    ++seen[static_cast<size_t>(id)];
    EXPECT_EQ(b.arrays[1].get_i64(i), 1);
  }
  for (int64_t v = 0; v < kVocab; ++v) EXPECT_GT(seen[static_cast<size_t>(v)], 0) << "token " << v << " never drawn in 256 draws";
  // --calib-count caps random:N; another seed draws other ids.
  EXPECT_EQ(load_calibration(DataSource{"random:64", "", {}, 8}, g, 5).samples(), 8);
  const InputBatch other = load_calibration(DataSource{"random:64", "", {}, 256}, g, 6);
  int differ = 0;
  for (int64_t i = 0; i < other.arrays[0].numel(); ++i) differ += other.arrays[0].get_i64(i) != b.arrays[0].get_i64(i);
  EXPECT_GT(differ, 0);
  for (const char* bad : {"random:0", "random:x", "random:", "random:5x"})
    test::expect_error([&] { load_calibration(DataSource{bad, "", {}, 16}, g); }, "random:N");
}

TEST(ModelInputs, NpyListsAndFoldersLoadAndBadInputsAreNamed) {
  const Graph g = tiny_encoder();
  const std::string dir = tmp("dir");
  fs::create_directories(dir);
  const std::string ids = dir + "/input_ids.npy", mask = dir + "/attention_mask.npy";
  onnx::save_npy(ids, ids_array(6, -1));
  onnx::save_npy(mask, ids_array(6, 1));
  const std::string list = "input_ids=" + ids + ",attention_mask=" + mask;
  const InputBatch a = load_calibration(DataSource{list, "", {}, 4}, g);
  const InputBatch b = load_calibration(DataSource{dir, "", {}, 256}, g);
  EXPECT_EQ(a.samples(), 4);  // the first --calib-count rows
  EXPECT_EQ(b.samples(), 6);
  for (int64_t i = 0; i < a.arrays[0].numel(); ++i) EXPECT_EQ(a.arrays[0].get_i64(i), b.arrays[0].get_i64(i));
  // int32 token ids widen to the declared int64.
  const std::string ids32 = tmp("ids32.npy");
  std::vector<int32_t> v32(6 * kSeq, 3);
  onnx::save_npy(ids32, Array::from<int32_t>({6, kSeq}, v32));
  EXPECT_EQ(load_calibration(DataSource{"input_ids=" + ids32 + ",attention_mask=" + mask, "", {}, 256}, g).arrays[0].type(), ElemType::i64);

  const std::string floats = tmp("ids_float.npy"), oov = tmp("ids_oov.npy"), short_mask = tmp("mask_short.npy"), wide = tmp("ids_wide.npy");
  onnx::save_npy(floats, onnx::test::random_f32({6, kSeq}, 3));
  onnx::save_npy(oov, ids_array(6, kVocab));  // one past the table
  onnx::save_npy(short_mask, ids_array(5, 1));
  onnx::save_npy(wide, Array::from<int64_t>({6, kSeq + 1}, std::vector<int64_t>(6 * (kSeq + 1), 0)));
  auto load = [&](const std::string& s) { return load_calibration(DataSource{s, "", {}, 256}, g); };
  test::expect_error([&] { load("input_ids=" + ids + ",tokens=" + mask); }, "names input 'tokens', which the model does not have");
  test::expect_error([&] { load("input_ids=" + ids); }, "gives no file for input 'attention_mask'");
  test::expect_error([&] { load("input_ids=" + ids + ",input_ids=" + ids); }, "gives input 'input_ids' twice");
  test::expect_error([&] { load("input_ids=" + floats + ",attention_mask=" + mask); }, "input 'input_ids' is int64");
  test::expect_error([&] { load("input_ids=" + floats + ",attention_mask=" + mask); }, "ids_float.npy");
  test::expect_error([&] { load("input_ids=" + oov + ",attention_mask=" + mask); }, "outside the table it indexes (11 rows");
  test::expect_error([&] { load("input_ids=" + wide + ",attention_mask=" + mask); }, "[6, 5] but input 'input_ids' is [-1, 4]");
  test::expect_error([&] { load("input_ids=" + ids + ",attention_mask=" + short_mask); }, "holds 5 samples");
  test::expect_error([&] { load(ids); }, "the model has 2 inputs (input_ids, attention_mask)");
  test::expect_error([&] { load(tmp("no_such_dir/")); }, "does not exist");
  const std::string half = tmp("half");
  fs::create_directories(half);
  onnx::save_npy(half + "/input_ids.npy", ids_array(2, 0));
  test::expect_error([&] { load(half); }, "no attention_mask.npy");
  test::expect_error([&] { load("cifar10"); }, "gives one image input, but the model has 2 inputs");
  // The same check guards lowbit run's inputs (onnx::fit_input).
  test::expect_error([&] { onnx::fit_input(g, 0, onnx::load_npy(oov), "file 'x'", "run"); }, "[run]");
}

TEST(Fidelity, RelativeL2ScoreFollowsItsDefinition) {
  const Array ref = onnx::test::random_f32({4, 16}, 9);
  Array out = Array::empty(ElemType::f32, ref.shape());
  for (int64_t i = 0; i < ref.numel(); ++i) out.data<float>()[i] = 1.01f * ref.data<float>()[i];
  const Measurement m = score_fidelity(out, ref);
  EXPECT_NEAR(m.top1, 0.99, 1e-6);    // 1 - ||0.01 y|| / ||y||
  EXPECT_NEAR(m.loss, 1e-4, 1e-8);    // relative squared error
  EXPECT_NEAR(m.sqnr_db, 40.0, 1e-3);
  EXPECT_EQ(score_fidelity(ref, ref).top1, 1.0);
}

TEST(Fidelity, MultiInputModelQuantizesAndScoresAgainstFp32) {
  const Graph g = tiny_encoder();
  const InputBatch calib = load_calibration(DataSource{"random:32", "", {}, 256}, g, 1);
  QuantizeReport rep;
  const Graph q = quantize_model(g, calib, QuantizeOptions{}, &rep);
  EXPECT_EQ(rep.layers.front().precision, "w8a8");
  EXPECT_GT(rep.output_sqnr_db, 25.0);
  const QdqPlan plan = plan_qdq(g, calib, QuantizeOptions{});
  ModelOracleOptions mo;
  mo.latency_batch = 3;
  ModelOracle orc(plan, load_calibration(DataSource{"random:16", "", {}, 256}, g, 2), {}, mo);
  EXPECT_EQ(orc.fidelity(), Fidelity::relative_l2);
  EXPECT_EQ(orc.evaluate(LayerConfig(1, Precision::fp32)).top1, 1.0);
  const Measurement m8 = orc.evaluate(LayerConfig(1, Precision::int8));
  EXPECT_LT(m8.top1, 1.0);
  EXPECT_GT(m8.top1, 0.95);
  EXPECT_NEAR(m8.sqnr_db, -20.0 * std::log10(1.0 - m8.top1), 1e-6);
  // Latencies measured in groups (a tiny session-memory budget: two sessions at a time, the
  // first config anchoring every group) still give one positive number per config.
  mo.session_memory_bytes = 1;
  ModelOracle grouped(plan, calib, {}, mo);
  const auto ms = grouped.latency_interleaved({LayerConfig(1, Precision::int8), LayerConfig(1, Precision::fp32), LayerConfig(1, Precision::int8)});
  ASSERT_EQ(ms.size(), 3u);
  for (double t : ms) EXPECT_GT(t, 0.0);
  EXPECT_EQ(grouped.latency_runs, 4);  // sessions of groups {0, 1} and {0 (anchor), 2}
}

TEST(Fidelity, TheAnswerIsTheFastestMeasuredPointWithinTheBudget) {
  const Budget b = parse_budget("2%", "");
  // (top1, ms): the search's answer, all-int8, all-bf16.
  EXPECT_EQ(fastest_within(b, 1.0, {{1.0, 200.0}, {0.99, 170.0}, {1.0, 220.0}}), 1u);
  EXPECT_EQ(fastest_within(b, 1.0, {{1.0, 200.0}, {0.97, 170.0}, {1.0, 190.0}}), 2u);  // all-int8 misses the budget
  EXPECT_EQ(fastest_within(b, 1.0, {{1.0, 150.0}, {0.99, 170.0}}), 0u);
  EXPECT_EQ(fastest_within(b, 1.0, {{1.0, 150.0}, {0.99, 150.0}}), 0u);                // ties keep the answer
}

TEST(Fidelity, ClassifierWithoutLabelsScoresAgreementWithFp32) {
  const Graph g = test::small_cnn();
  const Array x = onnx::test::random_f32({32, 3, 8, 8}, 12);
  const QdqPlan plan = plan_qdq(g, x, QuantizeOptions{});
  ModelOracle orc(plan, x, {}, ModelOracleOptions{});
  EXPECT_EQ(orc.fidelity(), Fidelity::agreement);
  EXPECT_EQ(orc.evaluate(LayerConfig(plan.layers.size(), Precision::fp32)).top1, 1.0);
  // The pseudo-labels are fp32's classes: with them as labels the oracle scores the same.
  ModelOracle labelled(plan, x, orc.labels(), ModelOracleOptions{});
  EXPECT_EQ(labelled.fidelity(), Fidelity::labels);
  const LayerConfig all8(plan.layers.size(), Precision::int8);
  EXPECT_EQ(orc.evaluate(all8).top1, labelled.evaluate(all8).top1);
  // Labels for a model whose output is not [batch, classes] are an error.
  const Graph enc = tiny_encoder();
  const InputBatch calib = load_calibration(DataSource{"random:8", "", {}, 256}, enc);
  const QdqPlan enc_plan = plan_qdq(enc, calib, QuantizeOptions{});
  test::expect_error([&] { ModelOracle(enc_plan, calib, std::vector<int32_t>(8, 0), ModelOracleOptions{}); }, "expected [batch, classes]");
}

// BERT-tiny (scripts/setup-onnx; int64 input_ids, attention_mask, token_type_ids): quantized
// from random token ids, every MatMul with a constant weight lowers to the integer GEMM, and
// ONNX Runtime running the same QDQ file agrees to a small fraction of lowbit's own
// quantization error (both compute the same codes up to rare rounding ties, which LayerNorm
// then spreads over a row).
TEST(Fidelity, BertTinyQuantizesOntoIntegerKernelsAndAgreesWithOrt) {
  const std::string path = onnx::test::source_dir() + "/data/models/bert_tiny.onnx";
  if (!fs::exists(path)) LOWBIT_SKIP_ABSENT_PEER(path + " is absent (scripts/setup-onnx)");
  const Graph fp = onnx::load_model(path);
  const InputBatch calib = load_calibration(DataSource{"random:32", "", {}, 256}, fp, 1);
  QuantizeReport rep;
  const Graph q = quantize_model(fp, calib, QuantizeOptions{}, &rep);
  Graph lowered = q;
  onnx::optimize_graph(lowered);
  int qgemm = 0, float_matmul_with_weight = 0;
  for (const auto& n : lowered.nodes) {
    if (n.dead) continue;
    qgemm += n.domain == "lowbit" && n.op_type == "QGemm";
    float_matmul_with_weight += n.op_type == "MatMul" && lowered.is_constant(n.inputs[1]);
  }
  EXPECT_EQ(qgemm, 12);  // Q, K, V, output, FFN in and out, in 2 layers
  EXPECT_EQ(float_matmul_with_weight, 0);
  const std::vector<Array> x = onnx::random_inputs(fp, 4, 3);
  const Array ref = onnx::Session(fp, onnx::SessionOptions{1, 1, true}).run(x)[0];
  const Array got = onnx::Session(q, onnx::SessionOptions{1, 1, true}).run(x)[0];
  const double quant_err = 1.0 - score_fidelity(got, ref).top1;
  EXPECT_GT(quant_err, 0.0);
  EXPECT_LT(quant_err, 0.1);
  if (const std::string why = onnx::test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  const std::string qpath = tmp("bert_tiny_q.onnx");
  onnx::save_model(q, qpath);
  const auto ort = onnx::test::run_ort(qpath, x, "ptq_bert_tiny");
  ASSERT_EQ(ort.size(), 1u);
  const double engines = 1.0 - score_fidelity(got, ort[0]).top1;
  EXPECT_LT(engines, 0.25 * quant_err) << "lowbit vs ORT " << engines << ", lowbit vs fp32 " << quant_err;
}

TEST(Fidelity, PtqRunsOnBertTinyWithoutLabels) {
  const std::string path = onnx::test::source_dir() + "/data/models/bert_tiny.onnx";
  if (!fs::exists(path)) LOWBIT_SKIP_ABSENT_PEER(path + " is absent (scripts/setup-onnx)");
  PtqOptions o;
  o.model = path;
  o.calib = DataSource{"random:16", "", {}, 16};
  o.eval = "random:8";
  o.metric = "sqnr";
  o.max_drop = "5%";
  o.latency_batch = 1;
  o.latency_repeats = 1;
  o.json = tmp("bert_tiny_mp.json");
  o.out = tmp("bert_tiny_mp.onnx");
  o.cache = tmp("bert_tiny_cache.jsonl");
  o.progress = false;
  for (const auto& p : {o.json, o.out, o.cache}) fs::remove(p);
  ASSERT_EQ(run_ptq(o), 0);
  const nlohmann::json j = nlohmann::json::parse(std::ifstream(o.json));
  EXPECT_EQ(j["accuracy_metric"], "1 - relative L2 error vs fp32");
  EXPECT_EQ(j["baseline"]["top1"], 1.0);
  EXPECT_GE(j["result"]["top1"].get<double>(), 0.95);
  EXPECT_LT(j["all_int8"]["top1"].get<double>(), 1.0);
  EXPECT_TRUE(fs::exists(o.out));
  // A budget nothing but fp32 meets still answers fp32 (drop 0); labels for this output are an error.
  o.eval_labels = tmp("bert_labels.npy");
  onnx::save_npy(o.eval_labels, Array::from<int64_t>({8}, std::vector<int64_t>(8, 0)));
  test::expect_error([&] { run_ptq(o); }, "expected [batch, classes]");
}

}  // namespace
}  // namespace lowbit::ptq
