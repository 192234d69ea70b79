// DSADS loader: parallel text parsing with from_chars, a binary cache of the raw windows,
// per-channel window features and the subject-wise train/test split.
#include "lowbit/data/dsads.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "lowbit/core/error.h"
#include "lowbit/core/rng.h"
#include "lowbit/core/threads.h"
#include "lowbit/data/cache.h"
#include "lowbit/data/io.h"
#include "parallel_items.h"

namespace lowbit::data {
namespace fs = std::filesystem;

std::vector<std::string> dsads_classes() {
  return {"sitting",           "standing",          "lying_on_back",       "lying_on_right_side",
          "ascending_stairs",  "descending_stairs", "standing_in_elevator", "moving_in_elevator",
          "walking_parking_lot", "treadmill_walk_flat", "treadmill_walk_inclined", "treadmill_run",
          "stepper",           "cross_trainer",     "cycling_horizontal",  "cycling_vertical",
          "rowing",            "jumping",           "basketball"};
}

void parse_dsads_segment(std::string_view text, const std::string& what, float* out) {
  size_t pos = 0;
  int row = 0, line = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view ln = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line;
    while (!ln.empty() && (ln.back() == '\r' || ln.back() == ' ' || ln.back() == '\t')) ln.remove_suffix(1);
    if (ln.empty()) continue;  // blank lines (e.g. a trailing one) carry no row
    if (row == kDsadsRows)
      throw IoError(fmt::format("[dsads] {} line {}: more than {} rows (expected exactly {})", what, line, kDsadsRows,
                                kDsadsRows));
    const char* p = ln.data();
    const char* end = ln.data() + ln.size();
    for (int c = 0; c < kDsadsChannels; ++c) {
      while (p < end && (*p == ' ' || *p == '\t')) ++p;
      float v;
      const auto [q, ec] = std::from_chars(p, end, v);
      if (ec != std::errc() || !std::isfinite(v)) {
        const char* f_end = std::find(p, end, ',');
        throw IoError(fmt::format("[dsads] {} line {}: field {} ('{}') is not a number (expected {} "
                                  "comma-separated floats)",
                                  what, line, c + 1, std::string_view(p, f_end - p), kDsadsChannels));
      }
      out[static_cast<size_t>(c) * kDsadsRows + row] = v;
      p = q;
      while (p < end && (*p == ' ' || *p == '\t')) ++p;
      if (c + 1 < kDsadsChannels) {
        if (p == end)
          throw IoError(fmt::format("[dsads] {} line {}: {} fields (expected {} comma-separated floats)", what, line,
                                    c + 1, kDsadsChannels));
        if (*p != ',')
          throw IoError(fmt::format("[dsads] {} line {}: unexpected '{}' after field {} (expected ',')", what, line,
                                    *p, c + 1));
        ++p;
      } else if (p != end) {
        throw IoError(fmt::format("[dsads] {} line {}: more than {} fields (expected exactly {})", what, line,
                                  kDsadsChannels, kDsadsChannels));
      }
    }
    ++row;
  }
  if (row != kDsadsRows)
    throw IoError(fmt::format("[dsads] {}: {} rows (expected {} rows of {} floats)", what, row, kDsadsRows,
                              kDsadsChannels));
}

void window_features(const float* window, int channels, int rows, float* out) {
  for (int c = 0; c < channels; ++c) {
    const float* x = window + static_cast<size_t>(c) * rows;
    double sum = 0, sq = 0, lo = x[0], hi = x[0];
    for (int t = 0; t < rows; ++t) {
      sum += x[t];
      sq += static_cast<double>(x[t]) * x[t];
      lo = std::min<double>(lo, x[t]);
      hi = std::max<double>(hi, x[t]);
    }
    const double mean = sum / rows;
    double m2 = 0, m3 = 0, m4 = 0, mad = 0;
    int crossings = 0;
    for (int t = 0; t < rows; ++t) {
      const double d = x[t] - mean;
      m2 += d * d;
      m3 += d * d * d;
      m4 += d * d * d * d;
      mad += std::abs(d);
      if (t > 0 && ((x[t - 1] - mean) < 0) != (d < 0)) ++crossings;
    }
    m2 /= rows;
    m3 /= rows;
    m4 /= rows;
    const bool flat = m2 <= 1e-24;
    float* o = out + static_cast<size_t>(c) * kDsadsStats;
    o[0] = static_cast<float>(mean);
    o[1] = static_cast<float>(std::sqrt(m2));
    o[2] = static_cast<float>(lo);
    o[3] = static_cast<float>(hi);
    o[4] = static_cast<float>(std::sqrt(sq / rows));
    o[5] = flat ? 0.0f : static_cast<float>(m3 / std::pow(m2, 1.5));
    o[6] = flat ? 0.0f : static_cast<float>(m4 / (m2 * m2) - 3.0);
    o[7] = static_cast<float>(mad / rows);
    o[8] = rows > 1 ? static_cast<float>(crossings) / static_cast<float>(rows - 1) : 0.0f;
  }
}

