// `lowbit bench gemm`: lowbit's integer GEMM vs oneDNN int8 and fp32 on one shape
// (bench::compare_gemms, bench/gemm_compare.h).
#include "command.h"
#include "lowbit/bench/gemm_compare.h"
#include "train_common.h"

namespace lowbit::app {
namespace {

void setup_bench_gemm(CLI::App& cmd) {
  struct Args {
    bench::GemmCompareOptions opt;
    int threads = 0;
    std::string json;
  };
  auto a = std::make_shared<Args>();
  bench::GemmCompareOptions& o = a->opt;
  cmd.add_option("--m", o.m, "rows of A and C")->check(CLI::Range(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  cmd.add_option("--n", o.n, "rows of B, columns of C")->check(CLI::Range(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  cmd.add_option("--k", o.k, "reduction length")->check(CLI::Range(int64_t{1}, int64_t{65536}))->capture_default_str();
  cmd.add_option("--acc-bits", o.acc_bits, "accumulator bits A of tile-clamp and saturating")
      ->check(CLI::Range(2, 32))->capture_default_str();
  cmd.add_option("--tile", o.tile, "tile width T of tile-clamp (0 = one tile)")->check(CLI::Range(int64_t{0}, int64_t{65536}))
      ->capture_default_str();
  cmd.add_option("--min-time", o.min_time, "seconds of timing per kernel (about)")->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  cmd.add_option("--json", a->json, "write gops.<kernel>, ratio_vs_onednn_int8.<kernel>, ... (B packed once) and *_pack_per_call here");
  add_threads_option(cmd, &a->threads);
  cmd.callback([a] {
    const nlohmann::json out = bench::compare_gemms(a->opt);
    if (!a->json.empty()) write_json(a->json, out);
  });
}

}  // namespace

LOWBIT_COMMAND("bench gemm", "integer GEMM (exact, tile-clamp, saturating) vs oneDNN int8 and fp32", setup_bench_gemm);

}  // namespace lowbit::app
