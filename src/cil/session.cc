// A `lowbit cil` session: defaults, resumable run state and the reports.
#include "lowbit/cil/session.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "lowbit/cil/html_report.h"
#include "lowbit/cil/report.h"
#include "lowbit/cil/task_checkpoint.h"
#include "lowbit/core/threads.h"
#include "lowbit/data/io.h"
#include "lowbit/data/load.h"
#include "lowbit/nn/checkpoint.h"
#include "lowbit/train/classifier_meta.h"

namespace lowbit::cil {
namespace {

struct DatasetDefaults {
  std::string model;
  int classes_per_task;
  int64_t memory, epochs;
  float lr, weight_decay;
  int64_t batch_size;
};

// The --quant-set a data set's quantized presets get when none is given. DSADS: the fcnet's
// first layer takes its 405 min-max features as two 4-bit digits of a 7-bit code (docs/RESULTS.md:
// the 4-bit first-layer input is where HDQT lost 2.8 points; this closes it within 4/8).
std::string default_quant_set(const std::string& dataset) { return dataset == "dsads" ? "first.x=digits2" : ""; }

DatasetDefaults defaults_for(const std::string& dataset) {
  if (dataset == "dsads") return {"fcnet", 2, 200, 100, 0.01f, 5e-4f, 128};
  if (dataset == "cifar10") return {"resnet32", 2, 2000, 30, 0.05f, 2e-4f, 128};
  if (dataset == "cifar100") return {"resnet32", 20, 2000, 30, 0.05f, 2e-4f, 128};
  // lr 0.05 (train's default) diverges when a new task starts (fine-tuning, hdqt LwF): the MLP
  // has no normalization layers and the new classes' first gradients are large.
  return {"mlp", 2, 2000, 20, 0.01f, 5e-4f, 128};
}

// The first `n` training samples of every class (quick runs, e.g. CIFAR on a laptop).
data::Dataset first_per_class(const data::Dataset& ds, int64_t n) {
  std::vector<int64_t> taken(static_cast<size_t>(ds.num_classes), 0), idx;
  const Tensor labels = ds.labels.contiguous();
  for (int64_t i = 0; i < ds.size(); ++i)
    if (taken[static_cast<size_t>(labels.data<int32_t>()[i])]++ < n) idx.push_back(i);
  return ds.subset(idx);
}

void write_json(const std::string& path, const nlohmann::json& j) {  // atomic; "-" = stdout
  const std::string text = j.dump(2) + "\n";
  if (path == "-") {
    std::fputs(text.c_str(), stdout);
    return;
  }
  nn::write_file_atomic(path, text);
}

// Fails now, not after the first task's hours of training, when the partial file and the task
// checkpoints cannot be written next to the JSON report.
void require_writable(const std::string& json_path) {
  const std::string probe = json_path + ".partial.tmp";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0)
    throw IoError(fmt::format("[cil] cannot write the partial results and task checkpoints next to --json {} ({}: {})",
                              json_path, probe, std::strerror(errno)));
  ::close(fd);
  ::unlink(probe.c_str());
}

// The JSON report: the fingerprint, the tasks and, per preset, summaries and runs.
nlohmann::json report_json(const SessionOptions& opt, const CilConfig& cfg, const CilSetup& setup,
                           const std::vector<uint64_t>& seeds, const std::vector<RunResult>& runs,
                           const std::string& baseline, const CilEval& eval) {
  nlohmann::json j = fingerprint(opt, cfg);
  j["command"] = "cil";
  j["class_order"] = setup.order;
  nlohmann::json tasks = nlohmann::json::array();
  for (const auto& t : setup.tasks) tasks.push_back(t.classes);
  j["tasks"] = tasks;
  j["seeds"] = seeds;
  j["eval"] = opt.eval;
  j["threads"] = num_threads();
  j["schedule"] = cfg.method_cfg.train.schedule;
  j["presets"] = nlohmann::json::object();
  for (const auto& n : opt.presets) j["presets"][n] = preset_json(setup, runs_of(runs, n), eval);
  if (opt.presets.size() > 1) {
    j["baseline"] = baseline;
    j["degradation"] = degradation_json(runs, opt.presets, baseline, eval);
  }
  return j;
}

}  // namespace

