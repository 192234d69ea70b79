// libFuzzer target for the JSON the CLI reads back: the `<json>.partial` file of
// `lowbit cil --resume` (cil::parse_partial) and the metadata of classifier checkpoints
// (`lowbit eval`, `lowbit train --resume`: train::parse_classifier_meta and, for small shapes,
// train::build_classifier and the quantization preset it names), and the "lowbit.*"
// metadata_props of an exported classifier (ptq::parse_model_data_info: `lowbit eval/quantize
// model.onnx`). The first byte picks the reader (even: partial; 1 mod 4: checkpoint; 3 mod 4:
// model metadata, the text as lowbit.preprocess and lowbit.class_names); the rest is the JSON.
//   build/fuzz/fuzz/json_fuzz fuzz/corpus/json -dict=fuzz/json.dict   (see scripts/fuzz-all)
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "lowbit/cil/report.h"
#include "lowbit/core/tensor.h"
#include "lowbit/fqt/quant_config.h"
#include "lowbit/ptq/calib_data.h"
#include "lowbit/train/classifier_meta.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  return lowbit::fuzz::run_one([&] {
    using namespace lowbit;
    if (data[0] % 2 == 0) {
      // The fingerprint of fuzz/corpus/json/partial-*.json: a 2-task run.
      const nlohmann::json fp = {{"dataset", "fashion-mnist"}, {"tasks", 2}};
      (void)cil::parse_partial(text, "fuzz.partial", fp, 2);
      return;
    }
    if (data[0] % 4 == 3) {
      (void)ptq::parse_model_data_info({{"lowbit.preprocess", text}});
      (void)ptq::parse_model_data_info({{"lowbit.class_names", text}});
      return;
    }
    nn::Checkpoint ck;
    ck.meta_json = text;
    const train::ClassifierMeta meta = train::parse_classifier_meta(ck, "fuzz.ckpt");
    // Building is bounded by build_model's limits; keep it cheap for the fuzzer.
    if (shape_numel(meta.input_shape) > 256 || meta.num_classes > 16) return;
    auto model = train::build_classifier(meta);
    (void)fqt::preset(meta.quant_preset, meta.quant_bits, meta.quant_acc_bits);
  });
}
