// libFuzzer target for the tensor files `lowbit run` reads: NumPy .npy (parse_npy) and ONNX
// TensorProto .pb (parse_tensor_pb, the backend test data format). The first byte picks the
// parser. A tensor that parses must survive encode_npy -> parse_npy unchanged (same type,
// shape and bytes), so a parser that accepts garbage silently is a finding too. Every parsed
// tensor is then offered as each input of a small two-input graph through onnx::fit_input (the
// checks lowbit run/quantize/ptq apply: type conversion, shape, token ids within the table).
//   build/fuzz/fuzz/npy_fuzz fuzz/corpus/npy -dict=fuzz/npy.dict   (see scripts/fuzz-all)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "fuzz_util.h"
#include "lowbit/core/error.h"
#include "lowbit/onnx/model_inputs.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/npy.h"

namespace {

// input_ids int64 [-1, 3] indexing a 5-row table through Cast; features float32 [-1, 2].
const lowbit::onnx::Graph& inputs_graph() {
  static const lowbit::onnx::Graph g = [] {
    using namespace lowbit::onnx;
    GraphBuilder b;
    const int ids = b.input("input_ids", ElemType::i64, {-1, 3});
    const int feat = b.input("features", ElemType::f32, {-1, 2});
    const int cast = b.op("Cast", {ids}, {{"to", Attribute::from_int(7)}}, 1, "cast");
    b.output(b.op("Gather", {b.constant("table", Array::zeros(ElemType::f32, {5, 2})), cast}, {}, 1, "embed"), "emb");
    b.output(b.op("Identity", {feat}, {}, 1, "feat_id"), "feat");
    return b.finish();
  }();
  return g;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  return lowbit::fuzz::run_one([&] {
    using namespace lowbit::onnx;
    const Array a = data[0] % 2 == 0 ? parse_npy(in, "fuzz.npy") : parse_tensor_pb(in, "fuzz.pb");
    const Array b = parse_npy(encode_npy(a), "round trip");
    if (b.type() != a.type() || b.shape() != a.shape() || b.nbytes() != a.nbytes() ||
        (a.nbytes() != 0 && std::memcmp(a.raw(), b.raw(), a.nbytes()) != 0)) {
      std::fprintf(stderr, "fuzz finding: .npy round trip changed the tensor\n");
      std::abort();
    }
    for (size_t i = 0; i < 2; ++i) {
      try {
        const Array f = fit_input(inputs_graph(), i, a, "fuzz.npy", "run");
        if (i == 0 && index_range(inputs_graph(), 0) != 5) std::abort();
      } catch (const lowbit::ValueError&) {
      }
    }
  });
}
