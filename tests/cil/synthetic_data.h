// Separable synthetic data for class-incremental tests (6 Gaussian classes in 16 dimensions, 3
// tasks of 2 classes) and a small fcnet configuration that learns it in seconds.
#pragma once

#include <string>

#include "lowbit/cil/runner.h"
#include "lowbit/core/rng.h"

namespace lowbit::cil {
namespace {

constexpr int kClasses = 6, kDim = 16;

inline data::Dataset gaussians(int per_class, uint64_t stream) {
  data::Dataset ds;
  ds.num_classes = kClasses;
  for (int c = 0; c < kClasses; ++c) ds.class_names.push_back(fmt::format("c{}", c));
  ds.name = "gaussians";
  const int64_t n = int64_t{per_class} * kClasses;
  ds.inputs = Tensor::empty({n, kDim});
  ds.labels = Tensor::empty({n}, DType::i32);
  std::vector<float> centers(kClasses * kDim);
  normal_fill(11, 0, 0, kClasses * kDim, centers.data());  // fixed centres, shared by both splits
  normal_fill(11, stream, 0, n * kDim, ds.inputs.data<float>());
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % kClasses);
    ds.labels.data<int32_t>()[i] = c;
    for (int j = 0; j < kDim; ++j) ds.inputs.data<float>()[i * kDim + j] = 0.5f * ds.inputs.data<float>()[i * kDim + j] + 1.5f * centers[c * kDim + j];
  }
  return ds;
}

inline data::DatasetSplit synthetic() {
  data::DatasetSplit s;
  s.train = gaussians(150, 1);
  s.test = gaussians(60, 2);
  return s;
}

inline CilConfig config(const std::string& method) {
  CilConfig c;
  c.method = method;
  c.model = "fcnet";
  c.classes_per_task = 2;
  c.class_order_seed = 5;
  c.method_cfg.memory = 60;
  c.method_cfg.train.epochs = 8;
  c.method_cfg.train.batch_size = 32;
  c.method_cfg.train.lr = 0.05f;
  c.method_cfg.train.progress = false;
  c.method_cfg.bic_steps = 100;
  return c;
}

}  // namespace
}  // namespace lowbit::cil
