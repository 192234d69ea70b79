// Text tables and JSON of class-incremental runs.
#include "lowbit/cil/report.h"

#include <fmt/format.h>

#include "lowbit/core/error.h"

namespace lowbit::cil {
namespace {

nlohmann::json matrix_json(const AccuracyMatrix& m) {
  return {{"seen_accuracy", m.seen}, {"accuracy_matrix", m.per_task}};
}

AccuracyMatrix matrix_from(const nlohmann::json& j) {
  AccuracyMatrix m;
  m.seen = j.at("seen_accuracy").get<std::vector<double>>();
  m.per_task = j.at("accuracy_matrix").get<std::vector<std::vector<double>>>();
  return m;
}

nlohmann::json ms(const MeanStd& v) { return {{"mean", v.mean}, {"std", v.std}}; }

std::string pct(const MeanStd& v) { return fmt::format("{:6.2f} ± {:4.2f}", 100 * v.mean, 100 * v.std); }

double seconds_per_run(const std::vector<const RunResult*>& runs) {
  double s = 0;
  for (const auto* r : runs)
    for (double t : r->task_seconds) s += t;
  return runs.empty() ? 0.0 : s / static_cast<double>(runs.size());
}

Summary summary(const std::vector<const RunResult*>& runs, bool nme) {
  std::vector<const AccuracyMatrix*> ms_;
  for (const auto* r : runs) ms_.push_back(nme ? &r->nme : &r->head);
  return summarize(ms_);
}

bool has_nme(const std::vector<const RunResult*>& runs) {
  return !runs.empty() && runs.front()->nme.num_tasks() > 0;
}

nlohmann::json metric_json(const CilSetup& setup, const std::vector<const RunResult*>& runs, bool nme) {
  const Summary s = summary(runs, nme);
  nlohmann::json j;
  j["avg_incremental_accuracy"] = ms(s.avg_incremental_accuracy);
  j["final_accuracy"] = ms(s.final_accuracy);
  j["forgetting"] = ms(s.forgetting);
  nlohmann::json tasks = nlohmann::json::array();
  for (size_t t = 0; t < s.seen.size(); ++t)
    tasks.push_back({{"task", t + 1}, {"classes", setup.tasks[t].classes}, {"accuracy", ms(s.seen[t])},
                     {"per_seed", s.seen_per_run[t]}});
  j["tasks"] = tasks;
  nlohmann::json per_run = nlohmann::json::array();
  for (const auto* r : runs) {
    nlohmann::json rj = matrix_json(nme ? r->nme : r->head);
    rj["seed"] = r->seed;
    per_run.push_back(rj);
  }
  j["runs"] = per_run;
  return j;
}

}  // namespace

nlohmann::json run_to_json(const RunResult& r) {
  nlohmann::json j = {{"preset", r.preset}, {"seed", r.seed}, {"head", matrix_json(r.head)}, {"task_seconds", r.task_seconds}};
  if (r.nme.num_tasks() > 0) j["nme"] = matrix_json(r.nme);
  return j;
}

namespace {

// A stored matrix must be what run_one writes for `tasks` tasks: seen[t] and per_task[t][0..t],
// accuracies in [0, 1]. Anything else would index past the task tables or print garbage.
void check_matrix(const AccuracyMatrix& m, size_t tasks, const std::string& what) {
  if (m.seen.size() != tasks || m.per_task.size() != tasks)
    throw IoError(fmt::format("{}: {} tasks recorded, this run has {}", what, m.seen.size(), tasks));
  for (size_t t = 0; t < tasks; ++t) {
    if (m.per_task[t].size() != t + 1)
      throw IoError(fmt::format("{}: accuracy_matrix row {} has {} entries, expected {}", what, t, m.per_task[t].size(), t + 1));
    for (double v : m.per_task[t])
      if (!(v >= 0 && v <= 1)) throw IoError(fmt::format("{}: accuracy {} is not in [0, 1]", what, v));
    if (!(m.seen[t] >= 0 && m.seen[t] <= 1)) throw IoError(fmt::format("{}: accuracy {} is not in [0, 1]", what, m.seen[t]));
  }
}

}  // namespace

RunResult run_from_json(const nlohmann::json& j, const std::string& origin, size_t tasks) {
  RunResult r;
  try {
    r.preset = j.at("preset").get<std::string>();
    r.seed = j.at("seed").get<uint64_t>();
    r.head = matrix_from(j.at("head"));
    if (j.contains("nme")) r.nme = matrix_from(j.at("nme"));
    r.task_seconds = j.at("task_seconds").get<std::vector<double>>();
  } catch (const nlohmann::json::exception& e) {
    throw IoError(fmt::format("[cil] {}: malformed run record: {}", origin, e.what()));
  }
  const std::string what = fmt::format("[cil] {}: run '{}' seed {}", origin, r.preset, r.seed);
  check_matrix(r.head, tasks, what + " head");
  if (r.nme.num_tasks() > 0) check_matrix(r.nme, tasks, what + " nme");
  if (r.task_seconds.size() != tasks) throw IoError(fmt::format("{}: {} task times, expected {}", what, r.task_seconds.size(), tasks));
  for (double t : r.task_seconds)
    if (!(t >= 0 && t < 1e9)) throw IoError(fmt::format("{}: task time {} is not a duration", what, t));
  return r;
}

std::vector<RunResult> parse_partial(std::string_view text, const std::string& origin, const nlohmann::json& fp,
                                          size_t tasks) {
  const nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("format") || j["format"] != "lowbit-cil-partial" ||
      !j.contains("config") || !j.contains("runs") || !j["runs"].is_array())
    throw IoError(fmt::format("[cil] {}: not a partial results file of `lowbit cil`", origin));
  if (j["config"] != fp)
    throw ValueError(fmt::format("[cil] --resume: {} was written with other settings ({}); this run has {}. "
                                 "Remove it or choose another --json path", origin, j["config"].dump(), fp.dump()));
  std::vector<RunResult> runs;
  for (const auto& r : j["runs"]) runs.push_back(run_from_json(r, origin, tasks));
  return runs;
}

