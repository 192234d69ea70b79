// Class-incremental metrics: the accuracy matrix of one run and the summaries derived from it
// (average incremental accuracy, final accuracy, forgetting), plus mean/std over seeds.
// Every accuracy is a fraction in [0, 1].
#pragma once

#include <vector>

#include "lowbit/cil/task_split.h"
#include "lowbit/core/tensor.h"

namespace lowbit::cil {

struct AccuracyMatrix {
  // per_task[t][j], j <= t: after training task t, accuracy on the test samples of task j.
  std::vector<std::vector<double>> per_task;
  // seen[t]: after training task t, accuracy on the test samples of all tasks 0..t (classes
  // seen so far; no task id is given at test time).
  std::vector<double> seen;
  int num_tasks() const { return static_cast<int>(seen.size()); }
};

// Appends row t (= m.num_tasks()) from predictions on the test samples of the seen classes.
// pred and labels are int32 (N) in order-label space (task j owns labels [first, end)).
void record_task(AccuracyMatrix& m, const Tensor& pred, const Tensor& labels, const std::vector<Task>& tasks);

// Mean over tasks of seen[t] (Rebuffi et al. 2017).
double average_incremental_accuracy(const AccuracyMatrix& m);
// seen[T-1].
double final_accuracy(const AccuracyMatrix& m);
// Mean over the old tasks j < T-1 of max_{t in [j, T-2]} per_task[t][j] - per_task[T-1][j]
// (Chaudhry et al. 2018); 0 with a single task.
double forgetting(const AccuracyMatrix& m);
// The same measured right after task t (old tasks j < t, best over [j, t-1]); 0 for t = 0.
double forgetting_after(const AccuracyMatrix& m, int t);

struct MeanStd {
  double mean = 0, std = 0;
};
// Mean and sample standard deviation (n - 1 in the denominator; 0 for a single value).
MeanStd mean_std(const std::vector<double>& values);

}  // namespace lowbit::cil
