// CPUID-based feature detection (GCC's __builtin_cpu_supports) and the LOWBIT_ISA override.
#include "lowbit/kernels/isa.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "lowbit/core/error.h"

namespace lowbit::kernels {
namespace {

std::atomic<int>& forced() {
  static std::atomic<int> isa{-1};
  return isa;
}

Isa from_env() {
  const char* v = std::getenv("LOWBIT_ISA");
  if (!v || !*v) return best_supported_isa();
  for (Isa isa : {Isa::ref, Isa::avx2, Isa::avx512, Isa::avx512vnni}) {
    if (isa_name(isa) == v) {
      LOWBIT_REQUIRE(isa_supported(isa), "LOWBIT_ISA", "'{}' is not supported by this CPU (best: {})", v,
                     isa_name(best_supported_isa()));
      return isa;
    }
  }
  throw ValueError(fmt::format("[LOWBIT_ISA] unknown value '{}' (expected ref, avx2, avx512 or avx512vnni)", v));
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
    __builtin_cpu_init();
    c.avx2 = __builtin_cpu_supports("avx2");
    c.fma = __builtin_cpu_supports("fma");
    c.avx512f = __builtin_cpu_supports("avx512f");
    c.avx512bw = __builtin_cpu_supports("avx512bw");
    c.avx512vl = __builtin_cpu_supports("avx512vl");
    c.avx512dq = __builtin_cpu_supports("avx512dq");
    c.avx512vbmi = __builtin_cpu_supports("avx512vbmi");
    c.avx512vnni = __builtin_cpu_supports("avx512vnni");
    c.avx512bf16 = __builtin_cpu_supports("avx512bf16");
    return c;
  }();
  return f;
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  const bool avx512 = f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.fma;
  switch (isa) {
    case Isa::ref: return true;
    case Isa::avx2: return f.avx2 && f.fma;
    case Isa::avx512: return avx512;
    case Isa::avx512vnni: return avx512 && f.avx512vnni;
  }
  return false;
}

Isa best_supported_isa() {
  for (Isa isa : {Isa::avx512vnni, Isa::avx512, Isa::avx2})
    if (isa_supported(isa)) return isa;
  return Isa::ref;
}

Isa active_isa() {
  const int f = forced().load(std::memory_order_relaxed);
  if (f >= 0) return static_cast<Isa>(f);
  static const Isa env = from_env();
  return env;
}

void set_active_isa(Isa isa) {
  LOWBIT_REQUIRE(isa_supported(isa), "set_active_isa", "{} is not supported by this CPU", isa_name(isa));
  forced().store(static_cast<int>(isa), std::memory_order_relaxed);
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::ref: return "ref";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::avx512vnni: return "avx512vnni";
  }
  return "?";
}

}  // namespace lowbit::kernels
