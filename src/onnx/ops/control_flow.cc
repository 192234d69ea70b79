// If, Loop and Scan: ops whose attributes are subgraphs. Each subgraph runs in its own Session
// (kept in the node's per-plan state, so its plans and arena are reused across iterations and
// runs) whose inputs are the subgraph's formal inputs followed by the outer values it captures
// (Node::implicit_inputs, bound by position through Graph::captures). Output shapes depend on
// run-time values: inference gives element types only and run() assigns the outputs itself.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>

#include "lowbit/core/threads.h"
#include "lowbit/onnx/executor.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

// A Loop whose trip count and condition come from a file could run forever: past this many
// iterations (LOWBIT_ONNX_MAX_LOOP overrides, e.g. for tests) it stops with an error naming the
// node. Scan outputs it collects are bounded like any array (kMaxArrayBytes in total).
constexpr int64_t kMaxLoopIterations = int64_t{1} << 20;

int64_t max_loop_iterations() {
  const char* env = std::getenv("LOWBIT_ONNX_MAX_LOOP");
  const int64_t v = env ? std::strtoll(env, nullptr, 10) : 0;
  return v > 0 ? v : kMaxLoopIterations;
}

const Graph& subgraph(const Node& node, const std::string& key) {
  const Attribute* a = node.find(key);
  LOWBIT_CHECK(a && a->kind == Attribute::Kind::g && a->g, "{}: attribute '{}' is not a graph (check_node)", node.describe(), key);
  return *a->g;
}

// One subgraph as a Session over a copy whose inputs are formal inputs + captured outer values.
class SubgraphRun {
 public:
  SubgraphRun(const Graph& sub, std::string key) : key_(std::move(key)) {
    Graph g = sub;  // nested subgraphs are shared, not copied
    for (size_t j = 0; j < g.captures.size(); ++j)
      if (g.captures[j] != kNoValue) {
        g.inputs.push_back(g.captures[j]);
        bound_.push_back(j);
      }
    g.captures.clear();
    SessionOptions o;
    o.inter_op = 1;
    o.intra_op = num_threads();
    o.optimize = false;  // the body is run as the file states it (no fusion across iterations)
    session_ = std::make_unique<Session>(std::move(g), o);
  }
  std::vector<Array> run(std::vector<Array> formal, const RunCtx& ctx) {
    const size_t first_implicit = ctx.node.explicit_inputs();
    for (size_t j : bound_) formal.push_back(ctx.input(first_implicit + j));
    try {
      return session_->run(formal);
    } catch (const ValueError& e) {  // "node 'loop_1' (Loop, opset 13): body: node 'add' ..."
      std::string msg = e.what();
      if (msg.rfind("[onnx] ", 0) == 0) msg = msg.substr(7);
      node_fail(ctx.node, ctx.opset, "{}: {}", key_, msg);
    }
  }

 private:
  std::string key_;
  std::vector<size_t> bound_;  // implicit-input positions this subgraph reads
  std::unique_ptr<Session> session_;
};

// Per-node state: one runner per subgraph attribute, made on first use.
struct SubgraphRuns {
  std::map<std::string, std::unique_ptr<SubgraphRun>> by_attr;
};

SubgraphRun& runner(RunCtx& ctx, std::shared_ptr<void>& local, const std::string& key) {
  std::shared_ptr<void>& slot = ctx.state ? *ctx.state : local;
  if (!slot) slot = std::make_shared<SubgraphRuns>();
  auto& runs = static_cast<SubgraphRuns*>(slot.get())->by_attr;
  auto& r = runs[key];
  if (!r) r = std::make_unique<SubgraphRun>(subgraph(ctx.node, key), key);
  return *r;
}

