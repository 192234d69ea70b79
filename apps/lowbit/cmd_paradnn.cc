// `lowbit paradnn sweep|report|run|export`: the ParaDnn suite (src/paradnn). `run` and
// `export` are what a sweep starts in child processes; they are usable by hand too.
#include <cstdio>
#include <fstream>

#include "command.h"
#include "lowbit/core/error.h"
#include "lowbit/core/threads.h"
#include "lowbit/paradnn/engines.h"
#include "lowbit/paradnn/report.h"
#include "lowbit/paradnn/runner.h"
#include "lowbit/paradnn/sweep.h"

namespace lowbit::app {
namespace {

using paradnn::ModelConfig;

ModelConfig parse_config(const std::string& text) {
  try {
    return ModelConfig::from_json(nlohmann::json::parse(text));
  } catch (const nlohmann::json::parse_error& e) {
    throw ValueError(fmt::format("--config is not JSON ({}); expected e.g. {{\"family\":\"fc\",\"layers\":4,...}}", e.what()));
  }
}

void setup_sweep(CLI::App& cmd) {
  auto o = std::make_shared<paradnn::SweepOptions>();
  cmd.add_option("--family", o->family, "model family")->check(CLI::IsMember(paradnn::family_names()))->capture_default_str();
  cmd.add_option("--preset", o->preset, "grid preset")->check(CLI::IsMember(paradnn::preset_names()))->capture_default_str();
  cmd.add_option("--set", o->sets, "override one hyperparameter's values: name=v1,v2 or name=lo..hi (doubling); threads=1,2 sweeps thread counts");
  cmd.add_option("--engines", o->engines, "engines")->delimiter(',')->check(CLI::IsMember(paradnn::engine_names()));
  cmd.add_option("--mode", o->modes, "train, infer or both (comma-separated)")->delimiter(',')->check(CLI::IsMember({"train", "infer"}));
  cmd.add_option("--threads", o->threads, "thread counts to sweep (comma-separated)")->delimiter(',')->check(CLI::Range(1, 4096));
  cmd.add_option("--out", o->out, "JSON Lines results (appended; recorded rows are skipped)")->capture_default_str();
  cmd.add_option("--peak", o->peak_file, "peaks from `lowbit bench peak --json` (default: measure now)")->check(CLI::ExistingFile);
  cmd.add_option("--warmup", o->warmup, "untimed steps per measurement")->check(CLI::Range(0, 1000))->capture_default_str();
  cmd.add_option("--min-steps", o->min_steps, "timed steps: at least")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd.add_option("--min-time", o->min_time, "timed seconds: at least")->check(CLI::Range(0.0, 3600.0))->capture_default_str();
  cmd.add_option("--timeout", o->timeout_s, "seconds before a measurement is a timeout row")->check(CLI::Range(1.0, 86400.0))->capture_default_str();
  cmd.add_option("--peers-dir", o->peers_dir, "bench/peers folder (default: LOWBIT_PEERS_DIR, else the source tree)");
  cmd.add_flag("!--no-progress", o->progress, "no per-row progress lines");
  cmd.add_option("--shard", o->shard, "i/n: measure every n-th row from the i-th (default under mpirun: the rank)");
  cmd.callback([o] {
    const auto s = paradnn::run_sweep(*o);
    std::printf("paradnn sweep%s: %d planned, %d already recorded, %d ok, %d failed -> %s\n",
                s.ranks > 1 ? fmt::format(" rank {}/{}", s.rank, s.ranks).c_str() : "", s.planned, s.skipped, s.ok, s.failed,
                s.ranks > 1 ? fmt::format("{}.rank{}", o->out, s.rank).c_str() : o->out.c_str());
    if (s.ranks > 1 && s.rank == 0) std::printf("paradnn sweep: gathered %d rows of %d ranks into %s\n", s.gathered, s.ranks, o->out.c_str());
  });
}

struct RunArgs {
  std::string config;
  paradnn::RunOptions run;
  int threads = 1;
};

void setup_run(CLI::App& cmd) {
  auto a = std::make_shared<RunArgs>();
  cmd.add_option("--config", a->config, "JSON configuration")->required();
  cmd.add_option("--engine", a->run.engine, "engine")->check(CLI::IsMember(paradnn::lowbit_engine_names()))->capture_default_str();
  cmd.add_option("--mode", a->run.mode, "train or infer")->check(CLI::IsMember({"train", "infer"}))->capture_default_str();
  cmd.add_option("--warmup", a->run.warmup, "untimed steps")->check(CLI::Range(0, 1000));
  cmd.add_option("--min-steps", a->run.min_steps, "timed steps: at least")->check(CLI::Range(1, 100000));
  cmd.add_option("--min-time", a->run.min_time, "timed seconds: at least")->check(CLI::Range(0.0, 3600.0));
  cmd.add_option("--seed", a->run.seed, "seed of weights and data");
  add_threads_option(cmd, &a->threads);
  cmd.callback([a] {
    const auto r = paradnn::run_lowbit(parse_config(a->config), a->run);
    std::printf("%s\n", nlohmann::json{{"step_ms", r.step_ms}, {"cpu_ms", r.cpu_ms}, {"planned_bytes", r.planned_bytes},
                                        {"bf16_layers", r.bf16_layers}, {"threads", num_threads()}}.dump().c_str());
  });
}

void setup_export(CLI::App& cmd) {
  auto config = std::make_shared<std::string>();
  auto dir = std::make_shared<std::string>();
  auto seed = std::make_shared<uint64_t>(1);
  auto precision = std::make_shared<std::string>("fp32");
  cmd.add_option("--config", *config, "JSON configuration")->required();
  cmd.add_option("--out-dir", *dir, "writes model.onnx and input_0.npy here")->required();
  cmd.add_option("--seed", *seed, "seed of weights and data");
  cmd.add_option("--precision", *precision, "fp32, int8 (the QDQ model lowbit-int8 runs) or bf16 (Cast pairs, bf16 weights)")
      ->check(CLI::IsMember({"fp32", "int8", "bf16"}))->capture_default_str();
  cmd.callback([=] { paradnn::export_bundle(parse_config(*config), *dir, *seed, *precision); });
}

void setup_report(CLI::App& cmd) {
  auto in = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>("report.html");
  cmd.add_option("results", *in, "results.jsonl files from `paradnn sweep`")->required()->check(CLI::ExistingFile);
  cmd.add_option("--out", *out, "self-contained HTML page")->capture_default_str();
  cmd.callback([=] {
    const auto s = paradnn::write_report(*in, *out);
    std::printf("paradnn report: %d rows (%d ok), %d plots -> %s\n", s.rows, s.ok_rows, s.plots, out->c_str());
  });
}

}  // namespace

LOWBIT_COMMAND("paradnn sweep", "sweep generated FC/CNN models across engines into JSON Lines (resumable)", setup_sweep);
LOWBIT_COMMAND("paradnn report", "one self-contained HTML report (heatmaps, speedups, roofline, regression)", setup_report);
LOWBIT_COMMAND("paradnn run", "time one generated model on lowbit (what a sweep runs per row); prints JSON", setup_run);
LOWBIT_COMMAND("paradnn export", "write one generated model as ONNX plus a random input batch", setup_export);

}  // namespace lowbit::app
