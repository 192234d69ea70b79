// W4A8 vs W8A8 side by side: the u8×s8 product with requantization that a quantized FC/MatMul
// layer runs (kernels::qgemm_u8s8_requant_u8), with the weights packed as int8 (qgemm_pack_w),
// as int4 with int8 panels for many rows (qgemm_pack_w4(..., true), as the ONNX lowering packs)
// and as int4 alone (widened per column group for many rows) — the same codes in [-8, 7], so the
// outputs must be identical (checked first; InternalError if not). Each row names the kernels.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace lowbit::bench {

struct W4A8CompareOptions {
  std::vector<int64_t> ms = {1, 8, 64, 256};
  // N×K weight shapes; default: BERT-base's FC layers (768×768, 3072×768 up, 768×3072 down).
  std::vector<std::pair<int64_t, int64_t>> shapes = {{768, 768}, {3072, 768}, {768, 3072}};
  // Distinct weight copies cycled through, so that weights come from DRAM as in a whole model
  // (0: as many as fill 96 MiB of int8 weights, 3× this CPU's 32 MiB L3; 1: hot in cache).
  int64_t copies = 0;
  double min_time = 0.5;  // seconds of timing per kernel and shape (about)
  // > 0: also time group-wise W4A8 (qgemm_grouped.h: one weight scale per group_size k and
  // column, fp32 accumulation, then quantized to u8 per tensor, as lowbit.QGemmGrouped runs it)
  // on the same codes, checked bit for bit against its scalar reference first.
  int64_t group_size = 0;
};

// Prints a table on stdout and returns {threads, isa, rows: [{n, k, m, copies, w8a8_us,
// w4a8_us, speedup, w4a8_widened_us, speedup_widened, kernel_w8a8, kernel_w4a8, ...,
// [w4a8_group_us, speedup_group (W8A8 / grouped), group_vs_channel (per-channel W4A8 / grouped), kernel_w4a8_group]}]}.
nlohmann::json compare_w4a8(const W4A8CompareOptions& opt);

}  // namespace lowbit::bench