// Element types of a subgraph's values without shapes: declared types, the outer values and
// formal inputs' types, then each op's inference with unknown shapes (constants keep theirs).
std::vector<ElemType> subgraph_elems(const InferCtx& ctx, const Graph& g, const std::vector<ElemType>& formal_elems) {
  std::vector<ValueType> types(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v) types[v].elem = g.values[v].type.elem;
  for (size_t j = 0; j < g.captures.size(); ++j)
    if (g.captures[j] != kNoValue) types[static_cast<size_t>(g.captures[j])].elem = ctx.in[ctx.node.explicit_inputs() + j].elem;
  for (size_t k = 0; k < g.inputs.size() && k < formal_elems.size(); ++k)
    if (types[static_cast<size_t>(g.inputs[k])].elem == ElemType::undefined) types[static_cast<size_t>(g.inputs[k])].elem = formal_elems[k];
  for (const auto& [v, a] : g.constants) types[static_cast<size_t>(v)] = ValueType{a.type(), a.shape(), true};
  for (int n : g.topo_order()) {
    const Node& node = g.nodes[static_cast<size_t>(n)];
    InferCtx ic{node, g.opset, {}, {}, std::vector<ValueType>(node.outputs.size())};
    for (int v : node.inputs) {
      ic.in.push_back(v == kNoValue ? ValueType{} : types[static_cast<size_t>(v)]);
      ic.values.push_back(v == kNoValue ? nullptr : g.constant(v));
    }
    try {
      resolve_op(node, g.opset).infer(ic);
    } catch (const Error&) {
      continue;  // needs shapes: its outputs stay untyped unless declared
    }
    for (size_t i = 0; i < node.outputs.size(); ++i)
      if (node.outputs[i] != kNoValue && types[static_cast<size_t>(node.outputs[i])].elem == ElemType::undefined)
        types[static_cast<size_t>(node.outputs[i])] = ValueType{ic.out[i].elem, {}, false};
  }
  std::vector<ElemType> out;
  for (int v : g.outputs) out.push_back(types[static_cast<size_t>(v)].elem);
  return out;
}

ElemType output_elem(const InferCtx& ctx, const std::string& key, size_t i, const std::vector<ElemType>& formal_elems) {
  const Graph& g = subgraph(ctx.node, key);
  const int v = g.outputs[i];
  if (g.values[static_cast<size_t>(v)].type.elem != ElemType::undefined) return g.values[static_cast<size_t>(v)].type.elem;
  const ElemType e = subgraph_elems(ctx, g, formal_elems)[i];
  if (e != ElemType::undefined) return e;
  node_fail(ctx.node, ctx.opset, "{}: output {} ('{}') has no declared type and none could be inferred (not supported: "
            "lowbit needs the element type of subgraph outputs)", key, i, g.values[static_cast<size_t>(v)].name);
}

bool scalar_bool(const RunCtx& ctx, const Array& a, const char* what) {
  LOWBIT_NODE_REQUIRE(a.type() == ElemType::boolean && a.numel() == 1, ctx, "{} must be one bool, got {} of shape {}", what,
                      elem_name(a.type()), shape_str(a.shape()));
  return a.data<bool>()[0];
}

// The slice x[..., t, ...] along `axis` (that axis removed).
Array slice_axis(const Array& x, size_t axis, int64_t t) {
  Shape out_shape = x.shape();
  out_shape.erase(out_shape.begin() + static_cast<std::ptrdiff_t>(axis));
  std::vector<int64_t> strides(x.shape().size(), 1);
  for (size_t d = x.shape().size(); d-- > 1;) strides[d - 1] = strides[d] * x.shape()[d];
  const int64_t step = strides[axis];
  strides.erase(strides.begin() + static_cast<std::ptrdiff_t>(axis));
  Array out = Array::empty(x.type(), out_shape);
  const size_t es = elem_size(x.type());
  strided_copy_bytes(x.raw() + static_cast<size_t>(t * step) * es, out.raw(), out_shape, strides, es);
  return out;
}

