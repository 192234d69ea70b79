// Test helper: the kernel paths (ISAs) this CPU can run, reference first, for tests that check
// every path against the reference.
#pragma once

#include <vector>

#include "lowbit/kernels/isa.h"

namespace lowbit::kernels {

inline std::vector<Isa> isa_paths() {
  std::vector<Isa> p;
  for (Isa i : {Isa::ref, Isa::avx2, Isa::avx512, Isa::avx512vnni})
    if (isa_supported(i)) p.push_back(i);
  return p;
}

}  // namespace lowbit::kernels
