// Session: runs a Graph. On the first run for a set of input shapes it infers every shape,
// folds what is computable from constants and shapes alone, and plans one activation arena
// (buffers reused once all their readers have finished). Independent nodes run concurrently
// on `inter_op` workers, each kernel on `intra_op` threads; inter_op * intra_op never exceeds
// the machine's hardware threads (intra_op is lowered when it would). LOWBIT_ONNX_PROFILE=1
// prints milliseconds per op type after each sequential run; =nodes also one line per node with
// its input/output shapes, layout and (Conv) kernel, stride and groups. Plans are kept per input shapes
// (the last kMaxCachedPlans), so a model with symbolic dims (dim_param) loaded once runs inputs
// of different sizes and re-plans only for shapes it has not seen lately.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lowbit/onnx/ir.h"

namespace lowbit::onnx {

struct SessionOptions {
  int inter_op = 1;      // workers running independent nodes concurrently (>= 1)
  int intra_op = 0;      // threads per kernel; 0 = hardware threads / inter_op
  bool optimize = true;  // constant folding, BN folding, conv+activation fusion
  // Activations between the ops that can read them channels-last stay NHWC (layout_plan.h);
  // false keeps every activation NCHW (the reference of that planning, as LOWBIT_ONNX_NCHW=1).
  bool channels_last = true;
};

struct MemoryStats {
  size_t arena_bytes = 0;      // planned activation arena (with reuse)
  size_t unshared_bytes = 0;   // what the same activations would take without reuse
  size_t output_bytes = 0;     // graph outputs (allocated per run)
  size_t constant_bytes = 0;   // weights and folded constants
  size_t taken_over = 0;       // outputs written over an input's buffer (a conv's fused residual)
  size_t peak_bytes() const { return arena_bytes + output_bytes + constant_bytes; }
};

class TaskPool;  // scheduler.h

class Session {
 public:
  explicit Session(Graph graph, SessionOptions options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Inputs in graph-input order; returns outputs in graph-output order (fresh arrays).
  std::vector<Array> run(const std::vector<Array>& inputs);
  std::map<std::string, Array> run(const std::map<std::string, Array>& inputs);

  // Plans for these input shapes without running (shape errors surface here).
  void prepare(const std::vector<ValueType>& input_types);
  // Value types after the last prepare() (index = value id).
  const std::vector<ValueType>& value_types() const;

  const Graph& graph() const { return graph_; }
  std::vector<std::string> input_names() const;
  std::vector<std::string> output_names() const;
  MemoryStats memory() const;      // for the last prepared input shapes
  int inter_op() const { return inter_op_; }
  int intra_op() const { return intra_op_; }
  size_t runtime_node_count() const;  // nodes left to execute after folding
  size_t cached_plans() const { return plans_.size(); }  // input-shape plans kept (at most kMaxCachedPlans)
  static constexpr size_t kMaxCachedPlans = 8;

 private:
  struct Plan;
  Plan& plan_for(const std::vector<Array>& inputs);
  void run_node(const Plan& plan, int node, std::vector<Array>& slots, std::byte* arena) const;
  void run_sequential(const Plan& plan, std::vector<Array>& slots, std::byte* arena);
  void run_parallel(const Plan& plan, std::vector<Array>& slots, std::byte* arena);

  Graph graph_;
  SessionOptions options_;
  int inter_op_ = 1, intra_op_ = 1;
  std::vector<std::unique_ptr<Plan>> plans_;  // per input shapes, most recently used first
  std::unique_ptr<TaskPool> pool_;
  std::shared_ptr<void> arena_;
  size_t arena_capacity_ = 0;
};

// Effective (inter, intra) for a request, never oversubscribing `hardware` threads.
std::pair<int, int> resolve_threads(int inter_op, int intra_op, int hardware);

}  // namespace lowbit::onnx