std::vector<const RunResult*> runs_of(const std::vector<RunResult>& runs, const std::string& preset) {
  std::vector<const RunResult*> out;
  for (const auto& r : runs)
    if (r.preset == preset) out.push_back(&r);
  return out;
}

std::string task_table(const CilSetup& setup, const std::vector<const RunResult*>& runs, const CilEval& eval) {
  if (runs.empty()) return "";
  const bool head = eval.head, nme = eval.nme && has_nme(runs);
  std::string out = fmt::format("preset {} ({} seed{}): accuracy on all classes seen so far, %, mean ± std over seeds\n",
                                runs.front()->preset, runs.size(), runs.size() == 1 ? "" : "s");
  out += fmt::format("  {:>4}  {:<12}", "task", "classes");
  if (head) out += fmt::format("  {:>15}", "head");
  if (nme) out += fmt::format("  {:>15}", "NME");
  out += "\n";
  const Summary sh = summary(runs, false);
  const Summary sn = nme ? summary(runs, true) : Summary{};
  for (size_t t = 0; t < setup.tasks.size(); ++t) {
    out += fmt::format("  {:>4}  {:<12}", t + 1, fmt::format("{}", fmt::join(setup.tasks[t].classes, ",")));
    if (head) out += fmt::format("  {:>15}", pct(sh.seen[t]));
    if (nme) out += fmt::format("  {:>15}", pct(sn.seen[t]));
    out += "\n";
  }
  const auto row = [&](const char* name, MeanStd Summary::*field) {
    out += fmt::format("  {:<18}", name);
    if (head) out += fmt::format("  {:>15}", pct(sh.*field));
    if (nme) out += fmt::format("  {:>15}", pct(sn.*field));
    out += "\n";
  };
  row("avg incremental", &Summary::avg_incremental_accuracy);
  row("final", &Summary::final_accuracy);
  row("forgetting", &Summary::forgetting);
  out += fmt::format("  {:<18}  {:>13.1f} s\n", "time per seed", seconds_per_run(runs));
  return out;
}

