// Calibration batches from .npy files (one per input), lowbit's data sets or random draws (see calib_data.h).
#include "lowbit/ptq/calib_data.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include <fmt/ranges.h>

#include "lowbit/core/error.h"
#include "lowbit/data/load.h"
#include "lowbit/onnx/model_inputs.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/ptq/calibrate.h"

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

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= s.size()) {
    const size_t comma = std::min(s.find(',', at), s.size());
    if (comma > at) out.push_back(s.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

bool is_dataset(const std::string& s) {
  const auto names = data::dataset_names();
  return std::find(names.begin(), names.end(), s) != names.end();
}

}  // namespace

bool is_dataset_name(const std::string& name) { return is_dataset(name); }

InputBatch load_calibration(const DataSource& src, const onnx::Graph& g, uint64_t seed) {
  LOWBIT_REQUIRE(src.count >= 1, "quantize", "the calibration set is empty (--calib-count {})", src.count);
  LOWBIT_REQUIRE(!g.inputs.empty(), "quantize", "the model has no inputs");
  std::vector<std::string> names;
  for (int v : g.inputs) names.push_back(g.values[static_cast<size_t>(v)].name);
  const std::string listing = fmt::format("{}", fmt::join(names, ", "));
  if (src.source.rfind("random:", 0) == 0) {
    const std::string n_text = src.source.substr(7);
    int64_t n = 0;
    try {
      size_t used = 0;
      n = std::stoll(n_text, &used);
      if (used != n_text.size()) n = 0;
    } catch (const std::exception&) {
      n = 0;
    }
    LOWBIT_REQUIRE(n >= 1 && n <= (int64_t{1} << 20), "quantize", "'{}': expected random:N with N a sample count in [1, 2^20]", src.source);
    return InputBatch(onnx::random_inputs(g, std::min(n, src.count), seed, "quantize"));
  }
  if (is_dataset(src.source)) {
    LOWBIT_REQUIRE(g.inputs.size() == 1, "quantize", "data set '{}' gives one image input, but the model has {} inputs ({}): give one .npy per input",
                   src.source, g.inputs.size(), listing);
    const std::string what = "data set '" + src.source + "'";
    data::DatasetOptions opt;
    opt.data_dir = src.data_dir;
    opt.normalize = false;
    const data::DatasetSplit split = data::load_dataset(src.source, opt);
    const int64_t n = split.train.size();
    LOWBIT_REQUIRE(n > 0, "quantize", "the calibration set ({}) is empty", what);
    const int64_t take = std::min(n, src.count), stride = n / take;
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < take; ++i) rows.push_back(i * stride);
    return InputBatch(onnx::fit_input(g, 0, from_dataset(split.train, rows, src.pre, what), what, "quantize"));
  }
  // One file per graph input, in the graph's order.
  std::vector<std::string> files(names.size());
  if (src.source.find('=') != std::string::npos) {
    for (const std::string& item : split_commas(src.source)) {
      const size_t eq = item.find('=');
      LOWBIT_REQUIRE(eq != std::string::npos && eq > 0, "quantize", "'{}' in '{}': expected input=file.npy", item, src.source);
      const std::string name = item.substr(0, eq);
      const auto it = std::find(names.begin(), names.end(), name);
      LOWBIT_REQUIRE(it != names.end(), "quantize", "'{}' names input '{}', which the model does not have (its inputs: {})", src.source, name, listing);
      std::string& f = files[static_cast<size_t>(it - names.begin())];
      LOWBIT_REQUIRE(f.empty(), "quantize", "'{}' gives input '{}' twice", src.source, name);
      f = item.substr(eq + 1);
    }
    for (size_t i = 0; i < names.size(); ++i)
      LOWBIT_REQUIRE(!files[i].empty(), "quantize", "'{}' gives no file for input '{}' (the model's inputs: {})", src.source, names[i], listing);
  } else if (std::filesystem::is_directory(src.source)) {
    for (size_t i = 0; i < names.size(); ++i) {
      files[i] = (std::filesystem::path(src.source) / (names[i] + ".npy")).string();
      if (!std::filesystem::exists(files[i]))
        throw IoError(fmt::format("[quantize] folder '{}' has no {}.npy for input '{}' (the model's inputs: {})", src.source, names[i], names[i], listing));
    }
  } else {
    if (!std::filesystem::exists(src.source))
      throw IoError(fmt::format("[quantize] calibration file '{}' does not exist and is not a data set name ({}), a folder or random:N", src.source,
                                fmt::join(data::dataset_names(), ", ")));
    LOWBIT_REQUIRE(g.inputs.size() == 1, "quantize", "'{}' is one file, but the model has {} inputs ({}): give input=file.npy,... or a folder of <input>.npy",
                   src.source, g.inputs.size(), listing);
    files[0] = src.source;
  }
  std::vector<onnx::Array> arrays;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string what = "calibration file '" + files[i] + "'";
    if (!std::filesystem::exists(files[i])) throw IoError(fmt::format("[quantize] {} (input '{}') does not exist", what, names[i]));
    onnx::Array x = onnx::load_npy(files[i]);
    LOWBIT_REQUIRE(x.dim() >= 1 && x.shape()[0] > 0, "quantize", "{} is empty (shape {})", what, shape_str(x.shape()));
    if (x.shape()[0] > src.count) x = batch_rows(x, 0, src.count);
    x = onnx::fit_input(g, i, std::move(x), what, "quantize");
    LOWBIT_REQUIRE(arrays.empty() || x.shape()[0] == arrays[0].shape()[0], "quantize", "{} holds {} samples but '{}' holds {}; every input needs the same count",
                   what, x.shape()[0], files[0], arrays[0].shape()[0]);
    arrays.push_back(std::move(x));
  }
  return InputBatch(std::move(arrays));
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
