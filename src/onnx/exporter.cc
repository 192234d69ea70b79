// Serializes a Graph: typed inputs/outputs (output types from shape inference on the declared
// input shapes), initializers as raw_data, nodes in topological order.
#include "lowbit/onnx/exporter.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <tuple>

#include "lowbit/kernels/qlinear.h"
#include "lowbit/onnx/shape_inference.h"
#include "proto_tensor.h"

namespace lowbit::onnx {
namespace {

void set_type(const ValueType& t, ::onnx::ValueInfoProto* vi) {
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(t.elem));
  if (!t.has_shape) return;
  auto* shape = tt->mutable_shape();
  for (int64_t d : t.shape) {
    auto* dim = shape->add_dim();
    if (d >= 0) dim->set_dim_value(d);
    else dim->set_dim_param("N");
  }
}

void set_attr(const std::string& name, const Attribute& a, ::onnx::AttributeProto* p) {
  using A = ::onnx::AttributeProto;
  p->set_name(name);
  switch (a.kind) {
    case Attribute::Kind::f: p->set_type(A::FLOAT); p->set_f(static_cast<float>(a.f)); break;
    case Attribute::Kind::i: p->set_type(A::INT); p->set_i(a.i); break;
    case Attribute::Kind::s: p->set_type(A::STRING); p->set_s(a.s); break;
    case Attribute::Kind::t: p->set_type(A::TENSOR); array_to_proto(a.t, name, p->mutable_t()); break;
    case Attribute::Kind::fs:
      p->set_type(A::FLOATS);
      for (double f : a.fs) p->add_floats(static_cast<float>(f));
      break;
    case Attribute::Kind::is:
      p->set_type(A::INTS);
      for (int64_t i : a.is) p->add_ints(i);
      break;
    case Attribute::Kind::ss:
      p->set_type(A::STRINGS);
      for (const auto& s : a.ss) p->add_strings(s);
      break;
    case Attribute::Kind::g:
      throw ValueError(fmt::format("[onnx] export: graph attribute '{}' needs its node (write_attrs)", name));
  }
}

void write_subgraph(const Graph& sub, const Graph& outer, const Node& node, ::onnx::GraphProto* gp);

// A node's attributes; a subgraph is written with its captured values under the names their
// outer values have now (passes may have rewired the node's implicit inputs).
void write_attrs(const Graph& g, const Node& node, ::onnx::NodeProto* np) {
  for (const auto& [key, a] : node.attrs) {
    if (key.rfind("lowbit_", 0) == 0) continue;
    auto* p = np->add_attribute();
    if (a.kind != Attribute::Kind::g) {
      set_attr(key, a, p);
      continue;
    }
    p->set_name(key);
    p->set_type(::onnx::AttributeProto::GRAPH);
    write_subgraph(*a.g, g, node, p->mutable_g());
  }
}

// Subgraphs are never optimized, so their nodes are written as they were loaded.
void write_subgraph(const Graph& sub, const Graph& outer, const Node& node, ::onnx::GraphProto* gp) {
  std::vector<std::string> names(sub.values.size());
  for (size_t v = 0; v < sub.values.size(); ++v) names[v] = sub.values[v].name;
  for (size_t j = 0; j < sub.captures.size(); ++j)
    if (sub.captures[j] != kNoValue)
      names[static_cast<size_t>(sub.captures[j])] =
          outer.values[static_cast<size_t>(node.inputs[node.explicit_inputs() + j])].name;
  gp->set_name(sub.name);
  for (int v : sub.inputs) {
    auto* vi = gp->add_input();
    vi->set_name(names[static_cast<size_t>(v)]);
    if (sub.values[static_cast<size_t>(v)].type.elem != ElemType::undefined) set_type(sub.values[static_cast<size_t>(v)].type, vi);
  }
  for (const auto& [v, arr] : sub.constants) array_to_proto(arr, names[static_cast<size_t>(v)], gp->add_initializer());
  for (int n : sub.topo_order()) {
    const Node& sn = sub.nodes[static_cast<size_t>(n)];
    LOWBIT_REQUIRE(sn.domain.empty(), "onnx export", "subgraph {} is in domain '{}' (only default-domain ops are written "
                   "inside subgraphs)", sn.describe(), sn.domain);
    auto* np = gp->add_node();
    np->set_name(sn.name);
    np->set_op_type(sn.op_type);
    for (size_t i = 0; i < sn.explicit_inputs(); ++i)
      np->add_input(sn.inputs[i] == kNoValue ? "" : names[static_cast<size_t>(sn.inputs[i])]);
    for (int v : sn.outputs) np->add_output(v == kNoValue ? "" : names[static_cast<size_t>(v)]);
    write_attrs(sub, sn, np);
  }
  for (int v : sub.outputs) {
    auto* vi = gp->add_output();
    vi->set_name(names[static_cast<size_t>(v)]);
    if (sub.values[static_cast<size_t>(v)].type.elem != ElemType::undefined) set_type(sub.values[static_cast<size_t>(v)].type, vi);
  }
}

}  // namespace

