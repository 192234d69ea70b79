// DSADS: segment parsing and its errors, window features against a direct double-precision
// evaluation, the subject split, the cache, and the real tree when scripts/fetch-data ran.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "data/fixtures.h"
#include "lowbit/core/rng.h"
#include "lowbit/data/dsads.h"
#include "lowbit/data/io.h"
#include "require_peer.h"

namespace lowbit::data {
namespace {
namespace fs = std::filesystem;
using testing::fresh_dir;
using testing::write_text;

// Value of (class a, subject p, segment s, row r, channel c): small integers keep files short.
int value(int a, int p, int s, int r, int c) { return (a * 7 + p * 3 + s * 5 + c + r * r) % 10; }

std::string segment_text(int a, int p, int s, int rows = kDsadsRows) {
  std::string t;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < kDsadsChannels; ++c) t += fmt::format("{}{}", c ? "," : "", value(a, p, s, r, c));
    t += "\n";
  }
  return t;
}

// 19 classes x `subjects` subjects x 1 segment.
fs::path write_tree(int subjects = 3) {
  const fs::path root = fresh_dir();
  for (int a = 1; a <= kDsadsClasses; ++a)
    for (int p = 1; p <= subjects; ++p)
      write_text(root / fmt::format("a{:02d}/p{}/s01.txt", a, p), segment_text(a, p, 1));
  return root;
}

TEST(Dsads, ParseSegmentAndErrors) {
  std::vector<float> out(kDsadsChannels * kDsadsRows);
  std::string text = segment_text(2, 1, 1);
  parse_dsads_segment(text, "'f'", out.data());
  EXPECT_EQ(out[7 * kDsadsRows + 3], static_cast<float>(value(2, 1, 1, 3, 7)));
  // CRLF line ends and spaces around fields are accepted.
  std::string crlf;
  for (char ch : text) crlf += ch == '\n' ? std::string("\r\n") : ch == ',' ? std::string(" , ") : std::string(1, ch);
  parse_dsads_segment(crlf, "'f'", out.data());
  EXPECT_EQ(out[44 * kDsadsRows + 124], static_cast<float>(value(2, 1, 1, 124, 44)));

  EXPECT_IO_ERROR(parse_dsads_segment(segment_text(2, 1, 1, 124), "'f.txt'", out.data()), "'f.txt'", "124 rows",
                  "expected 125 rows");
  EXPECT_IO_ERROR(parse_dsads_segment(segment_text(2, 1, 1, 126), "'f.txt'", out.data()), "line 126",
                  "more than 125 rows");
  std::string short_row = text;
  short_row.replace(short_row.find('\n', short_row.find('\n') + 1) - 2, 2, "");  // line 2 loses its last field
  EXPECT_IO_ERROR(parse_dsads_segment(short_row, "'f.txt'", out.data()), "'f.txt' line 2", "44 fields",
                  "expected 45");
  std::string long_row = text;
  long_row.insert(long_row.find('\n'), ",1");
  EXPECT_IO_ERROR(parse_dsads_segment(long_row, "'f.txt'", out.data()), "line 1", "more than 45 fields");
  std::string word = text;
  word.replace(word.find('\n') + 1 + 8, 1, "x");  // line 2, field 5
  EXPECT_IO_ERROR(parse_dsads_segment(word, "'f.txt'", out.data()), "line 2", "field 5", "not a number");
  EXPECT_IO_ERROR(parse_dsads_segment("1;2;3\n", "'f.txt'", out.data()), "line 1", "unexpected ';'");
}

