// `lowbit tune model.onnx`: inter-op x intra-op threads from the graph and the topology, with
// the reasoning printed, then measured against a neighbourhood and the paper's two baselines.
#include <cstdio>
#include <fstream>

#include "command.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/paradnn/tune.h"

namespace lowbit::app {
namespace {

void setup_tune(CLI::App& cmd) {
  auto model = std::make_shared<std::string>();
  auto json = std::make_shared<std::string>();
  auto o = std::make_shared<paradnn::TuneOptions>();
  cmd.add_option("model", *model, "model.onnx")->required()->check(CLI::ExistingFile);
  cmd.add_option("--batch", o->batch, "batch for a symbolic batch dimension")->check(CLI::Range(1, 1 << 16))->capture_default_str();
  cmd.add_option("--cores", o->cores, "physical cores to plan for (default: all)")->check(CLI::Range(1, 4096));
  cmd.add_option("--min-time", o->min_time, "timed seconds per candidate")->check(CLI::Range(0.0, 600.0))->capture_default_str();
  cmd.add_option("--json", *json, "write graph, recommended, measured[], chosen, baselines here");
  cmd.callback([=] {
    std::printf("tuning %s at batch %lld\n", model->c_str(), static_cast<long long>(o->batch));
    const nlohmann::json j = paradnn::tune(onnx::load_model(*model), *o, stdout);
    if (!json->empty()) std::ofstream(*json) << j.dump(1) << "\n";
  });
}

}  // namespace

LOWBIT_COMMAND("tune", "recommend and measure inter-op x intra-op threads for an ONNX model", setup_tune);

}  // namespace lowbit::app
