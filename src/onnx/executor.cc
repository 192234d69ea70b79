// Session: per-input-shape plans (inference + folding + arena), node execution, thread setup.
// The concurrent scheduler lives in scheduler.cc.
#include "lowbit/onnx/executor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "lowbit/core/threads.h"
#include "lowbit/onnx/passes.h"
#include "lowbit/onnx/shape_inference.h"
#include "layout_plan.h"
#include "memory_plan.h"
#include "ops/op.h"
#include "scheduler.h"

namespace lowbit::onnx {

struct Session::Plan {
  std::vector<ValueType> signature;  // input types this plan was made for
  InferenceResult inf;
  std::vector<int64_t> offset;       // per value: arena offset, or -1
  std::vector<std::vector<int>> successors;  // per step (index into inf.runtime_nodes)
  std::vector<int> predecessors;     // per step: number of distinct producer steps
  MemoryStats mem;
  // Per node (index = node id): op state such as prepacked conv weights, filled on first run.
  // Each slot is touched only by its own node, so concurrent nodes never share one.
  mutable std::vector<std::shared_ptr<void>> node_state;
  // Per node: its op, resolved (name lookup and attribute check) on the node's first run, not on
  // every run: at batch 1 a transformer's ops take microseconds, and the lookup was a tenth of that.
  mutable std::vector<const OpDef*> ops;
  std::vector<bool> nhwc;  // per value: stored channels-last (layout_plan.h)
};

std::pair<int, int> resolve_threads(int inter_op, int intra_op, int hardware) {
  hardware = std::max(hardware, 1);
  const int inter = std::clamp(inter_op, 1, hardware);
  int intra = intra_op > 0 ? intra_op : hardware / inter;
  intra = std::clamp(intra, 1, std::max(1, hardware / inter));
  return {inter, intra};
}

Session::Session(Graph graph, SessionOptions options) : graph_(std::move(graph)), options_(options) {
  LOWBIT_REQUIRE(options.inter_op >= 1 && options.intra_op >= 0, "Session", "inter_op must be >= 1 and intra_op >= 0");
  std::tie(inter_op_, intra_op_) = resolve_threads(options.inter_op, options.intra_op, hardware_threads());
  graph_.validate();  // schema and structure of every node
  compute_float16_in_float32(graph_);
  if (options.optimize) optimize_graph(graph_);
  if (inter_op_ > 1) pool_ = std::make_unique<TaskPool>(inter_op_, intra_op_);
}

Session::~Session() = default;

std::vector<std::string> Session::input_names() const {
  std::vector<std::string> out;
  for (int v : graph_.inputs) out.push_back(graph_.values[static_cast<size_t>(v)].name);
  return out;
}

std::vector<std::string> Session::output_names() const {
  std::vector<std::string> out;
  for (int v : graph_.outputs) out.push_back(graph_.values[static_cast<size_t>(v)].name);
  return out;
}

MemoryStats Session::memory() const { return plans_.empty() ? MemoryStats{} : plans_.front()->mem; }

const std::vector<ValueType>& Session::value_types() const {
  LOWBIT_REQUIRE(!plans_.empty(), "Session", "value_types() before prepare()");
  return plans_.front()->inf.types;
}

size_t Session::runtime_node_count() const {
  return plans_.empty() ? graph_.live_node_count() : plans_.front()->inf.runtime_nodes.size();
}

void Session::prepare(const std::vector<ValueType>& input_types) {
  auto plan = std::make_unique<Plan>();
  plan->signature = input_types;
  plan->inf = infer_shapes(graph_, input_types, true);
  const std::vector<int>& steps = plan->inf.runtime_nodes;
  const size_t n_steps = steps.size();
  std::vector<int> step_of(graph_.nodes.size(), -1);
  for (size_t s = 0; s < n_steps; ++s) step_of[static_cast<size_t>(steps[s])] = static_cast<int>(s);

  // Dependencies between runtime steps (folded producers are constants, not dependencies).
  plan->successors.assign(n_steps, {});
  plan->predecessors.assign(n_steps, 0);
  std::vector<std::vector<int>> preds(n_steps);
  for (size_t s = 0; s < n_steps; ++s) {
    for (int v : graph_.nodes[static_cast<size_t>(steps[s])].inputs) {
      if (v == kNoValue || plan->inf.known.count(v)) continue;
      const int p = graph_.values[static_cast<size_t>(v)].producer;
      if (p < 0 || step_of[static_cast<size_t>(p)] < 0) continue;
      const int ps = step_of[static_cast<size_t>(p)];
      if (std::find(preds[s].begin(), preds[s].end(), ps) == preds[s].end()) preds[s].push_back(ps);
    }
    plan->predecessors[s] = static_cast<int>(preds[s].size());
    for (int p : preds[s]) plan->successors[static_cast<size_t>(p)].push_back(static_cast<int>(s));
  }

  // Buffers: statically shaped outputs of runtime steps that are not graph outputs.
  std::vector<bool> is_output(graph_.values.size(), false);
  for (int v : graph_.outputs) is_output[static_cast<size_t>(v)] = true;
  std::vector<BufferRequest> requests;
  std::vector<int> request_value;
  std::vector<int> request_of(graph_.values.size(), -1);
  for (size_t s = 0; s < n_steps; ++s) {
    const Node& node = graph_.nodes[static_cast<size_t>(steps[s])];
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      const int v = node.outputs[o];
      if (v == kNoValue || is_output[static_cast<size_t>(v)]) continue;
      const ValueType& t = plan->inf.types[static_cast<size_t>(v)];
      if (!t.has_shape) continue;
      BufferRequest req;
      req.bytes = static_cast<size_t>(checked_numel(t.shape, "onnx")) * elem_size(t.elem);
      req.producer = static_cast<int>(s);
      for (int c : graph_.values[static_cast<size_t>(v)].consumers)
        if (step_of[static_cast<size_t>(c)] >= 0) req.readers.push_back(step_of[static_cast<size_t>(c)]);
      if (o == 0) {  // output 0 over an input's buffer, where the op allows it and the types match
        const OpDef& op = resolve_op(node, graph_.opset);
        const int k = op.overwrites_input ? op.overwrites_input(node) : -1;
        const int in = k >= 0 && static_cast<size_t>(k) < node.inputs.size() ? node.inputs[static_cast<size_t>(k)] : kNoValue;
        const bool read_twice = std::count(node.inputs.begin(), node.inputs.end(), in) > 1;  // conv(x) + x
        if (in != kNoValue && !read_twice && request_of[static_cast<size_t>(in)] >= 0 &&
            plan->inf.types[static_cast<size_t>(in)].elem == t.elem)  // plan_memory checks the sizes
          req.reuse = request_of[static_cast<size_t>(in)];
      }
      request_of[static_cast<size_t>(v)] = static_cast<int>(requests.size());
      requests.push_back(std::move(req));
      request_value.push_back(v);
    }
  }
  MemoryPlanResult mp;
  if (inter_op_ == 1) {
    mp = plan_memory(requests, [](int a, int b) { return a < b; });  // program order
  } else {
    // Ancestor sets: step a happens before b iff a is a transitive predecessor of b.
    const size_t words = (n_steps + 63) / 64;
    std::vector<uint64_t> anc(n_steps * words, 0);
    for (size_t s = 0; s < n_steps; ++s)
      for (int p : preds[s]) {
        anc[s * words + static_cast<size_t>(p) / 64] |= uint64_t{1} << (p % 64);
        for (size_t w = 0; w < words; ++w) anc[s * words + w] |= anc[static_cast<size_t>(p) * words + w];
      }
    mp = plan_memory(requests, [&](int a, int b) {
      return (anc[static_cast<size_t>(b) * words + static_cast<size_t>(a) / 64] >> (a % 64)) & 1;
    });
  }
  plan->offset.assign(graph_.values.size(), -1);
  for (size_t i = 0; i < requests.size(); ++i)
    plan->offset[static_cast<size_t>(request_value[i])] = static_cast<int64_t>(mp.offsets[i]);
  plan->mem.arena_bytes = mp.arena_bytes;
  plan->mem.unshared_bytes = mp.unshared_bytes;
  plan->mem.taken_over = static_cast<size_t>(std::count_if(mp.shared_with.begin(), mp.shared_with.end(), [](int j) { return j >= 0; }));
  for (int v : graph_.outputs) {
    const ValueType& t = plan->inf.types[static_cast<size_t>(v)];
    if (t.has_shape) plan->mem.output_bytes += static_cast<size_t>(checked_numel(t.shape, "onnx")) * elem_size(t.elem);
  }
  for (const auto& [v, a] : plan->inf.known) plan->mem.constant_bytes += a.nbytes();
  LOWBIT_REQUIRE(plan->mem.arena_bytes <= kMaxArrayBytes, "onnx", "activations need {} bytes, above the {} GiB limit",
                 plan->mem.arena_bytes, kMaxArrayBytes >> 30);
  plan->node_state.resize(graph_.nodes.size());
  plan->ops.assign(graph_.nodes.size(), nullptr);
  // LOWBIT_ONNX_NCHW=1 keeps every activation NCHW (A/B of the channels-last planning).
  static const bool nchw_only = std::getenv("LOWBIT_ONNX_NCHW") != nullptr;
  plan->nhwc = nchw_only || !options_.channels_last ? std::vector<bool>(graph_.values.size(), false)
                                                    : plan_channels_last(graph_, plan->inf);
  if (plans_.size() == kMaxCachedPlans) plans_.pop_back();  // least recently used
  plans_.insert(plans_.begin(), std::move(plan));
}

