// Runs a child process with captured stdout/stderr, a wall-clock limit and its own resource
// usage (peak RSS), for the sweep's per-configuration isolation.
#pragma once

#include <string>
#include <vector>

namespace lowbit::paradnn {

struct ChildResult {
  int exit_code = -1;       // exit status, or 128 + signal
  bool timed_out = false;   // killed at the limit
  std::string out, err;     // captured streams
  long max_rss_kb = 0;      // the child's peak resident set
};

// argv[0] is looked up in PATH. Throws IoError when the process cannot be started.
ChildResult run_child(const std::vector<std::string>& argv, double timeout_s);

}  // namespace lowbit::paradnn
