// Dataset subsets, class filters, per-channel normalization and the seeded batch loader.
#include "lowbit/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstring>

#include "lowbit/core/rng.h"
#include "lowbit/core/threads.h"

namespace lowbit::data {
namespace {

// First byte of a contiguous tensor of any byte-addressable dtype.
const std::byte* raw_bytes(const Tensor& t) {
  switch (t.dtype()) {
    case DType::f32: return reinterpret_cast<const std::byte*>(t.data<float>());
    case DType::i32: return reinterpret_cast<const std::byte*>(t.data<int32_t>());
    case DType::i8: return reinterpret_cast<const std::byte*>(t.data<int8_t>());
    case DType::u8: return reinterpret_cast<const std::byte*>(t.data<uint8_t>());
    case DType::i4: return reinterpret_cast<const std::byte*>(t.packed());
  }
  return nullptr;
}

}  // namespace

Shape Dataset::sample_shape() const {
  const Shape& s = inputs.shape();
  return Shape(s.begin() + 1, s.end());
}

void Dataset::validate(std::string_view op) const {
  LOWBIT_REQUIRE(inputs.defined() && labels.defined(), op, "data set '{}' has undefined tensors", name);
  LOWBIT_REQUIRE(inputs.dtype() == DType::f32 && inputs.dim() >= 2, op,
                 "inputs of '{}' must be f32 with shape (N, ...), got {} {}", name, dtype_name(inputs.dtype()),
                 shape_str(inputs.shape()));
  LOWBIT_REQUIRE(labels.dtype() == DType::i32 && labels.dim() == 1 && labels.size(0) == inputs.size(0), op,
                 "labels of '{}' must be i32 of shape ({}), got {} {}", name, inputs.size(0),
                 dtype_name(labels.dtype()), shape_str(labels.shape()));
  LOWBIT_REQUIRE(static_cast<int>(class_names.size()) == num_classes, op,
                 "'{}' has {} class names for {} classes", name, class_names.size(), num_classes);
  const Tensor l = labels.contiguous();
  const int32_t* p = l.data<int32_t>();
  for (int64_t i = 0; i < l.numel(); ++i)
    LOWBIT_REQUIRE(p[i] >= 0 && p[i] < num_classes, op, "label {} of sample {} of '{}' is outside [0, {})", p[i],
                   i, name, num_classes);
}

Tensor gather_rows(const Tensor& t, std::span<const int64_t> indices) {
  LOWBIT_REQUIRE(t.dim() >= 1 && t.dtype() != DType::i4, "gather_rows", "need a tensor (N, ...) of a byte-addressable dtype");
  const Tensor src = t.contiguous();
  Shape shape = src.shape();
  const int64_t n = shape[0];
  shape[0] = static_cast<int64_t>(indices.size());
  Tensor out = Tensor::empty(shape, src.dtype());
  const size_t row = dtype_bytes(src.dtype(), n == 0 ? 0 : src.numel() / n);
  for (int64_t idx : indices) LOWBIT_REQUIRE(idx >= 0 && idx < n, "gather_rows", "index {} outside [0, {})", idx, n);
  // Raw byte copies: the dtype only fixes the row size.
  const std::byte* sp = raw_bytes(src);
  std::byte* dp = const_cast<std::byte*>(raw_bytes(out));
  const int64_t m = shape[0];
  // Threads only pay off for big copies (a whole data set, not a 64-sample batch).
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>((1 << 20) / std::max<size_t>(row, 1)));
  parallel_for(m, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) std::memcpy(dp + i * row, sp + indices[i] * row, row);
  });
  return out;
}

Dataset Dataset::subset(std::span<const int64_t> indices) const {
  Dataset out;
  out.inputs = gather_rows(inputs, indices);
  out.labels = gather_rows(labels, indices);
  out.num_classes = num_classes;
  out.class_names = class_names;
  out.name = name;
  return out;
}

Dataset Dataset::filter_classes(std::span<const int> classes, bool remap) const {
  std::vector<int> new_id(static_cast<size_t>(num_classes), -1);
  for (size_t i = 0; i < classes.size(); ++i) {
    const int c = classes[i];
    LOWBIT_REQUIRE(c >= 0 && c < num_classes, "Dataset::filter_classes", "class {} outside [0, {}) of '{}'", c,
                   num_classes, name);
    LOWBIT_REQUIRE(new_id[c] < 0, "Dataset::filter_classes", "class {} listed twice", c);
    new_id[c] = remap ? static_cast<int>(i) : c;
  }
  const Tensor l = labels.contiguous();
  const int32_t* p = l.data<int32_t>();
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < l.numel(); ++i)
    if (new_id[p[i]] >= 0) keep.push_back(i);
  Dataset out = subset(keep);
  if (remap) {
    int32_t* q = out.labels.data<int32_t>();
    for (int64_t i = 0; i < out.size(); ++i) q[i] = new_id[q[i]];
    out.num_classes = static_cast<int>(classes.size());
    out.class_names.clear();
    for (int c : classes) out.class_names.push_back(class_names[c]);
  }
  return out;
}

std::vector<int64_t> Dataset::class_counts() const {
  std::vector<int64_t> counts(static_cast<size_t>(num_classes), 0);
  const Tensor l = labels.contiguous();
  const int32_t* p = l.data<int32_t>();
  for (int64_t i = 0; i < l.numel(); ++i)
    if (p[i] >= 0 && p[i] < num_classes) ++counts[p[i]];
  return counts;
}

// ---- normalization ----

