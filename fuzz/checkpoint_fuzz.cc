// libFuzzer target for training checkpoints (`lowbit train --resume`, `lowbit eval`) and the
// task checkpoints of `lowbit cil --resume`: bytes -> parse_checkpoint (src/nn/checkpoint.cc) ->
// restore_training_state (src/train/checkpointing.cc: metadata JSON, every parameter's
// name/shape/dtype) into a tiny fcnet with SGD, or, with bit 1 of the first byte set,
// cil::restore_task_checkpoint (src/cil/task_checkpoint.cc: fingerprint, results, model,
// quantizer state, exemplar memory, BiC corrections) into the run of cil_task_fixture.h. With
// the first byte odd the CRC at the end is recomputed first, so mutations reach the records
// behind it instead of stopping at the CRC check.
//   build/fuzz/fuzz/checkpoint_fuzz fuzz/corpus/checkpoint   (see scripts/fuzz-all)
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "cil_task_fixture.h"
#include "fuzz_util.h"
#include "lowbit/cil/task_checkpoint.h"
#include "lowbit/nn/checkpoint.h"
#include "lowbit/nn/models.h"
#include "lowbit/nn/optim.h"
#include "lowbit/train/trainer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 1 && bytes.size() >= 4) {
    const auto crc = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size() - 4)));
    std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
  }
  return lowbit::fuzz::run_one([&] {
    using namespace lowbit;
    const nn::Checkpoint ck = nn::parse_checkpoint(bytes, "fuzz.ckpt");
    if (data[0] & 2) {
      static const fuzz::CilTaskFixture fx = fuzz::cil_task_fixture();
      const auto method = fx.fresh_method();
      (void)cil::restore_task_checkpoint(ck, "fuzz.ckpt", fx.fingerprint, fx.quant.preset, fx.seed, fx.setup, *method);
      return;
    }
    auto model = nn::build_model("fcnet", {4}, 3);  // the shape of fuzz/corpus/checkpoint seeds
    nn::Sgd opt(model->named_parameters(), nn::SgdOptions{});
    (void)train::restore_training_state(ck, "fuzz.ckpt", *model, opt);
  });
}