Session::Plan& Session::plan_for(const std::vector<Array>& inputs) {
  std::vector<ValueType> sig;
  for (const Array& a : inputs) sig.push_back(ValueType{a.type(), a.shape(), true});
  auto matches = [&](const std::unique_ptr<Plan>& p) {
    if (p->signature.size() != sig.size()) return false;
    for (size_t i = 0; i < sig.size(); ++i)
      if (p->signature[i].elem != sig[i].elem || p->signature[i].shape != sig[i].shape) return false;
    return true;
  };
  // Plans are cached per input shapes (most recently used first): a model with symbolic dims
  // that alternates between sizes re-plans only for a shape it has not seen lately.
  auto it = std::find_if(plans_.begin(), plans_.end(), matches);
  if (it == plans_.end()) prepare(sig);
  else std::rotate(plans_.begin(), it, it + 1);
  Plan& plan = *plans_.front();
  if (arena_capacity_ < plan.mem.arena_bytes) {
    void* p = std::aligned_alloc(kArenaAlign, std::max<size_t>(plan.mem.arena_bytes, kArenaAlign));
    if (!p) throw std::bad_alloc();
    arena_ = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
    arena_capacity_ = plan.mem.arena_bytes;
  }
  return plan;
}

void Session::run_node(const Plan& plan, int n, std::vector<Array>& slots, std::byte* arena) const {
  const Node& node = graph_.nodes[static_cast<size_t>(n)];
  const OpDef*& resolved = plan.ops[static_cast<size_t>(n)];
  if (!resolved) resolved = &resolve_op(node, graph_.opset);
  const OpDef& op = *resolved;
  RunCtx ctx{node, graph_.opset, {}, {}};
  ctx.in.reserve(node.inputs.size());
  ctx.out.reserve(node.outputs.size());
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const int v = node.inputs[i];
    ctx.in.push_back(v == kNoValue ? nullptr : &slots[static_cast<size_t>(v)]);
    if (v == kNoValue || i >= 64) continue;
    if (plan.inf.known.count(v)) ctx.const_inputs |= uint64_t{1} << i;
    if (plan.nhwc[static_cast<size_t>(v)]) ctx.nhwc_inputs |= uint64_t{1} << i;
  }
  for (size_t i = 0; i < node.outputs.size() && i < 64; ++i)
    if (node.outputs[i] != kNoValue && plan.nhwc[static_cast<size_t>(node.outputs[i])]) ctx.nhwc_outputs |= uint64_t{1} << i;
  ctx.state = &plan.node_state[static_cast<size_t>(n)];
  if (op.own_outputs) {
    for (int v : node.outputs) {
      if (v != kNoValue) slots[static_cast<size_t>(v)] = Array();
      ctx.out.push_back(v == kNoValue ? nullptr : &slots[static_cast<size_t>(v)]);
    }
    op.run(ctx);
    for (size_t i = 0; i < node.outputs.size(); ++i)
      LOWBIT_CHECK(node.outputs[i] == kNoValue || slots[static_cast<size_t>(node.outputs[i])].defined(),
                   "{} left output {} unset", node.describe(), i);
    return;
  }
  bool dynamic = false;
  for (int v : node.outputs) dynamic = dynamic || (v != kNoValue && !plan.inf.types[static_cast<size_t>(v)].has_shape);
  std::vector<ValueType> inferred;  // only for data-dependent output shapes; else the plan's types
  if (dynamic) {
    // Data-dependent output shape: infer again with the actual input values.
    InferCtx ictx = infer_ctx_for(ctx);
    ictx.out.resize(node.outputs.size());
    op.infer(ictx);
    inferred = std::move(ictx.out);
  }
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    const int v = node.outputs[i];
    if (v == kNoValue) {
      ctx.out.push_back(nullptr);
      continue;
    }
    const ValueType& type = dynamic ? inferred[i] : plan.inf.types[static_cast<size_t>(v)];
    Array& slot = slots[static_cast<size_t>(v)];
    const int64_t off = plan.offset[static_cast<size_t>(v)];
    slot = off >= 0 ? Array::view(type.elem, type.shape, arena + off, nullptr) : Array::empty(type.elem, type.shape);
    ctx.out.push_back(&slot);
  }
  op.run(ctx);
}

