// ModelProto -> Graph: opset check, initializers, typed inputs, nodes with attributes, then
// structural validation (dangling inputs, duplicates, cycles) and op/attribute support checks.
#include "lowbit/onnx/model_loader.h"

#include "lowbit/onnx/passes.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "ops/op.h"
#include "proto_tensor.h"

namespace lowbit::onnx {
namespace {

[[noreturn]] void bad_file(const std::string& what, const std::string& msg) {
  throw IoError(fmt::format("[onnx] {}: {}", what, msg));
}

ValueType convert_type(const ::onnx::TypeProto& t, const std::string& what, bool may_be_untyped = false) {
  if (may_be_untyped && t.value_case() == ::onnx::TypeProto::VALUE_NOT_SET) return {};  // subgraph value: from its use
  if (!t.has_tensor_type())
    throw ValueError(fmt::format("[onnx] {}: sequence, map and optional types are not supported (tensors only)", what));
  ValueType vt;
  vt.elem = static_cast<ElemType>(t.tensor_type().elem_type());
  // 4-bit values are held widened, one code per byte (proto_tensor.h).
  if (t.tensor_type().elem_type() == kProtoInt4) vt.elem = ElemType::i8;
  if (t.tensor_type().elem_type() == kProtoUint4) vt.elem = ElemType::u8;
  if (may_be_untyped && vt.elem == ElemType::undefined) return {};
  if (!elem_supported(vt.elem))
    throw ValueError(fmt::format("[onnx] {}: element type {} ({}) is not supported", what, t.tensor_type().elem_type(),
                                 elem_name(vt.elem)));
  if (t.tensor_type().has_shape()) {
    vt.has_shape = true;
    const auto& dims = t.tensor_type().shape().dim();
    if (dims.size() > 64) bad_file(what, fmt::format("rank {} is absurd", dims.size()));
    for (const auto& d : dims) {
      if (d.has_dim_value()) {
        if (d.dim_value() < 0) bad_file(what, fmt::format("negative dimension {}", d.dim_value()));
        vt.shape.push_back(d.dim_value());
      } else {
        vt.shape.push_back(-1);  // symbolic (dim_param) or unknown
      }
    }
  }
  return vt;
}

// Subgraphs nest at most this deep (a crafted file must not exhaust the stack; protobuf's own
// parse limit of 100 message levels allows about 33).
constexpr int kMaxSubgraphDepth = 16;

// Names visible while converting one graph: its own values, then (for a subgraph) the enclosing
// scopes. A name found outside becomes a local "capture" value, recorded in capture order.
struct Scope {
  Graph* g = nullptr;
  Scope* parent = nullptr;
  std::map<std::string, int> by_name;
  std::vector<std::string> captured;  // names, in the order their local values were made
  int depth = 0;

  int lookup(const std::string& name) {
    if (auto it = by_name.find(name); it != by_name.end()) return it->second;
    if (!parent) return -1;
    const int outer = parent->lookup(name);
    if (outer < 0) return -1;
    const int v = g->add_value(name, parent->g->values[static_cast<size_t>(outer)].type);
    by_name[name] = v;
    captured.push_back(name);
    return v;
  }
};

struct Loader {
  std::string what, base_dir;
  int opset = 0;