WindowSplit dsads_random_split(int64_t n, double hold_fraction, uint64_t seed) {
  LOWBIT_REQUIRE(n >= 0 && hold_fraction > 0 && hold_fraction < 1, "dsads_random_split",
                 "needs n >= 0 and a held-out fraction in (0, 1), got {} and {}", n, hold_fraction);
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
  Rng rng(seed, mix_stream(0x445341445352ULL /* "DSADSR" */, 0));
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[static_cast<size_t>(i)], p[rng.below(static_cast<uint64_t>(i) + 1)]);
  const auto hold = static_cast<int64_t>(std::llround(hold_fraction * static_cast<double>(n)));
  WindowSplit w;
  w.validation.assign(p.begin(), p.begin() + hold / 2);
  w.test.assign(p.begin() + hold / 2, p.begin() + hold);
  w.train.assign(p.begin() + hold, p.end());
  for (auto* v : {&w.train, &w.validation, &w.test}) std::sort(v->begin(), v->end());
  return w;
}

std::vector<int> dsads_pick_test_subjects(uint64_t seed, int num_subjects, int k) {
  std::vector<int> s(static_cast<size_t>(num_subjects));
  for (int i = 0; i < num_subjects; ++i) s[i] = i + 1;
  Rng rng(seed, mix_stream(0x445341445355ULL /* "DSADSU" */, 0));
  for (int i = num_subjects - 1; i > 0; --i) std::swap(s[i], s[rng.below(static_cast<uint64_t>(i) + 1)]);
  s.resize(static_cast<size_t>(k));
  std::sort(s.begin(), s.end());
  return s;
}

