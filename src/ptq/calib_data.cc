// Calibration batches from .npy files or lowbit's data sets (see calib_data.h).
#include "lowbit/ptq/calib_data.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include <fmt/ranges.h>

#include "lowbit/core/error.h"
#include "lowbit/data/load.h"
#include "lowbit/onnx/npy.h"

namespace lowbit::ptq {
namespace {

void preprocess(float* x, int64_t n, int64_t channels, int64_t plane, const Preprocess& p, const std::string& what) {
  LOWBIT_REQUIRE(p.mean.size() == p.std.size(), "quantize", "--mean has {} values but --std has {}", p.mean.size(), p.std.size());
  LOWBIT_REQUIRE(p.mean.empty() || static_cast<int64_t>(p.mean.size()) == channels, "quantize",
                 "{} has {} channels but --mean/--std give {}", what, channels, p.mean.size());
  for (float s : p.std) LOWBIT_REQUIRE(s > 0, "quantize", "--std values must be positive");
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      float* v = x + (i * channels + c) * plane;
      const float m = p.mean.empty() ? 0.0f : p.mean[static_cast<size_t>(c)];
      // (x - mean) * (1 / std), as data::normalize_ computes it: a model trained on the
      // normalized split then sees bit-identical inputs here.
      const float inv = 1.0f / (p.std.empty() ? 1.0f : p.std[static_cast<size_t>(c)]);
      for (int64_t j = 0; j < plane; ++j) v[j] = (v[j] * p.scale - m) * inv;
    }
}

onnx::Array from_dataset(const data::Dataset& ds, const std::vector<int64_t>& rows, const Preprocess& pre, const std::string& what) {
  const Shape sample = ds.sample_shape();
  Shape shape{static_cast<int64_t>(rows.size())};
  shape.insert(shape.end(), sample.begin(), sample.end());
  onnx::Array out = onnx::Array::empty(onnx::ElemType::f32, shape);
  const int64_t per = shape_numel(sample);
  const Tensor x = ds.inputs.contiguous();
  for (size_t i = 0; i < rows.size(); ++i)
    std::memcpy(out.data<float>() + static_cast<int64_t>(i) * per, x.data<float>() + rows[i] * per, static_cast<size_t>(per) * 4);
  const int64_t channels = sample.empty() ? 1 : sample[0];
  preprocess(out.data<float>(), static_cast<int64_t>(rows.size()), channels, per / std::max<int64_t>(channels, 1), pre, what);
  return out;
}

bool is_dataset(const std::string& s) {
  const auto names = data::dataset_names();
  return std::find(names.begin(), names.end(), s) != names.end();
}

}  // namespace

onnx::Array load_calibration(const DataSource& src, const onnx::ValueType& input) {
  LOWBIT_REQUIRE(src.count >= 1, "quantize", "the calibration set is empty (--calib-count {})", src.count);
  onnx::Array x;
  std::string what;
  if (is_dataset(src.source)) {
    what = "data set '" + src.source + "'";
    data::DatasetOptions opt;
    opt.data_dir = src.data_dir;
    opt.normalize = false;
    const data::DatasetSplit split = data::load_dataset(src.source, opt);
    const int64_t n = split.train.size();
    LOWBIT_REQUIRE(n > 0, "quantize", "the calibration set ({}) is empty", what);
    const int64_t take = std::min(n, src.count), stride = n / take;
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < take; ++i) rows.push_back(i * stride);
    x = from_dataset(split.train, rows, src.pre, what);
  } else {
    what = "calibration file '" + src.source + "'";
    if (!std::filesystem::exists(src.source))
      throw IoError(fmt::format("[quantize] {} does not exist and is not a data set name ({})", what, fmt::join(data::dataset_names(), ", ")));
    x = onnx::load_npy(src.source);
    LOWBIT_REQUIRE(x.type() == onnx::ElemType::f32, "quantize", "{} holds {}; expected float32", what, onnx::elem_name(x.type()));
    LOWBIT_REQUIRE(x.dim() >= 1 && x.shape()[0] > 0, "quantize", "{} is empty (shape {})", what, shape_str(x.shape()));
    if (x.shape()[0] > src.count) {
      Shape s = x.shape();
      s[0] = src.count;
      onnx::Array head = onnx::Array::empty(onnx::ElemType::f32, s);
      std::memcpy(head.raw(), x.raw(), head.nbytes());
      x = std::move(head);
    }
  }
  if (input.has_shape) {
    bool ok = x.dim() == static_cast<int64_t>(input.shape.size());
    for (size_t d = 1; ok && d < input.shape.size(); ++d) ok = input.shape[d] < 0 || input.shape[d] == x.shape()[d];
    LOWBIT_REQUIRE(ok, "quantize", "{} has shape {} but the model's input is {} (batch first)", what, shape_str(x.shape()),
                   shape_str(input.shape));
  }
  return x;
}

LabelledSet load_test_split(const std::string& dataset, const std::string& data_dir, const Preprocess& pre) {
  data::DatasetOptions opt;
  opt.data_dir = data_dir;
  opt.normalize = false;
  const data::DatasetSplit split = data::load_dataset(dataset, opt);
  const int64_t n = split.test.size();
  LOWBIT_REQUIRE(n > 0, "eval", "the test split of '{}' is empty", dataset);
  std::vector<int64_t> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) rows[static_cast<size_t>(i)] = i;
  LabelledSet out;
  out.inputs = from_dataset(split.test, rows, pre, "data set '" + dataset + "'");
  const Tensor labels = split.test.labels.contiguous();
  out.labels.assign(labels.data<int32_t>(), labels.data<int32_t>() + n);
  out.class_names = split.test.class_names;
  return out;
}

LabelledSet load_labelled_npy(const std::string& inputs, const std::string& labels) {
  LabelledSet out;
  out.inputs = onnx::load_npy(inputs);
  LOWBIT_REQUIRE(out.inputs.type() == onnx::ElemType::f32 && out.inputs.dim() >= 1 && out.inputs.shape()[0] > 0, "eval",
                 "'{}' must be a non-empty float32 batch [N, ...], got {} {}", inputs, onnx::elem_name(out.inputs.type()),
                 shape_str(out.inputs.shape()));
  const onnx::Array l = onnx::load_npy(labels);
  const int64_t n = out.inputs.shape()[0];
  LOWBIT_REQUIRE((l.type() == onnx::ElemType::i64 || l.type() == onnx::ElemType::i32) && l.dim() == 1 && l.shape()[0] == n,
                 "eval", "'{}' must hold {} int64 labels [N] for '{}', got {} {}", labels, n, inputs,
                 onnx::elem_name(l.type()), shape_str(l.shape()));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = l.type() == onnx::ElemType::i64 ? l.data<int64_t>()[i] : l.data<int32_t>()[i];
    LOWBIT_REQUIRE(v >= 0 && v < (int64_t{1} << 24), "eval", "'{}': label {} of sample {} is out of range", labels, v, i);
    out.labels.push_back(static_cast<int32_t>(v));
  }
  const int32_t classes = *std::max_element(out.labels.begin(), out.labels.end()) + 1;
  for (int32_t c = 0; c < classes; ++c) out.class_names.push_back(std::to_string(c));
  return out;
}

}  // namespace lowbit::ptq
