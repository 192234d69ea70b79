// CPU feature detection and the one place that decides which ISA path kernels take.
// LOWBIT_ISA=ref|avx2|avx512|avx512vnni forces a path (capped by what the CPU supports)
// so that any fast path can be bisected against the reference.
#pragma once

#include <string_view>

namespace lowbit::kernels {

enum class Isa { ref = 0, avx2 = 1, avx512 = 2, avx512vnni = 3 };

struct CpuFeatures {
  bool avx2 = false, fma = false, avx512f = false, avx512bw = false, avx512vl = false,
       avx512dq = false, avx512vnni = false;
  // Extra kernels inside the avx512 path, not paths of their own: byte permutes (VBMI) and
  // bf16 dot products (the bf16 plans).
  bool avx512vbmi = false, avx512bf16 = false;
};

const CpuFeatures& cpu_features();
Isa best_supported_isa();        // highest path this CPU can run
Isa active_isa();                // best_supported_isa(), or LOWBIT_ISA if set (validated)
bool isa_supported(Isa isa);
std::string_view isa_name(Isa isa);

// For tests and benchmarks: force a path for this process (must be supported). Not thread-safe
// with concurrently running kernels.
void set_active_isa(Isa isa);

}  // namespace lowbit::kernels
