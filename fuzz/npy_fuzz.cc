// libFuzzer target for the tensor files `lowbit run` reads: NumPy .npy (parse_npy) and ONNX
// TensorProto .pb (parse_tensor_pb, the backend test data format). The first byte picks the
// parser. A tensor that parses must survive encode_npy -> parse_npy unchanged (same type,
// shape and bytes), so a parser that accepts garbage silently is a finding too.
//   build/fuzz/fuzz/npy_fuzz fuzz/corpus/npy -dict=fuzz/npy.dict   (see scripts/fuzz-all)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "fuzz_util.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/npy.h"

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
  });
}