  // A GRAPH attribute also appends (subgraph, {captured name -> its local value}) to *subs.
  using Subs = std::vector<std::pair<std::shared_ptr<Graph>, std::vector<std::pair<std::string, int>>>>;
  Attribute convert_attr(const ::onnx::AttributeProto& p, const std::string& where, Scope& scope, Subs* subs);
  void convert_graph(const ::onnx::GraphProto& gp, Graph& g, Scope& scope);
};

Attribute Loader::convert_attr(const ::onnx::AttributeProto& p, const std::string& where, Scope& scope, Subs* subs) {
  using A = ::onnx::AttributeProto;
  switch (p.type()) {
    case A::FLOAT: return Attribute::from_float(p.f());
    case A::INT: return Attribute::from_int(p.i());
    case A::STRING: return Attribute::from_string(p.s());
    case A::TENSOR: return Attribute::from_tensor(array_from_proto(p.t(), where + " attribute " + p.name(), base_dir));
    case A::FLOATS: return Attribute::from_floats(std::vector<double>(p.floats().begin(), p.floats().end()));
    case A::INTS: return Attribute::from_ints(std::vector<int64_t>(p.ints().begin(), p.ints().end()));
    case A::STRINGS: {
      Attribute a;
      a.kind = Attribute::Kind::ss;
      a.ss.assign(p.strings().begin(), p.strings().end());
      return a;
    }
    case A::GRAPH: {
      if (scope.depth + 1 > kMaxSubgraphDepth)
        throw ValueError(fmt::format("[onnx] {}: attribute '{}': subgraphs nested deeper than {} are not supported", where,
                                     p.name(), kMaxSubgraphDepth));
      auto sub = std::make_shared<Graph>();
      sub->opset = opset;
      Scope inner{sub.get(), &scope, {}, {}, scope.depth + 1};
      try {
        convert_graph(p.g(), *sub, inner);
      } catch (const Error& e) {
        // "[onnx] node 'loop_1' (Loop, opset 13): body: node 'add' (Add, opset 13): ..."
        std::string msg = e.what();
        if (msg.rfind("[onnx] ", 0) == 0) msg = msg.substr(7);
        throw ValueError(fmt::format("[onnx] {}: {}: {}", where, p.name(), msg));
      }
      std::vector<std::pair<std::string, int>> captured;
      for (const std::string& name : inner.captured) captured.emplace_back(name, inner.by_name.at(name));
      subs->emplace_back(sub, std::move(captured));
      return Attribute::from_graph(std::move(sub));
    }
    default:
      throw ValueError(fmt::format("[onnx] {}: attribute '{}' has an unsupported kind ({}; sparse tensors and lists of "
                                   "graphs are not supported)", where, p.name(), static_cast<int>(p.type())));
  }
}

// Fills g from gp. For a subgraph, scope.parent resolves names defined outside it; the caller
// binds scope.captured to the owning node's implicit inputs.
void Loader::convert_graph(const ::onnx::GraphProto& gp, Graph& g, Scope& scope) {
  const bool sub = scope.parent != nullptr;
  g.name = gp.name();
  auto define = [&](const std::string& name, ValueType type, const std::string& ctx) {
    if (name.empty()) bad_file(what, ctx + " has an empty name");
    if (scope.by_name.count(name)) bad_file(what, fmt::format("value '{}' is defined twice ({})", name, ctx));
    const int v = g.add_value(name, std::move(type));
    scope.by_name[name] = v;
    return v;
  };
  std::map<int, int32_t> four_bit;  // initializer value -> kProtoInt4 / kProtoUint4
  for (const auto& init : gp.initializer()) {
    Array a = array_from_proto(init, init.name(), base_dir);
    const int v = define(init.name(), ValueType{a.type(), a.shape(), true}, "initializer");
    g.constants[v] = std::move(a);
    if (init.data_type() == kProtoInt4 || init.data_type() == kProtoUint4) four_bit[v] = init.data_type();
  }
  if (gp.sparse_initializer_size() > 0) bad_file(what, "sparse initializers are not supported");
  for (const auto& in : gp.input()) {
    if (!sub && scope.by_name.count(in.name())) continue;  // an initializer with a default value
    g.inputs.push_back(define(in.name(), convert_type(in.type(), "input '" + in.name() + "'", sub), "graph input"));
  }
  // Outputs of all nodes first, so node order in the file does not matter; cycles are caught
  // by validate().
  std::vector<Node> nodes;
  for (int i = 0; i < gp.node_size(); ++i) {
    const auto& np = gp.node(i);
    Node n;
    n.name = np.name().empty() ? fmt::format("{}_{}", np.op_type(), i) : np.name();
    n.op_type = np.op_type();
    n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    const std::string where = node_where(n, g.opset);
    for (const auto& out : np.output())
      n.outputs.push_back(out.empty() ? kNoValue : define(out, {}, "output of " + where));
    nodes.push_back(std::move(n));
  }
  for (int i = 0; i < gp.node_size(); ++i) {
    Node& n = nodes[static_cast<size_t>(i)];
    const auto& np = gp.node(i);
    const std::string where = node_where(n, g.opset);
    for (const auto& in : np.input()) {
      if (in.empty()) {
        n.inputs.push_back(kNoValue);
        continue;
      }
      const int v = scope.lookup(in);
      if (v < 0)
        throw ValueError(fmt::format("[onnx] {}: {} reads '{}', which no node, input or initializer defines", what, where, in));
      n.inputs.push_back(v);
    }
    // Attributes after every output of this graph is defined: subgraphs may read any of them.
    Subs subs;
    for (const auto& attr : np.attribute()) {
      if (!attr.ref_attr_name().empty()) throw ValueError(fmt::format("[onnx] {}: attribute references are not supported", where));
      if (n.attrs.count(attr.name())) bad_file(what, fmt::format("{} repeats attribute '{}'", where, attr.name()));
      n.attrs[attr.name()] = convert_attr(attr, where, scope, &subs);
    }
    // Implicit inputs: the union of the names the node's subgraphs capture, in first-use order;
    // each subgraph binds its capture values to them by position.
    std::vector<std::string> names;
    std::map<std::string, size_t> slot;
    for (const auto& [sg, captured] : subs)
      for (const auto& [name, local] : captured)
        if (slot.emplace(name, names.size()).second) names.push_back(name);
    for (const std::string& name : names) n.inputs.push_back(scope.lookup(name));  // defined: a subgraph found it
    n.implicit_inputs = static_cast<int>(names.size());
    for (auto& [sg, captured] : subs) {
      sg->captures.assign(names.size(), kNoValue);
      for (const auto& [name, local] : captured) sg->captures[slot.at(name)] = local;
    }
  }
  // A QuantizeLinear writes the type of its zero point: an int4 / uint4 one (held as int8 /
  // uint8) is made explicit as output_dtype, which the op's code range follows.
  for (Node& n : nodes)
    if (n.op_type == "QuantizeLinear" && n.domain.empty() && n.inputs.size() > 2 && four_bit.count(n.inputs[2]) &&
        !n.attrs.count("output_dtype"))
      n.attrs["output_dtype"] = Attribute::from_int(four_bit.at(n.inputs[2]));
  for (Node& n : nodes) g.add_node(std::move(n));  // validate() checks each against its schema
  for (const auto& out : gp.output()) {
    const int v = scope.lookup(out.name());
    if (v < 0) bad_file(what, fmt::format("graph output '{}' is never produced", out.name()));
    g.outputs.push_back(v);
    if (out.has_type()) {
      ValueType vt = convert_type(out.type(), "output '" + out.name() + "'", sub);
      Value& val = g.values[static_cast<size_t>(v)];
      if (val.type.elem == ElemType::undefined) val.type = vt;
    }
  }
  if (g.outputs.empty()) bad_file(what, "graph has no outputs");
}

Graph convert(const ::onnx::ModelProto& model, const std::string& what, const std::string& base_dir) {
  Graph g;
  bool have_default = false;
  for (const auto& op : model.opset_import()) {
    if (op.domain().empty() || op.domain() == "ai.onnx") {
      have_default = true;
      g.opset = static_cast<int>(std::clamp<int64_t>(op.version(), 0, 1000));
    }
  }
  if (!have_default)
    throw ValueError(fmt::format("[onnx] {}: models without a default-domain opset_import are not supported", what));
  if (g.opset < kMinOpset || g.opset > kMaxOpset)
    throw ValueError(fmt::format("[onnx] {}: opset {} is not supported (supported: {}-{})", what, g.opset, kMinOpset, kMaxOpset));
  for (const auto& kv : model.metadata_props()) g.metadata[kv.key()] = kv.value();
  Loader loader{what, base_dir, g.opset};
  Scope scope{&g, nullptr, {}, {}, 0};
  loader.convert_graph(model.graph(), g, scope);
  try {
    expand_contrib_qlinear(g);
    g.validate();
  } catch (const ValueError& e) {
    throw ValueError(fmt::format("{} (in {})", e.what(), what));
  }
  return g;
}

std::string read_file(const std::string& path, size_t limit) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError(fmt::format("[onnx] cannot open '{}'", path));
  f.seekg(0, std::ios::end);
  const auto size = static_cast<int64_t>(f.tellg());
  if (size < 0) throw IoError(fmt::format("[onnx] cannot read '{}'", path));
  if (static_cast<size_t>(size) > limit) throw IoError(fmt::format("[onnx] '{}' is {} bytes, above the {} byte limit", path, size, limit));
  std::string bytes(static_cast<size_t>(size), '\0');
  f.seekg(0);
  f.read(bytes.data(), size);
  if (!f) throw IoError(fmt::format("[onnx] short read from '{}'", path));
  return bytes;
}

}  // namespace

Graph load_model_from_bytes(std::string_view bytes, const std::string& what, const std::string& base_dir) {
  if (bytes.size() > kMaxModelBytes) throw IoError(fmt::format("[onnx] {}: file is larger than 2 GiB", what));
  ::onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw IoError(fmt::format("[onnx] {}: not a valid ONNX model (protobuf parse failed: truncated or corrupt file)", what));
  if (!model.has_graph()) throw IoError(fmt::format("[onnx] {}: model has no graph", what));
  return convert(model, what, base_dir);
}

Graph load_model(const std::string& path) {
  const std::string bytes = read_file(path, kMaxModelBytes);
  return load_model_from_bytes(bytes, path, std::filesystem::path(path).parent_path().string());
}

Array parse_tensor_pb(std::string_view bytes, const std::string& what) {
  ::onnx::TensorProto t;
  if (bytes.size() > kMaxModelBytes || !t.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw IoError(fmt::format("[onnx] {}: not a valid TensorProto", what));
  return array_from_proto(t, what, "");
}

Array load_tensor_pb(const std::string& path) { return parse_tensor_pb(read_file(path, kMaxModelBytes), path); }

}  // namespace lowbit::onnx
