// Precision as a sweep dimension: the engine table, lowbit-bf16 (only where the CPU has
// AVX512-BF16), ONNX Runtime int8 on the very QDQ model lowbit-int8 runs, --set threads=...
// (the report's engine pairs: report_test.cc).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "lowbit/core/error.h"
#include "lowbit/kernels/bf16.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/paradnn/engines.h"
#include "lowbit/paradnn/runner.h"
#include "lowbit/paradnn/sweep.h"
#include "paradnn_test_util.h"

namespace lowbit::paradnn {
namespace {

bool unsupported(const std::string& why) { return why.rfind("unsupported: ", 0) == 0; }

TEST(ParadnnEngines, PrecisionAndUnsupportedRows) {
  EXPECT_EQ(engine_precision("lowbit"), "fp32");
  EXPECT_EQ(engine_precision("onnxruntime"), "fp32");
  EXPECT_EQ(engine_precision("pytorch"), "fp32");
  EXPECT_EQ(engine_precision("lowbit-int8"), "int8");
  EXPECT_EQ(engine_precision("onnxruntime-int8"), "int8");
  EXPECT_EQ(engine_precision("lowbit-bf16"), "bf16");
  EXPECT_THROW(engine_precision("tensorflow-int8"), ValueError);
  for (bool cpu : {false, true}) {
    EXPECT_EQ(engine_unsupported("lowbit-int8", "rnn", "train", cpu), "");
    EXPECT_EQ(engine_unsupported("onnxruntime-int8", "cnn", "infer", cpu), "");
    EXPECT_TRUE(unsupported(engine_unsupported("onnxruntime-int8", "fc", "train", cpu)));
    EXPECT_TRUE(unsupported(engine_unsupported("onnxruntime-int8", "rnn", "infer", cpu)));
    EXPECT_TRUE(unsupported(engine_unsupported("lowbit-bf16", "fc", "train", cpu)));
    EXPECT_TRUE(unsupported(engine_unsupported("lowbit-bf16", "rnn", "infer", cpu)));
  }
  EXPECT_EQ(engine_unsupported("lowbit-bf16", "cnn", "infer", true), "");
  EXPECT_NE(engine_unsupported("lowbit-bf16", "cnn", "infer", false).find("AVX512-BF16"), std::string::npos);
}

TEST(ParadnnEngines, Bf16RunsInBf16OnlyWhereTheCpuHasIt) {
  const ModelConfig c = test::fc(2, 32, 8, 40, 10);
  RunOptions o;
  o.engine = "lowbit-bf16";
  o.mode = "infer";
  o.warmup = 0, o.min_steps = 2, o.min_time = 0;
  if (!kernels::bf16_native()) {
    EXPECT_THROW(run_lowbit(c, o), ValueError);
    return;
  }
  const RunResult r = run_lowbit(c, o);
  EXPECT_EQ(r.bf16_layers, 3) << "two hidden layers and the output layer";
  EXPECT_EQ(r.step_ms.size(), 2u);
  EXPECT_EQ(r.cpu_ms.size(), 2u);
  o.engine = "lowbit";
  EXPECT_EQ(run_lowbit(c, o).bf16_layers, 0);
  o.engine = "lowbit-bf16";
  o.mode = "train";
  EXPECT_THROW(run_lowbit(c, o), ValueError);
}

TEST(ParadnnEngines, OnnxRuntimeInt8RunsTheQdqModelLowbitInt8Runs) {
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  for (const auto& c : {test::fc(2, 32, 8, 40, 10), test::cnn(1, 8, 32, 1)}) {
    const std::string dir = test::scratch("ort_int8_" + c.family);
    export_bundle(c, dir, 3, "int8");
    export_bundle(c, dir + "/fp32", 3, "fp32");
    int quantize_nodes = 0;
    for (const auto& n : onnx::load_model(dir + "/model.onnx").nodes) quantize_nodes += n.op_type == "QuantizeLinear";
    EXPECT_GE(quantize_nodes, c.family == "fc" ? 3 : 4) << c.key() << ": every layer's input is quantized";
    const std::string cmd = "node '" + std::string(LOWBIT_SOURCE_DIR) + "/bench/peers/ort_run.js' --model '" + dir +
                            "/model.onnx' --input '" + dir + "/input_0.npy' --out-dir '" + dir + "/out'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const onnx::Array x = onnx::load_npy(dir + "/input_0.npy");
    const onnx::Array got = onnx::Session(onnx::load_model(dir + "/model.onnx")).run(std::vector<onnx::Array>{x}).at(0);
    const onnx::Array fp32 = onnx::Session(onnx::load_model(dir + "/fp32/model.onnx")).run(std::vector<onnx::Array>{x}).at(0);
    const onnx::Array want = onnx::load_npy(dir + "/out/output_0.npy");
    ASSERT_EQ(got.shape(), want.shape()) << c.key();
    // Two engines computing one quantized model agree far inside its quantization error (they
    // may round a requantization differently); a peer running the float model would not.
    double quant_err = 0;
    for (int64_t i = 0; i < got.numel(); ++i) quant_err = std::max(quant_err, std::abs(got.get_f64(i) - fp32.get_f64(i)));
    ASSERT_GT(quant_err, 0) << c.key() << ": the int8 model computes exactly the float one";
    for (int64_t i = 0; i < want.numel(); ++i)
      ASSERT_NEAR(got.get_f64(i), want.get_f64(i), 0.05 * quant_err) << c.key() << " element " << i;
  }
  EXPECT_THROW(export_bundle(test::rnn(1), test::scratch("ort_int8_rnn"), 3, "int8"), ValueError);
}

TEST(ParadnnSweep, PrecisionsAndThreadsAreDimensions) {
  const std::string dir = test::scratch("sweep_precision");
  SweepOptions o;
  o.family = "fc";
  o.sets = {"layers=2", "nodes=32", "batch=16", "input=64", "output=10", "threads=1,2"};
  o.engines = {"lowbit-int8", "lowbit-bf16", "onnxruntime-int8"};
  if (!test::ort_missing().empty()) o.engines.pop_back();
  o.modes = {"train", "infer"};
  o.out = dir + "/results.jsonl";
  o.warmup = 1, o.min_steps = 2, o.min_time = 0;
  o.self_exe = LOWBIT_BINARY;
  o.peers_dir = std::string(LOWBIT_SOURCE_DIR) + "/bench/peers";
  o.progress = false;
  Peak p;
  p.cpu_model = "test";
  p.fp32_flops_per_core = 1e11, p.int8_ops_per_core = 4e11, p.triad_bytes_per_second = 1e10;
  o.peak_file = dir + "/peak.json";
  std::ofstream(o.peak_file) << p.to_json().dump();
  if (kernels::bf16_native()) {
    EXPECT_THROW(run_sweep(o), ValueError) << "a bf16 engine needs the bf16 peak";
  }
  p.bf16_flops_per_core = 2e11;
  std::ofstream(o.peak_file, std::ios::trunc) << p.to_json().dump();
  const SweepSummary s = run_sweep(o);
  const size_t want = o.engines.size() * 2 * 2;  // engines x modes x thread counts
  EXPECT_EQ(s.planned, static_cast<int>(want));
  const auto rows = test::read_rows(o.out);
  ASSERT_EQ(rows.size(), want);
  std::map<std::string, int> threads_seen;
  for (const auto& r : rows) {
    const std::string engine = r["engine"], mode = r["mode"], status = r["status"];
    threads_seen[engine] |= r["threads"].get<int>();
    EXPECT_EQ(r["precision"], engine_precision(engine));
    const std::string why = engine_unsupported(engine, "fc", mode, kernels::bf16_native());
    if (!why.empty()) {
      EXPECT_EQ(status, why) << r.dump();
      EXPECT_TRUE(r["examples_per_second"].is_null());
      continue;
    }
    ASSERT_EQ(status, "ok") << r.dump();
    const double peak = (engine_precision(engine) == "int8" ? 4e11 : 2e11) * r["threads"].get<int>();
    EXPECT_NEAR(r["utilization"].get<double>(), r["achieved_flops"].get<double>() / peak, 1e-9 * r["utilization"].get<double>());
    ASSERT_TRUE(r.contains("cpu_ms")) << r.dump();
    EXPECT_GT(r["cpu_ms"].get<double>(), 0);
  }
  for (const auto& e : o.engines) EXPECT_EQ(threads_seen[e], 1 | 2) << e;
  // onnxruntime-int8 ran the QDQ model (the sweep's export for it), not the float one.
  int int8_models = 0;
  for (const auto& d : std::filesystem::directory_iterator(o.out + ".work"))
    if (d.path().string().ends_with("-int8")) {
      int q = 0;
      for (const auto& n : onnx::load_model(d.path().string() + "/model.onnx").nodes) q += n.op_type == "QuantizeLinear";
      EXPECT_GE(q, 3) << d.path();
      ++int8_models;
    }
  EXPECT_EQ(int8_models, test::ort_missing().empty() ? 1 : 0);
  o.sets.back() = "threads=0";
  EXPECT_THROW(run_sweep(o), ValueError);
  o.sets.back() = "threads=1,x";
  EXPECT_THROW(run_sweep(o), ValueError);
}

}  // namespace
}  // namespace lowbit::paradnn
