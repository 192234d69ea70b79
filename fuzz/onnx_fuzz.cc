// libFuzzer target for the ONNX entry point: bytes -> ModelProto -> Graph (schema check of
// every node, structure) -> shape inference on the declared input shapes (symbolic dims = 1)
// -> one execution of the graph on small deterministic inputs, when every value has a static
// shape and the graph is small (bounded so it can neither OOM nor hang). Only lowbit::Error may
// escape (fuzz_util.h); anything else, a crash, a leak or a sanitizer report is a bug.
//
// Build and run (clang only): scripts/fuzz-all (or scripts/fuzz-onnx SECONDS), or by hand:
//   scripts/fuzz-build onnx_fuzz   (clang, build/fuzz; prints the folder of the target)
//   build/fuzz/fuzz/onnx_fuzz fuzz/corpus/onnx -dict=fuzz/onnx.dict -rss_limit_mb=2048
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lowbit/core/error.h"
#include "lowbit/onnx/analysis.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/shape_inference.h"
#include "fuzz_util.h"

namespace {

using namespace lowbit::onnx;

constexpr int64_t kMaxValueElements = int64_t{1} << 16;  // per value
constexpr int64_t kMaxTotalElements = int64_t{1} << 20;  // all values together
constexpr double kMaxFlops = 2e7;

// Whether running the graph is bounded: every value's shape is static and small, and the
// heavy ops' work (their OpDef::flops) is small.
bool small_enough(const Graph& g, const InferenceResult& inf) {
  int64_t total = 0;
  for (const ValueType& t : inf.types) {
    if (t.elem == ElemType::undefined) continue;
    if (!t.has_shape) return false;
    int64_t n = 1;
    for (int64_t d : t.shape) {
      if (d < 0 || (d > 0 && n > kMaxValueElements / d)) return false;
      n *= d;
    }
    if (n > kMaxValueElements || (total += n) > kMaxTotalElements) return false;
  }
  double flops = 0;
  for (const Node& node : g.nodes) {
    if (node.dead) continue;  // e.g. a com.microsoft op the loader expanded
    flops += node_flops(g, node, inf.types);
    if (!(flops <= kMaxFlops)) return false;
  }
  return true;
}

Array fill(const ValueType& t) {
  Array a = Array::zeros(t.elem, t.shape);
  // Small values, 0 and 1 included, so index inputs (Gather) and divisors both occur.
  if (a.type() == ElemType::f32)
    for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] = static_cast<float>(i % 7) * 0.25f - 0.5f;
  return a;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return lowbit::fuzz::run_one([&] {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    Graph g = load_model_from_bytes(bytes, "fuzz", "");
    const std::vector<ValueType> types = declared_input_types(g, 1);
    const InferenceResult inf = infer_shapes(g, types, false);
    if (!small_enough(g, inf)) return;
    std::vector<Array> inputs;
    for (const ValueType& t : types) inputs.push_back(fill(t));
    // Alternate optimized and plain sessions so both the passes and the unfused ops are run.
    Session session(std::move(g), SessionOptions{1, 1, size % 2 == 0});
    (void)session.run(inputs);
  });
}