// Stacks same-shaped arrays along a new `axis` (in list order); an empty list gives `empty`.
Array stack(const InferCtx& ictx, const std::vector<Array>& items, size_t axis, ElemType elem, const char* what,
            const Shape& empty = {0}) {
  if (items.empty()) return Array::empty(elem, empty);
  const Shape& item = items[0].shape();
  for (const Array& a : items)
    LOWBIT_NODE_REQUIRE(a.shape() == item && a.type() == items[0].type(), ictx,
                        "{} changes from {} {} to {} {} between iterations (scan outputs must keep one shape)", what,
                        elem_name(items[0].type()), shape_str(item), elem_name(a.type()), shape_str(a.shape()));
  Shape stacked = item;
  stacked.insert(stacked.begin(), static_cast<int64_t>(items.size()));
  Array first = Array::empty(items[0].type(), stacked);
  for (size_t t = 0; t < items.size(); ++t)
    if (items[t].nbytes()) std::memcpy(first.raw() + t * items[t].nbytes(), items[t].raw(), items[t].nbytes());
  if (axis == 0) return first;
  // Move axis 0 to `axis`: out[.., t, ..] = first[t, ..].
  Shape out_shape = item;
  out_shape.insert(out_shape.begin() + static_cast<std::ptrdiff_t>(axis), static_cast<int64_t>(items.size()));
  std::vector<int64_t> first_strides(stacked.size(), 1);
  for (size_t d = stacked.size(); d-- > 1;) first_strides[d - 1] = first_strides[d] * stacked[d];
  std::vector<int64_t> in_strides;
  for (size_t d = 1; d < stacked.size(); ++d) in_strides.push_back(first_strides[d]);
  in_strides.insert(in_strides.begin() + static_cast<std::ptrdiff_t>(axis), first_strides[0]);
  Array out = Array::empty(first.type(), out_shape);
  strided_copy_bytes(first.raw(), out.raw(), out_shape, in_strides, elem_size(first.type()));
  return out;
}

void set_output(RunCtx& ctx, size_t i, Array a) {
  if (i < ctx.out.size() && ctx.out[i]) *ctx.out[i] = std::move(a);
}

// ---- If ----
void infer_if(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::boolean});
  const size_t n_then = subgraph(ctx.node, "then_branch").outputs.size();
  const size_t n_else = subgraph(ctx.node, "else_branch").outputs.size();
  LOWBIT_NODE_REQUIRE(n_then == n_else && n_then == ctx.node.outputs.size(), ctx,
                      "then_branch has {} output(s), else_branch {}, the node {} (they must agree)", n_then, n_else,
                      ctx.node.outputs.size());
  LOWBIT_NODE_REQUIRE(subgraph(ctx.node, "then_branch").inputs.empty() && subgraph(ctx.node, "else_branch").inputs.empty(),
                      ctx, "If branches take no inputs");
  for (size_t i = 0; i < n_then; ++i) {
    const ElemType t = output_elem(ctx, "then_branch", i, {}), e = output_elem(ctx, "else_branch", i, {});
    LOWBIT_NODE_REQUIRE(t == e, ctx, "output {} is {} in then_branch but {} in else_branch", i, elem_name(t), elem_name(e));
    ctx.set_out_unknown(i, t);
  }
}

void run_if(RunCtx& ctx) {
  std::shared_ptr<void> local;
  const bool cond = scalar_bool(ctx, ctx.input(0), "cond");
  std::vector<Array> outs = runner(ctx, local, cond ? "then_branch" : "else_branch").run({}, ctx);
  for (size_t i = 0; i < outs.size(); ++i) set_output(ctx, i, std::move(outs[i]));
}

// ---- Loop ----
// inputs: M?, cond?, v_initial (N); body: (iter, cond, v...) -> (cond, v..., scan (K)...).
struct LoopDims {
  size_t n_carried = 0, n_scan = 0;
};

