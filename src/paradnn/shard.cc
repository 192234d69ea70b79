// Rank detection, CPU pinning (sched_setaffinity) and the file-based gather of a sharded sweep.
#include "shard.h"

#include <sched.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "lowbit/core/error.h"
#include "lowbit/paradnn/sweep.h"

namespace lowbit::paradnn {
namespace fs = std::filesystem;
namespace {

int env_int(const char* name, int dflt) {
  const char* v = std::getenv(name);
  if (v == nullptr) return dflt;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (end == v || *end != '\0' || n < 0) throw ValueError(fmt::format("[paradnn shard] {}='{}' is not a rank or size", name, v));
  return static_cast<int>(n);
}

std::string done_path(const std::string& out, int rank) { return part_path(out, rank) + ".done"; }

}  // namespace

std::string part_path(const std::string& out, int rank) { return fmt::format("{}.rank{}", out, rank); }

Shard detect_shard(const std::string& flag) {
  Shard s;
  if (!flag.empty()) {
    const auto slash = flag.find('/');
    int i = -1, n = -1;
    try {
      if (slash != std::string::npos) i = std::stoi(flag.substr(0, slash)), n = std::stoi(flag.substr(slash + 1));
    } catch (const std::exception&) {
    }
    if (n < 1 || i < 0 || i >= n)
      throw ValueError(fmt::format("[paradnn sweep] --shard '{}': expected i/n with 0 <= i < n", flag));
    s.rank = i, s.size = n, s.source = "--shard";
    return s;  // by hand: no pinning (the processes may be on different machines or share one)
  }
  if (std::getenv("OMPI_COMM_WORLD_SIZE")) {
    s.rank = env_int("OMPI_COMM_WORLD_RANK", 0), s.size = env_int("OMPI_COMM_WORLD_SIZE", 1);
    s.local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK", s.rank), s.local_size = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", s.size);
    s.source = "Open MPI";
  } else if (std::getenv("PMI_SIZE")) {
    s.rank = env_int("PMI_RANK", 0), s.size = env_int("PMI_SIZE", 1);
    s.local_rank = s.rank, s.local_size = s.size;
    s.source = "PMI";
  }
  if (s.size < 1 || s.rank >= s.size) throw ValueError(fmt::format("[paradnn shard] rank {} of {} is not valid", s.rank, s.size));
  return s;
}

std::string pin_to_cores(const Shard& s) {
  if (s.local_size <= 1 || s.source == "--shard") return "not pinned";
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return "not pinned (sched_getaffinity failed)";
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  const size_t n = cpus.size(), k = static_cast<size_t>(s.local_size), r = static_cast<size_t>(s.local_rank);
  // Contiguous share; with fewer CPUs than ranks, ranks share CPUs round-robin.
  const size_t lo = n >= k ? n * r / k : r % n, hi = n >= k ? n * (r + 1) / k : lo + 1;
  cpu_set_t mine;
  CPU_ZERO(&mine);
  std::string list;
  for (size_t i = lo; i < hi; ++i) {
    CPU_SET(cpus[i], &mine);
    list += (list.empty() ? "" : ",") + std::to_string(cpus[i]);
  }
  if (sched_setaffinity(0, sizeof mine, &mine) != 0) return "not pinned (sched_setaffinity failed)";
  return "CPUs " + list;
}

int gather_parts(const std::string& out, const Shard& s, double timeout_s) {
  std::ofstream(done_path(out, s.rank)) << "done\n";
  if (s.rank != 0) return 0;
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < s.size; ++r)
    while (!fs::exists(done_path(out, r))) {
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > timeout_s)
        throw IoError(fmt::format("[paradnn sweep] rank {} did not finish within {:.0f} s; its rows stay in {}", r, timeout_s,
                                  part_path(out, r)));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  std::set<std::string> have;
  if (std::ifstream f{out}; f) {
    for (std::string line; std::getline(f, line);)
      if (!line.empty()) have.insert(row_key(nlohmann::json::parse(line)));
  }
  int gathered = 0;
  std::ofstream o(out, std::ios::app);
  for (int r = 0; r < s.size; ++r) {
    std::ifstream f(part_path(out, r));
    for (std::string line; std::getline(f, line);) {
      if (line.empty()) continue;
      if (have.insert(row_key(nlohmann::json::parse(line))).second) o << line << "\n", ++gathered;
    }
  }
  o.close();
  if (!o) throw IoError(fmt::format("[paradnn sweep] short write gathering into '{}'", out));
  for (int r = 0; r < s.size; ++r) fs::remove(part_path(out, r)), fs::remove(done_path(out, r));
  return gathered;
}

}  // namespace lowbit::paradnn
