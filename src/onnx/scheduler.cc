// TaskPool: one mutex guards the ready queue and the pending counts; steps run unlocked.
#include "scheduler.h"

#include "lowbit/core/threads.h"

namespace lowbit::onnx {

TaskPool::TaskPool(int workers, int intra_threads) : intra_(intra_threads) {
  for (int i = 1; i < workers; ++i) threads_.emplace_back([this] { worker_loop(); });
}

TaskPool::~TaskPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_work_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool TaskPool::work_one(std::unique_lock<std::mutex>& lock) {
  if (!active_ || ready_.empty()) return false;
  const int step = ready_.front();
  ready_.pop_front();
  ++running_;
  lock.unlock();
  std::exception_ptr err;
  if (!error_) {
    try {
      (*fn_)(step);
    } catch (...) {
      err = std::current_exception();
    }
  }
  lock.lock();
  --running_;
  if (err && !error_) error_ = err;
  --remaining_;
  if (error_) {
    ready_.clear();  // skip everything not yet started
  } else {
    for (int s : (*successors_)[static_cast<size_t>(step)])
      if (--pending_[static_cast<size_t>(s)] == 0) ready_.push_back(s);
  }
  if (running_ == 0 && (remaining_ == 0 || error_)) {
    active_ = false;
    cv_done_.notify_all();
  } else if (!ready_.empty()) {
    cv_work_.notify_all();
    cv_done_.notify_all();
  }
  return true;
}

void TaskPool::worker_loop() {
  set_num_threads(intra_);
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_work_.wait(lock, [this] { return stop_ || (active_ && !ready_.empty()); });
    if (stop_) return;
    work_one(lock);
  }
}

void TaskPool::run(const std::vector<std::vector<int>>& successors, const std::vector<int>& predecessors,
                   const std::function<void(int)>& fn) {
  const int saved = num_threads();
  set_num_threads(intra_);
  std::unique_lock<std::mutex> lock(mu_);
  successors_ = &successors;
  fn_ = &fn;
  pending_ = predecessors;
  ready_.clear();
  error_ = nullptr;
  remaining_ = predecessors.size();
  running_ = 0;
  for (size_t s = 0; s < predecessors.size(); ++s)
    if (predecessors[s] == 0) ready_.push_back(static_cast<int>(s));
  active_ = remaining_ > 0;
  cv_work_.notify_all();
  while (active_) {
    if (!work_one(lock)) cv_done_.wait(lock, [this] { return !active_ || !ready_.empty(); });
  }
  const std::exception_ptr err = error_;
  lock.unlock();
  set_num_threads(saved);
  if (err) std::rethrow_exception(err);
}

}  // namespace lowbit::onnx
