// ShuffleNet's channel shuffle as one node: Reshape(x, split) -> Transpose(0,2,1,3,4) ->
// Reshape(., merged) becomes lowbit.ChannelShuffle(x, split, merged) (ops/channel_shuffle.cc),
// which keeps ShuffleNet's activations channels-last where the three nodes ran NCHW. Fires only
// when both intermediates have that one reader (and are no graph outputs), both Reshapes have
// allowzero = 0, and both shapes are computable from constants and tensor shapes alone (PyTorch
// exports them as Shape -> Gather -> ... -> Concat), so they are known when a plan is made.
// Then each channel Slice of a shuffled channel Concat (ShuffleNet's chunk of the unit before's
// output) becomes lowbit.ConcatShuffleSlice, reading the Concat's inputs: the Concat and the
// shuffle stay only for the Shape nodes that size the slices, which planning folds, so at run
// time their data is never made (infer_shapes drops runtime nodes nothing reads). A shuffled
// Concat read whole (a stage's last unit) becomes the slice [0, C) of itself.
#include <algorithm>
#include <limits>
#include <unordered_map>
#include <vector>

#include "lowbit/onnx/passes.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

// v's value follows from constants and tensor shapes only (Shape/Size of any tensor). Exports
// compute a shape in a handful of nodes; a deeper chain (kMaxDepth) counts as not static, so a
// crafted model cannot recurse deep.
constexpr int kMaxDepth = 32;

bool from_shapes(const Graph& g, int v, std::unordered_map<int, bool>& memo, int depth = 0) {
  if (g.is_constant(v)) return true;
  const int p = g.values[static_cast<size_t>(v)].producer;
  if (p < 0 || depth > kMaxDepth) return false;  // a graph input, or too deep
  if (auto it = memo.find(v); it != memo.end()) return it->second;
  const Node& n = g.nodes[static_cast<size_t>(p)];
  const OpDef* op = find_op(n.domain, n.op_type);
  bool ok = op && !op->own_outputs && !n.inputs.empty();  // not If/Loop/Scan, not a generator
  if (ok && n.op_type != "Shape" && n.op_type != "Size")
    for (int in : n.inputs) ok = ok && (in == kNoValue || from_shapes(g, in, memo, depth + 1));
  memo[v] = ok;
  return ok;
}

const Node* reader(const Graph& g, int v, const char* op, int* id) {
  *id = g.sole_consumer(v);
  if (*id < 0) return nullptr;
  const Node& n = g.nodes[static_cast<size_t>(*id)];
  return n.domain.empty() && n.op_type == op && !n.inputs.empty() && n.inputs[0] == v ? &n : nullptr;
}

bool plain_reshape(const Node& n) { return n.inputs.size() == 2 && n.attr_i("allowzero", 0) == 0; }

}  // namespace

int fuse_channel_shuffle(Graph& g) {
  begin_internal_forms(g);
  std::unordered_map<int, bool> memo;
  int count = 0;
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    const Node& r1 = g.nodes[id];
    if (r1.dead || !r1.domain.empty() || r1.op_type != "Reshape" || !plain_reshape(r1)) continue;
    int t_id, r2_id;
    const Node* t = reader(g, r1.outputs[0], "Transpose", &t_id);
    if (!t || t->attr_ints("perm") != std::vector<int64_t>{0, 2, 1, 3, 4}) continue;
    const Node* r2 = reader(g, t->outputs[0], "Reshape", &r2_id);
    if (!r2 || !plain_reshape(*r2) || !from_shapes(g, r1.inputs[1], memo) || !from_shapes(g, r2->inputs[1], memo)) continue;
    Node shuffle;
    shuffle.name = r1.name + "_shuffle";
    shuffle.domain = "lowbit";
    shuffle.op_type = "ChannelShuffle";
    shuffle.inputs = {r1.inputs[0], r1.inputs[1], r2->inputs[1]};
    shuffle.outputs = r2->outputs;
    for (int dead : {static_cast<int>(id), t_id, r2_id}) g.nodes[static_cast<size_t>(dead)].dead = true;
    g.nodes.push_back(std::move(shuffle));
    g.relink();
    ++count;
  }
  return count;
}

