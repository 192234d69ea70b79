// The sweep driver: plans the grid, runs each measurement in a child, derives the metrics and
// appends rows. The driver itself never starts OpenMP threads, so fork() is safe.
#include "lowbit/paradnn/sweep.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "lowbit/core/error.h"
#include "lowbit/kernels/bf16.h"
#include "lowbit/paradnn/model.h"
#include "shard.h"
#include "subprocess.h"

namespace lowbit::paradnn {
namespace fs = std::filesystem;
namespace {

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(std::min<double>(static_cast<double>(v.size() - 1), q * static_cast<double>(v.size() - 1) + 0.5))];
}

std::string tail(const std::string& s, size_t n = 400) {
  std::string t = s.size() > n ? s.substr(s.size() - n) : s;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t;
}

// Existing rows' keys; drops a torn last line (no trailing newline) left by a kill.
std::set<std::string> recorded_keys(const std::string& path) {
  std::set<std::string> keys;
  if (!fs::exists(path)) return keys;
  std::string all;
  {
    std::ifstream f(path, std::ios::binary);
    all.assign(std::istreambuf_iterator<char>(f), {});
  }
  const size_t keep = all.empty() || all.back() == '\n' ? all.size() : all.rfind('\n') + 1;
  if (keep != all.size()) {
    std::fprintf(stderr, "paradnn: dropping a torn last line of %s (an interrupted write)\n", path.c_str());
    fs::resize_file(path, all.rfind('\n') == std::string::npos ? 0 : keep);
    all.resize(all.rfind('\n') == std::string::npos ? 0 : keep);
  }
  size_t start = 0;
  while (start < all.size()) {
    const size_t end = all.find('\n', start);
    const std::string line = all.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    try {
      keys.insert(row_key(nlohmann::json::parse(line)));
    } catch (const std::exception& e) {
      throw ValueError(fmt::format("[paradnn sweep] {} has a line that is not a result row ({}); move it aside or "
                                   "pick another --out", path, e.what()));
    }
  }
  return keys;
}

void append_row(const std::string& path, const nlohmann::json& row) {
  const std::string line = row.dump() + "\n";
  const int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(fmt::format("[paradnn sweep] cannot open '{}' for appending", path));
  const bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok) throw IoError(fmt::format("[paradnn sweep] short write to '{}' (disk full?)", path));
}

nlohmann::json failure_row(const ModelConfig& c, const std::string& engine, const std::string& mode, int threads,
                           const std::string& status) {
  const ModelStats s = analyze(c);
  return {{"family", c.family}, {"config", c.to_json()}, {"engine", engine}, {"mode", mode}, {"threads", threads},
          {"precision", engine_precision(engine)}, {"status", status}, {"params", s.params},
          {"flops_per_example", flops_per_example(c, mode == "train")},
          {"examples_per_second", nullptr}, {"step_ms", nullptr}, {"achieved_flops", nullptr}, {"utilization", nullptr}};
}

std::string fmt_duration(double s) {
  if (s < 90) return fmt::format("{:.0f}s", s);
  if (s < 5400) return fmt::format("{:.0f}m{:02.0f}s", std::floor(s / 60), std::fmod(s, 60));
  return fmt::format("{:.1f}h", s / 3600);
}

struct Measurement {
  std::vector<double> step_ms, cpu_ms;  // cpu_ms: process CPU time per step, where the engine reports it
  double median_ms = 0, p90_ms = 0, cpu_median_ms = 0;  // set directly by peers that report only quantiles
  std::string status = "ok";
  long rss_kb = 0;
};

Measurement from_child(const ChildResult& r, const std::string& what) {
  Measurement m;
  m.rss_kb = r.max_rss_kb;
  if (r.timed_out) m.status = "timeout";
  else if (r.exit_code == 137 || r.exit_code == 128 + 9) m.status = "error: killed (out of memory?)";
  else if (r.exit_code != 0) m.status = fmt::format("error: {} exited {}: {}", what, r.exit_code, tail(r.err));
  if (m.status != "ok") return m;
  try {
    const auto j = nlohmann::json::parse(r.out.substr(r.out.rfind('{', r.out.rfind("step_ms"))));
    m.step_ms = j.at("step_ms").get<std::vector<double>>();
    if (m.step_ms.empty()) m.status = fmt::format("error: {} reported no steps", what);
    if (j.contains("cpu_ms")) m.cpu_ms = j.at("cpu_ms").get<std::vector<double>>();
  } catch (const std::exception& e) {
    m.status = fmt::format("error: {} printed no step_ms JSON ({}): {}", what, e.what(), tail(r.out));
  }
  return m;
}

}  // namespace

namespace {

// "threads=1,2" among the --set specs: the thread counts to sweep (replacing --threads); the
// other specs are the family's hyperparameters.
std::vector<int> thread_counts(std::vector<std::string>& sets, std::vector<int> threads) {
  for (auto it = sets.begin(); it != sets.end();) {
    if (!it->starts_with("threads=")) {
      ++it;
      continue;
    }
    threads.clear();
    for (int64_t v : parse_values(*it)) {
      if (v < 1 || v > 4096) throw ValueError(fmt::format("[paradnn sweep] --set '{}': thread counts must be in [1, 4096]", *it));
      threads.push_back(static_cast<int>(v));
    }
    it = sets.erase(it);
  }
  if (threads.empty()) throw ValueError("[paradnn sweep] no thread counts to sweep");
  return threads;
}

}  // namespace

