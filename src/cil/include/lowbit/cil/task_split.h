// Class-incremental task splits: a seeded class order cut into tasks of a fixed number of
// classes, and the label remapping that lets the growing head index classes by arrival order.
#pragma once

#include <cstdint>
#include <vector>

#include "lowbit/data/dataset.h"

namespace lowbit::cil {

// A permutation of 0..num_classes-1: a Fisher-Yates shuffle driven by Philox stream
// (seed, kClassOrderStream). The same seed gives the same order on every machine.
std::vector<int> class_order(int num_classes, uint64_t seed);

// One task: the global class ids it introduces, and their positions [first, end) in the class
// order (the "incremental labels" the model's head uses).
struct Task {
  std::vector<int> classes;  // global ids, in arrival order
  int first = 0;             // order position of classes[0]
  int end = 0;               // one past the last position; end - first == classes.size()
  int num_old() const { return first; }  // classes seen before this task
  int num_seen() const { return end; }   // classes seen after it
};

// Cuts `order` into consecutive tasks of `classes_per_task` classes; when the count does not
// divide, the last task gets the remainder (19 classes by 2: nine tasks of 2, one of 1).
// ValueError when classes_per_task < 1 or the order is empty.
std::vector<Task> split_tasks(const std::vector<int>& order, int classes_per_task);

// The data set with label y replaced by its position in `order` (which must be a permutation of
// 0..num_classes-1), class_names reordered to match; sample order unchanged.
data::Dataset to_order_labels(const data::Dataset& ds, const std::vector<int>& order);

// Indices of the samples whose (order) label lies in [first, end), in ascending order.
std::vector<int64_t> indices_in_range(const data::Dataset& ds, int first, int end);

}  // namespace lowbit::cil
