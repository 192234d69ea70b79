// Pretrained models of other exporters, as npm packages ship them (scripts/setup-onnx puts them
// in data/wild/): PaddleOCR v4's text detector and recognizer and its v2 direction classifier
// (paddle2onnx, opsets 9/11, weights in Constant nodes, symbolic image sizes) and Silero VAD
// (PyTorch's exporter: If branches over the sample rate, Conv and LSTM inside). Each runs in
// lowbit as in ONNX Runtime; one Session serves every input size (dynamic shapes, issue 13).
// Skipped when the models or ONNX Runtime are absent.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/model_loader.h"
#include "ort_util.h"
#include "require_peer.h"

namespace lowbit::onnx {
namespace {

std::string wild_model(const std::string& name) { return test::source_dir() + "/data/wild/" + name + ".onnx"; }

// Skips unless the model and ONNX Runtime are both there.
#define REQUIRE_WILD(path)                                                                                          \
  do {                                                                                                              \
    if (!std::filesystem::exists(path)) LOWBIT_SKIP_ABSENT_PEER((path) + " is absent (scripts/setup-onnx fetches it)"); \
    if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);                     \
  } while (0)

// A deterministic image-like input in [-1, 1].
Array image(const Shape& shape, int seed) {
  Array a = Array::zeros(ElemType::f32, shape);
  for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] = std::sin(0.37f * static_cast<float>(i % 9973) + static_cast<float>(seed));
  return a;
}

// lowbit and ONNX Runtime on each input set, through one Session; floats within atol + rtol·|ref|.
void expect_like_ort(const std::string& path, const std::vector<std::vector<Array>>& runs, double rtol, double atol) {
  Session s(load_model(path), SessionOptions{1, 1, true});
  for (size_t r = 0; r < runs.size(); ++r) {
    const std::vector<Array> got = s.run(runs[r]);
    const std::vector<Array> want = test::run_ort(path, runs[r], std::filesystem::path(path).stem().string() + "_" + std::to_string(r));
    ASSERT_EQ(got.size(), want.size()) << path;
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_TRUE(test::arrays_close(got[i], want[i], rtol, atol)) << path << " run " << r << " output " << i << " input "
                                                                   << shape_str(runs[r][0].shape());
  }
}

TEST(WildModels, PaddleOcrDetectorAtTwoImageSizes) {
  const std::string path = wild_model("ch_PP-OCRv4_det_infer");
  REQUIRE_WILD(path);
  expect_like_ort(path, {{image({1, 3, 320, 320}, 1)}, {image({1, 3, 480, 640}, 2)}}, 1e-4, 1e-5);
}

TEST(WildModels, PaddleOcrRecognizerAtThreeWidths) {
  const std::string path = wild_model("ch_PP-OCRv4_rec_infer");
  REQUIRE_WILD(path);
  expect_like_ort(path, {{image({1, 3, 48, 100}, 3)}, {image({1, 3, 48, 320}, 4)}, {image({2, 3, 48, 800}, 5)}}, 1e-4, 1e-5);
}

TEST(WildModels, PaddleOcrDirectionClassifier) {
  const std::string path = wild_model("ch_ppocr_mobile_v2.0_cls_infer");
  REQUIRE_WILD(path);
  expect_like_ort(path, {{image({1, 3, 48, 192}, 6)}, {image({4, 3, 48, 192}, 7)}}, 1e-4, 1e-5);
}

// Silero VAD v5 streams 512-sample chunks at 16 kHz (256 at 8 kHz, the other If branch); the
// state output feeds the next chunk, as a caller would.
TEST(WildModels, SileroVadStreamsBothSampleRates) {
  const std::string path = wild_model("silero_vad_v5");
  REQUIRE_WILD(path);
  for (int64_t rate : {16000, 8000}) {
    const int64_t n = rate == 16000 ? 512 : 256;
    Session s(load_model(path), SessionOptions{1, 1, true});
    Array state = Array::zeros(ElemType::f32, {2, 1, 128}), ort_state = state;
    for (int chunk = 0; chunk < 3; ++chunk) {
      Array x = image({1, n}, chunk);
      for (int64_t i = 0; i < n; ++i) x.data<float>()[i] *= 0.3f;
      const std::vector<Array> got = s.run({x, state, Array::scalar<int64_t>(rate)});
      const std::vector<Array> want = test::run_ort(path, {x, ort_state, Array::scalar<int64_t>(rate)}, "silero_v5");
      ASSERT_EQ(got.size(), 2u);
      ASSERT_EQ(want.size(), 2u);
      EXPECT_TRUE(test::arrays_close(got[0], want[0], 1e-4, 1e-5)) << rate << " chunk " << chunk;
      EXPECT_TRUE(test::arrays_close(got[1], want[1], 1e-4, 1e-5)) << rate << " chunk " << chunk;
      state = got[1];
      ort_state = want[1];
    }
  }
}

TEST(WildModels, SileroVadLegacyLstmState) {
  const std::string path = wild_model("silero_vad_legacy");
  REQUIRE_WILD(path);
  Array x = image({1, 512}, 9);
  for (int64_t i = 0; i < 512; ++i) x.data<float>()[i] *= 0.3f;
  const Array h = image({2, 1, 64}, 10), c = image({2, 1, 64}, 11);
  expect_like_ort(path, {{x, Array::scalar<int64_t>(16000), h, c}}, 1e-4, 1e-5);
}

}  // namespace
}  // namespace lowbit::onnx
