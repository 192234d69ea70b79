// Herding selection, the exemplar budget and nearest-mean-of-exemplars classification.
#include "lowbit/cil/memory.h"

#include <cmath>
#include <limits>
#include <set>

#include "lowbit/core/error.h"
#include "lowbit/core/threads.h"

namespace lowbit::cil {
namespace {

// Dot product with eight independent partial sums (vectorizable) combined in a fixed order.
double dot(const float* a, const float* b, int64_t d) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= d; j += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[j + l] * b[j + l];
  for (; j < d; ++j) acc[0] += a[j] * b[j];
  return (static_cast<double>(acc[0]) + acc[1] + acc[2] + acc[3]) + (static_cast<double>(acc[4]) + acc[5] + acc[6] + acc[7]);
}

void require_matrix(const Tensor& t, const char* op) {
  LOWBIT_REQUIRE(t.defined() && t.dim() == 2 && t.dtype() == DType::f32, op, "expected an (N, D) f32 matrix, got {}",
                 t.defined() ? shape_str(t.shape()) : std::string("an undefined tensor"));
}

}  // namespace

Tensor l2_normalize_rows(const Tensor& x) {
  require_matrix(x, "cil::l2_normalize_rows");
  Tensor out = x.clone();
  const int64_t n = out.size(0), d = out.size(1);
  float* p = out.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const double norm = std::sqrt(dot(p + i * d, p + i * d, d));
    if (norm < 1e-12) continue;
    for (int64_t j = 0; j < d; ++j) p[i * d + j] = static_cast<float>(p[i * d + j] / norm);
  }
  return out;
}

std::vector<int64_t> herding_select(const Tensor& features, int64_t m) {
  require_matrix(features, "cil::herding_select");
  LOWBIT_REQUIRE(m >= 0, "cil::herding_select", "budget must be >= 0, got {}", m);
  const Tensor phi = l2_normalize_rows(features);
  const int64_t n = phi.size(0), d = phi.size(1);
  const float* p = phi.data<float>();
  const int64_t picks = std::min(m, n);
  std::vector<double> mu(static_cast<size_t>(d), 0.0), sum(static_cast<size_t>(d), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) mu[static_cast<size_t>(j)] += p[i * d + j];
  for (double& v : mu) v /= static_cast<double>(n);
  std::vector<double> sq(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) sq[static_cast<size_t>(i)] = dot(p + i * d, p + i * d, d);

  // || mu - (S + phi_i)/k ||^2 * k^2 = ||k mu - S||^2 - 2 (k mu - S).phi_i + ||phi_i||^2, so the
  // argmin is the argmax of score_i = 2 (k mu - S).phi_i - ||phi_i||^2.
  std::vector<float> w(static_cast<size_t>(d));
  std::vector<double> score(static_cast<size_t>(n));
  std::vector<char> taken(static_cast<size_t>(n), 0);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(picks));
  for (int64_t k = 1; k <= picks; ++k) {
    for (int64_t j = 0; j < d; ++j)
      w[static_cast<size_t>(j)] = static_cast<float>(static_cast<double>(k) * mu[static_cast<size_t>(j)] - sum[static_cast<size_t>(j)]);
    // Serial on purpose: one step is ~N*D multiply-adds (0.2 ms for 6000 x 256), too little to
    // amortize a parallel region per step, which costs far more on a loaded machine.
    for (int64_t i = 0; i < n; ++i) score[static_cast<size_t>(i)] = 2.0 * dot(w.data(), p + i * d, d) - sq[static_cast<size_t>(i)];
    int64_t best = -1;
    double best_score = -std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) {
      if (taken[static_cast<size_t>(i)] || !(score[static_cast<size_t>(i)] > best_score)) continue;
      best = i;
      best_score = score[static_cast<size_t>(i)];
    }
    if (best < 0) {  // every remaining score is NaN (non-finite features): take them in order
      for (int64_t i = 0; i < n && best < 0; ++i)
        if (!taken[static_cast<size_t>(i)]) best = i;
    }
    taken[static_cast<size_t>(best)] = 1;
    out.push_back(best);
    for (int64_t j = 0; j < d; ++j) sum[static_cast<size_t>(j)] += p[best * d + j];
  }
  return out;
}

ExemplarMemory::ExemplarMemory(int64_t total) : total_(total) {
  LOWBIT_REQUIRE(total >= 0, "cil::ExemplarMemory", "memory size must be >= 0, got {}", total);
}

int64_t ExemplarMemory::per_class(int num_classes) const {
  LOWBIT_REQUIRE(num_classes >= 1, "cil::ExemplarMemory", "per-class budget needs >= 1 class, got {}", num_classes);
  return total_ / num_classes;
}

void ExemplarMemory::reduce(int num_classes) {
  const auto keep = static_cast<size_t>(per_class(num_classes));
  for (auto& [c, idx] : by_class_)
    if (idx.size() > keep) idx.resize(keep);
}

void ExemplarMemory::set_class(int c, std::vector<int64_t> indices) { by_class_[c] = std::move(indices); }

const std::vector<int64_t>& ExemplarMemory::exemplars(int c) const {
  const auto it = by_class_.find(c);
  LOWBIT_REQUIRE(it != by_class_.end(), "cil::ExemplarMemory", "no exemplars stored for class {}", c);
  return it->second;
}

std::vector<int> ExemplarMemory::classes() const {
  std::vector<int> out;
  for (const auto& [c, idx] : by_class_) out.push_back(c);
  return out;
}

