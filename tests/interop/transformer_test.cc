// The DSADS transformer encoder of bench/peers/train_dsads_transformer.py (PyTorch, exported
// with torch.onnx.export at opset 17): lowbit's engine loads it and matches PyTorch's logits
// (and ONNX Runtime's), and `lowbit quantize` (int8) of it runs in lowbit. The script runs in
// --quick mode (one epoch on an eighth of the data); skipped when torch or DSADS is absent.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/ptq/quantize_model.h"
#include "onnx/ort_util.h"
#include "require_peer.h"

namespace lowbit::interop {
namespace {

namespace fs = std::filesystem;
using onnx::test::source_dir;
using onnx::test::temp_dir;

int64_t argmax_row(const onnx::Array& a, int64_t i) {
  const int64_t c = a.shape()[1];
  const float* p = a.data<float>() + i * c;
  return std::max_element(p, p + c) - p;
}

// |got - want| <= 1e-4 · (1 + max|want|): fp32 attention and LayerNorm sums in another order.
void expect_close(const onnx::Array& got, const onnx::Array& want) {
  ASSERT_EQ(got.shape(), want.shape());
  double peak = 0;
  for (int64_t i = 0; i < want.numel(); ++i) peak = std::max(peak, std::fabs(double(want.data<float>()[i])));
  for (int64_t i = 0; i < want.numel(); ++i)
    ASSERT_NEAR(got.data<float>()[i], want.data<float>()[i], 1e-4 * (1 + peak)) << "element " << i;
}

TEST(DsadsTransformer, LowbitRunsPyTorchsExportAndItsInt8Quantization) {
  if (std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") != 0)
    LOWBIT_SKIP_ABSENT_PEER("/usr/bin/python3 has no torch (Debian package python3-torch)");
  const fs::path data = fs::path(source_dir()) / "data" / "DSADS";
  if (!fs::exists(data / "a01")) LOWBIT_SKIP_ABSENT_PEER("DSADS is not unpacked in data/DSADS (make data)");
  const fs::path dir = fs::path(temp_dir()) / "dsads_transformer";
  fs::create_directories(dir);
  const std::string cmd = "/usr/bin/python3 '" + source_dir() + "/bench/peers/train_dsads_transformer.py' --quick --threads 1 --data '" +
                          data.string() + "' --out '" + dir.string() + "' > '" + (dir / "log.txt").string() + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << " (see " << (dir / "log.txt").string() << ")";
  const auto file = [&](const char* name) { return (dir / name).string(); };
  const onnx::Graph model = onnx::load_model(file("dsads_transformer.onnx"));
  const onnx::Array x = onnx::load_npy(file("dsads_transformer_eval.npy"));
  const onnx::Array torch_logits = onnx::load_npy(file("dsads_transformer_logits.npy"));
  ASSERT_EQ(x.dim(), 3);
  EXPECT_EQ(x.shape()[1], 125);
  EXPECT_EQ(x.shape()[2], 45);
  const onnx::Array ours = onnx::Session(model).run(std::vector<onnx::Array>{x})[0];
  expect_close(ours, torch_logits);
  if (onnx::test::ort_missing().empty())
    expect_close(onnx::test::run_ort(file("dsads_transformer.onnx"), {x}, "dsads_transformer")[0], ours);
  // int8 (per-channel weights, min/max activations) from the calibration windows.
  ptq::QuantizeReport rep;
  const onnx::Graph q = ptq::quantize_model(model, onnx::load_npy(file("dsads_transformer_calib.npy")), {}, &rep);
  EXPECT_GE(rep.layers.size(), 10u);  // embed, per layer qkv/proj/ff1/ff2 (+ attention MatMuls), head
  const onnx::Array qout = onnx::Session(q).run(std::vector<onnx::Array>{x})[0];
  int64_t agree = 0;
  for (int64_t i = 0; i < x.shape()[0]; ++i) agree += argmax_row(qout, i) == argmax_row(ours, i);
  EXPECT_GE(static_cast<double>(agree) / static_cast<double>(x.shape()[0]), 0.9) << "int8 top-1 agreement with fp32";
}

}  // namespace
}  // namespace lowbit::interop
