// `lowbit cil`: class-incremental learning (iCaRL, BiC, LwF, fine-tuning, joint) on a data set,
// optionally for several quantization presets on the same class order and seeds (--compare),
// with per-task tables, a mean ± std summary, a JSON report and resumable multi-run sessions.
//
// Defaults per data set (any option given on the command line wins):
//   data set       model     classes/task  memory  epochs/task  lr    batch  weight decay
//   fashion-mnist  mlp       2 (5 tasks)   2000    20           0.01  128    5e-4    (sized for `make run`)
//   dsads          fcnet     2 (10 tasks)  200     100          0.01  128    5e-4    (the spec's HAR setting)
//   cifar10        resnet32  2 (5 tasks)   2000    30           0.05  128    2e-4
//   cifar100       resnet32  20 (5 tasks)  2000    30           0.05  128    2e-4
// Every task trains with SGD (momentum 0.9) and a cosine schedule over its epochs. The CIFAR
// epoch counts are far below the reference's 170, to fit a CPU.
#include <cstdio>
#include <filesystem>

#include "cil_report.h"
#include "command.h"
#include "lowbit/cil/runner.h"
#include "lowbit/core/threads.h"
#include "lowbit/data/io.h"
#include "lowbit/data/load.h"
#include "train_common.h"

