// A one-line progress bar on stderr (redrawn in place on a terminal, a line per 10 % otherwise).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lowbit::train {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, bool enabled = true);
  // Redraws when at least 0.1 s passed since the last draw (or at the end).
  void update(int64_t done, const std::string& stats);
  void finish(const std::string& stats);

 private:
  void draw(int64_t done, const std::string& stats, bool final);
  std::string label_;
  int64_t total_;
  bool enabled_, tty_;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace lowbit::train