namespace {

// Number in a name like "a07", "p3", "s12.txt" after `prefix`; -1 when it does not match.
int name_number(const std::string& name, char prefix, std::string_view suffix = "") {
  if (name.size() < 2 + suffix.size() || name[0] != prefix || !name.ends_with(suffix)) return -1;
  int v = 0;
  const char* b = name.data() + 1;
  const char* e = name.data() + name.size() - suffix.size();
  const auto [p, ec] = std::from_chars(b, e, v);
  return ec == std::errc() && p == e ? v : -1;
}

// Sorted numbers of the entries of `dir` named <prefix>N<suffix>.
std::vector<int> numbered_entries(const fs::path& dir, char prefix, std::string_view suffix) {
  std::vector<int> out;
  std::error_code ec;
  for (const auto& ent : fs::directory_iterator(dir, ec)) {
    const int n = name_number(ent.path().filename().string(), prefix, suffix);
    if (n >= 0) out.push_back(n);
  }
  if (ec) throw IoError(fmt::format("[dsads] cannot list '{}': {}", dir.string(), ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

std::string class_dir(int c) { return fmt::format("a{:02d}", c); }

struct SegmentFile {
  fs::path rel;  // aNN/pK/sMM.txt
  int label, subject;
};

std::vector<SegmentFile> list_segments(const fs::path& root) {
  const std::vector<int> subjects = numbered_entries(root / "a01", 'p', "");
  if (subjects.empty())
    throw IoError(fmt::format("[dsads] '{}' has no subject folders p1..p8", (root / "a01").string()));
  std::vector<SegmentFile> files;
  std::error_code ec;
  for (int c = 1; c <= kDsadsClasses; ++c) {
    if (!fs::is_directory(root / class_dir(c), ec))
      throw IoError(fmt::format("[dsads] missing class folder '{}' (expected a01..a{:02d} in '{}')",
                                (root / class_dir(c)).string(), kDsadsClasses, root.string()));
    for (int s : subjects) {
      const fs::path sub = fs::path(class_dir(c)) / fmt::format("p{}", s);
      if (!fs::is_directory(root / sub, ec))
        throw IoError(fmt::format("[dsads] missing subject folder '{}' (a01 has p{})", (root / sub).string(), s));
      const std::vector<int> segs = numbered_entries(root / sub, 's', ".txt");
      if (segs.empty()) throw IoError(fmt::format("[dsads] '{}' holds no sMM.txt segment files", (root / sub).string()));
      for (int m : segs) files.push_back({sub / fmt::format("s{:02d}.txt", m), c - 1, s});
    }
  }
  return files;
}

// Parses every segment into raw (F, 45, 125), in parallel over files. The first error by file
// order is rethrown, so the message does not depend on the thread count.
Tensor parse_all(const fs::path& root, const std::vector<SegmentFile>& files) {
  const int64_t n = static_cast<int64_t>(files.size());
  Tensor raw = Tensor::empty({n, kDsadsChannels, kDsadsRows});
  float* out = raw.data<float>();
  detail::parallel_items(n, 16, [&](int64_t i) {
    const fs::path path = root / files[i].rel;
    const Bytes bytes = read_file(path);
    parse_dsads_segment({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, quoted(path),
                        out + i * kDsadsChannels * kDsadsRows);
  });
  return raw;
}

fs::path resolve_root(const fs::path& root) {
  std::error_code ec;
  if (fs::is_directory(root / "a01", ec)) return root;
  if (fs::is_directory(root / "DSADS" / "a01", ec)) return root / "DSADS";
  throw IoError(fmt::format("[dsads] no DSADS tree at '{}' (expected folders a01..a19 holding p1..p8/s01..s60.txt); "
                            "run scripts/fetch-data or pass --data-dir",
                            root.string()));
}

}  // namespace

DatasetSplit load_dsads(const fs::path& root_in, const DsadsOptions& opt) {
  const fs::path root = resolve_root(root_in);
  const std::vector<SegmentFile> files = list_segments(root);
  const int64_t n = static_cast<int64_t>(files.size());

  std::vector<fs::path> rels;
  for (const auto& f : files) rels.push_back(f.rel);
  const uint64_t fp = files_fingerprint(root, rels, 0x44534144530001ULL);
  const fs::path cache_path = root / ".lowbit-cache-dsads.bin";
  Tensor raw;
  if (opt.use_cache) {
    if (auto hit = read_cache(cache_path, fp); hit && hit->tensors.size() == 1 &&
                                               hit->tensors[0].dtype() == DType::f32 &&
                                               hit->tensors[0].shape() == Shape{n, kDsadsChannels, kDsadsRows})
      raw = hit->tensors[0];
  }
  if (!raw.defined()) {
    raw = parse_all(root, files);
    if (opt.use_cache) write_cache(cache_path, fp, CacheEntry{{}, {raw}});
  }

  // Subject split.
  std::vector<int> subjects;
  for (const auto& f : files)
    if (std::find(subjects.begin(), subjects.end(), f.subject) == subjects.end()) subjects.push_back(f.subject);
  std::sort(subjects.begin(), subjects.end());
  const int ns = static_cast<int>(subjects.size());
  LOWBIT_REQUIRE(opt.split == "subject" || opt.split == "random", "load_dsads",
                 "split must be 'subject' or 'random', got '{}'", opt.split);
  std::vector<int> test = opt.test_subjects;
  if (test.empty()) {
    LOWBIT_REQUIRE(opt.test_fraction > 0 && opt.test_fraction < 1, "load_dsads",
                   "test_fraction must be in (0, 1), got {}", opt.test_fraction);
    const int k = std::clamp(static_cast<int>(std::lround(opt.test_fraction * ns)), 1, std::max(ns - 1, 1));
    for (int i : dsads_pick_test_subjects(opt.seed, ns, k)) test.push_back(subjects[i - 1]);
  }
  for (int s : test)
    LOWBIT_REQUIRE(std::find(subjects.begin(), subjects.end(), s) != subjects.end(), "load_dsads",
                   "test subject {} is not in the data (subjects present: {})", s, fmt::join(subjects, ","));
  LOWBIT_REQUIRE(static_cast<int>(test.size()) < ns || ns == 1, "load_dsads",
                 "test subjects {} leave no training subject", fmt::join(test, ","));

  Tensor inputs = raw;
  if (!opt.raw) {
    inputs = Tensor::empty({n, kDsadsFeatures});
    const float* r = raw.data<float>();
    float* f = inputs.data<float>();
    parallel_for(n, 64, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        window_features(r + i * kDsadsChannels * kDsadsRows, kDsadsChannels, kDsadsRows, f + i * kDsadsFeatures);
    });
  }
  Dataset all;
  all.inputs = inputs;
  all.labels = Tensor::empty({n}, DType::i32);
  for (int64_t i = 0; i < n; ++i) all.labels.data<int32_t>()[i] = files[i].label;
  all.num_classes = kDsadsClasses;
  all.class_names = dsads_classes();
  all.name = "dsads";

  if (opt.split == "random") {
    const WindowSplit w = dsads_random_split(n, opt.test_fraction, opt.split_seed);
    DatasetSplit split;
    split.train = all.subset(w.train);
    split.test = all.subset(w.test);
    split.train.name = fmt::format("dsads/train (random windows, seed {})", opt.split_seed);
    split.test.name = fmt::format("dsads/test (random windows, seed {}, half of the held-out {})", opt.split_seed,
                                  opt.test_fraction);
    return split;
  }
  std::vector<int64_t> train_idx, test_idx;
  for (int64_t i = 0; i < n; ++i)
    (std::find(test.begin(), test.end(), files[i].subject) != test.end() ? test_idx : train_idx).push_back(i);
  DatasetSplit split;
  split.train = all.subset(train_idx);
  split.test = all.subset(test_idx);
  split.train.name = fmt::format("dsads/train (subjects != {})", fmt::join(test, ","));
  split.test.name = fmt::format("dsads/test (subjects {})", fmt::join(test, ","));
  return split;
}

}  // namespace lowbit::data
