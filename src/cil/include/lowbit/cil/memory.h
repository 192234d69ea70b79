// Exemplar memory for class-incremental learning: herding selection (Welling 2009, as used by
// iCaRL) on L2-normalized features, a fixed total budget split evenly over the classes seen so
// far, and the class means of nearest-mean-of-exemplars (NME) classification.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lowbit/core/tensor.h"

namespace lowbit::cil {

// Rows of an (N, D) f32 matrix divided by their L2 norm (rows of norm < 1e-12 are left as they
// are, so an all-zero feature vector stays zero instead of becoming NaN).
Tensor l2_normalize_rows(const Tensor& x);

// Herding: greedily picks min(m, N) distinct rows of `features` (N, D) so that the running mean
// of the picked rows, after L2-normalizing each row, stays closest to the mean mu of all
// normalized rows: step k picks argmin_i || mu - (S + phi_i) / k || over the rows not yet
// picked, where S is the sum of the k-1 rows picked before; ties go to the lowest index.
// Returns row indices in pick order, so the first j of them are exactly herding with budget j
// (this is why reducing the memory just truncates). Single-threaded and deterministic.
std::vector<int64_t> herding_select(const Tensor& features, int64_t m);

// Stores, for each class, indices into the training set in herding order. The total budget is
// fixed; each of the `n` seen classes gets per_class(n) = total / n exemplars (floor).
class ExemplarMemory {
 public:
  explicit ExemplarMemory(int64_t total = 0);
  int64_t total() const { return total_; }
  int64_t per_class(int num_classes) const;

  // Truncates every stored class to per_class(num_classes) exemplars (call before adding the
  // new classes of a task, with num_classes = classes seen after it).
  void reduce(int num_classes);
  // Stores (replaces) the exemplars of class c, in herding order; respecting the per-class
  // budget is the caller's job (herding_select with that budget).
  void set_class(int c, std::vector<int64_t> indices);
  const std::vector<int64_t>& exemplars(int c) const;  // ValueError for an unknown class
  bool has_class(int c) const { return by_class_.count(c) != 0; }
  std::vector<int> classes() const;   // ascending
  std::vector<int64_t> all() const;   // every stored index, by ascending class then herding order
  int64_t size() const;

  // Task checkpoints: {"total": N, "classes": [[c, [index, ...]], ...]} by ascending class.
  nlohmann::json to_json() const;
  // Replaces the stored classes with those of `j`. IoError naming `origin` unless j is such an
  // object with this memory's total, classes in [0, num_classes) without repeats, at most
  // per_class(num_classes) distinct indices each, and every index a row of `labels` (int32, the
  // training set's) labelled with its class.
  void load_json(const nlohmann::json& j, const Tensor& labels, int num_classes, const std::string& origin);

 private:
  int64_t total_;
  std::map<int, std::vector<int64_t>> by_class_;
};

// Nearest-mean-of-exemplars. class_means: for each class c in [0, num_classes) the mean of the
// L2-normalized rows of `features` whose label is c, itself L2-normalized; (num_classes, D).
// A class without rows gets a zero mean. labels: int32 (N).
Tensor class_means(const Tensor& features, const Tensor& labels, int num_classes);
// For each row of `features` (N, D), the index of the nearest mean (squared L2 distance after
// normalizing the row; ties to the lowest class). int32 (N).
Tensor nme_predict(const Tensor& features, const Tensor& means);

}  // namespace lowbit::cil
