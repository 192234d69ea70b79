// Graph IR of the engine: values (named edges with element type and shape), nodes (an op with
// attributes, reading and writing values) and constants (initializers). The ONNX loader and
// the C++ GraphBuilder both produce it; passes rewrite it; the executor runs it.
//
// Seam for gradients: a Graph is a plain DAG of named ops whose semantics live in the op
// registry (ops/op.h), so a reverse-mode pass can later append vjp nodes built with the same
// GraphBuilder calls (MLX-style: gradients are ordinary graphs). Nothing here assumes inference
// beyond the executor discarding values early.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lowbit/onnx/array.h"

namespace lowbit::onnx {

class Graph;

struct Attribute {
  // g: a subgraph (If branches, Loop/Scan body), shared read-only by copies of the node.
  enum class Kind { f, i, s, t, fs, is, ss, g };
  Kind kind = Kind::i;
  double f = 0;
  int64_t i = 0;
  std::string s;
  Array t;
  std::vector<double> fs;
  std::vector<int64_t> is;
  std::vector<std::string> ss;
  std::shared_ptr<const Graph> g;

  static Attribute from_graph(std::shared_ptr<const Graph> v) { Attribute a; a.kind = Kind::g; a.g = std::move(v); return a; }
  static Attribute from_float(double v) { Attribute a; a.kind = Kind::f; a.f = v; return a; }
  static Attribute from_int(int64_t v) { Attribute a; a.kind = Kind::i; a.i = v; return a; }
  static Attribute from_string(std::string v) { Attribute a; a.kind = Kind::s; a.s = std::move(v); return a; }
  static Attribute from_tensor(Array v) { Attribute a; a.kind = Kind::t; a.t = std::move(v); return a; }
  static Attribute from_floats(std::vector<double> v) { Attribute a; a.kind = Kind::fs; a.fs = std::move(v); return a; }
  static Attribute from_ints(std::vector<int64_t> v) { Attribute a; a.kind = Kind::is; a.is = std::move(v); return a; }
};
using Attributes = std::map<std::string, Attribute>;

// A value's static type. Shapes may hold -1 for a dimension unknown until inputs are bound.
struct ValueType {
  ElemType elem = ElemType::undefined;
  Shape shape;
  bool has_shape = false;  // false: rank unknown
};

struct Value {
  std::string name;
  ValueType type;
  int producer = -1;             // node index, -1 for graph inputs and constants
  std::vector<int> consumers;    // node indices (a node reading twice appears twice)
};

inline constexpr int kNoValue = -1;  // an omitted optional input or output

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;            // "" or "ai.onnx" is the default domain
  std::vector<int> inputs;       // value ids or kNoValue
  std::vector<int> outputs;
  Attributes attrs;
  // The last `implicit_inputs` entries of `inputs` are outer-scope values that this node's
  // subgraphs read by name (ONNX implicit inputs). Keeping them as ordinary inputs makes
  // ordering, liveness, memory and layout planning see them; a subgraph binds them by position
  // (Graph::captures), so a pass that rewires the input never breaks the subgraph's reference.
  int implicit_inputs = 0;
  bool dead = false;             // removed by a pass (indices of other nodes stay valid)

  const Attribute* find(const std::string& key) const;
  int64_t attr_i(const std::string& key, int64_t dflt) const;
  double attr_f(const std::string& key, double dflt) const;
  std::string attr_s(const std::string& key, const std::string& dflt) const;
  std::vector<int64_t> attr_ints(const std::string& key, std::vector<int64_t> dflt = {}) const;
  std::vector<double> attr_floats(const std::string& key, std::vector<double> dflt = {}) const;
  std::string describe() const;  // "node 'name' (Conv)"
  size_t explicit_inputs() const { return inputs.size() - static_cast<size_t>(implicit_inputs); }
  bool has_subgraphs() const;
};

class Graph {
 public:
  int opset = 17;              // default-domain opset the model was written for
  std::string name = "lowbit";
  std::vector<Value> values;
  std::vector<Node> nodes;
  std::map<int, Array> constants;  // initializers and folded values, by value id
  std::vector<int> inputs;         // non-constant graph inputs, in order
  std::vector<int> outputs;
  // Subgraphs only: captures[j] is the local value bound to the owning node's implicit input j
  // (kNoValue when this subgraph does not read it). Captured values count as defined here.
  std::vector<int> captures;
  // ModelProto.metadata_props (key -> value), kept through load, passes and export: lowbit
  // records a classifier's preprocessing here (ptq/calib_data.h, model_info keys "lowbit.*").
  std::map<std::string, std::string> metadata;
  // Set by optimize_graph: nodes may then hold lowbit-internal forms (fused lowbit_* attributes,
  // a residual 4th Conv input, Gelu/LayerNormalization below their ONNX opset) that the ONNX
  // schema does not allow; validate() then checks only that the ops are supported.
  bool optimized = false;

  int add_value(const std::string& name, ValueType type = {});
  int find_value(const std::string& name) const;  // -1 if absent
  int add_node(Node node);                         // wires producer/consumers
  bool is_constant(int v) const { return v >= 0 && constants.count(v) != 0; }
  const Array* constant(int v) const;
  // The single live node reading value v, or -1 when it has none, several, or v is a graph
  // output (a pass may then fuse v's producer into that reader).
  int sole_consumer(int v) const;

  // Rebuilds producer/consumer links from nodes (after passes edit them).
  void relink();
  // Node ids in a topological order of live nodes; throws on a cycle naming a node in it.
  std::vector<int> topo_order() const;
  // Checks every node against its op's ONNX schema at this opset (arity, attribute names, types
  // and ranges: check_node in ops/node_check.cc) and the structure: every input produced once,
  // no cycles, outputs reachable. The one gate before shape inference or any kernel.
  void validate() const;
  // Drops nodes whose outputs are unused and constants nobody reads.
  void remove_dead();
  size_t live_node_count() const;
};

// C++ front end: builds a Graph op by op, like the ONNX loader does from a file.
//   GraphBuilder b;
//   int x = b.input("x", ElemType::f32, {1, 3, 32, 32});
//   int w = b.constant("w", weights);
//   int y = b.op("Relu", {b.op("Conv", {x, w}, {{"pads", Attribute::from_ints({1,1,1,1})}})});
//   b.output(y);  Graph g = b.finish();
class GraphBuilder {
 public:
  explicit GraphBuilder(int opset = 17) { graph_.opset = opset; }
  int input(const std::string& name, ElemType elem, const Shape& shape);
  int constant(const std::string& name, Array value);
  // Adds a node with n_outputs outputs named "<node>_out<i>"; returns the first output id.
  int op(const std::string& op_type, const std::vector<int>& inputs, Attributes attrs = {},
         int n_outputs = 1, const std::string& name = "");
  std::vector<int> op_multi(const std::string& op_type, const std::vector<int>& inputs,
                            Attributes attrs, int n_outputs, const std::string& name = "");
  void output(int value, const std::string& rename = "");
  Graph finish();  // validates
  Graph& graph() { return graph_; }

 private:
  Graph graph_;
  int counter_ = 0;
};

}  // namespace lowbit::onnx