std::string resolved_quant_set(const SessionOptions& opt) {
  return opt.quant_set.empty() ? default_quant_set(opt.dataset) : opt.quant_set;
}

CilConfig resolve_config(const SessionOptions& opt) {
  const DatasetDefaults d = defaults_for(opt.dataset);
  CilConfig cfg;
  cfg.method = opt.method;
  cfg.model = opt.model.empty() ? d.model : opt.model;
  cfg.classes_per_task = opt.classes_per_task > 0 ? opt.classes_per_task : d.classes_per_task;
  cfg.class_order_seed = opt.class_order_seed;
  MethodConfig& mc = cfg.method_cfg;
  mc.memory = opt.memory >= 0 ? opt.memory : d.memory;
  mc.temperature = opt.temperature;
  mc.train.optimizer = "sgd";
  mc.train.schedule = "cosine";
  mc.train.momentum = opt.momentum;
  mc.train.epochs = opt.epochs > 0 ? opt.epochs : d.epochs;
  mc.train.lr = opt.lr >= 0 ? opt.lr : d.lr;
  mc.train.weight_decay = opt.weight_decay >= 0 ? opt.weight_decay : d.weight_decay;
  mc.train.batch_size = opt.batch_size > 0 ? opt.batch_size : d.batch_size;
  mc.train.progress = !opt.quiet;
  return cfg;
}

nlohmann::json fingerprint(const SessionOptions& opt, const CilConfig& c) {
  const auto& t = c.method_cfg.train;
  return {{"dataset", opt.dataset}, {"data_dir", opt.data_dir}, {"method", c.method}, {"model", c.model},
          {"classes_per_task", c.classes_per_task}, {"class_order_seed", c.class_order_seed},
          {"memory", c.method_cfg.memory}, {"epochs", t.epochs}, {"lr", t.lr}, {"batch_size", t.batch_size},
          {"momentum", t.momentum}, {"weight_decay", t.weight_decay}, {"temperature", c.method_cfg.temperature},
          {"bits", opt.bits}, {"acc_bits", opt.acc_bits}, {"max_train_per_class", opt.max_train_per_class},
          {"quant_set", resolved_quant_set(opt)}, {"split", opt.split}};
}

std::vector<RunResult> load_partial(const std::string& path, const nlohmann::json& fp, size_t tasks) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return {};
  const data::Bytes bytes = data::read_file(path);
  return parse_partial({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, path, fp, tasks);
}

