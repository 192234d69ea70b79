// `lowbit bench w4a8`: W4A8 vs W8A8 on FC/MatMul layer shapes (bench::compare_w4a8).
#include "command.h"
#include "lowbit/bench/w4a8_compare.h"
#include "lowbit/kernels/qlinear.h"
#include "train_common.h"

namespace lowbit::app {
namespace {

void setup_bench_w4a8(CLI::App& cmd) {
  struct Args {
    bench::W4A8CompareOptions opt;
    std::vector<std::string> shapes;
    int threads = 1;
    int64_t unpack_rows = 0;
    std::string json;
  };
  auto a = std::make_shared<Args>();
  cmd.add_option("--m", a->opt.ms, "rows (batch × sequence) to time")->capture_default_str();
  cmd.add_option("--shape", a->shapes, "weight shapes NxK (default: 768x768 3072x768 768x3072, BERT-base)");
  cmd.add_option("--copies", a->opt.copies, "distinct weight copies cycled (0: 96 MiB of int8 weights; 1: hot in cache)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))->capture_default_str();
  cmd.add_option("--min-time", a->opt.min_time, "seconds of timing per shape and M (about)")->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  cmd.add_option("--w4-unpack-rows", a->unpack_rows,
                 "int4 weights widened per column group from this many rows on (0: the built-in choice)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd.add_option("--group-size", a->opt.group_size,
                 "also time group-wise W4A8 with one weight scale per this many k (a multiple of 8; 0: off)")
      ->check(CLI::Range(int64_t{0}, int64_t{65536}))->capture_default_str();
  cmd.add_option("--json", a->json, "write the rows here");
  add_threads_option(cmd, &a->threads);
  cmd.callback([a] {
    if (!a->shapes.empty()) {
      a->opt.shapes.clear();
      for (const std::string& s : a->shapes) {
        const auto x = s.find('x');
        LOWBIT_REQUIRE(x != std::string::npos, "bench w4a8", "--shape '{}' is not NxK", s);
        a->opt.shapes.emplace_back(std::stoll(s.substr(0, x)), std::stoll(s.substr(x + 1)));
      }
    }
    if (a->unpack_rows > 0) kernels::set_qgemm_w4_unpack_rows(a->unpack_rows);
    const nlohmann::json out = bench::compare_w4a8(a->opt);
    if (!a->json.empty()) write_json(a->json, out);
  });
}

}  // namespace

LOWBIT_COMMAND("bench w4a8", "W4A8 vs W8A8 quantized FC layers (u8 x int4 vs u8 x int8 weights), kernel named per row",
               setup_bench_w4a8);

}  // namespace lowbit::app