LoopDims loop_dims(const InferCtx& ctx) {
  const Graph& body = subgraph(ctx.node, "body");
  const size_t n_in = ctx.node.explicit_inputs();
  LOWBIT_NODE_REQUIRE(n_in >= 2, ctx, "Loop needs the inputs M and cond (either may be empty)");
  LoopDims d{n_in - 2, 0};
  LOWBIT_NODE_REQUIRE(body.inputs.size() == 2 + d.n_carried, ctx,
                      "body: has {} input(s), expected 2 + {} loop-carried (iteration number, condition, values)",
                      body.inputs.size(), d.n_carried);
  LOWBIT_NODE_REQUIRE(body.outputs.size() >= 1 + d.n_carried, ctx,
                      "body: has {} output(s), expected at least 1 + {} (condition, loop-carried values, scan outputs)",
                      body.outputs.size(), d.n_carried);
  d.n_scan = body.outputs.size() - 1 - d.n_carried;
  LOWBIT_NODE_REQUIRE(ctx.node.outputs.size() <= d.n_carried + d.n_scan, ctx,
                      "has {} output(s), the body gives {} loop-carried + {} scan output(s)", ctx.node.outputs.size(),
                      d.n_carried, d.n_scan);
  return d;
}

void infer_loop(InferCtx& ctx) {
  const LoopDims d = loop_dims(ctx);
  require_type(ctx, 0, {ElemType::i64});
  require_type(ctx, 1, {ElemType::boolean});
  std::vector<ElemType> formal = {ElemType::i64, ElemType::boolean};
  for (size_t i = 0; i < d.n_carried; ++i) {
    LOWBIT_NODE_REQUIRE(ctx.has(2 + i), ctx, "loop-carried input {} is missing (optional values are not supported)", 2 + i);
    formal.push_back(ctx.in[2 + i].elem);
  }
  for (size_t i = 0; i < ctx.node.outputs.size(); ++i)
    ctx.set_out_unknown(i, i < d.n_carried ? ctx.in[2 + i].elem : output_elem(ctx, "body", 1 + i, formal));
}

// A body input declared with rank 1 gets its scalar as shape [1] (some exporters declare that).
Array body_scalar(const Graph& body, size_t k, Array a) {
  const ValueType& t = body.values[static_cast<size_t>(body.inputs[k])].type;
  return t.has_shape && t.shape.size() == 1 ? a.reshaped({1}) : a;
}

void run_loop(RunCtx& ctx) {
  InferCtx ictx = infer_ctx_for(ctx);
  ictx.out.resize(ctx.node.outputs.size());
  infer_loop(ictx);  // element types (for empty scan outputs) and the structural checks
  const LoopDims d = loop_dims(ictx);
  const Graph& body = subgraph(ctx.node, "body");
  std::shared_ptr<void> local;
  SubgraphRun& run = runner(ctx, local, "body");
  int64_t trip = std::numeric_limits<int64_t>::max();
  if (ctx.has(0)) {
    const Array& m = ctx.input(0);
    LOWBIT_NODE_REQUIRE(m.numel() == 1, ctx, "M must hold one value, got shape {}", shape_str(m.shape()));
    trip = m.get_i64(0);
  }
  bool cond = ctx.has(1) ? scalar_bool(ctx, ctx.input(1), "cond") : true;
  std::vector<Array> carried;
  for (size_t i = 0; i < d.n_carried; ++i) carried.push_back(ctx.input(2 + i).clone());
  std::vector<std::vector<Array>> scans(d.n_scan);
  const int64_t limit = max_loop_iterations();
  size_t scan_bytes = 0;
  for (int64_t it = 0; it < trip && cond; ++it) {
    LOWBIT_NODE_REQUIRE(it < limit, ctx,
                        "ran {} iterations and the loop has not ended (M = {}, condition still true): refused as a "
                        "runaway loop (limit {}, LOWBIT_ONNX_MAX_LOOP)", it, trip, limit);
    std::vector<Array> formal = {body_scalar(body, 0, Array::scalar<int64_t>(it)), body_scalar(body, 1, Array::scalar<bool>(cond))};
    for (Array& a : carried) formal.push_back(std::move(a));
    std::vector<Array> outs = run.run(std::move(formal), ctx);
    cond = scalar_bool(ctx, outs[0], "body output 0 (condition)");
    for (size_t i = 0; i < d.n_carried; ++i) {
      LOWBIT_NODE_REQUIRE(outs[1 + i].type() == ctx.input(2 + i).type(), ctx,
                          "body output {} is {} but loop-carried value {} started as {}", 1 + i,
                          elem_name(outs[1 + i].type()), i, elem_name(ctx.input(2 + i).type()));
      carried[i] = std::move(outs[1 + i]);
    }
    for (size_t k = 0; k < d.n_scan; ++k) {
      scan_bytes += outs[1 + d.n_carried + k].nbytes();
      LOWBIT_NODE_REQUIRE(scan_bytes <= kMaxArrayBytes, ctx, "scan outputs exceed {} GiB after {} iterations",
                          kMaxArrayBytes >> 30, it + 1);
      scans[k].push_back(std::move(outs[1 + d.n_carried + k]));
    }
  }
  for (size_t i = 0; i < d.n_carried; ++i) set_output(ctx, i, std::move(carried[i]));
  for (size_t k = 0; k < d.n_scan && d.n_carried + k < ctx.out.size(); ++k) {
    // Zero iterations: [0, declared item shape] when the body declares it fully, else [0].
    const ValueType& item = body.values[static_cast<size_t>(body.outputs[1 + d.n_carried + k])].type;
    Shape empty = {0};
    if (item.has_shape && std::all_of(item.shape.begin(), item.shape.end(), [](int64_t x) { return x >= 0; }))
      empty.insert(empty.end(), item.shape.begin(), item.shape.end());
    set_output(ctx, d.n_carried + k, stack(ictx, scans[k], 0, ictx.out[d.n_carried + k].elem, "scan output", empty));
  }
}

