// ShuffleNet's channel shuffle as one node: Reshape(x, split) -> Transpose(0,2,1,3,4) ->
// Reshape(., merged) becomes lowbit.ChannelShuffle(x, split, merged) (ops/channel_shuffle.cc),
// which keeps ShuffleNet's activations channels-last where the three nodes ran NCHW. Fires only
// when both intermediates have that one reader (and are no graph outputs), both Reshapes have
// allowzero = 0, and both shapes are computable from constants and tensor shapes alone (PyTorch
// exports them as Shape -> Gather -> ... -> Concat), so they are known when a plan is made.
#include <unordered_map>

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

}  // namespace lowbit::onnx
