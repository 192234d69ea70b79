// The `lowbit ptq` job (ptq_run.h): data → plan (one calibration) → sensitivities → in-context
// latencies → search → measured answer → atomically written outputs.
#include "lowbit/ptq/ptq_run.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <numeric>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lowbit/core/error.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/model_inputs.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/ptq/calibrate.h"
#include "lowbit/ptq/oracle.h"
#include "lowbit/ptq/search.h"
#include "lowbit/ptq/sensitivity.h"

namespace lowbit::ptq {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct Job {
  onnx::Graph model;
  QdqPlan plan;
  std::vector<Precision> cand;  // below fp32, wide to narrow
  std::unique_ptr<ModelOracle> oracle;
  Metric metric = Metric::augmented;
  int64_t eval_samples = 0;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Evaluation inputs and labels: a data set's test split (every ⌊N/count⌋-th) with its labels,
// or any calibration-style source (.npy per input, folder, random:N) with --eval-labels, or
// without them (fidelity to fp32: empty labels).
std::pair<InputBatch, std::vector<int32_t>> load_eval(const PtqOptions& o, const onnx::Graph& g) {
  LOWBIT_REQUIRE(!o.eval.empty(), "ptq", "--eval is required (.npy per input, random:N, or a data set name)");
  LOWBIT_REQUIRE(o.eval_count >= 1, "ptq", "--eval-count must be positive, not {}", o.eval_count);
  if (!is_dataset_name(o.eval)) {
    const InputBatch x = load_calibration(DataSource{o.eval, "", {}, o.eval_count}, g, 2);  // seed 2: random:N differs from --calib's
    if (o.eval_labels.empty()) return {x, {}};
    const onnx::Array y = onnx::load_npy(o.eval_labels);
    LOWBIT_REQUIRE(y.dim() == 1 && (y.type() == onnx::ElemType::i64 || y.type() == onnx::ElemType::i32), "ptq",
                   "--eval-labels {} must be a 1-D int64 array of class ids (is {} {})", o.eval_labels, onnx::elem_name(y.type()),
                   shape_str(y.shape()));
    LOWBIT_REQUIRE(y.shape()[0] >= x.samples(), "ptq", "--eval-labels {} has {} labels for {} samples", o.eval_labels, y.shape()[0],
                   x.samples());
    std::vector<int32_t> labels;
    for (int64_t i = 0; i < x.samples(); ++i) {
      const int64_t v = y.get_i64(i);
      LOWBIT_REQUIRE(v >= 0 && v < (int64_t{1} << 24), "ptq", "--eval-labels {}: label {} of sample {} is out of range", o.eval_labels, v, i);
      labels.push_back(static_cast<int32_t>(v));
    }
    return {x, labels};
  }
  LOWBIT_REQUIRE(g.inputs.size() == 1, "ptq", "data set '{}' gives one image input, but the model has {} inputs", o.eval, g.inputs.size());
  const LabelledSet all = load_test_split(o.eval, o.calib.data_dir, o.calib.pre);
  const int64_t n = all.inputs.shape()[0], take = std::min(n, o.eval_count), stride = n / take;
  Shape s = all.inputs.shape();
  s[0] = take;
  onnx::Array x = onnx::Array::empty(onnx::ElemType::f32, s);
  const int64_t per = all.inputs.numel() / n;
  std::vector<int32_t> labels;
  for (int64_t i = 0; i < take; ++i) {
    std::copy(all.inputs.data<float>() + i * stride * per, all.inputs.data<float>() + (i * stride + 1) * per, x.data<float>() + i * per);
    labels.push_back(all.labels[static_cast<size_t>(i * stride)]);
  }
  return {InputBatch(onnx::fit_input(g, 0, std::move(x), "data set '" + o.eval + "'", "ptq")), labels};
}

Job prepare(const PtqOptions& o) {
  Job job;
  job.metric = parse_metric(o.metric);
  if (const std::string why = metric_unavailable(job.metric); !why.empty()) throw ValueError("[ptq] " + why);
  for (const std::string& p : o.precisions) {
    const Precision pr = parse_precision(p);
    if (const std::string why = precision_unavailable(pr); !why.empty()) throw ValueError("[ptq] --precisions: " + why);
    if (pr != Precision::fp32) job.cand.push_back(pr);
  }
  LOWBIT_REQUIRE(!job.cand.empty(), "ptq", "--precisions needs at least one precision below fp32 (int8, w4a8)");
  std::sort(job.cand.begin(), job.cand.end());  // enum order: wide to narrow
  job.cand.erase(std::unique(job.cand.begin(), job.cand.end()), job.cand.end());
  job.model = onnx::load_model(o.model);
  const InputBatch calib = load_calibration(o.calib, job.model, 1);
  LOWBIT_REQUIRE(calib.samples() >= o.min_calib, "ptq", "the calibration set is too small: {} samples; lowbit ptq needs at least {} (--calib-count)",
                 calib.samples(), o.min_calib);
  job.plan = plan_qdq(job.model, calib, o.quant);
  auto [x, y] = load_eval(o, job.model);
  job.eval_samples = x.samples();
  ModelOracleOptions mo;
  mo.threads = o.threads;
  mo.latency_batch = o.latency_batch;
  mo.latency_repeats = o.latency_repeats;
  mo.cache_path = !o.cache.empty() ? o.cache : (!o.json.empty() && o.json != "-" ? o.json : o.out.empty() ? "ptq" : o.out) + ".cache.jsonl";
  mo.fingerprint = fnv1a_hex(read_file(o.model) + "|" + o.calib.source + "|" + std::to_string(calib.samples()) + "|" + o.eval + "|" + o.eval_labels + "|" +
                             std::to_string(job.eval_samples) + "|" + calib_method_name(o.quant.calib.method) + "|" +
                             std::to_string(o.quant.per_channel) + "|" + weight_range_name(o.quant.weight_range) + "|" + std::to_string(o.quant.bias_correction) + "|" + std::to_string(o.quant.act_matmul) + "|" + std::to_string(o.threads) + "|" + std::to_string(o.latency_batch));
  job.oracle = std::make_unique<ModelOracle>(job.plan, std::move(x), std::move(y), mo);
  if (o.progress)
    job.oracle->progress = [](int64_t done, int64_t total) {
      const int w = 30, f = static_cast<int>(w * std::min(done, total) / std::max<int64_t>(total, 1));
      std::fprintf(stderr, "\r[%s%s] evaluations %lld/%lld ", std::string(static_cast<size_t>(f), '#').c_str(),
                   std::string(static_cast<size_t>(w - f), ' ').c_str(), static_cast<long long>(done), static_cast<long long>(total));
    };
  return job;
}

// The chosen metric's sensitivities; gradient metrics first compute their scores (gs).
Sensitivity sensitivity_of(Job& job, const PtqOptions& o, GradScores* gs) {
  const bool gradient = job.metric == Metric::hessian || job.metric == Metric::augmented_hessian || job.metric == Metric::fisher;
  if (gradient) {
    GradOptions go;
    go.threads = o.threads;
    go.samples = o.grad_samples;
    *gs = grad_scores(job.plan, job.oracle->inputs(), job.oracle->labels(), job.metric == Metric::fisher ? Metric::fisher : Metric::hessian,
                      job.cand, go, job.oracle->reference_outputs());
  }
  return measure_sensitivity(*job.oracle, job.metric, SensitivityOptions{job.cand, o.lambda, 12}, dependent_pairs(job.plan),
                             gradient ? &gs->score : nullptr);
}

nlohmann::json grad_json(const GradScores& gs) {
  return {{"seconds", gs.seconds}, {"samples", gs.samples}, {"hutchinson_iterations", gs.iterations}, {"converged", gs.converged}};
}

void write_atomically(const std::vector<std::pair<std::string, std::function<void(const std::string&)>>>& files) {
  std::vector<std::string> tmps;
  try {
    for (const auto& [path, write] : files) {
      const std::string tmp = path + ".tmp";
      write(tmp);
      tmps.push_back(tmp);
    }
  } catch (...) {
    for (const auto& t : tmps) fs::remove(t);
    throw;
  }
  for (size_t i = 0; i < files.size(); ++i) fs::rename(tmps[i], files[i].first);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  LOWBIT_REQUIRE(out.good(), "ptq", "cannot write {}", path);
}

json layer_scores(const Sensitivity& s, size_t i, bool noise_ratio) {
  json a = json::array();
  for (size_t p = 0; p < s.single[i].size(); ++p) a.push_back(noise_ratio ? std::pow(10.0, -s.single[i][p].sqnr_db / 10.0) : s.score[i][p]);
  return a;
}

}  // namespace

void run_sensitivity(const PtqOptions& o) {
  Job job = prepare(o);
  Oracle& orc = *job.oracle;
  orc.phase = "sensitivity";
  orc.expected_evaluations = 1 + static_cast<int64_t>(job.plan.layers.size() * job.cand.size());
  GradScores gs;
  const Sensitivity s = sensitivity_of(job, o, &gs);
  if (o.progress) std::fprintf(stderr, "\n");
  std::vector<size_t> order(job.plan.layers.size());
  std::iota(order.begin(), order.end(), 0);
  const size_t low = job.cand.size() - 1;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s.score[a][low] < s.score[b][low]; });
  json j{{"model", o.model}, {"metric", metric_name(job.metric)}, {"precision", precision_name(job.cand[low])}, {"kendall_tau", s.tau},
         {"accuracy_metric", fidelity_name(job.oracle->fidelity())},
         {"evaluations", s.evaluations}, {"fresh_evaluations", orc.fresh_evaluations}, {"seconds", s.seconds},
         {"eval_samples", job.eval_samples}, {"baseline", {{"top1", s.base.top1}, {"loss", s.base.loss}}}, {"pairs", s.pairs.size()},
         {"metric_seconds", gs.seconds + (s.pairs.empty() ? 0.0 : s.seconds)}, {"gradient", grad_json(gs)}};
  for (size_t i : order)
    j["ranking"].push_back({{"layer", job.plan.layers[i].node}, {"score", s.score[i][low]}, {"loss_delta", s.measured[i][low]},
                            {"top1", s.single[i][low].top1}, {"sqnr_db", s.single[i][low].sqnr_db}});
  if (o.json == "-") {
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("%-28s %12s %12s %8s %9s\n", "layer (least sensitive first)", metric_name(job.metric), "loss delta", "top1", "SQNR dB");
  for (size_t i : order)
    std::printf("%-28s %12.4g %12.4g %8.4f %9.1f\n", job.plan.layers[i].node.c_str(), s.score[i][low], s.measured[i][low],
                s.single[i][low].top1, s.single[i][low].sqnr_db);
  std::printf("Kendall tau vs measured single-layer order: %.3f; cost %lld evaluations (%lld fresh), %.1f s", s.tau,
              static_cast<long long>(s.evaluations), static_cast<long long>(orc.fresh_evaluations), s.seconds);
  if (gs.seconds > 0) std::printf(" + gradients %.1f s", gs.seconds);
  if (gs.iterations > 0) std::printf(" (%d Hutchinson iterations, %s)", gs.iterations, gs.converged ? "converged" : "not converged");
  std::printf("\n");
  if (!o.json.empty()) write_atomically({{o.json, [&](const std::string& p) { write_text(p, j.dump(2) + "\n"); }}});
}