std::string default_peers_dir() {
  if (const char* d = std::getenv("LOWBIT_PEERS_DIR")) return d;
  return std::string(LOWBIT_SOURCE_DIR) + "/bench/peers";
}

std::string row_key(const nlohmann::json& row) {
  const ModelConfig c = ModelConfig::from_json(row.at("config"));
  return fmt::format("{}|{}|{}|t{}", c.key(), row.at("engine").get<std::string>(), row.at("mode").get<std::string>(),
                     row.at("threads").get<int>());
}

nlohmann::json make_row(const ModelConfig& c, const std::string& engine, const std::string& mode, int threads,
                        std::vector<double> step_ms, const Peak& peak) {
  LOWBIT_REQUIRE(!step_ms.empty(), "paradnn make_row", "no step times");
  const ModelStats s = analyze(c);
  const std::string precision = engine_precision(engine);
  const double median = quantile(step_ms, 0.5), p90 = quantile(step_ms, 0.9);
  const auto batch = static_cast<double>(c.get("batch"));
  const double fpe = flops_per_example(c, mode == "train");
  const double eps = batch / (median / 1e3);
  const double peak_flops = peak.compute_peak(precision, threads);
  LOWBIT_REQUIRE(peak_flops > 0, "paradnn make_row", "the peaks have no {} compute peak (rerun `lowbit bench peak` on this CPU)",
                 precision);
  const double weight_bytes = static_cast<double>(s.params) * (precision == "int8" ? 1.0 : precision == "bf16" ? 2.0 : 4.0);
  return {{"family", c.family}, {"config", c.to_json()}, {"engine", engine}, {"mode", mode}, {"threads", threads},
          {"precision", precision}, {"status", "ok"}, {"examples_per_second", eps}, {"step_ms", median},
          {"step_ms_p90", p90}, {"steps", step_ms.size()}, {"flops_per_example", fpe},
          {"achieved_flops", fpe * eps}, {"peak_flops", peak_flops}, {"utilization", fpe * eps / peak_flops},
          {"params", s.params}, {"arithmetic_intensity", fpe * batch / weight_bytes},
          {"bandwidth", peak.triad_bytes_per_second}, {"cpu", peak.cpu_model}};
}

