// lowbit's integer GEMM (exact, tile-clamp, saturating) side by side with oneDNN's u8×s8→s32
// matmul and oneDNN's fp32 matmul on the same shape and thread count, in one run. lowbit runs
// with B packed once (igemm_pack_b, as oneDNN's weights are reordered once: the fair ratio) and
// with B packed on every call ("+pack", the training case). Results are cross-checked first:
// lowbit exact against oneDNN int8, packed against unpacked (InternalError if they differ).
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

namespace lowbit::bench {

struct GemmCompareOptions {
  int64_t m = 1024, n = 1024, k = 1024;
  int64_t tile = 32;      // tile width T of tile-clamp (0 = one tile)
  int acc_bits = 8;       // accumulator bits A of tile-clamp and saturating
  double min_time = 1.0;  // seconds of timing per kernel (about)
};

// Prints a table on stdout and returns {m, n, k, threads, rounds, isa, gops.<kernel>,
// ms.<kernel>, ratio_vs_onednn_int8.<kernel>, ratio_vs_fp32.<kernel>, ... and *_pack_per_call}.
nlohmann::json compare_gemms(const GemmCompareOptions& opt);

}  // namespace lowbit::bench