// ---- Scan (8: batch axis 0 and sequence_lens; 9+: per-input axes and directions) ----
struct ScanDims {
  size_t first_state = 0, n_state = 0, n_scan_in = 0, n_scan_out = 0;
  std::vector<int64_t> in_axes, in_dirs, out_axes, out_dirs;
};

ScanDims scan_dims(const InferCtx& ctx) {
  const Graph& body = subgraph(ctx.node, "body");
  ScanDims d;
  d.first_state = ctx.opset < 9 ? 1 : 0;
  const size_t n_in = ctx.node.explicit_inputs();
  const int64_t m = ctx.node.attr_i("num_scan_inputs", -1);
  LOWBIT_NODE_REQUIRE(m >= 1 && static_cast<size_t>(m) + d.first_state <= n_in, ctx,
                      "num_scan_inputs is {}, expected 1 to {}", m, n_in - d.first_state);
  d.n_scan_in = static_cast<size_t>(m);
  d.n_state = n_in - d.first_state - d.n_scan_in;
  LOWBIT_NODE_REQUIRE(body.inputs.size() == d.n_state + d.n_scan_in, ctx,
                      "body: has {} input(s), expected {} state + {} scan input(s)", body.inputs.size(), d.n_state, d.n_scan_in);
  LOWBIT_NODE_REQUIRE(body.outputs.size() >= d.n_state, ctx, "body: has {} output(s), expected at least {} state output(s)",
                      body.outputs.size(), d.n_state);
  d.n_scan_out = body.outputs.size() - d.n_state;
  LOWBIT_NODE_REQUIRE(ctx.node.outputs.size() <= d.n_state + d.n_scan_out, ctx,
                      "has {} output(s), the body gives {} state + {} scan output(s)", ctx.node.outputs.size(), d.n_state,
                      d.n_scan_out);
  auto list = [&](const char* key, size_t n, int64_t lo, int64_t hi) {
    std::vector<int64_t> v = ctx.node.attr_ints(key, std::vector<int64_t>(n, 0));
    LOWBIT_NODE_REQUIRE(v.size() == n, ctx, "attribute '{}' has {} entries, expected {}", key, v.size(), n);
    for (int64_t x : v) LOWBIT_NODE_REQUIRE(x >= lo && x <= hi, ctx, "attribute '{}' has entry {}, expected {} to {}", key, x, lo, hi);
    return v;
  };
  if (ctx.opset < 9) {
    d.in_dirs = list("directions", d.n_scan_in, 0, 1);
    d.in_axes.assign(d.n_scan_in, 0);
    d.out_axes.assign(d.n_scan_out, 0);
    d.out_dirs.assign(d.n_scan_out, 0);
  } else {
    d.in_axes = list("scan_input_axes", d.n_scan_in, -64, 63);
    d.in_dirs = list("scan_input_directions", d.n_scan_in, 0, 1);
    d.out_axes = list("scan_output_axes", d.n_scan_out, -65, 64);
    d.out_dirs = list("scan_output_directions", d.n_scan_out, 0, 1);
  }
  return d;
}

