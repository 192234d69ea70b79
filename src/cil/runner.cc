// The CIL experiment driver: class order, per-task evaluation, seeds and presets.
#include "lowbit/cil/runner.h"

#include <chrono>

#include "lowbit/core/rng.h"
#include "lowbit/data/dataset.h"

namespace lowbit::cil {
namespace {
constexpr uint64_t kQuantStream = 0x51554e54ULL;  // "QUNT": stochastic-rounding seeds per task
}

CilSetup prepare(const data::DatasetSplit& split, const CilConfig& cfg) {
  const int classes = split.train.num_classes;
  LOWBIT_REQUIRE(classes >= 2 && split.test.num_classes == classes, "cil", "data set '{}' needs >= 2 classes and the same "
                 "count in train and test (got {} and {})", split.train.name, classes, split.test.num_classes);
  LOWBIT_REQUIRE(cfg.classes_per_task >= 1 && cfg.classes_per_task < classes, "cil",
                 "classes per task must be in [1, {}) for {} classes, got {}", classes, classes, cfg.classes_per_task);
  const auto names = method_names();
  LOWBIT_REQUIRE(std::find(names.begin(), names.end(), cfg.method) != names.end(), "cil", "unknown method '{}'", cfg.method);
  if (method_has_memory(cfg.method))
    LOWBIT_REQUIRE(cfg.method_cfg.memory >= classes, "cil", "{} needs a memory of at least one exemplar per class ({}), got {}",
                   cfg.method, classes, cfg.method_cfg.memory);
  CilSetup s;
  s.order = class_order(classes, cfg.class_order_seed);
  s.tasks = split_tasks(s.order, cfg.classes_per_task);
  s.train = to_order_labels(split.train, s.order);
  s.test = to_order_labels(split.test, s.order);
  for (const Task& t : s.tasks) {
    s.test_seen.push_back(indices_in_range(s.test, 0, t.end));
    LOWBIT_REQUIRE(!indices_in_range(s.train, t.first, t.end).empty(), "cil", "task {} (classes {}) has no training samples",
                   s.test_seen.size(), fmt::join(t.classes, ","));
  }
  return s;
}

RunResult run_one(const CilSetup& setup, const CilConfig& cfg, const QuantSpec& quant, uint64_t seed,
                  const RunHooks& hooks) {
  (void)fqt::preset(quant);  // ValueError for an unknown preset or widths
  const Shape input = setup.train.sample_shape();
  ModelOps ops;
  ops.build = [&, seed](int64_t num_classes) {
    auto m = nn::build_model(cfg.model, input, num_classes);
    nn::init_parameters(*m, seed);
    fqt::apply_preset(*m, quant, mix_stream(mix_stream(seed, kQuantStream), 0));
    return m;
  };
  ops.requantize = [&, seed](nn::Classifier& m, int task) {
    fqt::apply_preset(m, quant, mix_stream(mix_stream(seed, kQuantStream), static_cast<uint64_t>(task)));
  };
  MethodConfig mc = cfg.method_cfg;
  mc.train.seed = seed;
  mc.label = fmt::format("{} seed {} ", quant.preset, seed);
  auto method = make_method(cfg.method, mc, ops);

  RunResult r;
  r.preset = quant.preset;
  r.seed = seed;
  if (hooks.restore) {
    if (std::optional<RunResult> before = hooks.restore(quant.preset, seed, *method)) {
      LOWBIT_REQUIRE(before->head.num_tasks() == method->tasks_done() && before->preset == r.preset && before->seed == seed,
                     "cil::run_one", "a restored {} seed {} holds {} results of {} tasks done", before->preset,
                     before->seed, before->head.num_tasks(), method->tasks_done());
      r = std::move(*before);
    }
  }
  for (int t = method->tasks_done(); t < static_cast<int>(setup.tasks.size()); ++t) {
    const auto t0 = std::chrono::steady_clock::now();
    method->train_task(setup.train, setup.tasks, t);
    const std::vector<int64_t>& idx = setup.test_seen[static_cast<size_t>(t)];
    const Tensor inputs = data::gather_rows(setup.test.inputs, idx);
    const Tensor labels = data::gather_rows(setup.test.labels, idx);
    const Prediction p = method->predict(inputs);
    record_task(r.head, p.head, labels, setup.tasks);
    if (p.nme.defined()) record_task(r.nme, p.nme, labels, setup.tasks);
    r.task_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (hooks.on_task && !hooks.on_task(r, t, *method)) {
      r.stopped = true;
      if (t + 1 < static_cast<int>(setup.tasks.size())) return r;
    }
  }
  if (hooks.on_model) hooks.on_model(r, *method);
  return r;
}

std::vector<RunResult> run_all(const CilSetup& setup, const CilConfig& cfg, const std::vector<QuantSpec>& presets,
                               const std::vector<uint64_t>& seeds, const std::vector<RunResult>& done,
                               const std::function<void(const RunResult&)>& on_run, const RunHooks& hooks) {
  for (const QuantSpec& q : presets) (void)fqt::preset(q);  // fail before hours of training
  std::vector<RunResult> out;
  for (uint64_t seed : seeds) {
    for (const QuantSpec& q : presets) {
      const auto prev = std::find_if(done.begin(), done.end(),
                                     [&](const RunResult& d) { return d.preset == q.preset && d.seed == seed; });
      if (prev != done.end()) {
        out.push_back(*prev);
        continue;
      }
      out.push_back(run_one(setup, cfg, q, seed, hooks));
      const bool complete = out.back().head.num_tasks() == static_cast<int>(setup.tasks.size());
      if (complete && on_run) on_run(out.back());
      if (out.back().stopped) return out;
    }
  }
  return out;
}

Summary summarize(const std::vector<const AccuracyMatrix*>& runs) {
  Summary s;
  if (runs.empty()) return s;
  std::vector<double> avg, fin, fgt;
  const int tasks = runs.front()->num_tasks();
  s.seen_per_run.assign(static_cast<size_t>(tasks), {});
  for (const AccuracyMatrix* m : runs) {
    LOWBIT_REQUIRE(m->num_tasks() == tasks, "cil::summarize", "runs disagree on the task count ({} vs {})", m->num_tasks(), tasks);
    avg.push_back(average_incremental_accuracy(*m));
    fin.push_back(final_accuracy(*m));
    fgt.push_back(forgetting(*m));
    for (int t = 0; t < tasks; ++t) s.seen_per_run[static_cast<size_t>(t)].push_back(m->seen[static_cast<size_t>(t)]);
  }
  s.avg_incremental_accuracy = mean_std(avg);
  s.final_accuracy = mean_std(fin);
  s.forgetting = mean_std(fgt);
  for (const auto& v : s.seen_per_run) s.seen.push_back(mean_std(v));
  return s;
}

}  // namespace lowbit::cil
