// Accuracy matrix recording and the summary metrics on hand-made numbers.
#include <gtest/gtest.h>

#include "lowbit/cil/metrics.h"

namespace lowbit::cil {
namespace {

TEST(Metrics, SummariesOfAHandMadeMatrix) {
  AccuracyMatrix m;
  m.per_task = {{0.9}, {0.7, 0.8}, {0.5, 0.6, 0.9}};
  m.seen = {0.9, 0.75, 2.0 / 3.0};
  EXPECT_NEAR(average_incremental_accuracy(m), (0.9 + 0.75 + 2.0 / 3.0) / 3, 1e-12);
  EXPECT_NEAR(final_accuracy(m), 2.0 / 3.0, 1e-12);
  // Task 0: best 0.9 (after task 0), now 0.5 -> 0.4; task 1: best 0.8, now 0.6 -> 0.2.
  EXPECT_NEAR(forgetting(m), 0.3, 1e-12);
  // Forgetting uses the best earlier accuracy, not the first one.
  m.per_task = {{0.6}, {0.8, 0.7}, {0.5, 0.7, 0.9}};
  EXPECT_NEAR(forgetting(m), (0.3 + 0.0) / 2, 1e-12);
  AccuracyMatrix one;
  one.per_task = {{0.8}};
  one.seen = {0.8};
  EXPECT_EQ(forgetting(one), 0.0);
  EXPECT_THROW(final_accuracy(AccuracyMatrix{}), ValueError);
}

TEST(Metrics, RecordTaskSplitsAccuracyByTask) {
  const std::vector<Task> tasks = split_tasks({0, 1, 2, 3, 4}, 2);  // {0,1} {2,3} {4}
  AccuracyMatrix m;
  const std::vector<int32_t> y0 = {0, 1, 1, 0}, p0 = {0, 1, 0, 0};
  record_task(m, Tensor::from<int32_t>({4}, p0), Tensor::from<int32_t>({4}, y0), tasks);
  const std::vector<int32_t> y1 = {0, 1, 2, 3, 3, 2}, p1 = {2, 1, 2, 3, 2, 2};
  record_task(m, Tensor::from<int32_t>({6}, p1), Tensor::from<int32_t>({6}, y1), tasks);
  ASSERT_EQ(m.num_tasks(), 2);
  EXPECT_DOUBLE_EQ(m.per_task[0][0], 0.75);
  EXPECT_DOUBLE_EQ(m.seen[0], 0.75);
  EXPECT_DOUBLE_EQ(m.per_task[1][0], 0.5);
  EXPECT_DOUBLE_EQ(m.per_task[1][1], 0.75);
  EXPECT_DOUBLE_EQ(m.seen[1], 4.0 / 6.0);
  // A label of a class not seen yet is a caller bug.
  AccuracyMatrix fresh;
  const std::vector<int32_t> bad = {2};  // task 0 has seen classes 0 and 1 only
  EXPECT_THROW(record_task(fresh, Tensor::from<int32_t>({1}, bad), Tensor::from<int32_t>({1}, bad), tasks), ValueError);
}

TEST(Metrics, MeanAndSampleStd) {
  const MeanStd a = mean_std({1.0, 2.0, 3.0});
  EXPECT_DOUBLE_EQ(a.mean, 2.0);
  EXPECT_DOUBLE_EQ(a.std, 1.0);
  const MeanStd b = mean_std({0.5});
  EXPECT_DOUBLE_EQ(b.mean, 0.5);
  EXPECT_DOUBLE_EQ(b.std, 0.0);
}

}  // namespace
}  // namespace lowbit::cil