void infer_scan(InferCtx& ctx) {
  const ScanDims d = scan_dims(ctx);
  if (ctx.opset < 9) require_type(ctx, 0, {ElemType::i64});
  std::vector<ElemType> formal;
  for (size_t i = 0; i < d.n_state + d.n_scan_in; ++i) {
    LOWBIT_NODE_REQUIRE(ctx.has(d.first_state + i), ctx, "input {} is missing", d.first_state + i);
    formal.push_back(ctx.in[d.first_state + i].elem);
  }
  for (size_t i = 0; i < ctx.node.outputs.size(); ++i)
    ctx.set_out_unknown(i, i < d.n_state ? ctx.in[d.first_state + i].elem : output_elem(ctx, "body", i, formal));
}

// One scan over `length` steps: states and scan inputs (sequence axis in_axes) of one batch.
// Returns final states followed by the stacked scan outputs.
std::vector<Array> scan_once(RunCtx& ctx, const InferCtx& ictx, SubgraphRun& run, const ScanDims& d,
                             std::vector<Array> states, const std::vector<Array>& xs, const std::vector<size_t>& axes,
                             int64_t length) {
  std::vector<std::vector<Array>> ys(d.n_scan_out);
  for (int64_t t = 0; t < length; ++t) {
    std::vector<Array> formal = std::move(states);
    for (size_t j = 0; j < xs.size(); ++j)
      formal.push_back(slice_axis(xs[j], axes[j], d.in_dirs[j] ? length - 1 - t : t));
    std::vector<Array> outs = run.run(std::move(formal), ctx);
    states.assign(std::make_move_iterator(outs.begin()), std::make_move_iterator(outs.begin() + static_cast<std::ptrdiff_t>(d.n_state)));
    for (size_t k = 0; k < d.n_scan_out; ++k) ys[k].push_back(std::move(outs[d.n_state + k]));
  }
  std::vector<Array> result = std::move(states);
  if (length == 0)  // the states are still the node's inputs (maybe arena views): hand out copies
    for (Array& a : result) a = a.clone();
  for (size_t k = 0; k < d.n_scan_out; ++k) {
    if (d.out_dirs[k]) std::reverse(ys[k].begin(), ys[k].end());
    const int64_t rank = ys[k].empty() ? 0 : ys[k][0].dim() + 1;
    const int64_t axis = d.out_axes[k] < 0 ? d.out_axes[k] + rank : d.out_axes[k];
    LOWBIT_NODE_REQUIRE(ys[k].empty() || (axis >= 0 && axis < rank), ctx, "scan_output_axes entry {} is out of range for rank {}",
                        d.out_axes[k], rank);
    const ElemType elem = d.n_state + k < ictx.out.size() ? ictx.out[d.n_state + k].elem : ElemType::f32;
    result.push_back(stack(ictx, ys[k], static_cast<size_t>(std::max<int64_t>(axis, 0)), elem, "scan output"));
  }
  return result;
}