ChannelStats channel_stats(const Dataset& ds) {
  ds.validate("channel_stats");
  const Tensor x = ds.inputs.contiguous();
  const int64_t n = x.size(0), c = x.size(1), inner = x.numel() / std::max<int64_t>(n * c, 1);
  const float* p = x.data<float>();
  ChannelStats st;
  st.mean.resize(c);
  st.stddev.resize(c);
  LOWBIT_REQUIRE(n * inner > 0, "channel_stats", "'{}' has no samples", ds.name);
  // Two passes in double: mean first, then squared deviations (no cancellation from E[x^2]-E[x]^2).
  parallel_for(c, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t ch = cb; ch < ce; ++ch) {
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        const float* r = p + (i * c + ch) * inner;
        for (int64_t k = 0; k < inner; ++k) sum += r[k];
      }
      const double mean = sum / static_cast<double>(n * inner);
      double sq = 0;
      for (int64_t i = 0; i < n; ++i) {
        const float* r = p + (i * c + ch) * inner;
        for (int64_t k = 0; k < inner; ++k) sq += (r[k] - mean) * (r[k] - mean);
      }
      const double sd = std::sqrt(sq / static_cast<double>(n * inner));
      st.mean[ch] = static_cast<float>(mean);
      st.stddev[ch] = sd < 1e-8 ? 1.0f : static_cast<float>(sd);
    }
  });
  return st;
}

void normalize_(Dataset& ds, const ChannelStats& st) {
  ds.validate("normalize_");
  const int64_t n = ds.inputs.size(0), c = ds.inputs.size(1);
  LOWBIT_REQUIRE(static_cast<int64_t>(st.mean.size()) == c && st.stddev.size() == st.mean.size(), "normalize_",
                 "statistics for {} channels, '{}' has {}", st.mean.size(), ds.name, c);
  if (!ds.inputs.is_contiguous()) ds.inputs = ds.inputs.contiguous();
  const int64_t inner = ds.inputs.numel() / std::max<int64_t>(n * c, 1);
  float* p = ds.inputs.data<float>();
  parallel_for(n * c, 64, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float m = st.mean[r % c], inv = 1.0f / st.stddev[r % c];
      float* q = p + r * inner;
      for (int64_t k = 0; k < inner; ++k) q[k] = (q[k] - m) * inv;
    }
  });
}

ChannelStats channel_minmax(const Dataset& ds) {
  ds.validate("channel_minmax");
  const Tensor x = ds.inputs.contiguous();
  const int64_t n = x.size(0), c = x.size(1), inner = x.numel() / std::max<int64_t>(n * c, 1);
  LOWBIT_REQUIRE(n * inner > 0, "channel_minmax", "'{}' has no samples", ds.name);
  const float* p = x.data<float>();
  ChannelStats st;
  st.mean.assign(c, std::numeric_limits<float>::infinity());
  st.stddev.assign(c, -std::numeric_limits<float>::infinity());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < inner; ++k) {
        const float v = p[(i * c + ch) * inner + k];
        st.mean[ch] = std::min(st.mean[ch], v);
        st.stddev[ch] = std::max(st.stddev[ch], v);
      }
  for (int64_t ch = 0; ch < c; ++ch) {
    const float range = st.stddev[ch] - st.mean[ch];
    st.stddev[ch] = range < 1e-8f ? 1.0f : range;
  }
  return st;
}

void normalize(DatasetSplit& split, Normalization mode) {
  split.stats = mode == Normalization::minmax ? channel_minmax(split.train) : channel_stats(split.train);
  normalize_(split.train, split.stats);
  normalize_(split.test, split.stats);
}

ChannelStats imagenet_stats() { return {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}}; }

// ---- batch loader ----

BatchLoader::BatchLoader(const Dataset& ds, int64_t batch_size, bool shuffle, uint64_t seed, bool drop_last)
    : ds_(ds), batch_size_(batch_size), shuffle_(shuffle), seed_(seed), drop_last_(drop_last) {
  LOWBIT_REQUIRE(batch_size >= 1, "BatchLoader", "batch size must be >= 1, got {}", batch_size);
  ds_.validate("BatchLoader");
  // Batches are copied from contiguous rows; make that copy once here rather than per batch.
  if (!ds_.inputs.is_contiguous()) ds_.inputs = ds_.inputs.contiguous();
  if (!ds_.labels.is_contiguous()) ds_.labels = ds_.labels.contiguous();
}

std::vector<int64_t> BatchLoader::permutation(int64_t e) const {
  const int64_t n = ds_.size();
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  if (!shuffle_) return order;
  Rng rng(seed_, mix_stream(kShuffleStream, static_cast<uint64_t>(e)));
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(static_cast<uint64_t>(i) + 1)]);
  return order;
}

int64_t BatchLoader::num_batches() const {
  const int64_t n = ds_.size();
  return drop_last_ ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

BatchLoader::Epoch BatchLoader::epoch(int64_t e) const { return Epoch(*this, permutation(e)); }

Batch BatchLoader::make_batch(std::span<const int64_t> order, int64_t b) const {
  LOWBIT_REQUIRE(b >= 0 && b < num_batches(), "BatchLoader", "batch {} outside [0, {})", b, num_batches());
  const int64_t begin = b * batch_size_;
  const int64_t end = std::min<int64_t>(begin + batch_size_, static_cast<int64_t>(order.size()));
  const auto idx = order.subspan(static_cast<size_t>(begin), static_cast<size_t>(end - begin));
  return {gather_rows(ds_.inputs, idx), gather_rows(ds_.labels, idx), std::vector<int64_t>(idx.begin(), idx.end())};
}

}  // namespace lowbit::data