void Session::run_sequential(const Plan& plan, std::vector<Array>& slots, std::byte* arena) {
  const int saved = num_threads();
  set_num_threads(intra_op_);
  // LOWBIT_ONNX_PROFILE=1 prints time per op type after each run (sequential executor only);
  // LOWBIT_ONNX_PROFILE=nodes also one line per node, in execution order.
  static const char* profile_env = std::getenv("LOWBIT_ONNX_PROFILE");
  static const bool profile = profile_env != nullptr, per_node = profile && std::string_view(profile_env) == "nodes";
  std::map<std::string, double> per_op;
  // "in=1x3x224x224 out=1x16x112x112 nhwc k=3x3 g=1" for LOWBIT_ONNX_PROFILE=nodes: the first input's
  // and output's shapes, whether the output is channels-last, and a Conv's kernel size and groups.
  auto node_profile_shapes = [&](const Node& nd) {
    auto dims = [&](int v) -> std::string {
      if (v == kNoValue || !plan.inf.types[static_cast<size_t>(v)].has_shape) return "?";
      std::string s;
      for (int64_t d : plan.inf.types[static_cast<size_t>(v)].shape) {
        if (!s.empty()) s += 'x';
        s += std::to_string(d);
      }
      return s;
    };
    const int x = nd.inputs.empty() ? kNoValue : nd.inputs[0], y = nd.outputs.empty() ? kNoValue : nd.outputs[0];
    std::string line = fmt::format("in={} out={}", dims(x), dims(y));
    if (y != kNoValue && plan.nhwc[static_cast<size_t>(y)]) line += " nhwc";
    if (nd.op_type == "Conv") {
      const std::vector<int64_t> k = nd.attr_ints("kernel_shape");
      const std::vector<int64_t> st = nd.attr_ints("strides");
      if (k.size() == 2) line += fmt::format(" k={}x{}", k[0], k[1]);
      if (!st.empty()) line += fmt::format(" s={}", st[0]);
      line += fmt::format(" g={}", nd.attr_i("group", 1));
    }
    return line;
  };
  try {
    for (int n : plan.inf.runtime_nodes) {
      const auto t0 = std::chrono::steady_clock::now();
      run_node(plan, n, slots, arena);
      if (profile) {
        const Node& node = graph_.nodes[static_cast<size_t>(n)];
        std::string kind = node.op_type;  // appended piece by piece: GCC 12 warns -Wrestrict on the chained +
        if (node.attr_i("lowbit_wbits", 8) == 4) kind += "[w4]";
        if (node.attr_i("lowbit_bf16", 0)) kind += "[bf16]";
        if (node.find("lowbit_act")) {
          kind += '+';
          kind += node.attr_s("lowbit_act", "");
        }
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        per_op[kind] += ms;
        if (per_node)
          std::fprintf(stderr, "[onnx node ms] %s %s %.3f %s\n", node.name.c_str(), kind.c_str(), ms,
                       node_profile_shapes(node).c_str());
      }
    }
    if (profile) {
      std::string line = "[onnx profile ms]";
      for (const auto& [op, ms] : per_op) line += fmt::format(" {}:{:.3f}", op, ms);
      std::fprintf(stderr, "%s\n", line.c_str());
    }
  } catch (...) {
    set_num_threads(saved);
    throw;
  }
  set_num_threads(saved);
}

