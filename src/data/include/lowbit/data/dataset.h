// In-memory labelled data sets, class/index subsets, per-channel normalization and a seeded,
// reproducible mini-batch iterator. Loaders for the concrete data sets live beside this file.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lowbit/core/tensor.h"

namespace lowbit::data {

// A labelled sample set held in memory.
//   inputs: (N, C, H, W) f32 images, (N, C, T) f32 raw time series, or (N, D) f32 features.
//   labels: (N) i32, each in [0, num_classes).
// Copying a Dataset copies tensor handles, not data (see Tensor).
struct Dataset {
  Tensor inputs;
  Tensor labels;
  int num_classes = 0;
  std::vector<std::string> class_names;  // size num_classes
  std::string name;

  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  Shape sample_shape() const;  // inputs' shape without the leading N

  // Samples at `indices` (in that order, repeats allowed), copied into fresh tensors.
  Dataset subset(std::span<const int64_t> indices) const;

  // Samples whose label is in `classes`, in their original order. Labels keep their global ids
  // (and num_classes/class_names stay whole) unless remap is true, in which case class
  // classes[i] becomes label i and class_names shrinks to match. Class-incremental learning
  // keeps the global ids: task t's model head grows, but label 7 always means the same class.
  Dataset filter_classes(std::span<const int> classes, bool remap = false) const;

  std::vector<int64_t> class_counts() const;  // samples per class, size num_classes

  // Throws ValueError naming `op` when shapes, dtypes or label ranges are inconsistent.
  void validate(std::string_view op) const;
};

// Per-channel statistics: channel = dimension 1 of inputs (image channels, sensor channels,
// or feature columns for (N, D)); statistics pool over N and every dimension after 1.
struct ChannelStats {
  std::vector<float> mean;
  std::vector<float> stddev;
  bool empty() const { return mean.empty(); }
};

struct DatasetSplit {
  Dataset train;
  Dataset test;
  ChannelStats stats;  // what normalize() applied to both splits; empty when not normalized
};

// Mean and population standard deviation of each channel, accumulated in double. A channel
// whose std is below 1e-8 (constant, e.g. a dead sensor) gets std 1 so that normalizing it
// yields zeros instead of inf/nan.
ChannelStats channel_stats(const Dataset& ds);

// Per-channel minimum and range (max - min) in the mean/stddev slots, so that normalize_ maps
// the training split to [0, 1] per channel (a constant channel gets range 1).
ChannelStats channel_minmax(const Dataset& ds);

// In place: inputs[:, c, ...] = (inputs[:, c, ...] - mean[c]) / stddev[c].
void normalize_(Dataset& ds, const ChannelStats& stats);

// standard: zero mean, unit variance per channel. minmax: [0, 1] per channel, which suits
// heavy-tailed feature vectors under per-tensor low-bit quantization (standardized DSADS
// features reach 36 sigma: at 4 bits with m = 0.975 max|x|, 97.6 % of them round to 0).
enum class Normalization { standard, minmax };

// Computes the statistics on split.train only (the test split must not leak into training),
// applies them to both splits and records them in split.stats.
void normalize(DatasetSplit& split, Normalization mode = Normalization::standard);

// ImageNet RGB statistics on the [0,1] scale, used by the pretrained CIFAR-10 ONNX models in
// ../shared/data/models (their preprocessing is RGB/255 then these).
ChannelStats imagenet_stats();

// A batch: inputs (B, ...) and labels (B), contiguous copies of the selected samples, and
// indices (B): each sample's row in the loader's data set, so a loss can gather per-sample
// side data (class-incremental learning's teacher logits) for the batch.
struct Batch {
  Tensor inputs;
  Tensor labels;
  std::vector<int64_t> indices;
  int64_t size() const { return labels.size(0); }
};

// Mini-batches over a data set. The order of epoch e is a pure function of (seed, e): a
// Fisher-Yates shuffle driven by Philox stream mix_stream(kShuffleStream, e), so resuming at
// epoch e or reordering epochs reproduces the same batches. shuffle=false yields 0..N-1.
// drop_last drops a final partial batch (so every batch has exactly batch_size samples).
class BatchLoader {
 public:
  static constexpr uint64_t kShuffleStream = 0x5348554646ULL;  // "SHUFF"

  BatchLoader(const Dataset& ds, int64_t batch_size, bool shuffle, uint64_t seed, bool drop_last = false);

  class Epoch;
  Epoch epoch(int64_t e) const;

  std::vector<int64_t> permutation(int64_t e) const;
  int64_t num_batches() const;
  int64_t batch_size() const { return batch_size_; }
  const Dataset& dataset() const { return ds_; }

  // Batch b of an order returned by permutation(): samples order[b*bs, min((b+1)*bs, N)).
  Batch make_batch(std::span<const int64_t> order, int64_t b) const;

 private:
  Dataset ds_;  // handles only; the loader shares the data
  int64_t batch_size_;
  bool shuffle_;
  uint64_t seed_;
  bool drop_last_;
};

// One epoch's order; iterate it with range-for to get Batch values. It holds its own copy of
// the loader (tensor handles only), so `for (auto b : BatchLoader(...).epoch(0))` is safe.
class BatchLoader::Epoch {
 public:
  Epoch(BatchLoader loader, std::vector<int64_t> order) : loader_(std::move(loader)), order_(std::move(order)) {}
  const std::vector<int64_t>& order() const { return order_; }
  int64_t size() const { return loader_.num_batches(); }
  Batch operator[](int64_t b) const { return loader_.make_batch(order_, b); }

  class Iterator {
   public:
    Iterator(const Epoch* epoch, int64_t b) : epoch_(epoch), b_(b) {}
    Batch operator*() const { return (*epoch_)[b_]; }
    Iterator& operator++() {
      ++b_;
      return *this;
    }
    bool operator!=(const Iterator& o) const { return b_ != o.b_; }

   private:
    const Epoch* epoch_;
    int64_t b_;
  };
  Iterator begin() const { return Iterator(this, 0); }
  Iterator end() const { return Iterator(this, size()); }

 private:
  BatchLoader loader_;
  std::vector<int64_t> order_;
};

// Copies rows `indices` of a tensor whose dimension 0 indexes samples into a fresh contiguous
// tensor of shape (indices.size(), ...). Any dtype except int4.
Tensor gather_rows(const Tensor& t, std::span<const int64_t> indices);

}  // namespace lowbit::data