std::vector<int64_t> ExemplarMemory::all() const {
  std::vector<int64_t> out;
  for (const auto& [c, idx] : by_class_) out.insert(out.end(), idx.begin(), idx.end());
  return out;
}

int64_t ExemplarMemory::size() const {
  int64_t n = 0;
  for (const auto& [c, idx] : by_class_) n += static_cast<int64_t>(idx.size());
  return n;
}

nlohmann::json ExemplarMemory::to_json() const {
  nlohmann::json classes = nlohmann::json::array();
  for (const auto& [c, idx] : by_class_) classes.push_back({c, idx});
  return {{"total", total_}, {"classes", classes}};
}

void ExemplarMemory::load_json(const nlohmann::json& j, const Tensor& labels, int num_classes, const std::string& origin) {
  const auto bad = [&](const std::string& what) {
    return IoError(fmt::format("[cil] {}: exemplar memory: {}", origin, what));
  };
  if (!j.is_object() || !j.contains("total") || !j["total"].is_number_integer() || !j.contains("classes") ||
      !j["classes"].is_array())
    throw bad("expected {\"total\": N, \"classes\": [[class, [index, ...]], ...]}");
  if (j["total"].get<int64_t>() != total_)
    throw bad(fmt::format("written for a memory of {} exemplars, this run has {}", j["total"].dump(), total_));
  const Tensor y = labels.contiguous();
  const int64_t budget = per_class(num_classes);
  std::map<int, std::vector<int64_t>> loaded;
  for (const auto& entry : j["classes"]) {
    if (!entry.is_array() || entry.size() != 2 || !entry[0].is_number_integer() || !entry[1].is_array())
      throw bad(fmt::format("entry {} is not [class, [index, ...]]", entry.dump().substr(0, 80)));
    const int64_t c = entry[0].get<int64_t>();
    if (c < 0 || c >= num_classes || loaded.count(static_cast<int>(c)))
      throw bad(fmt::format("class {} is repeated or outside [0, {})", c, num_classes));
    if (static_cast<int64_t>(entry[1].size()) > budget)
      throw bad(fmt::format("class {} holds {} exemplars, the budget is {}", c, entry[1].size(), budget));
    std::vector<int64_t> idx;
    std::set<int64_t> seen;
    for (const auto& v : entry[1]) {
      const int64_t i = v.is_number_integer() ? v.get<int64_t>() : -1;
      if (i < 0 || i >= y.size(0) || y.data<int32_t>()[i] != c || !seen.insert(i).second)
        throw bad(fmt::format("class {}: {} is not a distinct training sample of that class (of {})", c, v.dump(), y.size(0)));
      idx.push_back(i);
    }
    loaded[static_cast<int>(c)] = std::move(idx);
  }
  by_class_ = std::move(loaded);
}

Tensor class_means(const Tensor& features, const Tensor& labels, int num_classes) {
  require_matrix(features, "cil::class_means");
  LOWBIT_REQUIRE(labels.defined() && labels.dtype() == DType::i32 && labels.dim() == 1 && labels.size(0) == features.size(0),
                 "cil::class_means", "labels must be int32 ({}), got {}", features.size(0),
                 labels.defined() ? shape_str(labels.shape()) : std::string("undefined"));
  const Tensor phi = l2_normalize_rows(features);
  const Tensor y = labels.contiguous();
  const int64_t n = phi.size(0), d = phi.size(1);
  std::vector<double> acc(static_cast<size_t>(num_classes * d), 0.0);
  std::vector<int64_t> count(static_cast<size_t>(num_classes), 0);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t c = y.data<int32_t>()[i];
    LOWBIT_REQUIRE(c >= 0 && c < num_classes, "cil::class_means", "label {} of row {} is outside [0, {})", c, i, num_classes);
    ++count[static_cast<size_t>(c)];
    for (int64_t j = 0; j < d; ++j) acc[static_cast<size_t>(c * d + j)] += phi.data<float>()[i * d + j];
  }
  Tensor means = Tensor::zeros({num_classes, d});
  float* m = means.data<float>();
  for (int c = 0; c < num_classes; ++c) {
    if (count[static_cast<size_t>(c)] == 0) continue;
    for (int64_t j = 0; j < d; ++j) m[c * d + j] = static_cast<float>(acc[static_cast<size_t>(c * d + j)] / count[static_cast<size_t>(c)]);
  }
  return l2_normalize_rows(means);
}

Tensor nme_predict(const Tensor& features, const Tensor& means) {
  require_matrix(features, "cil::nme_predict");
  require_matrix(means, "cil::nme_predict");
  LOWBIT_REQUIRE(features.size(1) == means.size(1) && means.size(0) >= 1, "cil::nme_predict",
                 "features {} and means {} disagree on the feature size", shape_str(features.shape()), shape_str(means.shape()));
  const Tensor phi = l2_normalize_rows(features);
  const Tensor mu = means.contiguous();
  const int64_t n = phi.size(0), d = phi.size(1), c = mu.size(0);
  Tensor pred = Tensor::empty({n}, DType::i32);
  parallel_for(n, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const float* f = phi.data<float>() + i * d;
      int32_t best = 0;
      double best_dist = std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < c; ++k) {
        const float* q = mu.data<float>() + k * d;
        double dist = 0;
        for (int64_t j = 0; j < d; ++j) dist += (static_cast<double>(f[j]) - q[j]) * (static_cast<double>(f[j]) - q[j]);
        if (dist < best_dist) {
          best_dist = dist;
          best = static_cast<int32_t>(k);
        }
      }
      pred.data<int32_t>()[i] = best;
    }
  });
  return pred;
}

}  // namespace lowbit::cil
