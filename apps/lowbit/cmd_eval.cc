// `lowbit eval`: a checkpoint of `lowbit train` on a data set's test split, with the arithmetic
// (quantization preset) it was trained with; or an ONNX classifier (eval_onnx.h).
#include <cstdio>

#include "command.h"
#include "eval_onnx.h"
#include "lowbit/core/threads.h"
#include "lowbit/data/load.h"
#include "lowbit/fqt/quant_config.h"
#include "lowbit/train/classifier_meta.h"
#include "lowbit/train/trainer.h"
#include "train_common.h"

namespace lowbit::app {
namespace {

struct EvalArgs {
  std::string checkpoint, dataset = "fashion-mnist", data_dir, json;
  int threads = 0;
};

void run_eval(const EvalArgs& a) {
  const nn::Checkpoint ck = nn::load_checkpoint(a.checkpoint);
  const train::ClassifierMeta meta = train::parse_classifier_meta(ck, a.checkpoint);
  auto model = train::build_classifier(meta);
  nn::load_module_state(ck, *model, a.checkpoint);
  fqt::apply_preset(*model, {meta.quant_preset, meta.quant_bits, meta.quant_acc_bits, {}}, meta.seed);
  data::DatasetSplit split = load_split(a.dataset, a.data_dir);
  if (split.test.sample_shape() != meta.input_shape || split.test.num_classes != model->num_classes())
    throw ValueError(fmt::format("[eval] {} expects input {} with {} classes; {} has {} with {}", a.checkpoint,
                                 shape_str(meta.input_shape), model->num_classes(), a.dataset,
                                 shape_str(split.test.sample_shape()), split.test.num_classes));
  const train::EvalResult r = train::evaluate(*model, split.test);
  std::printf("test accuracy %.4f (loss %.4f) on %lld images\n", r.accuracy, r.loss, static_cast<long long>(r.samples));
  if (!a.json.empty()) {
    write_json(a.json, {{"model", meta.model}, {"dataset", a.dataset}, {"checkpoint", a.checkpoint},
                        {"test_accuracy", r.accuracy}, {"test_loss", r.loss}, {"samples", r.samples},
                        {"threads", num_threads()}});
  }
}

void setup_eval(CLI::App& cmd) {
  auto a = std::make_shared<EvalArgs>();
  cmd.add_option("--checkpoint", a->checkpoint, "checkpoint written by `lowbit train --out`")->check(CLI::ExistingFile);
  auto onnx_args = std::make_shared<OnnxEvalArgs>();
  add_onnx_eval_options(cmd, onnx_args.get());
  auto* dataset = cmd.add_option("--dataset", a->dataset, "data set (ONNX: default from the model's metadata)")
                      ->check(CLI::IsMember(data::dataset_names()))->capture_default_str();
  cmd.add_option("--data-dir", a->data_dir, "folder holding the data set files");
  cmd.add_option("--json", a->json, "write a JSON summary here ('-' for stdout)");
  add_threads_option(cmd, &a->threads);
  cmd.callback([a, onnx_args, dataset] {
    onnx_args->dataset_given = dataset->count() > 0;
    onnx_args->scale_given = onnx_args->scale_option->count() > 0;
    if (!onnx_args->model.empty()) return run_onnx_eval(*onnx_args, a->dataset, a->data_dir, a->json);
    LOWBIT_REQUIRE(!a->checkpoint.empty(), "eval", "give --checkpoint or an ONNX model file");
    run_eval(*a);
  });
}

}  // namespace

LOWBIT_COMMAND("eval", "evaluate a checkpoint or an ONNX classifier on a data set's test split", setup_eval);

}  // namespace lowbit::app
