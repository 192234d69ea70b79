// Class orders are seeded permutations, tasks cut them with a remainder, labels remap by order.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "lowbit/cil/task_split.h"

namespace lowbit::cil {
namespace {

TEST(TaskSplit, ClassOrderIsASeededPermutation) {
  const auto a = class_order(10, 1993), b = class_order(10, 1993), c = class_order(10, 7);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<int> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> expected(10);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(sorted, expected);
  EXPECT_EQ(class_order(1, 3), std::vector<int>{0});
  EXPECT_THROW(class_order(0, 3), ValueError);
}

TEST(TaskSplit, TasksCoverTheOrderWithARemainder) {
  std::vector<int> order(19);
  std::iota(order.rbegin(), order.rend(), 0);  // 18, 17, ..., 0
  const auto tasks = split_tasks(order, 2);
  ASSERT_EQ(tasks.size(), 10u);
  EXPECT_EQ(tasks[0].classes, (std::vector<int>{18, 17}));
  EXPECT_EQ(tasks[0].first, 0);
  EXPECT_EQ(tasks[0].end, 2);
  EXPECT_EQ(tasks[9].classes, std::vector<int>{0});
  EXPECT_EQ(tasks[9].num_old(), 18);
  EXPECT_EQ(tasks[9].num_seen(), 19);
  for (size_t t = 1; t < tasks.size(); ++t) EXPECT_EQ(tasks[t].first, tasks[t - 1].end);
  EXPECT_EQ(split_tasks({0, 1, 2, 3}, 2).size(), 2u);
  EXPECT_THROW(split_tasks(order, 0), ValueError);
  EXPECT_THROW(split_tasks({}, 2), ValueError);
}

TEST(TaskSplit, OrderLabelsAreClassPositions) {
  data::Dataset ds;
  ds.num_classes = 3;
  ds.class_names = {"a", "b", "c"};
  ds.inputs = Tensor::zeros({5, 2});
  const std::vector<int32_t> y = {0, 1, 2, 2, 0};
  ds.labels = Tensor::from<int32_t>({5}, y);
  const data::Dataset r = to_order_labels(ds, {2, 0, 1});
  EXPECT_EQ(r.labels.to_vector(), (std::vector<float>{1, 2, 0, 0, 1}));
  EXPECT_EQ(r.class_names, (std::vector<std::string>{"c", "a", "b"}));
  EXPECT_EQ(indices_in_range(r, 0, 2), (std::vector<int64_t>{0, 2, 3, 4}));
  EXPECT_EQ(ds.labels.to_vector(), (std::vector<float>{0, 1, 2, 2, 0}));  // input untouched
  EXPECT_THROW(to_order_labels(ds, {0, 0, 1}), ValueError);
  EXPECT_THROW(to_order_labels(ds, {0, 1}), ValueError);
}

}  // namespace
}  // namespace lowbit::cil