std::string export_model_bytes(const Graph& g, const ExportOptions& options) {
  g.validate();
  ::onnx::ModelProto model;
  // INT4 and the opset-21 operators need IR version 10 (ONNX 1.16).
  model.set_ir_version(g.opset >= 21 ? std::max<int64_t>(options.ir_version, 10) : options.ir_version);
  model.set_producer_name(options.producer);
  for (const auto& [key, value] : g.metadata) {
    auto* kv = model.add_metadata_props();
    kv->set_key(key);
    kv->set_value(value);
  }
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(g.opset);
  ::onnx::GraphProto* gp = model.mutable_graph();
  gp->set_name(g.name);
  // Output types: declared ones when present, else inferred from the declared input shapes.
  std::vector<ValueType> types(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v) types[v] = g.values[v].type;
  try {
    const InferenceResult inf = infer_shapes(g, declared_input_types(g, 1), false);
    for (int v : g.outputs)
      if (types[static_cast<size_t>(v)].elem == ElemType::undefined) {
        types[static_cast<size_t>(v)] = inf.types[static_cast<size_t>(v)];
        types[static_cast<size_t>(v)].has_shape = false;  // batch may vary; leave the shape open
      }
  } catch (const ValueError&) {
    // Inputs without shapes: outputs are written without a type; ORT infers them.
  }
  for (int v : g.inputs) {
    auto* vi = gp->add_input();
    vi->set_name(g.values[static_cast<size_t>(v)].name);
    set_type(g.values[static_cast<size_t>(v)].type, vi);
  }
  // Blocked DequantizeLinear-21 reads INT4 weight codes (and zero points): constant int8 inputs
  // 0 and 2 of such a node, all in [-8, 7], are written as INT4, packed two per byte.
  std::set<int> four_bit;
  if (g.opset >= 21)
    for (const Node& node : g.nodes)
      if (!node.dead && node.op_type == "DequantizeLinear" && node.domain.empty() && node.attr_i("block_size", 0) > 0) {
        bool fits = true;
        for (size_t i : {size_t{0}, size_t{2}}) {
          const Array* c = i < node.inputs.size() && node.inputs[i] != kNoValue ? g.constant(node.inputs[i]) : nullptr;
          if (i == 0 && (!c || c->type() != ElemType::i8)) fits = false;
          if (c && (c->type() != ElemType::i8 || !kernels::qgemm_fits_int4(c->numel(), c->data<int8_t>()))) fits = false;
        }
        if (!fits) continue;
        for (size_t i : {size_t{0}, size_t{2}})
          if (i < node.inputs.size() && node.inputs[i] != kNoValue) four_bit.insert(node.inputs[i]);
      }
  for (const auto& [v, arr] : g.constants) {
    if (four_bit.count(v)) array_to_proto_4bit(arr, g.values[static_cast<size_t>(v)].name, gp->add_initializer());
    else array_to_proto(arr, g.values[static_cast<size_t>(v)].name, gp->add_initializer());
  }
  bool need_ms = false;
  int extra = 0;
  for (int n : g.topo_order()) {
    const Node& node = g.nodes[static_cast<size_t>(n)];
    auto* np = gp->add_node();
    np->set_name(node.name);
    np->set_op_type(node.op_type);
    // Gelu joined the default domain only at opset 20; ONNX Runtime has it in com.microsoft.
    const std::string domain = node.op_type == "Gelu" && node.domain.empty() && g.opset < 20 ? "com.microsoft" : node.domain;
    if (!domain.empty()) np->set_domain(domain);
    need_ms = need_ms || domain == "com.microsoft";
    // A fused residual (Conv's 4th input, lowbit_sum) is written back as Conv -> Add.
    const bool sum = node.attr_i("lowbit_sum", 0) != 0 && node.inputs.size() == 4;
    const size_t n_in = sum ? (node.inputs[2] == kNoValue ? 2 : 3) : node.explicit_inputs();
    for (size_t i = 0; i < n_in; ++i) {
      const int v = node.inputs[i];
      np->add_input(v == kNoValue ? "" : g.values[static_cast<size_t>(v)].name);
    }
    // bf16 arithmetic (lowbit_bf16) is written back as Cast(BFLOAT16) -> Cast(FLOAT) on input 0.
    // The Casts go before the layer: the layer's proto is moved after them.
    if (node.attr_i("lowbit_bf16", 0) != 0) {
      const std::string x = g.values[static_cast<size_t>(node.inputs[0])].name, stem = node.name + "_bf16";
      ::onnx::NodeProto layer = *np;
      gp->mutable_node()->RemoveLast();
      for (const auto& [to, in, out] : {std::tuple{ElemType::bf16, x, stem + "_down"}, std::tuple{ElemType::f32, stem + "_down", stem + "_up"}}) {
        auto* cp = gp->add_node();
        cp->set_name(out);
        cp->set_op_type("Cast");
        cp->add_input(in);
        cp->add_output(out);
        set_attr("to", Attribute::from_int(static_cast<int64_t>(to)), cp->add_attribute());
      }
      layer.set_input(0, stem + "_up");
      np = gp->add_node();
      *np = std::move(layer);
    }
    const std::string act = node.attr_s("lowbit_act", "");
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      const int v = node.outputs[i];
      const std::string name = v == kNoValue ? "" : g.values[static_cast<size_t>(v)].name;
      np->add_output(i == 0 && sum ? name + "_presum" : i == 0 && !act.empty() ? name + "_preact" : name);
    }
    write_attrs(g, node, np);
    if (sum) {
      const std::string out = g.values[static_cast<size_t>(node.outputs[0])].name;
      auto* sp = gp->add_node();
      sp->set_name(node.name + "_add");
      sp->set_op_type("Add");
      sp->add_input(out + "_presum");
      sp->add_input(g.values[static_cast<size_t>(node.inputs[3])].name);
      sp->add_output(act.empty() ? out : out + "_preact");
    }
    if (act.empty()) continue;
    // Un-fuse: write the activation as its own standard node.
    auto* ap = gp->add_node();
    const std::string out = g.values[static_cast<size_t>(node.outputs[0])].name;
    ap->set_name(node.name + "_act");
    ap->set_op_type(act == "Silu" ? "Sigmoid" : act);
    ap->add_input(out + "_preact");
    if (act == "Silu") {  // y · Sigmoid(y)
      ap->add_output(out + "_sigmoid");
      ap = gp->add_node();
      ap->set_name(node.name + "_act_mul");
      ap->set_op_type("Mul");
      ap->add_input(out + "_preact");
      ap->add_input(out + "_sigmoid");
    }
    if (act == "Clip" && g.opset < 11) {  // Clip-6: bounds are attributes
      set_attr("min", Attribute::from_float(node.attr_f("lowbit_act_a", 0)), ap->add_attribute());
      set_attr("max", Attribute::from_float(node.attr_f("lowbit_act_b", 0)), ap->add_attribute());
    } else if (act == "Clip") {
      for (const char* key : {"lowbit_act_a", "lowbit_act_b"}) {
        const std::string cname = fmt::format("{}_clip{}", node.name, extra++);
        array_to_proto(Array::scalar<float>(static_cast<float>(node.attr_f(key, 0))), cname, gp->add_initializer());
        ap->add_input(cname);
      }
    } else if (act == "LeakyRelu") {
      set_attr("alpha", Attribute::from_float(node.attr_f("lowbit_act_a", 0.01)), ap->add_attribute());
    }
    ap->add_output(out);
  }
  if (need_ms) {
    auto* ms = model.add_opset_import();
    ms->set_domain("com.microsoft");
    ms->set_version(1);
  }
  for (int v : g.outputs) {
    auto* vi = gp->add_output();
    vi->set_name(g.values[static_cast<size_t>(v)].name);
    if (types[static_cast<size_t>(v)].elem != ElemType::undefined) set_type(types[static_cast<size_t>(v)], vi);
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw IoError("[onnx] export: protobuf serialization failed (model over 2 GiB?)");
  return bytes;
}

void save_model(const Graph& g, const std::string& path, const ExportOptions& options) {
  const std::string bytes = export_model_bytes(g, options);
  std::ofstream f(path, std::ios::binary);
  if (!f) throw IoError(fmt::format("[onnx] cannot write '{}'", path));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw IoError(fmt::format("[onnx] short write to '{}'", path));
}

}  // namespace lowbit::onnx
