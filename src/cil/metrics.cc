// Accuracy matrix bookkeeping and the class-incremental summary metrics.
#include "lowbit/cil/metrics.h"

#include <algorithm>
#include <cmath>

#include "lowbit/core/error.h"

namespace lowbit::cil {

void record_task(AccuracyMatrix& m, const Tensor& pred, const Tensor& labels, const std::vector<Task>& tasks) {
  const int t = m.num_tasks();
  LOWBIT_REQUIRE(t < static_cast<int>(tasks.size()), "cil::record_task", "already recorded all {} tasks", tasks.size());
  LOWBIT_REQUIRE(pred.dtype() == DType::i32 && labels.dtype() == DType::i32 && pred.dim() == 1 && labels.dim() == 1 &&
                     pred.size(0) == labels.size(0),
                 "cil::record_task", "pred {} and labels {} must be int32 vectors of one length", shape_str(pred.shape()),
                 shape_str(labels.shape()));
  const Tensor p = pred.contiguous(), y = labels.contiguous();
  std::vector<int64_t> correct(static_cast<size_t>(t + 1), 0), total(static_cast<size_t>(t + 1), 0);
  for (int64_t i = 0; i < y.size(0); ++i) {
    const int32_t label = y.data<int32_t>()[i];
    LOWBIT_REQUIRE(label >= 0 && label < tasks[static_cast<size_t>(t)].end, "cil::record_task",
                   "label {} of sample {} is not a class seen by task {}", label, i, t + 1);
    int j = 0;
    while (label >= tasks[static_cast<size_t>(j)].end) ++j;
    ++total[static_cast<size_t>(j)];
    correct[static_cast<size_t>(j)] += p.data<int32_t>()[i] == label;
  }
  std::vector<double> row;
  int64_t all_correct = 0, all_total = 0;
  for (int j = 0; j <= t; ++j) {
    row.push_back(total[static_cast<size_t>(j)] ? static_cast<double>(correct[static_cast<size_t>(j)]) / total[static_cast<size_t>(j)] : 0.0);
    all_correct += correct[static_cast<size_t>(j)];
    all_total += total[static_cast<size_t>(j)];
  }
  m.per_task.push_back(std::move(row));
  m.seen.push_back(all_total ? static_cast<double>(all_correct) / all_total : 0.0);
}

double average_incremental_accuracy(const AccuracyMatrix& m) {
  LOWBIT_REQUIRE(m.num_tasks() > 0, "cil::average_incremental_accuracy", "no task recorded");
  double s = 0;
  for (double a : m.seen) s += a;
  return s / m.num_tasks();
}

double final_accuracy(const AccuracyMatrix& m) {
  LOWBIT_REQUIRE(m.num_tasks() > 0, "cil::final_accuracy", "no task recorded");
  return m.seen.back();
}

double forgetting_after(const AccuracyMatrix& m, int t) {
  LOWBIT_REQUIRE(t >= 0 && t < m.num_tasks(), "cil::forgetting_after",
                 "task {} not recorded ({} tasks)", t, m.num_tasks());
  if (t == 0) return 0.0;
  double s = 0;
  for (int j = 0; j < t; ++j) {
    double best = 0;
    for (int u = j; u < t; ++u) best = std::max(best, m.per_task[static_cast<size_t>(u)][static_cast<size_t>(j)]);
    s += best - m.per_task[static_cast<size_t>(t)][static_cast<size_t>(j)];
  }
  return s / t;
}

double forgetting(const AccuracyMatrix& m) {
  LOWBIT_REQUIRE(m.num_tasks() > 0, "cil::forgetting", "no task recorded");
  return forgetting_after(m, m.num_tasks() - 1);
}

MeanStd mean_std(const std::vector<double>& values) {
  MeanStd r;
  if (values.empty()) return r;
  for (double v : values) r.mean += v;
  r.mean /= static_cast<double>(values.size());
  if (values.size() < 2) return r;
  double ss = 0;
  for (double v : values) ss += (v - r.mean) * (v - r.mean);
  r.std = std::sqrt(ss / static_cast<double>(values.size() - 1));
  return r;
}

}  // namespace lowbit::cil