TEST(Dsads, WindowFeaturesMatchDirectFormulas) {
  constexpr int kRows = 125;
  std::vector<float> w(2 * kRows);
  uniform_fill(3, 0, 0, kRows, w.data());
  for (int t = 0; t < kRows; ++t) w[t] = 4.0f * w[t] * w[t] - 1.0f;  // skewed
  for (int t = 0; t < kRows; ++t) w[kRows + t] = 2.5f;             // constant channel
  std::vector<float> f(2 * kDsadsStats);
  window_features(w.data(), 2, kRows, f.data());

  double mean = 0;
  for (int t = 0; t < kRows; ++t) mean += w[t];
  mean /= kRows;
  double m2 = 0, m3 = 0, m4 = 0, mad = 0, ss = 0, lo = 1e9, hi = -1e9;
  int cross = 0;
  for (int t = 0; t < kRows; ++t) {
    const double d = w[t] - mean;
    m2 += d * d / kRows, m3 += d * d * d / kRows, m4 += d * d * d * d / kRows, mad += std::abs(d) / kRows;
    ss += static_cast<double>(w[t]) * w[t] / kRows;
    lo = std::min<double>(lo, w[t]), hi = std::max<double>(hi, w[t]);
    if (t && (w[t - 1] >= mean) != (w[t] >= mean)) ++cross;
  }
  const double want[kDsadsStats] = {mean, std::sqrt(m2), lo, hi, std::sqrt(ss), m3 / std::pow(m2, 1.5),
                                    m4 / (m2 * m2) - 3, mad, cross / 124.0};
  // Both sides accumulate in double; the only difference is the final rounding to float.
  for (int k = 0; k < kDsadsStats; ++k) EXPECT_NEAR(f[k], want[k], 2e-7 * (1 + std::abs(want[k]))) << "stat " << k;
  const float flat[kDsadsStats] = {2.5f, 0, 2.5f, 2.5f, 2.5f, 0, 0, 0, 0};
  for (int k = 0; k < kDsadsStats; ++k) EXPECT_FLOAT_EQ(f[kDsadsStats + k], flat[k]) << "stat " << k;
}

TEST(Dsads, LoadsTreeAndSplitsBySubject) {
  const fs::path root = write_tree();
  DsadsOptions opt;
  opt.raw = true;
  opt.test_subjects = {2};
  const DatasetSplit s = load_dsads(root, opt);
  ASSERT_EQ(s.train.size(), 38);
  ASSERT_EQ(s.test.size(), 19);
  EXPECT_EQ(s.train.inputs.shape(), (Shape{38, 45, 125}));
  EXPECT_EQ(s.train.num_classes, 19);
  EXPECT_EQ(s.train.class_names[17], "jumping");
  // Ordered by (class, subject): train sample 3 is class a02, subject p3.
  EXPECT_EQ(s.train.labels.data<int32_t>()[3], 1);
  EXPECT_EQ(s.train.inputs.data<float>()[3 * 45 * 125 + 5 * 125 + 9], static_cast<float>(value(2, 3, 1, 9, 5)));
  for (int64_t i = 0; i < 19; ++i) {
    EXPECT_EQ(s.test.labels.data<int32_t>()[i], i);
    EXPECT_EQ(s.test.inputs.data<float>()[i * 45 * 125 + 44 * 125 + 2], static_cast<float>(value(i + 1, 2, 1, 2, 44)));
  }
  // Feature mode gives window_features of the same windows.
  opt.raw = false;
  const DatasetSplit f = load_dsads(root, opt);
  EXPECT_EQ(f.test.inputs.shape(), (Shape{19, kDsadsFeatures}));
  std::vector<float> want(kDsadsFeatures);
  window_features(s.test.inputs.data<float>() + 4 * 45 * 125, 45, 125, want.data());
  for (int k = 0; k < kDsadsFeatures; ++k) EXPECT_EQ(f.test.inputs.data<float>()[4 * kDsadsFeatures + k], want[k]);

  opt.test_subjects = {4};
  EXPECT_THROW(load_dsads(root, opt), ValueError);
  opt.test_subjects = {1, 2, 3};
  EXPECT_THROW(load_dsads(root, opt), ValueError);
}

TEST(Dsads, SeededSubjectChoice) {
  EXPECT_EQ(dsads_pick_test_subjects(5, 8, 2), dsads_pick_test_subjects(5, 8, 2));
  bool differs = false;
  for (uint64_t seed = 0; seed < 8; ++seed) differs |= dsads_pick_test_subjects(seed, 8, 2) != dsads_pick_test_subjects(0, 8, 2);
  EXPECT_TRUE(differs);
  const fs::path root = write_tree();
  DsadsOptions opt;
  opt.seed = 11;
  const DatasetSplit s = load_dsads(root, opt);  // round(0.2 * 3) = 1 test subject
  EXPECT_EQ(s.test.size(), 19);
  EXPECT_NE(s.test.name.find(fmt::format("{}", dsads_pick_test_subjects(11, 3, 1)[0])), std::string::npos);
}