namespace lowbit::app {
namespace {

struct DatasetDefaults {
  std::string model;
  int classes_per_task;
  int64_t memory, epochs;
  float lr, weight_decay;
  int64_t batch_size;
};

DatasetDefaults defaults_for(const std::string& dataset) {
  if (dataset == "dsads") return {"fcnet", 2, 200, 100, 0.01f, 5e-4f, 128};
  if (dataset == "cifar10") return {"resnet32", 2, 2000, 30, 0.05f, 2e-4f, 128};
  if (dataset == "cifar100") return {"resnet32", 20, 2000, 30, 0.05f, 2e-4f, 128};
  // lr 0.05 (train's default) diverges when a new task starts (fine-tuning, hdqt LwF): the MLP
  // has no normalization layers and the new classes' first gradients are large.
  return {"mlp", 2, 2000, 20, 0.01f, 5e-4f, 128};
}

struct CilArgs {
  std::string dataset = "fashion-mnist", data_dir, method = "icarl", model, quant = "fp32", eval = "both", json;
  std::vector<std::string> compare;
  int bits = 0, acc_bits = 0, classes_per_task = 0, seeds = 1, threads = 0;
  int64_t memory = -1, epochs = 0, batch_size = 0, max_train_per_class = 0;
  float lr = -1, weight_decay = -1, momentum = 0.9f, temperature = 2.0f;
  uint64_t seed = 0, class_order_seed = 1993;
  bool resume = false, quiet = false;
};

// Everything that changes a run's numbers except the preset list and the seeds: a partial file
// written under other settings must not be resumed.
nlohmann::json fingerprint(const CilArgs& a, const cil::CilConfig& c) {
  const auto& t = c.method_cfg.train;
  return {{"dataset", a.dataset}, {"data_dir", a.data_dir}, {"method", c.method}, {"model", c.model},
          {"classes_per_task", c.classes_per_task}, {"class_order_seed", c.class_order_seed},
          {"memory", c.method_cfg.memory}, {"epochs", t.epochs}, {"lr", t.lr}, {"batch_size", t.batch_size},
          {"momentum", t.momentum}, {"weight_decay", t.weight_decay}, {"temperature", c.method_cfg.temperature},
          {"bits", a.bits}, {"acc_bits", a.acc_bits}, {"max_train_per_class", a.max_train_per_class}};
}

std::vector<cil::RunResult> load_partial(const std::string& path, const nlohmann::json& fp, size_t tasks) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return {};
  const data::Bytes bytes = data::read_file(path);
  return parse_partial({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, path, fp, tasks);
}

// The first `n` training samples of every class (quick runs, e.g. CIFAR on a laptop).
data::Dataset first_per_class(const data::Dataset& ds, int64_t n) {
  std::vector<int64_t> taken(static_cast<size_t>(ds.num_classes), 0), idx;
  const Tensor labels = ds.labels.contiguous();
  for (int64_t i = 0; i < ds.size(); ++i)
    if (taken[static_cast<size_t>(labels.data<int32_t>()[i])]++ < n) idx.push_back(i);
  return ds.subset(idx);
}

void run_cil(CilArgs& a) {
  const DatasetDefaults d = defaults_for(a.dataset);
  cil::CilConfig cfg;
  cfg.method = a.method;
  cfg.model = a.model.empty() ? d.model : a.model;
  cfg.classes_per_task = a.classes_per_task > 0 ? a.classes_per_task : d.classes_per_task;
  cfg.class_order_seed = a.class_order_seed;
  cil::MethodConfig& mc = cfg.method_cfg;
  mc.memory = a.memory >= 0 ? a.memory : d.memory;
  mc.temperature = a.temperature;
  mc.train.optimizer = "sgd";
  mc.train.schedule = "cosine";
  mc.train.momentum = a.momentum;
  mc.train.epochs = a.epochs > 0 ? a.epochs : d.epochs;
  mc.train.lr = a.lr >= 0 ? a.lr : d.lr;
  mc.train.weight_decay = a.weight_decay >= 0 ? a.weight_decay : d.weight_decay;
  mc.train.batch_size = a.batch_size > 0 ? a.batch_size : d.batch_size;
  mc.train.progress = !a.quiet;

  CilEval eval{a.eval != "nme", a.eval != "head"};
  if (!cil::method_has_memory(cfg.method)) {
    if (!eval.head)
      throw ValueError(fmt::format("[cil] --eval nme needs an exemplar memory; {} keeps none (use icarl or bic)", cfg.method));
    eval.nme = false;
  }
  std::vector<std::string> names = a.compare.empty() ? std::vector<std::string>{a.quant} : a.compare;
  std::vector<cil::QuantSpec> presets;
  for (const auto& n : names) {
    presets.push_back({n, a.bits, a.acc_bits});
    cil::check_quant_spec(presets.back());
  }
  if (a.resume && (a.json.empty() || a.json == "-"))
    throw ValueError("[cil] --resume needs --json FILE (the partial results live in FILE.partial)");

  data::DatasetSplit split = load_split(a.dataset, a.data_dir);
  if (a.max_train_per_class > 0) split.train = first_per_class(split.train, a.max_train_per_class);
  const cil::CilSetup setup = cil::prepare(split, cfg);
  std::vector<uint64_t> seeds;
  for (int i = 0; i < a.seeds; ++i) seeds.push_back(a.seed + static_cast<uint64_t>(i));

  std::printf("%s on %s: %s, %zu tasks x %d classes, memory %lld, %lld epochs/task, lr %g, batch %lld, %d threads\n",
              cfg.method.c_str(), a.dataset.c_str(), cfg.model.c_str(), setup.tasks.size(), cfg.classes_per_task,
              static_cast<long long>(mc.memory), static_cast<long long>(mc.train.epochs), mc.train.lr,
              static_cast<long long>(mc.train.batch_size), num_threads());
  std::string order;
  for (int c : setup.order) order += fmt::format("{}{} ({})", order.empty() ? "" : ", ", c, split.train.class_names.at(static_cast<size_t>(c)));
  std::printf("class order (seed %llu): %s\n", static_cast<unsigned long long>(cfg.class_order_seed), order.c_str());
  std::fflush(stdout);

  const nlohmann::json fp = fingerprint(a, cfg);
  const std::string partial_path = a.json.empty() || a.json == "-" ? "" : a.json + ".partial";
  std::vector<cil::RunResult> done = a.resume ? load_partial(partial_path, fp, setup.tasks.size()) : std::vector<cil::RunResult>{};
  if (!done.empty()) std::fprintf(stderr, "resuming: %zu finished run(s) in %s\n", done.size(), partial_path.c_str());
  std::vector<cil::RunResult> finished = done;
  const auto save_partial = [&](const cil::RunResult& r) {
    if (partial_path.empty()) return;
    finished.push_back(r);
    nlohmann::json j = {{"format", "lowbit-cil-partial"}, {"version", 1}, {"config", fp}, {"runs", nlohmann::json::array()}};
    for (const auto& f : finished) j["runs"].push_back(run_to_json(f));
    write_json(partial_path, j);
  };
  const auto on_task = [&](const cil::RunResult& r, int t) {
    if (a.quiet) return;
    std::string line = fmt::format("[{} seed {}] task {}/{}: seen-class accuracy {:.2f}%", r.preset, r.seed, t + 1,
                                   setup.tasks.size(), 100 * r.head.seen.back());
    if (r.nme.num_tasks() > 0) line += fmt::format(" (NME {:.2f}%)", 100 * r.nme.seen.back());
    std::fprintf(stderr, "%s, %.1f s\n", line.c_str(), r.task_seconds.back());
  };
  const std::vector<cil::RunResult> runs = cil::run_all(setup, cfg, presets, seeds, done, save_partial, on_task);

  std::printf("\n");
  for (const auto& n : names) std::printf("%s\n", task_table(setup, runs_of(runs, n), eval).c_str());
  const std::string baseline =
      std::find(names.begin(), names.end(), "fp32") != names.end() ? std::string("fp32") : names.front();
  if (names.size() > 1) std::printf("%s", compare_table(runs, names, baseline, eval).c_str());

  if (!a.json.empty()) {
    nlohmann::json j = fp;
    j["command"] = "cil";
    j["class_order"] = setup.order;
    nlohmann::json tasks = nlohmann::json::array();
    for (const auto& t : setup.tasks) tasks.push_back(t.classes);
    j["tasks"] = tasks;
    j["seeds"] = seeds;
    j["eval"] = a.eval;
    j["threads"] = num_threads();
    j["schedule"] = mc.train.schedule;
    j["presets"] = nlohmann::json::object();
    for (const auto& n : names) j["presets"][n] = preset_json(setup, runs_of(runs, n), eval);
    if (names.size() > 1) {
      j["baseline"] = baseline;
      j["degradation"] = degradation_json(runs, names, baseline, eval);
    }
    write_json(a.json, j);
  }
}

void setup_cil(CLI::App& cmd) {
  auto a = std::make_shared<CilArgs>();
  std::vector<std::string> presets = cil::quant_preset_names();
  cmd.add_option("--dataset", a->dataset, "data set")->check(CLI::IsMember(data::dataset_names()))->capture_default_str();
  cmd.add_option("--data-dir", a->data_dir, "folder holding the data set (default: its standard place)");
  cmd.add_option("--method", a->method, "CIL method")->check(CLI::IsMember(cil::method_names()))->capture_default_str();
  cmd.add_option("--model", a->model, "network (default per data set: mlp, fcnet, resnet32)")
      ->check(CLI::IsMember(nn::model_names()));
  auto* quant = cmd.add_option("--quant", a->quant, "quantization preset")->check(CLI::IsMember(presets))->capture_default_str();
  cmd.add_option("--compare", a->compare, "run several presets on the same class order and seeds, e.g. fp32,hdqt,naive-int")
      ->delimiter(',')->check(CLI::IsMember(presets))->excludes(quant);
  cmd.add_option("--bits", a->bits, "operand bits of the quantized presets (default: the preset's)")->check(CLI::Range(2, 8));
  cmd.add_option("--acc-bits", a->acc_bits, "accumulator bits of the quantized presets (default: the preset's)")
      ->check(CLI::Range(2, 32));
  cmd.add_option("--classes-per-task", a->classes_per_task, "new classes per task (default per data set)")
      ->check(CLI::Range(1, 1000));
  cmd.add_option("--memory", a->memory, "total exemplars (icarl, bic; default per data set)")->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd.add_option("--epochs", a->epochs, "epochs per task (default per data set)")->check(CLI::Range(1, 100000));
  cmd.add_option("--lr", a->lr, "SGD learning rate (default per data set)")->check(CLI::Range(0.0, 100.0));
  cmd.add_option("--batch-size", a->batch_size, "mini-batch size (default 128)")->check(CLI::Range(1, 1 << 20));
  cmd.add_option("--momentum", a->momentum, "SGD momentum")->check(CLI::Range(0.0, 0.999))->capture_default_str();
  cmd.add_option("--weight-decay", a->weight_decay, "L2 weight decay (default per data set)")->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--temperature", a->temperature, "distillation temperature")->check(CLI::Range(0.1, 100.0))->capture_default_str();
  cmd.add_option("--max-train-per-class", a->max_train_per_class, "use only the first N training samples of each class (0: all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd.add_option("--seeds", a->seeds, "number of seeds (runs --seed, --seed+1, ...)")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd.add_option("--seed", a->seed, "first seed (initialization, head growth, shuffling, stochastic rounding)")->capture_default_str();
  cmd.add_option("--class-order-seed", a->class_order_seed, "seed of the class order (same for every run)")->capture_default_str();
  cmd.add_option("--eval", a->eval, "classifier reported: linear head, nearest mean of exemplars, or both")
      ->check(CLI::IsMember({"head", "nme", "both"}))->capture_default_str();
  cmd.add_option("--json", a->json, "write the JSON report here ('-' for stdout)");
  cmd.add_flag("--resume", a->resume, "reuse the finished (preset, seed) runs recorded in <json>.partial");
  cmd.add_flag("--quiet", a->quiet, "no progress output");
  add_threads_option(cmd, &a->threads);
  cmd.callback([a] { run_cil(*a); });
}

}  // namespace

LOWBIT_COMMAND("cil", "class-incremental learning (iCaRL, BiC, LwF, fine-tuning, joint) with quantized presets", setup_cil);

}  // namespace lowbit::app
