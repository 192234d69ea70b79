// ModelProto -> Graph: opset check, initializers, typed inputs, nodes with attributes, then
// structural validation (dangling inputs, duplicates, cycles) and op/attribute support checks.
#include "lowbit/onnx/model_loader.h"

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

Attribute convert_attr(const ::onnx::AttributeProto& p, const std::string& where, const std::string& base_dir) {
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
    default:
      throw ValueError(fmt::format("[onnx] {}: attribute '{}' has an unsupported kind ({}; subgraphs and sparse tensors "
                                   "are not supported)", where, p.name(), static_cast<int>(p.type())));
  }
}

ValueType convert_type(const ::onnx::TypeProto& t, const std::string& what) {
  if (!t.has_tensor_type())
    throw ValueError(fmt::format("[onnx] {}: sequence, map and optional types are not supported (tensors only)", what));
  ValueType vt;
  vt.elem = static_cast<ElemType>(t.tensor_type().elem_type());
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
  const ::onnx::GraphProto& gp = model.graph();
  g.name = gp.name();
  for (const auto& kv : model.metadata_props()) g.metadata[kv.key()] = kv.value();
  std::map<std::string, int> by_name;
  auto define = [&](const std::string& name, ValueType type, const std::string& ctx) {
    if (name.empty()) bad_file(what, ctx + " has an empty name");
    if (by_name.count(name)) bad_file(what, fmt::format("value '{}' is defined twice ({})", name, ctx));
    const int v = g.add_value(name, std::move(type));
    by_name[name] = v;
    return v;
  };
  for (const auto& init : gp.initializer()) {
    Array a = array_from_proto(init, init.name(), base_dir);
    const int v = define(init.name(), ValueType{a.type(), a.shape(), true}, "initializer");
    g.constants[v] = std::move(a);
  }
  if (gp.sparse_initializer_size() > 0) bad_file(what, "sparse initializers are not supported");
  for (const auto& in : gp.input()) {
    if (by_name.count(in.name())) continue;  // an initializer with a default value
    g.inputs.push_back(define(in.name(), convert_type(in.type(), "input '" + in.name() + "'"), "graph input"));
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
    for (const auto& attr : np.attribute()) {
      if (!attr.ref_attr_name().empty()) throw ValueError(fmt::format("[onnx] {}: attribute references are not supported", where));
      if (n.attrs.count(attr.name())) bad_file(what, fmt::format("{} repeats attribute '{}'", where, attr.name()));
      n.attrs[attr.name()] = convert_attr(attr, where, base_dir);
    }
    nodes.push_back(std::move(n));
  }
  for (int i = 0; i < gp.node_size(); ++i) {
    Node& n = nodes[static_cast<size_t>(i)];
    for (const auto& in : gp.node(i).input()) {
      if (in.empty()) {
        n.inputs.push_back(kNoValue);
        continue;
      }
      auto it = by_name.find(in);
      if (it == by_name.end())
        throw ValueError(fmt::format("[onnx] {}: {} reads '{}', which no node, input or initializer defines", what,
                                     node_where(n, g.opset), in));
      n.inputs.push_back(it->second);
    }
  }
  for (Node& n : nodes) g.add_node(std::move(n));  // validate() checks each against its schema
  for (const auto& out : gp.output()) {
    auto it = by_name.find(out.name());
    if (it == by_name.end()) bad_file(what, fmt::format("graph output '{}' is never produced", out.name()));
    g.outputs.push_back(it->second);
    if (out.has_type()) {
      ValueType vt = convert_type(out.type(), "output '" + out.name() + "'");
      Value& v = g.values[static_cast<size_t>(it->second)];
      if (v.type.elem == ElemType::undefined) v.type = vt;
    }
  }
  if (g.outputs.empty()) bad_file(what, "graph has no outputs");
  try {
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
