// UCI "Daily and Sports Activities" (DSADS, Altun & Barshan 2010): 19 activities x 8 subjects
// x 60 segments of 5 s at 25 Hz. Raw tree <root>/aNN/pK/sMM.txt, each 125 rows x 45
// comma-separated floats: 5 units (torso, right arm, left arm, right leg, left leg) x
// (accelerometer, gyroscope, magnetometer) x (x, y, z), channel = unit*9 + sensor*3 + axis.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "lowbit/data/dataset.h"

namespace lowbit::data {

inline constexpr int kDsadsClasses = 19;
inline constexpr int kDsadsChannels = 45;
inline constexpr int kDsadsRows = 125;
inline constexpr int kDsadsSubjects = 8;

// Per-channel statistics of one 125-sample window, in this order (feature = channel*9 + stat):
//   0 mean, 1 standard deviation (population), 2 minimum, 3 maximum, 4 root mean square,
//   5 skewness (third standardized moment), 6 excess kurtosis (fourth standardized moment - 3),
//   7 mean absolute deviation from the mean, 8 mean-crossing rate (fraction of the 124 steps
//   where x - mean changes sign).
// Skewness and kurtosis are 0 for a constant channel. All are computed in double.
inline constexpr int kDsadsStats = 9;
inline constexpr int kDsadsFeatures = kDsadsChannels * kDsadsStats;  // 405

// Features of one window: `window` is (channels, rows) channel-major, out has channels*9 floats.
void window_features(const float* window, int channels, int rows, float* out);

struct DsadsOptions {
  bool raw = false;                // inputs (N, 45, 125) instead of (N, 405) features
  std::vector<int> test_subjects;  // 1..8; empty: choose round(test_fraction * 8) by seed
  double test_fraction = 0.2;
  uint64_t seed = 0;
  bool use_cache = true;  // read/write <root>/.lowbit-cache-dsads.bin
  // "subject": hold out test subjects (above). "random": the reference's protocol (issue 14):
  // a random 20 % of all windows held out, half of it validation (dropped), half test.
  std::string split = "subject";
  uint64_t split_seed = 42;  // "random": the shuffle's seed
};

// The "random" split of n windows: a Philox-driven shuffle by `seed`; the first
// round(hold_fraction * n) are held out, the first half of those (rounded down) validation and
// the rest test. Each list sorted; together a partition of 0..n-1.
struct WindowSplit {
  std::vector<int64_t> train, validation, test;
};
WindowSplit dsads_random_split(int64_t n, double hold_fraction, uint64_t seed);

// The 19 activity names in label order (label = NN - 1 for folder aNN).
std::vector<std::string> dsads_classes();

// Test subjects for a seed: a Philox-driven shuffle of 1..num_subjects, first k, sorted.
std::vector<int> dsads_pick_test_subjects(uint64_t seed, int num_subjects, int k);

// Loads the tree at `root` (the folder holding a01..a19; a parent holding DSADS/ is accepted
// too). Every class folder a01..a19 must exist and hold the same subject folders pK; segments
// are the sMM.txt files present. Samples are ordered by (class, subject, segment). The split is
// by subject (no subject appears in both). Inputs are not normalized (see normalize()).
// IoError naming the file (and line) for a missing folder, a wrong row or column count or a
// non-numeric field.
DatasetSplit load_dsads(const std::filesystem::path& root, const DsadsOptions& opt = {});

// Parses one segment file's text (rows x 45 floats) into out (45 x rows, channel-major).
// `what` names the file in errors. Exposed for tests and the fuzzer.
void parse_dsads_segment(std::string_view text, const std::string& what, float* out);

}  // namespace lowbit::data