int run_ptq(const PtqOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  LOWBIT_REQUIRE(o.search == "dp" || o.search == "bisection" || o.search == "greedy", "ptq",
                 "unknown --search '{}' (expected dp, bisection or greedy)", o.search);
  LOWBIT_REQUIRE(o.objective == "latency" || o.objective == "size", "ptq", "unknown --objective '{}' (expected latency or size)", o.objective);
  const Budget budget = parse_budget(o.max_drop, o.band);
  Job job = prepare(o);
  Oracle& orc = *job.oracle;
  const size_t n = job.plan.layers.size(), low = job.cand.size() - 1;
  orc.phase = "sensitivity";
  orc.expected_evaluations = 1 + static_cast<int64_t>(n * job.cand.size());
  GradScores gs;
  const Sensitivity s = sensitivity_of(job, o, &gs);
  const LatencyTable lat = measure_layer_latency(orc, job.cand);
  orc.phase = "reference";
  const LayerConfig fp(n, Precision::fp32), all8(n, Precision::int8);
  const bool has8 = std::find(job.cand.begin(), job.cand.end(), Precision::int8) != job.cand.end();
  const Measurement m8 = has8 ? orc.evaluate(all8) : Measurement{};
  const LayerConfig all16(n, Precision::bf16);  // the papers' 16-bit baseline, where the CPU has it
  const bool has16 = std::find(job.cand.begin(), job.cand.end(), Precision::bf16) != job.cand.end();
  const Measurement m16 = has16 ? orc.evaluate(all16) : Measurement{};
  orc.phase = o.search;
  SearchResult r;
  if (o.search == "dp") {
    DpOptions dpo;
    dpo.size_objective = o.objective == "size";
    for (const QuantLayer& l : job.plan.layers) dpo.weight_values.push_back(l.weight_values);
    for (Precision p : job.cand) dpo.extra.push_back(LayerConfig(n, p));  // uniform configs compete too
    dpo.sweep = o.dp_sweep;
    r = dp_search(orc, s.score, job.cand, lat, budget, s.base.top1, dpo);
  }
  else if (o.search == "bisection") r = bisection_search(orc, lowering_order(s.score, job.cand, lat.allowed), budget, s.base.top1);
  else r = greedy_search(orc, lowering_order(s.score, job.cand, lat.allowed), budget, s.base.top1, o.skip_violations);
  if (o.progress) std::fprintf(stderr, "\n");
  for (std::string& note : r.notes) {  // the searches name layers by index; users know node names
    for (size_t at = note.find("layer "); at != std::string::npos; at = note.find("layer ", at + 1)) {
      const size_t digits = at + 6;
      size_t end = digits;
      while (end < note.size() && end - digits < 9 && std::isdigit(static_cast<unsigned char>(note[end]))) ++end;
      if (end == digits) continue;
      const size_t index = std::stoul(note.substr(digits, end - digits));
      if (index >= n) continue;
      note = note.substr(0, digits) + job.plan.layers[index].node + note.substr(end);
      break;  // the first layer reference, as before
    }
  }
  // Every configuration the search evaluated gets a measured latency (for the fronts).
  std::map<std::string, LayerConfig> configs;
  for (const Probe& p : orc.trajectory)
    if (p.phase != "sensitivity") {
      LayerConfig c;
      for (char ch : p.key) c.push_back(ch == 'F' ? Precision::fp32 : ch == 'B' ? Precision::bf16 : ch == '8' ? Precision::int8 : Precision::w4a8);
      configs[p.key] = c;
      orc.latency_ms(c);
    }
  // The headline numbers: the answer, fp32 and all-int8 timed side by side (same load).
  std::vector<LayerConfig> side_cs{r.config, fp};
  if (has8) side_cs.push_back(all8);
  if (has16) side_cs.push_back(all16);
  const std::vector<double> side = orc.latency_interleaved(side_cs);
  r.latency_ms = side[0];
  const double fp_ms = side[1], i8_ms = has8 ? side[2] : NAN, b16_ms = has16 ? side.back() : NAN;
  if (o.objective == "latency" && r.met) {  // the fastest measured point within the budget
    std::vector<std::pair<double, double>> pts{{r.m.top1, r.latency_ms}};
    std::vector<std::pair<LayerConfig, Measurement>> alt{{r.config, r.m}};
    if (has8) pts.push_back({m8.top1, i8_ms}), alt.push_back({all8, m8});
    if (has16) pts.push_back({m16.top1, b16_ms}), alt.push_back({all16, m16});
    if (const size_t k = fastest_within(budget, s.base.top1, pts); k != 0) {
      r.notes.push_back(fmt::format("{} met the budget and measured faster side by side ({:.2f} vs {:.2f} ms): chosen over the search's answer {}",
                                    k == 1 && has8 ? "all-int8" : "all-bf16", pts[k].second, r.latency_ms, config_key(r.config)));
      r.config = alt[k].first;
      r.m = alt[k].second;
      r.latency_ms = pts[k].second;
      r.size_bytes = orc.size_bytes(r.config);
    }
  }
  json j{{"model", o.model}, {"metric", metric_name(job.metric)}, {"search", r.search}, {"budget", budget_str(budget)},
         {"eval", {{"source", o.eval}, {"samples", job.eval_samples}}}, {"calibration", {{"source", o.calib.source}, {"samples", job.plan.calib_samples}}},
         {"threads", o.threads}, {"latency_batch", o.latency_batch}, {"lambda", o.lambda},
         {"accuracy_metric", fidelity_name(job.oracle->fidelity())}};
  for (Precision p : job.cand) j["precisions"].push_back(precision_name(p));
  for (Precision p : {Precision::bf16, Precision::w4a8})
    if (const std::string why = precision_unavailable(p); !why.empty()) j["unavailable"].push_back(why);
  j["baseline"] = {{"top1", s.base.top1}, {"loss", s.base.loss}, {"latency_ms", fp_ms}, {"size_bytes", orc.size_bytes(fp)}};
  if (has8) j["all_int8"] = {{"top1", m8.top1}, {"sqnr_db", m8.sqnr_db}, {"latency_ms", i8_ms}, {"size_bytes", orc.size_bytes(all8)}};
  if (has16) j["all_bf16"] = {{"top1", m16.top1}, {"sqnr_db", m16.sqnr_db}, {"latency_ms", b16_ms}, {"size_bytes", orc.size_bytes(all16)}};
  std::vector<double> sq, me;
  for (size_t i = 0; i < n; ++i) sq.push_back(-s.single[i][low].sqnr_db), me.push_back(s.measured[i][low]);
  j["kendall_tau"] = {{"sqnr", kendall_tau(sq, me)}, {"measured", 1.0}, {metric_name(job.metric), s.tau}};
  j["sensitivity_cost"] = {{"evaluations", s.evaluations}, {"seconds", s.seconds}, {"pairs", s.pairs.size()}, {"gradient", grad_json(gs)}};
  j["latency_table"] = {{"base_ms", lat.base_ms}, {"fp32_ms", lat.fp32_ms}, {"noise_ms", lat.noise_ms}, {"measurements", lat.measurements}, {"seconds", lat.seconds}, {"cached", lat.cached}};
  for (size_t i = 0; i < n; ++i) {
    json l{{"node", job.plan.layers[i].node}, {"op", job.plan.layers[i].op}, {"weights", job.plan.layers[i].weight_values},
           {"chosen", precision_name(r.config[i])}, {"cost_fp32_ms", lat.cost_fp32[i]}, {"cost_ms", lat.cost[i]}, {"allowed", lat.allowed[i]}};
    l["scores"]["measured"] = s.measured[i];
    l["scores"]["sqnr"] = layer_scores(s, i, true);
    if (job.metric != Metric::measured && job.metric != Metric::sqnr) l["scores"][metric_name(job.metric)] = s.score[i];
    j["layers"].push_back(l);
  }
  const double drop = budget.drop(s.base.top1, r.m.top1);
  j["result"] = {{"config", json::parse(config_to_json(job.plan, r.config))["layers"]}, {"key", config_key(r.config)}, {"top1", r.m.top1}, {"sqnr_db", r.m.sqnr_db},
                 {"drop", drop}, {"met", r.met}, {"latency_ms", r.latency_ms}, {"size_bytes", r.size_bytes},
                 {"reduction_vs_fp32", 1 - r.latency_ms / fp_ms}, {"reduction_vs_int8", has8 ? 1 - r.latency_ms / i8_ms : NAN},
                 {"reduction_vs_bf16", has16 ? 1 - r.latency_ms / b16_ms : NAN},
                 {"evaluations", r.evaluations}, {"seconds", r.seconds}, {"notes", r.notes}};
  for (const Probe& p : orc.trajectory) {
    json e{{"key", p.key}, {"phase", p.phase}, {"top1", p.m.top1}, {"loss", p.m.loss}, {"cached", p.cached}};
    if (configs.count(p.key)) e["latency_ms"] = orc.latency_cache[p.key], e["size_bytes"] = orc.size_bytes(configs[p.key]);
    j["evaluated"].push_back(e);
  }
  // Fronts of the search's own probes (sensitivity probes are shared by every metric), as
  // hypervolumes: accuracy (from fp32 − 5 points) × size saved (from the fp32 size) and × latency.
  {
    std::vector<std::pair<double, double>> by_size, by_latency;
    for (const Probe& p : orc.trajectory)
      if (p.phase == o.search && configs.count(p.key)) {
        by_size.push_back({orc.size_bytes(configs[p.key]), p.m.top1});
        by_latency.push_back({orc.latency_cache[p.key], p.m.top1});
      }
    const double y_ref = s.base.top1 - 0.05;
    j["hypervolume"] = {{"reference", "top-1 fp32 - 5 points; fp32 size / fp32 latency"}, {"probes", by_size.size()},
                        {"size", hypervolume(by_size, orc.size_bytes(fp), y_ref) / orc.size_bytes(fp)},
                        {"latency", hypervolume(by_latency, fp_ms, y_ref) / fp_ms}};
  }
  j["cost"] = {{"fresh_evaluations", orc.fresh_evaluations}, {"cached_evaluations", orc.cached_evaluations},
               {"latency_runs", orc.latency_runs}, {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
  const Fidelity fid = job.oracle->fidelity();
  const char* acc = fid == Fidelity::labels ? "top-1" : fid == Fidelity::agreement ? "agreement with fp32" : "1 - rel. L2 error";
  std::printf("%s + %s, %s: %s %.4f (fp32 %.4f, drop %.2f%s), %.2f ms vs fp32 %.2f ms (%+.1f %%)", metric_name(job.metric), r.search.c_str(),
              budget_str(budget).c_str(), acc, r.m.top1, s.base.top1, 100 * drop, budget.relative ? "%" : "pt", r.latency_ms, fp_ms,
              100 * (r.latency_ms / fp_ms - 1));
  if (has8) std::printf(" and all-int8 %.2f ms (%+.1f %%)", i8_ms, 100 * (r.latency_ms / i8_ms - 1));
  if (has16) std::printf(" and all-bf16 %.2f ms (%+.1f %%)", b16_ms, 100 * (r.latency_ms / b16_ms - 1));
  std::printf("; %lld search evaluations, %lld fresh in all\n", static_cast<long long>(r.evaluations), static_cast<long long>(orc.fresh_evaluations));
  for (const auto& note : r.notes) std::printf("  note: %s\n", note.c_str());
  if (!r.met) {
    const Probe* best = &orc.trajectory.front();  // the closest: the highest top-1 of every evaluated configuration
    for (const Probe& p : orc.trajectory)
      if (p.m.top1 > best->m.top1) best = &p;
    std::fprintf(stderr, "[ptq] no evaluated configuration meets the budget (%s); the closest is %s (%s %.4f, drop %.4g); nothing written\n",
                 budget_str(budget).c_str(), best->key.c_str(), acc, best->m.top1, budget.drop(s.base.top1, best->m.top1));
    return 3;
  }
  std::vector<std::pair<std::string, std::function<void(const std::string&)>>> files;
  if (!o.out.empty()) files.push_back({o.out, [&](const std::string& p) { onnx::save_model(build_qdq(job.plan, r.config), p); }});
  const std::string cfg = !o.config_out.empty() ? o.config_out : o.out.empty() ? "" : o.out + ".config.json";
  if (!cfg.empty()) files.push_back({cfg, [&](const std::string& p) { write_text(p, config_to_json(job.plan, r.config) + "\n"); }});
  if (!o.json.empty() && o.json != "-") files.push_back({o.json, [&](const std::string& p) { write_text(p, j.dump(2) + "\n"); }});
  if (!o.report.empty()) files.push_back({o.report, [&](const std::string& p) { write_text(p, ptq_html_report(j.dump())); }});
  write_atomically(files);
  if (o.json == "-") std::cout << j.dump(2) << "\n";
  return 0;
}

}  // namespace lowbit::ptq
