// Inter-op scheduler: a fixed pool of worker threads that executes a DAG of steps, each step
// as soon as all its predecessors are done. The calling thread works too, so `workers`
// threads run steps in total. Every worker sets its intra-op thread count once (OpenMP's
// thread-count ICV is per thread), so kernels on N workers use at most N * intra threads.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lowbit::onnx {

class TaskPool {
 public:
  TaskPool(int workers, int intra_threads);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Runs fn(step) for every step once, respecting the DAG; rethrows the first exception
  // (remaining steps are skipped).
  void run(const std::vector<std::vector<int>>& successors, const std::vector<int>& predecessors,
           const std::function<void(int)>& fn);
  int workers() const { return static_cast<int>(threads_.size()) + 1; }

 private:
  void worker_loop();
  bool work_one(std::unique_lock<std::mutex>& lock);  // runs one ready step; false if none

  int intra_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_work_, cv_done_;
  bool stop_ = false;
  // Current job (valid while active_).
  bool active_ = false;
  const std::vector<std::vector<int>>* successors_ = nullptr;
  const std::function<void(int)>* fn_ = nullptr;
  std::vector<int> pending_;
  std::deque<int> ready_;
  size_t remaining_ = 0, running_ = 0;
  std::exception_ptr error_;
};

}  // namespace lowbit::onnx