void Session::run_parallel(const Plan& plan, std::vector<Array>& slots, std::byte* arena) {
  const std::vector<int>& steps = plan.inf.runtime_nodes;
  pool_->run(plan.successors, plan.predecessors, [&](int s) { run_node(plan, steps[static_cast<size_t>(s)], slots, arena); });
}

std::vector<Array> Session::run(const std::vector<Array>& inputs) {
  LOWBIT_REQUIRE(inputs.size() == graph_.inputs.size(), "Session::run", "model has {} inputs, {} given",
                 graph_.inputs.size(), inputs.size());
  Plan& plan = plan_for(inputs);
  std::vector<Array> slots(graph_.values.size());
  for (size_t i = 0; i < inputs.size(); ++i) slots[static_cast<size_t>(graph_.inputs[i])] = inputs[i];
  for (const auto& [v, a] : plan.inf.known) slots[static_cast<size_t>(v)] = a;
  auto* arena = static_cast<std::byte*>(arena_.get());
  if (pool_ && plan.inf.runtime_nodes.size() > 1) run_parallel(plan, slots, arena);
  else run_sequential(plan, slots, arena);
  std::vector<Array> outputs;
  for (int v : graph_.outputs) {
    Array& a = slots[static_cast<size_t>(v)];
    // Inputs and constants are shared with the caller/session: hand out copies.
    const bool owned = graph_.values[static_cast<size_t>(v)].producer >= 0 && !plan.inf.known.count(v);
    outputs.push_back(owned ? a : a.clone());
  }
  return outputs;
}

std::map<std::string, Array> Session::run(const std::map<std::string, Array>& inputs) {
  std::vector<Array> ordered;
  for (int v : graph_.inputs) {
    const std::string& name = graph_.values[static_cast<size_t>(v)].name;
    auto it = inputs.find(name);
    LOWBIT_REQUIRE(it != inputs.end(), "Session::run", "missing input '{}'", name);
    ordered.push_back(it->second);
  }
  LOWBIT_REQUIRE(inputs.size() == ordered.size(), "Session::run", "unknown extra inputs given");
  std::vector<Array> outs = run(ordered);
  std::map<std::string, Array> named;
  for (size_t i = 0; i < outs.size(); ++i) named[output_names()[i]] = outs[i];
  return named;
}

}  // namespace lowbit::onnx
