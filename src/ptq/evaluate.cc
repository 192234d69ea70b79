// Batched classification accuracy of ONNX models (evaluate.h).
#include "lowbit/ptq/evaluate.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <numeric>

#include "lowbit/core/error.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/ptq/calibrate.h"

namespace lowbit::ptq {
namespace {

// Indices of the k best scores of row r (ties: lower index first).
std::vector<int64_t> top_k(const onnx::Array& scores, int64_t r, int64_t k) {
  const int64_t c = scores.shape()[1];
  std::vector<int64_t> idx(static_cast<size_t>(c));
  std::iota(idx.begin(), idx.end(), 0);
  const float* row = scores.data<float>() + r * c;
  k = std::min(k, c);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t a, int64_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
  idx.resize(static_cast<size_t>(k));
  return idx;
}

}  // namespace

EvalReport evaluate_classifier(const onnx::Graph& model, const LabelledSet& data, const onnx::Graph* reference,
                               const EvalOptions& opt) {
  const int64_t n = data.inputs.shape()[0];
  LOWBIT_REQUIRE(n > 0 && static_cast<int64_t>(data.labels.size()) == n, "eval", "no labelled samples to evaluate");
  onnx::Session session(model, onnx::SessionOptions{1, opt.intra_op, true});
  std::unique_ptr<onnx::Session> ref;
  if (reference) ref = std::make_unique<onnx::Session>(*reference, onnx::SessionOptions{1, opt.intra_op, true});
  const int64_t classes = std::max<int64_t>(1, static_cast<int64_t>(data.class_names.size()));
  EvalReport rep;
  rep.samples = n;
  rep.per_class.assign(static_cast<size_t>(classes), 0);
  rep.per_class_count.assign(static_cast<size_t>(classes), 0);
  int64_t top1 = 0, top5 = 0, agree = 0, ref_top1 = 0;
  std::vector<int64_t> hits(static_cast<size_t>(classes), 0);
  for (int64_t r0 = 0; r0 < n; r0 += opt.batch) {
    const int64_t r1 = std::min(n, r0 + opt.batch);
    const onnx::Array x = batch_rows(data.inputs, r0, r1);
    const auto t0 = std::chrono::steady_clock::now();
    const onnx::Array scores = session.run(std::vector<onnx::Array>{x})[0];
    rep.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    LOWBIT_REQUIRE(scores.type() == onnx::ElemType::f32 && scores.dim() == 2 && scores.shape()[0] == r1 - r0, "eval",
                   "the model's first output is {} {}; expected float32 [batch, classes]", onnx::elem_name(scores.type()),
                   shape_str(scores.shape()));
    onnx::Array ref_scores;
    if (ref) ref_scores = ref->run(std::vector<onnx::Array>{x})[0];
    for (int64_t i = 0; i < r1 - r0; ++i) {
      const int32_t label = data.labels[static_cast<size_t>(r0 + i)];
      LOWBIT_REQUIRE(label >= 0 && label < classes && label < scores.shape()[1], "eval", "label {} does not fit the model's {} classes",
                     label, scores.shape()[1]);
      const auto best = top_k(scores, i, 5);
      top1 += best[0] == label;
      top5 += std::find(best.begin(), best.end(), label) != best.end();
      hits[static_cast<size_t>(label)] += best[0] == label;
      ++rep.per_class_count[static_cast<size_t>(label)];
      if (ref) {
        const int64_t rb = top_k(ref_scores, i, 1)[0];
        agree += rb == best[0];
        ref_top1 += rb == label;
      }
    }
    if (opt.progress) opt.progress(r1, n);
  }
  rep.top1 = static_cast<double>(top1) / static_cast<double>(n);
  rep.top5 = static_cast<double>(top5) / static_cast<double>(n);
  for (int64_t c = 0; c < classes; ++c) {
    const int64_t cnt = rep.per_class_count[static_cast<size_t>(c)];
    rep.per_class[static_cast<size_t>(c)] = cnt ? static_cast<double>(hits[static_cast<size_t>(c)]) / static_cast<double>(cnt) : 0.0;
  }
  if (ref) {
    rep.agreement = static_cast<double>(agree) / static_cast<double>(n);
    rep.reference_top1 = static_cast<double>(ref_top1) / static_cast<double>(n);
  }
  return rep;
}

}  // namespace lowbit::ptq
