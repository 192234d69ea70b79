// Terminal progress bar.
#include "lowbit/train/progress.h"

#include <unistd.h>

#include <cstdio>

namespace lowbit::train {

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total > 0 ? total : 1), enabled_(enabled), tty_(isatty(STDERR_FILENO) != 0) {}

void ProgressBar::update(int64_t done, const std::string& stats) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_ < std::chrono::milliseconds(100)) return;
  } else {
    if (done >= total_) return;  // finish() prints the last line
    const int decile = static_cast<int>(10 * done / total_);
    if (decile == last_decile_) return;
    last_decile_ = decile;
  }
  last_ = now;
  draw(done, stats, false);
}

void ProgressBar::finish(const std::string& stats) {
  if (!enabled_) return;
  draw(total_, stats, true);
}

void ProgressBar::draw(int64_t done, const std::string& stats, bool final) {
  constexpr int kWidth = 24;
  const int fill = static_cast<int>(kWidth * done / total_);
  std::string bar(static_cast<size_t>(fill), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "%s%s [%s] %3d%% %s%s", tty_ ? "\r" : "", label_.c_str(), bar.c_str(),
               static_cast<int>(100 * done / total_), stats.c_str(), (final || !tty_) ? "\n" : "\033[K");
  std::fflush(stderr);
}

}  // namespace lowbit::train
