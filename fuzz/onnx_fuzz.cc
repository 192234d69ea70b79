// libFuzzer target for the ONNX loader: bytes -> ModelProto -> Graph (validation, op and
// attribute checks) -> shape inference on the declared input shapes (no folding, so nothing
// large is allocated). Only lowbit::Error may escape; anything else, a crash, a leak or an
// ASan report is a bug.
//
// Build and run (clang only), e.g. for 60 s (scripts/fuzz-onnx does this):
//   CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
//       -DLOWBIT_BUILD_FUZZ=ON -DLOWBIT_BUILD_TESTS=OFF -DLOWBIT_BUILD_BENCH=OFF
//   cmake --build build/fuzz --target onnx_fuzz
//   build/fuzz/fuzz/onnx_fuzz build/fuzz/onnx_corpus -max_total_time=60 -rss_limit_mb=2048
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lowbit/core/error.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/shape_inference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const lowbit::onnx::Graph g = lowbit::onnx::load_model_from_bytes(bytes, "fuzz", "");
    (void)lowbit::onnx::infer_shapes(g, lowbit::onnx::declared_input_types(g, 1), false);
  } catch (const lowbit::Error&) {
    // Expected for malformed input.
  }
  return 0;
}