void run_session(const SessionOptions& opt) {
  const CilConfig cfg = resolve_config(opt);
  const MethodConfig& mc = cfg.method_cfg;
  CilEval eval{opt.eval != "nme", opt.eval != "head"};
  if (!method_has_memory(cfg.method)) {
    if (!eval.head)
      throw ValueError(fmt::format("[cil] --eval nme needs an exemplar memory; {} keeps none (use icarl or bic)", cfg.method));
    eval.nme = false;
  }
  LOWBIT_REQUIRE(!opt.presets.empty(), "cil", "no quantization preset to run");
  std::vector<QuantSpec> presets;
  for (const auto& n : opt.presets) {
    presets.push_back({n, opt.bits, opt.acc_bits, resolved_quant_set(opt)});
    (void)fqt::preset(presets.back());  // fail before loading data
  }
  const bool to_file = !opt.json.empty() && opt.json != "-";
  if (opt.resume && !to_file)
    throw ValueError("[cil] --resume needs --json FILE (the partial results live in FILE.partial)");
  if (opt.stop_after_tasks != 0 && (!to_file || opt.stop_after_tasks < 0))
    throw ValueError("[cil] --stop-after-tasks needs a count >= 1 and --json FILE (the task checkpoint to resume from)");
  if (to_file) require_writable(opt.json);

  data::DatasetOptions dopt;
  dopt.data_dir = opt.data_dir;
  LOWBIT_REQUIRE(opt.split == "subject" || opt.dataset == "dsads", "cil", "--split applies to dsads only, not {}", opt.dataset);
  dopt.split = opt.split;
  data::DatasetSplit split = data::load_dataset(opt.dataset, dopt);  // normalized with train statistics
  if (opt.max_train_per_class > 0) split.train = first_per_class(split.train, opt.max_train_per_class);
  const CilSetup setup = prepare(split, cfg);
  std::vector<uint64_t> seeds;
  for (int i = 0; i < opt.seeds; ++i) seeds.push_back(opt.seed + static_cast<uint64_t>(i));

  std::printf("%s on %s: %s, %zu tasks x %d classes, memory %lld, %lld epochs/task, lr %g, batch %lld, %d threads\n",
              cfg.method.c_str(), opt.dataset.c_str(), cfg.model.c_str(), setup.tasks.size(), cfg.classes_per_task,
              static_cast<long long>(mc.memory), static_cast<long long>(mc.train.epochs), mc.train.lr,
              static_cast<long long>(mc.train.batch_size), num_threads());
  std::string order;
  for (int c : setup.order) order += fmt::format("{}{} ({})", order.empty() ? "" : ", ", c, split.train.class_names.at(static_cast<size_t>(c)));
  std::printf("class order (seed %llu): %s\n", static_cast<unsigned long long>(cfg.class_order_seed), order.c_str());
  std::fflush(stdout);

  const nlohmann::json fp = fingerprint(opt, cfg);
  const std::string partial_path = to_file ? opt.json + ".partial" : "";
  std::vector<RunResult> done = opt.resume ? load_partial(partial_path, fp, setup.tasks.size()) : std::vector<RunResult>{};
  if (!done.empty()) std::fprintf(stderr, "resuming: %zu finished run(s) in %s\n", done.size(), partial_path.c_str());
  const auto ckpt_path = [&](const RunResult& r) { return task_checkpoint_path(opt.json, r.preset, r.seed); };
  std::error_code ec;
  for (const RunResult& r : done) std::filesystem::remove(ckpt_path(r), ec);  // a kill between partial and removal
  std::vector<RunResult> finished = done;
  const auto save_partial = [&](const RunResult& r) {
    if (partial_path.empty()) return;
    finished.push_back(r);
    nlohmann::json j = {{"format", "lowbit-cil-partial"}, {"version", 1}, {"config", fp}, {"runs", nlohmann::json::array()}};
    for (const auto& f : finished) j["runs"].push_back(run_to_json(f));
    write_json(partial_path, j);
    std::filesystem::remove(ckpt_path(r), ec);  // the partial file records the run now
  };
  RunHooks hooks;
  if (opt.resume) {
    hooks.restore = [&](const std::string& preset, uint64_t seed, Method& m) -> std::optional<RunResult> {
      const std::string path = task_checkpoint_path(opt.json, preset, seed);
      if (!std::filesystem::exists(path, ec)) return std::nullopt;
      RunResult r = restore_task_checkpoint(nn::load_checkpoint(path), path, fp, preset, seed, setup, m);
      std::fprintf(stderr, "resuming %s seed %llu after task %d/%zu from %s\n", preset.c_str(),
                   static_cast<unsigned long long>(seed), r.head.num_tasks(), setup.tasks.size(), path.c_str());
      return r;
    };
  }
  int trained = 0;  // tasks trained in this invocation (--stop-after-tasks)
  hooks.on_task = [&](const RunResult& r, int t, Method& m) {
    if (!opt.quiet) {
      std::string line = fmt::format("[{} seed {}] task {}/{}: seen-class accuracy {:.2f}%", r.preset, r.seed, t + 1,
                                     setup.tasks.size(), 100 * r.head.seen.back());
      if (r.nme.num_tasks() > 0) line += fmt::format(" (NME {:.2f}%)", 100 * r.nme.seen.back());
      std::fprintf(stderr, "%s, %.1f s\n", line.c_str(), r.task_seconds.back());
    }
    if (to_file && t + 1 < static_cast<int>(setup.tasks.size())) save_task_checkpoint(ckpt_path(r), fp, r, setup.tasks.size(), m);
    return !(opt.stop_after_tasks > 0 && ++trained >= opt.stop_after_tasks);
  };
  hooks.on_model = [&](const RunResult& r, Method& m) {
    if (opt.out_dir.empty()) return;
    nn::Classifier& model = m.model();
    LOWBIT_REQUIRE(model.num_classes() == static_cast<int64_t>(setup.order.size()), "cil",
                   "the final head has {} classes, the class order {}", model.num_classes(), setup.order.size());
    train::ClassifierMeta meta = train::classifier_meta(model, split, opt.dataset);
    meta.seed = r.seed;
    meta.quant_preset = r.preset, meta.quant_bits = opt.bits, meta.quant_acc_bits = opt.acc_bits;
    nn::Checkpoint ck;
    ck.meta_json = train::to_json(meta);
    nn::add_module_state(ck, model);
    // Head row i scores class order[i]; a checkpoint scores global class ids, as `lowbit train`'s.
    for (auto& [name, t] : ck.tensors) {
      if (name != "model.fc.weight" && name != "model.fc.bias") continue;
      const Tensor src = t.contiguous();
      Tensor dst = Tensor::zeros(src.shape());
      const int64_t row = src.numel() / src.size(0);
      for (size_t i = 0; i < setup.order.size(); ++i)
        std::copy_n(src.data<float>() + static_cast<int64_t>(i) * row, row, dst.data<float>() + setup.order[i] * row);
      t = dst;
    }
    std::filesystem::create_directories(opt.out_dir);
    nn::save_checkpoint((std::filesystem::path(opt.out_dir) / fmt::format("{}-seed{}.ckpt", r.preset, r.seed)).string(), ck);
  };
  const std::vector<RunResult> runs = run_all(setup, cfg, presets, seeds, done, save_partial, hooks);
  const bool all_done = runs.size() == seeds.size() * presets.size() &&
                        runs.back().head.num_tasks() == static_cast<int>(setup.tasks.size());
  if (!all_done) {
    std::printf("stopped after %d task(s) (--stop-after-tasks); continue with --resume\n", trained);
    return;
  }

  std::printf("\n");
  for (const auto& n : opt.presets) std::printf("%s\n", task_table(setup, runs_of(runs, n), eval).c_str());
  const auto& names = opt.presets;
  const std::string baseline = std::find(names.begin(), names.end(), "fp32") != names.end() ? "fp32" : names.front();
  if (names.size() > 1) std::printf("%s", compare_table(runs, names, baseline, eval).c_str());
  if (!opt.json.empty()) write_json(opt.json, report_json(opt, cfg, setup, seeds, runs, baseline, eval));
  if (!opt.report.empty()) {
    HtmlReportInfo info{fmt::format("{} on {} ({})", cfg.method, opt.dataset, cfg.model),
                        fmt::format("{} tasks x {} classes, memory {}, {} epochs/task, lr {:g}, batch {}, seeds {}..{}",
                                    setup.tasks.size(), cfg.classes_per_task, mc.memory, mc.train.epochs, mc.train.lr,
                                    mc.train.batch_size, seeds.front(), seeds.back()),
                        names, baseline, eval};
    nn::write_file_atomic(opt.report, html_report(info, runs));
  }
}

}  // namespace lowbit::cil
