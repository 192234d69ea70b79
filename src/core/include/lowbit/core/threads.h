// Intra-op thread control. One process-wide setting (from --threads, or LOWBIT_NUM_THREADS,
// else OMP_NUM_THREADS, else all cores); kernels split work over it with parallel_for.
#pragma once

#include <cstdint>
#include <functional>

namespace lowbit {

int num_threads();           // current intra-op thread count (>= 1)
void set_num_threads(int n);  // n >= 1; applies to OpenMP in the calling thread and later ones
int hardware_threads();       // what the machine offers

// Call first thing in a program's main: when the user chose no OpenMP wait policy, sets a
// bounded spin (GOMP_SPINCOUNT) and re-executes the program once, since libgomp reads its
// environment before main. Keeps 2 threads from collapsing on a loaded 2-core machine.
void adopt_bounded_spin(int argc, char** argv);

// Runs fn(begin, end) over [0, n) in contiguous chunks of at least `grain` items, on up to
// num_threads() threads. Chunking is static: chunk boundaries depend only on n, grain and the
// thread count, and results must not depend on them (kernels write disjoint outputs).
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace lowbit
