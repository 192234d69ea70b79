// ONNX classifier evaluation for `lowbit eval model.onnx` (see eval_onnx.h).
#include "eval_onnx.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "lowbit/core/error.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/ptq/evaluate.h"

namespace lowbit::app {

void add_onnx_eval_options(CLI::App& cmd, OnnxEvalArgs* a) {
  cmd.add_option("model", a->model, "ONNX classifier to evaluate (instead of --checkpoint)")->check(CLI::ExistingFile);
  cmd.add_option("--reference", a->reference, "ONNX model whose top-1 predictions to compare with (e.g. the fp32 model)")
      ->check(CLI::ExistingFile);
  cmd.add_option("--mean", a->mean, "per-channel mean subtracted after --scale")->delimiter(',');
  cmd.add_option("--std", a->std, "per-channel std divided by")->delimiter(',');
  a->scale_option = cmd.add_option("--scale", a->scale, "factor applied first to the loader's [0, 1] pixels")->capture_default_str();
  cmd.add_option("--dump-npy", a->dump_dir, "also write the preprocessed test split as inputs.npy and labels.npy, and "
                 "--dump-calib train samples as calib.npy, here (to score other engines on the same tensors)");
  cmd.add_option("--dump-calib", a->dump_calib, "train samples in calib.npy (every k-th)")->capture_default_str();
  cmd.add_option("--inputs", a->inputs_npy, "evaluate on this float32 .npy batch (already preprocessed) instead of a "
                 "data set")->check(CLI::ExistingFile);
  cmd.add_option("--labels", a->labels_npy, "int64 class ids of --inputs (.npy)")->check(CLI::ExistingFile);
  cmd.add_option("--batch", a->batch, "samples per run")->check(CLI::Range(1, 65536))->capture_default_str();
}

void run_onnx_eval(const OnnxEvalArgs& a, std::string dataset, const std::string& data_dir, const std::string& json) {
  const onnx::Graph model = onnx::load_model(a.model);
  // What the file records (lowbit export) applies unless a flag says otherwise.
  const ptq::ModelDataInfo info = ptq::model_data_info(model);
  if (!a.dataset_given && !info.dataset.empty()) dataset = info.dataset;
  ptq::Preprocess pre{a.mean, a.std, a.scale};
  if (a.mean.empty() && a.std.empty() && !a.scale_given && info.has_preprocess) pre = info.pre;
  onnx::Graph reference;
  if (!a.reference.empty()) reference = onnx::load_model(a.reference);
  LOWBIT_REQUIRE(a.inputs_npy.empty() == a.labels_npy.empty(), "eval", "--inputs and --labels go together");
  const ptq::LabelledSet data = a.inputs_npy.empty() ? ptq::load_test_split(dataset, data_dir, pre)
                                                     : ptq::load_labelled_npy(a.inputs_npy, a.labels_npy);
  if (!a.inputs_npy.empty()) dataset = a.inputs_npy;
  if (!a.dump_dir.empty()) {
    std::filesystem::create_directories(a.dump_dir);
    onnx::save_npy((std::filesystem::path(a.dump_dir) / "inputs.npy").string(), data.inputs);
    std::vector<int64_t> labels(data.labels.begin(), data.labels.end());
    onnx::save_npy((std::filesystem::path(a.dump_dir) / "labels.npy").string(),
                   onnx::Array::from<int64_t>({static_cast<int64_t>(labels.size())}, labels));
    // And a calibration batch from the train split (every k-th sample), preprocessed the same way.
    if (a.inputs_npy.empty())
      onnx::save_npy((std::filesystem::path(a.dump_dir) / "calib.npy").string(),
                     ptq::load_calibration(ptq::DataSource{dataset, data_dir, pre, a.dump_calib}, model).arrays.at(0));
  }
  ptq::EvalOptions opt;
  opt.batch = a.batch;
  opt.progress = [](int64_t done, int64_t total) {
    const int width = 40, filled = static_cast<int>(width * done / std::max<int64_t>(total, 1));
    std::fprintf(stderr, "\r[%s%s] %lld/%lld", std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(width - filled), ' ').c_str(), static_cast<long long>(done), static_cast<long long>(total));
    if (done == total) std::fprintf(stderr, "\n");
  };
  const ptq::EvalReport r = ptq::evaluate_classifier(model, data, a.reference.empty() ? nullptr : &reference, opt);
  std::printf("%s on %s test (%lld samples): top-1 %.4f  top-5 %.4f  (%.1f s in the model)\n", a.model.c_str(), dataset.c_str(),
              static_cast<long long>(r.samples), r.top1, r.top5, r.seconds);
  if (r.agreement >= 0)
    std::printf("reference %s: top-1 %.4f, agreement %.4f\n", a.reference.c_str(), r.reference_top1, r.agreement);
  if (json.empty()) return;
  nlohmann::json j{{"model", a.model}, {"dataset", dataset}, {"samples", r.samples}, {"top1", r.top1}, {"top5", r.top5}, {"seconds", r.seconds}};
  for (size_t c = 0; c < r.per_class.size(); ++c)
    j["per_class"].push_back({{"class", c < data.class_names.size() ? data.class_names[c] : std::to_string(c)},
                              {"accuracy", r.per_class[c]}, {"samples", r.per_class_count[c]}});
  if (r.agreement >= 0) j["reference"] = {{"model", a.reference}, {"top1", r.reference_top1}, {"agreement", r.agreement}};
  if (json == "-") std::cout << j.dump(2) << "\n";
  else std::ofstream(json) << j.dump(2) << "\n";
}

}  // namespace lowbit::app
