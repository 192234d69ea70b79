// Sharding a sweep over processes: `mpirun -np N lowbit paradnn sweep ...` (Open MPI's launcher
// environment gives each process its rank; no MPI library calls are needed because ranks share
// nothing but the file system) or `--shard i/n` by hand. Rank r measures every n-th row, writes
// <out>.rank<r>, pins itself to its share of this node's CPUs, and rank 0 gathers every part
// into <out> once all ranks have marked themselves done.
#pragma once

#include <string>

namespace lowbit::paradnn {

struct Shard {
  int rank = 0, size = 1;
  int local_rank = 0, local_size = 1;  // ranks on this node (CPU pinning)
  std::string source;                  // "", "--shard", "Open MPI" or "PMI"
};

// `flag` "i/n" wins; else OMPI_COMM_WORLD_{RANK,SIZE,LOCAL_RANK,LOCAL_SIZE}, else PMI_{RANK,SIZE}.
Shard detect_shard(const std::string& flag);
// Restricts this process to its contiguous share of the CPUs it may use; returns a description.
std::string pin_to_cores(const Shard& s);
std::string part_path(const std::string& out, int rank);
// Rank > 0: marks itself done. Rank 0: marks, waits up to `timeout_s` for every rank's marker,
// then appends the parts' rows not yet in `out` and removes parts and markers. Returns the rows
// gathered (0 on ranks > 0).
int gather_parts(const std::string& out, const Shard& s, double timeout_s);

}  // namespace lowbit::paradnn