SweepSummary run_sweep(const SweepOptions& options) {
  SweepOptions o = options;
  const std::vector<std::string> known = engine_names();
  for (const auto& e : o.engines)
    if (std::find(known.begin(), known.end(), e) == known.end())
      throw ValueError(fmt::format("[paradnn sweep] unknown engine '{}' (expected one of {})", e, fmt::join(known, ", ")));
  for (const auto& m : o.modes)
    if (m != "train" && m != "infer") throw ValueError(fmt::format("[paradnn sweep] unknown mode '{}' (expected train or infer)", m));
  o.threads = thread_counts(o.sets, o.threads);
  Grid grid = preset_grid(o.family, o.preset);
  for (const auto& s : o.sets) apply_override(grid, o.family, s);
  const std::vector<ModelConfig> configs = expand(o.family, grid);
  const Peak peak = o.peak_file.empty() ? measure_peak(*std::max_element(o.threads.begin(), o.threads.end()))
                                        : Peak::from_json(nlohmann::json::parse(std::ifstream(o.peak_file)));
  const bool cpu_bf16 = kernels::bf16_native();
  for (const auto& e : o.engines)
    if ((engine_precision(e) != "bf16" || cpu_bf16) && peak.compute_peak(engine_precision(e), 1) <= 0)
      throw ValueError(fmt::format("[paradnn sweep] engine {} measures {} but {} has no {} peak (rerun `lowbit bench peak --json` on "
                                   "this CPU)", e, engine_precision(e), o.peak_file.empty() ? "the measured peak" : o.peak_file,
                                   engine_precision(e)));
  const Shard shard = detect_shard(o.shard);
  const std::string out = shard.size > 1 ? part_path(o.out, shard.rank) : o.out;
  std::set<std::string> done = recorded_keys(out);
  if (shard.size > 1) {
    fs::remove(part_path(o.out, shard.rank) + ".done");  // a stale marker from an interrupted run
    done.merge(recorded_keys(o.out));
    std::fprintf(stderr, "paradnn: rank %d of %d (%s), %s, rows -> %s\n", shard.rank, shard.size, shard.source.c_str(),
                 pin_to_cores(shard).c_str(), out.c_str());
  }
  const std::string peers = o.peers_dir.empty() ? default_peers_dir() : o.peers_dir;
  const std::string work = o.work_dir.empty() ? o.out + ".work" : o.work_dir;
  SweepSummary sum;
  sum.rank = shard.rank, sum.ranks = shard.size;
  const int total = static_cast<int>(configs.size() * o.engines.size() * o.modes.size() * o.threads.size());
  sum.planned = (total - shard.rank + shard.size - 1) / shard.size;  // indices i with i % size == rank
  const auto start = std::chrono::steady_clock::now();
  int index = 0, measured = 0;
  for (const auto& c : configs)
    for (const auto& mode : o.modes)
      for (int t : o.threads)
        for (const auto& engine : o.engines) {
          ++index;
          if ((index - 1) % shard.size != shard.rank) continue;
          nlohmann::json probe = {{"config", c.to_json()}, {"engine", engine}, {"mode", mode}, {"threads", t}};
          if (done.count(row_key(probe))) {
            ++sum.skipped;
            continue;
          }
          const std::vector<std::string> common = {"--config", c.to_json().dump(), "--mode", mode, "--threads",
                                                   std::to_string(t), "--warmup", std::to_string(o.warmup),
                                                   "--min-steps", std::to_string(o.min_steps), "--min-time",
                                                   fmt::format("{}", o.min_time), "--seed", std::to_string(o.seed)};
          Measurement m;
          if (std::string why = engine_unsupported(engine, c.family, mode, cpu_bf16); !why.empty()) {
            m.status = std::move(why);
          } else if (engine.starts_with("lowbit")) {
            std::vector<std::string> argv = {o.self_exe, "paradnn", "run", "--engine", engine};
            argv.insert(argv.end(), common.begin(), common.end());
            m = from_child(run_child(argv, o.timeout_s), "lowbit paradnn run");
          } else if (engine == "pytorch") {
            std::vector<std::string> argv = {"/usr/bin/python3", peers + "/paradnn_torch.py"};
            argv.insert(argv.end(), common.begin(), common.end());
            m = from_child(run_child(argv, o.timeout_s), "paradnn_torch.py");
          } else {  // onnxruntime, onnxruntime-int8: the model lowbit (or lowbit-int8) runs, exported
            const std::string precision = engine_precision(engine);
            const std::string dir = fmt::format("{}/{}-{}", work, std::hash<std::string>{}(c.key()), precision);
            const ChildResult ex = run_child({o.self_exe, "paradnn", "export", "--config", c.to_json().dump(), "--out-dir",
                                              dir, "--seed", std::to_string(o.seed), "--precision", precision}, o.timeout_s);
            m = from_child(ex, "lowbit paradnn export");
            if (ex.exit_code == 0) {
              const ChildResult r = run_child({"node", peers + "/ort_run.js", "--model", dir + "/model.onnx", "--input",
                                               dir + "/input_0.npy", "--intra", std::to_string(t), "--inter", "1",
                                               "--warmup", std::to_string(o.warmup), "--iters", std::to_string(o.min_steps),
                                               "--min-time", fmt::format("{}", o.min_time), "--json", dir + "/timing.json"},
                                              o.timeout_s);
              m = Measurement{};
              m.rss_kb = r.max_rss_kb;
              if (r.timed_out) m.status = "timeout";
              else if (r.exit_code != 0) m.status = fmt::format("error: ort_run.js exited {}: {}", r.exit_code, tail(r.err));
              else {
                const auto j = nlohmann::json::parse(std::ifstream(dir + "/timing.json"));
                m.median_ms = j.at("median_ms").get<double>();
                m.p90_ms = j.at("p90_ms").get<double>();
                m.cpu_median_ms = j.value("cpu_median_ms", 0.0);
                m.step_ms = {m.median_ms};
              }
            }
          }
          nlohmann::json row;
          if (m.status == "ok") {
            row = make_row(c, engine, mode, t, m.step_ms, peak);
            if (m.median_ms > 0) row["step_ms_p90"] = m.p90_ms;  // the peer timed more steps than it reported
            row["peak_memory_bytes"] = static_cast<double>(m.rss_kb) * 1024.0;
            if (!m.cpu_ms.empty()) row["cpu_ms"] = quantile(m.cpu_ms, 0.5);
            else if (m.cpu_median_ms > 0) row["cpu_ms"] = m.cpu_median_ms;
            ++sum.ok;
          } else {
            row = failure_row(c, engine, mode, t, m.status);
            ++sum.failed;
          }
          if (shard.size > 1) row["rank"] = shard.rank;
          append_row(out, row);
          ++measured;
          if (o.progress) {
            const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const int left = sum.planned - sum.skipped - measured;
            std::fprintf(stderr, "[%d/%d] %s %s %s t=%d: %s  (elapsed %s, ETA %s)\n", index, total, c.key().c_str(),
                         engine.c_str(), mode.c_str(), t,
                         m.status == "ok" ? fmt::format("{:.1f} ex/s, median {:.2f} ms", row["examples_per_second"].get<double>(),
                                                        row["step_ms"].get<double>()).c_str()
                                          : m.status.c_str(),
                         fmt_duration(el).c_str(), fmt_duration(el / measured * left).c_str());
          }
        }
  if (shard.size > 1) sum.gathered = gather_parts(o.out, shard, o.timeout_s * std::max(1, total));
  return sum;
}

}  // namespace lowbit::paradnn