namespace {

bool is_graph_output(const Graph& g, int v) { return std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end(); }

bool reads_shape_only(const Node& n) { return n.domain.empty() && (n.op_type == "Shape" || n.op_type == "Size"); }

// A constant 1-d int64 tensor holding exactly {1} (a Slice's axes / steps along the channel axis).
bool constant_one(const Graph& g, int v) {
  const Array* a = g.constant(v);
  return a && a->type() == ElemType::i64 && a->numel() == 1 && a->data<int64_t>()[0] == 1;
}

// Slice(x, starts, ends, axes = [1], steps absent or [1]) with starts/ends known at planning.
bool channel_slice_of(const Graph& g, const Node& n, int x, std::unordered_map<int, bool>& memo) {
  if (!n.domain.empty() || n.op_type != "Slice" || g.opset < 10 || !n.attrs.empty()) return false;
  if (n.inputs.size() < 4 || n.inputs.size() > 5 || n.inputs[0] != x) return false;
  for (size_t i = 1; i < n.inputs.size(); ++i)
    if (n.inputs[i] == x) return false;
  if (!constant_one(g, n.inputs[3]) || (n.inputs.size() == 5 && n.inputs[4] != kNoValue && !constant_one(g, n.inputs[4])))
    return false;
  return from_shapes(g, n.inputs[1], memo) && from_shapes(g, n.inputs[2], memo);
}

}  // namespace

int fuse_concat_shuffle_slices(Graph& g) {
  begin_internal_forms(g);
  std::unordered_map<int, bool> memo;
  int count = 0;
  const size_t n_nodes = g.nodes.size();
  for (size_t id = 0; id < n_nodes; ++id) {
    const Node& shuffle = g.nodes[id];
    if (shuffle.dead || shuffle.domain != "lowbit" || shuffle.op_type != "ChannelShuffle" || shuffle.inputs.size() != 3) continue;
    const int joined = shuffle.inputs[0], x = shuffle.outputs[0];
    const int k = g.values[static_cast<size_t>(joined)].producer;
    if (k < 0 || is_graph_output(g, joined) || is_graph_output(g, x)) continue;
    const Node& concat = g.nodes[static_cast<size_t>(k)];
    if (concat.dead || !concat.domain.empty() || concat.op_type != "Concat" || concat.attr_i("axis", 0) != 1 ||
        concat.inputs.empty() || concat.inputs.size() > 58)
      continue;
    bool ok = std::find(concat.inputs.begin(), concat.inputs.end(), kNoValue) == concat.inputs.end();
    for (int c : g.values[static_cast<size_t>(joined)].consumers) {  // the shuffle, else sizes only
      const Node& n = g.nodes[static_cast<size_t>(c)];
      ok = ok && (n.dead || static_cast<size_t>(c) == id || reads_shape_only(n));
    }
    std::vector<int> slices;
    bool other_readers = false;
    for (int c : g.values[static_cast<size_t>(x)].consumers) {
      const Node& n = g.nodes[static_cast<size_t>(c)];
      if (n.dead || reads_shape_only(n)) continue;
      if (!channel_slice_of(g, n, x, memo)) other_readers = true;
      else if (std::find(slices.begin(), slices.end(), c) == slices.end()) slices.push_back(c);
    }
    if (!ok) continue;
    const std::vector<int> parts = concat.inputs;
    const int split = shuffle.inputs[1], merged = shuffle.inputs[2];
    if (other_readers) {
      // Read whole (the last unit of a stage, before a strided unit): the shuffle itself reads
      // the parts, as the slice [0, C) of the shuffled Concat.
      Node fused;
      fused.name = shuffle.name + "_concat";
      fused.domain = "lowbit";
      fused.op_type = "ConcatShuffleSlice";
      const int start = g.add_value(fused.name + "_start", ValueType{ElemType::i64, {1}, true});
      const int end = g.add_value(fused.name + "_end", ValueType{ElemType::i64, {1}, true});
      g.constants[start] = Array::from<int64_t>({1}, std::vector<int64_t>{0});
      g.constants[end] = Array::from<int64_t>({1}, std::vector<int64_t>{std::numeric_limits<int64_t>::max()});
      fused.inputs = {split, merged, start, end};
      fused.inputs.insert(fused.inputs.end(), parts.begin(), parts.end());
      fused.outputs = g.nodes[id].outputs;
      g.nodes[id].dead = true;
      g.nodes.push_back(std::move(fused));
      g.relink();
      ++count;
      continue;
    }
    for (int c : slices) {
      Node& slice = g.nodes[static_cast<size_t>(c)];
      Node fused;
      fused.name = slice.name + "_concat_shuffle";
      fused.domain = "lowbit";
      fused.op_type = "ConcatShuffleSlice";
      fused.inputs = {split, merged, slice.inputs[1], slice.inputs[2]};
      fused.inputs.insert(fused.inputs.end(), parts.begin(), parts.end());
      fused.outputs = slice.outputs;
      slice.dead = true;
      g.nodes.push_back(std::move(fused));
      ++count;
    }
    g.relink();
  }
  return count;
}

}  // namespace lowbit::onnx