void run_scan(RunCtx& ctx) {
  InferCtx ictx = infer_ctx_for(ctx);
  ictx.out.resize(ctx.node.outputs.size());
  infer_scan(ictx);
  const ScanDims d = scan_dims(ictx);
  std::shared_ptr<void> local;
  SubgraphRun& run = runner(ctx, local, "body");
  std::vector<Array> states, xs;
  for (size_t i = 0; i < d.n_state; ++i) states.push_back(ctx.input(d.first_state + i));
  for (size_t j = 0; j < d.n_scan_in; ++j) xs.push_back(ctx.input(d.first_state + d.n_state + j));
  const size_t batch_dims = ctx.opset < 9 ? 1 : 0;
  std::vector<size_t> axes;
  int64_t length = -1;
  for (size_t j = 0; j < d.n_scan_in; ++j) {
    const int64_t rank = xs[j].dim() - static_cast<int64_t>(batch_dims);
    const int64_t a = d.in_axes[j] < 0 ? d.in_axes[j] + rank : d.in_axes[j];
    LOWBIT_NODE_REQUIRE(a >= 0 && a < rank, ctx, "scan input {} of shape {} has no scan axis {}", j, shape_str(xs[j].shape()),
                        d.in_axes[j]);
    axes.push_back(static_cast<size_t>(a));
    const int64_t len = xs[j].shape()[static_cast<size_t>(a) + batch_dims];
    LOWBIT_NODE_REQUIRE(length < 0 || len == length, ctx, "scan inputs have sequence lengths {} and {} (they must agree)",
                        length, len);
    length = len;
  }
  if (batch_dims == 0) {
    std::vector<Array> outs = scan_once(ctx, ictx, run, d, states, xs, axes, length);
    for (size_t i = 0; i < outs.size(); ++i) set_output(ctx, i, std::move(outs[i]));
    return;
  }
  // Scan-8: every input has a leading batch axis; each batch scans on its own.
  const int64_t batch = xs[0].shape()[0];
  for (const Array& a : states)
    LOWBIT_NODE_REQUIRE(a.dim() >= 1 && a.shape()[0] == batch, ctx, "state of shape {} lacks the batch dimension {}",
                        shape_str(a.shape()), batch);
  for (const Array& a : xs)
    LOWBIT_NODE_REQUIRE(a.shape()[0] == batch, ctx, "scan input of shape {} lacks the batch dimension {}", shape_str(a.shape()), batch);
  std::vector<int64_t> lens(static_cast<size_t>(batch), length);
  if (ctx.has(0)) {
    lens = ctx.input(0).to_i64_vector();
    LOWBIT_NODE_REQUIRE(static_cast<int64_t>(lens.size()) == batch, ctx, "sequence_lens has {} entries for batch {}", lens.size(), batch);
    for (int64_t l : lens)
      LOWBIT_NODE_REQUIRE(l == length, ctx, "sequence_lens entry {} differs from the sequence length {} (padded batches are "
                          "not supported)", l, length);
  }
  std::vector<std::vector<Array>> per_output(d.n_state + d.n_scan_out);
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<Array> sb, xb;
    for (const Array& a : states) sb.push_back(slice_axis(a, 0, b));
    for (const Array& a : xs) xb.push_back(slice_axis(a, 0, b));
    std::vector<Array> outs = scan_once(ctx, ictx, run, d, std::move(sb), xb, axes, length);
    for (size_t i = 0; i < outs.size(); ++i) per_output[i].push_back(std::move(outs[i]));
  }
  for (size_t i = 0; i < per_output.size() && i < ictx.out.size(); ++i)
    set_output(ctx, i, stack(ictx, per_output[i], 0, ictx.out[i].elem, "scan output"));
}

OpDef cf_op(std::string_view name, int since, std::vector<std::string_view> attrs, std::function<void(InferCtx&)> infer,
            std::function<void(RunCtx&)> run) {
  OpDef op("", name, since, std::move(attrs), std::move(infer), std::move(run));
  op.own_outputs = true;
  return op;
}

}  // namespace

void add_control_flow_ops(OpList& ops) {
  ops.push_back(cf_op("If", 1, {"then_branch", "else_branch"}, infer_if, run_if));
  ops.push_back(cf_op("Loop", 1, {"body"}, infer_loop, run_loop));
  ops.push_back(cf_op("Scan", 8,
                      {"body", "num_scan_inputs", "directions", "scan_input_axes", "scan_input_directions", "scan_output_axes",
                       "scan_output_directions"},
                      infer_scan, run_scan));
}

}  // namespace lowbit::onnx