std::string compare_table(const std::vector<RunResult>& runs, const std::vector<std::string>& presets,
                          const std::string& baseline, const CilEval& eval) {
  const bool nme = !eval.head;
  std::string out = fmt::format("comparison ({} metric; %, mean ± std over seeds)\n", eval.primary());
  out += fmt::format("  {:<10}  {:>15}  {:>15}  {:>15}  {:>10}\n", "preset", "avg incremental", "final", "forgetting",
                     "s per seed");
  for (const auto& p : presets) {
    const auto rs = runs_of(runs, p);
    if (rs.empty()) continue;
    const Summary s = summary(rs, nme);
    out += fmt::format("  {:<10}  {:>15}  {:>15}  {:>15}  {:>10.1f}\n", p, pct(s.avg_incremental_accuracy),
                       pct(s.final_accuracy), pct(s.forgetting), seconds_per_run(rs));
  }
  const auto base = runs_of(runs, baseline);
  if (base.empty() || presets.size() < 2) return out;
  const Summary b = summary(base, nme);
  out += fmt::format("degradation vs {} (preset minus {}, percentage points; accuracy below 0 / forgetting above 0 is worse)\n",
                     baseline, baseline);
  out += fmt::format("  {:<10}  {:>15}  {:>15}  {:>15}\n", "preset", "avg incremental", "final", "forgetting");
  for (const auto& p : presets) {
    if (p == baseline) continue;
    const auto rs = runs_of(runs, p);
    if (rs.empty()) continue;
    const Summary s = summary(rs, nme);
    out += fmt::format("  {:<10}  {:>+15.2f}  {:>+15.2f}  {:>+15.2f}\n", p,
                       100 * (s.avg_incremental_accuracy.mean - b.avg_incremental_accuracy.mean),
                       100 * (s.final_accuracy.mean - b.final_accuracy.mean), 100 * (s.forgetting.mean - b.forgetting.mean));
  }
  return out;
}

nlohmann::json preset_json(const CilSetup& setup, const std::vector<const RunResult*>& runs, const CilEval& eval) {
  const bool nme = eval.nme && has_nme(runs);
  nlohmann::json j = metric_json(setup, runs, !eval.head);
  j["metric"] = eval.primary();
  j["seeds"] = nlohmann::json::array();
  for (const auto* r : runs) j["seeds"].push_back(r->seed);
  j["seconds_per_seed"] = seconds_per_run(runs);
  if (eval.head && nme) j["nme"] = metric_json(setup, runs, true);
  return j;
}

nlohmann::json degradation_json(const std::vector<RunResult>& runs, const std::vector<std::string>& presets,
                                const std::string& baseline, const CilEval& eval) {
  nlohmann::json j = nlohmann::json::object();
  const auto base = runs_of(runs, baseline);
  if (base.empty()) return j;
  const bool nme = !eval.head;
  const Summary b = summary(base, nme);
  for (const auto& p : presets) {
    if (p == baseline || runs_of(runs, p).empty()) continue;
    const Summary s = summary(runs_of(runs, p), nme);
    j[p] = {{"avg_incremental_accuracy_pp", 100 * (s.avg_incremental_accuracy.mean - b.avg_incremental_accuracy.mean)},
            {"final_accuracy_pp", 100 * (s.final_accuracy.mean - b.final_accuracy.mean)},
            {"forgetting_pp", 100 * (s.forgetting.mean - b.forgetting.mean)}};
  }
  return j;
}

}  // namespace lowbit::cil
