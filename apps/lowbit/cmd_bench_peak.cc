// `lowbit bench peak`: the machine's measured fp32 / int8 / bf16 compute peaks and STREAM-triad
// bandwidth (the denominators of `paradnn sweep` utilization).
#include <cstdio>
#include <fstream>
#include <thread>

#include <fmt/ranges.h>

#include "command.h"
#include "lowbit/paradnn/peak.h"

namespace lowbit::app {
namespace {

void setup_peak(CLI::App& cmd) {
  auto threads = std::make_shared<int>(0);
  auto seconds = std::make_shared<double>(0.2);
  auto json = std::make_shared<std::string>();
  cmd.add_option("--threads", *threads, "threads of the all-core numbers (default: all hardware threads)")->check(CLI::Range(1, 4096));
  cmd.add_option("--seconds", *seconds, "seconds per measurement")->check(CLI::Range(0.01, 60.0))->capture_default_str();
  cmd.add_option("--json", *json, "write the peaks here (input of `paradnn sweep --peak`)");
  cmd.callback([=] {
    const int n = *threads > 0 ? *threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const auto p = paradnn::measure_peak(n, *seconds);
    std::printf("%s\n  paths: %s\n", p.cpu_model.c_str(), fmt::format("{}", fmt::join(p.features, ", ")).c_str());
    std::printf("  fp32 FMA : %8.1f GFLOP/s per core, %8.1f on %d threads\n", p.fp32_flops_per_core / 1e9, p.fp32_flops_all / 1e9, n);
    std::printf("  int8 dot : %8.1f GOP/s per core,   %8.1f on %d threads\n", p.int8_ops_per_core / 1e9, p.int8_ops_all / 1e9, n);
    if (p.bf16_flops_per_core > 0)
      std::printf("  bf16 dot : %8.1f GFLOP/s per core, %8.1f on %d threads\n", p.bf16_flops_per_core / 1e9, p.bf16_flops_all / 1e9, n);
    std::printf("  triad    : %8.1f GB/s on %d threads\n", p.triad_bytes_per_second / 1e9, n);
    if (!json->empty()) std::ofstream(*json) << p.to_json().dump(1) << "\n";
  });
}

}  // namespace

LOWBIT_COMMAND("bench peak", "measured fp32/int8/bf16 compute peaks and memory bandwidth of this machine", setup_peak);

}  // namespace lowbit::app
