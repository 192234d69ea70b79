// `lowbit export --checkpoint model.ckpt --out model.onnx [--qdq]`: a classifier checkpoint of
// `lowbit train` as ONNX (src/interop/export.h): fp32 with the data set's preprocessing in
// metadata_props, or QDQ at the training precision for integer-trained checkpoints.
#include <cstdio>

#include "command.h"
#include "lowbit/interop/export.h"
#include "lowbit/nn/checkpoint.h"
#include "lowbit/onnx/exporter.h"
#include "train_common.h"

namespace lowbit::app {
namespace {

struct ExportArgs {
  std::string checkpoint, out, json;
  interop::ExportOptions opt;
};

void run_export(const ExportArgs& a) {
  interop::ExportReport rep;
  const onnx::Graph g = interop::export_checkpoint(a.checkpoint, a.opt, &rep);
  nn::write_file_atomic(a.out, onnx::export_model_bytes(g));  // whole or not at all
  std::printf("%s: %s on %s (%lld classes, trained %s) -> %s%s\n", a.checkpoint.c_str(), rep.model.c_str(),
              rep.dataset.c_str(), static_cast<long long>(rep.num_classes), rep.quant.c_str(), a.out.c_str(),
              a.opt.qdq ? " (QDQ)" : "");
  for (const auto& l : rep.layers)
    std::printf("  %-12s %-5s %d-bit  weight scale %.6g  input scale %.6g (%s)\n", l.node.c_str(), l.op.c_str(), l.bits,
                l.weight_scale, l.input_scale, l.input_unsigned ? "unsigned" : "signed");
  if (a.json.empty()) return;
  nlohmann::json j{{"checkpoint", a.checkpoint}, {"out", a.out},         {"model", rep.model},
                   {"dataset", rep.dataset},     {"quant", rep.quant},   {"qdq", a.opt.qdq},
                   {"num_classes", rep.num_classes}};
  for (const auto& l : rep.layers)
    j["layers"].push_back({{"node", l.node}, {"op", l.op}, {"bits", l.bits}, {"weight_scale", l.weight_scale},
                           {"input_scale", l.input_scale}, {"input_unsigned", l.input_unsigned}});
  write_json(a.json, j);
}

void setup_export(CLI::App& cmd) {
  auto a = std::make_shared<ExportArgs>();
  cmd.add_option("--checkpoint", a->checkpoint, "checkpoint written by `lowbit train --out`")
      ->required()->check(CLI::ExistingFile);
  cmd.add_option("--out", a->out, "ONNX model to write")->required();
  cmd.add_flag("--qdq", a->opt.qdq, "QDQ at the training precision (checkpoints trained with --quant hdqt|naive-int|int8)");
  cmd.add_option("--data-dir", a->opt.data_dir, "folder of the checkpoint's data set (--qdq calibration)");
  cmd.add_option("--calib-count", a->opt.calib_samples, "train samples for the activation scales (--qdq)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24))->capture_default_str();
  cmd.add_option("--calib-batch", a->opt.calib_batch, "batch of the per-batch maxima (the training batch size)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  cmd.add_option("--json", a->json, "write a JSON summary here ('-' for stdout)");
  cmd.callback([a] { run_export(*a); });
}

}  // namespace

LOWBIT_COMMAND("export", "write a trained checkpoint as an ONNX model (fp32, or QDQ at its training precision)", setup_export);

}  // namespace lowbit::app
