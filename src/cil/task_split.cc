// Seeded class orders, task cutting and label remapping for class-incremental learning.
#include "lowbit/cil/task_split.h"

#include <numeric>

#include "lowbit/core/error.h"
#include "lowbit/core/rng.h"

namespace lowbit::cil {
namespace {
constexpr uint64_t kClassOrderStream = 0x434c4f52444552ULL;  // "CLORDER"
}

std::vector<int> class_order(int num_classes, uint64_t seed) {
  LOWBIT_REQUIRE(num_classes >= 1, "cil::class_order", "need at least one class, got {}", num_classes);
  std::vector<int> order(static_cast<size_t>(num_classes));
  std::iota(order.begin(), order.end(), 0);
  Rng rng(seed, kClassOrderStream);
  for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
  return order;
}

std::vector<Task> split_tasks(const std::vector<int>& order, int classes_per_task) {
  LOWBIT_REQUIRE(classes_per_task >= 1, "cil::split_tasks", "classes per task must be >= 1, got {}", classes_per_task);
  LOWBIT_REQUIRE(!order.empty(), "cil::split_tasks", "the class order is empty");
  std::vector<Task> tasks;
  const int n = static_cast<int>(order.size());
  for (int first = 0; first < n; first += classes_per_task) {
    Task t;
    t.first = first;
    t.end = std::min(n, first + classes_per_task);
    t.classes.assign(order.begin() + first, order.begin() + t.end);
    tasks.push_back(std::move(t));
  }
  return tasks;
}

data::Dataset to_order_labels(const data::Dataset& ds, const std::vector<int>& order) {
  LOWBIT_REQUIRE(static_cast<int>(order.size()) == ds.num_classes, "cil::to_order_labels",
                 "class order has {} entries, data set '{}' has {} classes", order.size(), ds.name, ds.num_classes);
  std::vector<int> position(order.size(), -1);
  for (size_t p = 0; p < order.size(); ++p) {
    const int c = order[p];
    LOWBIT_REQUIRE(c >= 0 && c < ds.num_classes && position[static_cast<size_t>(c)] < 0, "cil::to_order_labels",
                   "class order is not a permutation of 0..{} (entry {} = {})", ds.num_classes - 1, p, c);
    position[static_cast<size_t>(c)] = static_cast<int>(p);
  }
  data::Dataset out = ds;
  const Tensor labels = ds.labels.contiguous();
  out.labels = Tensor::empty({ds.size()}, DType::i32);
  for (int64_t i = 0; i < ds.size(); ++i)
    out.labels.data<int32_t>()[i] = position[static_cast<size_t>(labels.data<int32_t>()[i])];
  if (static_cast<int>(ds.class_names.size()) == ds.num_classes) {
    out.class_names.clear();
    for (int c : order) out.class_names.push_back(ds.class_names[static_cast<size_t>(c)]);
  }
  return out;
}

std::vector<int64_t> indices_in_range(const data::Dataset& ds, int first, int end) {
  const Tensor labels = ds.labels.contiguous();
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < ds.size(); ++i) {
    const int32_t y = labels.data<int32_t>()[i];
    if (y >= first && y < end) idx.push_back(i);
  }
  return idx;
}

}  // namespace lowbit::cil
