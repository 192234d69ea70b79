// The option-A shortcut of CIFAR ResNets in float models: Slice (every other pixel) ->
// [Slice] -> Pad (channels only, constant) becomes one lowbit.SubsamplePad (passes.h), the op
// the QDQ lowering uses for the same chain on codes; it reads and writes channels-last, so the
// shortcut no longer breaks the channels-last chain of the convs around it.
#include "lowbit/onnx/passes.h"
#include "passes_qdq.h"

namespace lowbit::onnx {

int fuse_subsample_pads(Graph& g) {
  begin_internal_forms(g);
  g.relink();
  int count = 0;
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    const Node& pad = g.nodes[id];
    if (pad.dead || pad.op_type != "Pad" || !pad.domain.empty() || pad.inputs.empty()) continue;
    std::vector<int> chain{static_cast<int>(id)};
    int v = pad.inputs[0];
    while (chain.size() < 3) {
      const Node* s = qdq::producer(g, v);
      if (!s || s->op_type != "Slice" || !s->domain.empty() || g.sole_consumer(v) < 0) break;
      chain.push_back(g.values[static_cast<size_t>(v)].producer);
      v = s->inputs[0];
    }
    if (chain.size() >= 2 && qdq::fuse_subsample_pad(g, chain)) ++count;
  }
  if (count) g.relink();
  return count;
}

}  // namespace lowbit::onnx