TEST(Dsads, RandomWindowSplitIsDeterministicAndDisjoint) {
  const WindowSplit a = dsads_random_split(1000, 0.2, 42);
  EXPECT_EQ(a.train.size(), 800u);
  EXPECT_EQ(a.validation.size(), 100u);
  EXPECT_EQ(a.test.size(), 100u);
  std::vector<int> seen(1000, 0);
  for (const auto* v : {&a.train, &a.validation, &a.test}) {
    EXPECT_TRUE(std::is_sorted(v->begin(), v->end()));
    for (int64_t i : *v) ++seen[static_cast<size_t>(i)];
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), 1000);  // a partition: every window exactly once
  const WindowSplit b = dsads_random_split(1000, 0.2, 42);
  EXPECT_EQ(a.test, b.test);
  EXPECT_EQ(a.train, b.train);
  EXPECT_NE(dsads_random_split(1000, 0.2, 43).test, a.test);
  // Windows of every part spread over the whole range (not a block), as a shuffle gives.
  EXPECT_LT(a.test.front(), 100);
  EXPECT_GT(a.test.back(), 900);
  EXPECT_EQ(dsads_random_split(7, 0.2, 1).test.size(), 1u);  // round(1.4) = 1 held out: 0 validation, 1 test
  EXPECT_THROW(dsads_random_split(10, 0.0, 1), ValueError);
  EXPECT_THROW(dsads_random_split(10, 1.0, 1), ValueError);

  const fs::path root = write_tree();
  DsadsOptions opt;
  opt.raw = true;
  opt.split = "random";
  const DatasetSplit s = load_dsads(root, opt);  // 57 windows: round(11.4) = 11 held out, 6 test
  EXPECT_EQ(s.train.size(), 46);
  EXPECT_EQ(s.test.size(), 6);
  opt.split = "subjects";
  EXPECT_THROW(load_dsads(root, opt), ValueError);
}

TEST(Dsads, MalformedTreeErrors) {
  {
    const fs::path root = write_tree(2);
    fs::remove_all(root / "a07");
    EXPECT_IO_ERROR(load_dsads(root), "missing class folder", "a07");
  }
  {
    const fs::path root = write_tree(2);
    fs::remove_all(root / "a03/p2");
    EXPECT_IO_ERROR(load_dsads(root), "missing subject folder", "a03/p2");
  }
  {
    const fs::path root = write_tree(2);
    write_text(root / "a05/p1/s01.txt", segment_text(5, 1, 1, 100));
    EXPECT_IO_ERROR(load_dsads(root), "a05/p1/s01.txt", "100 rows");
  }
  EXPECT_IO_ERROR(load_dsads(fresh_dir("-empty")), "no DSADS tree", "scripts/fetch-data");
}

TEST(Dsads, CacheIsUsedAndInvalidated) {
  const fs::path root = write_tree(2);
  DsadsOptions opt;
  opt.raw = true;
  opt.test_subjects = {1};
  const DatasetSplit first = load_dsads(root, opt);
  ASSERT_TRUE(fs::exists(root / ".lowbit-cache-dsads.bin"));
  // Same size and mtime, different digits: the cache (keyed on names, sizes, mtimes) still hits.
  const fs::path seg = root / "a01/p1/s01.txt";
  const auto mtime = fs::last_write_time(seg);
  std::string text = segment_text(1, 1, 1);
  text[0] = text[0] == '9' ? '8' : '9';
  write_text(seg, text);
  fs::last_write_time(seg, mtime);
  const float cached = load_dsads(root, opt).test.inputs.data<float>()[0];
  EXPECT_EQ(cached, first.test.inputs.data<float>()[0]);
  opt.use_cache = false;
  EXPECT_EQ(load_dsads(root, opt).test.inputs.data<float>()[0], static_cast<float>(text[0] - '0'));
  // A corrupt cache is rebuilt silently; a changed file invalidates it.
  write_text(root / ".lowbit-cache-dsads.bin", "garbage");
  opt.use_cache = true;
  EXPECT_EQ(load_dsads(root, opt).test.inputs.data<float>()[0], static_cast<float>(text[0] - '0'));
  write_text(seg, segment_text(1, 1, 1, 3));
  EXPECT_IO_ERROR(load_dsads(root, opt), "s01.txt", "3 rows");
}

TEST(Dsads, RealData) {
  const fs::path root = default_data_root() / "DSADS";
  if (!fs::exists(root / "a19" / "p8" / "s60.txt")) LOWBIT_SKIP_ABSENT_PEER("no DSADS tree at " + root.string() + " (scripts/fetch-data)");
  const DatasetSplit s = load_dsads(root);
  EXPECT_EQ(s.train.size(), 6840);  // 6 subjects x 19 x 60
  EXPECT_EQ(s.test.size(), 2280);   // 2 subjects
  EXPECT_EQ(s.train.inputs.shape(), (Shape{6840, kDsadsFeatures}));
  EXPECT_EQ(s.test.class_counts(), std::vector<int64_t>(19, 120));
  s.train.validate("test");
}

}  // namespace
}  // namespace lowbit::data
