// The one admission check of a node, run by Graph::validate() before any shape inference or
// kernel sees it: op supported (registry), arity and attribute types from the ONNX schema
// library (libonnx's OpSchemaRegistry, at the model's opset; at opsets 18-21, which the library
// lacks, the newest schema for unchanged ops and lowbit's own rules for changed ones), then value ranges.
#include <onnx/defs/schema.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ops/op.h"

namespace lowbit::onnx {
namespace {

// Ops lowbit accepts that the schema library (ONNX 1.12, opsets <= 17) does not define: Gelu
// (standard from opset 20, and com.microsoft). Kept tiny; tests/onnx/node_check_test.cc checks
// that every other registered op has a schema, so nothing silently falls back to this table.
struct OwnArity {
  std::string_view name;
  int min_in, max_in, min_out, max_out;
};
constexpr OwnArity kOwnArity[] = {{"Gelu", 1, 1, 1, 1}};

// Opset 18: the schema library stops at 17. Ops whose definition did not change in 18 are checked
// against their newest schema (<= 17); the ops lowbit supports that did change in 18 are checked
// here: arity and attribute names/kinds of the 18 form (value ranges: check_ranges and infer),
// and so are the ops new in 18 that lowbit runs (Mish, GroupNormalization).
using AK = Attribute::Kind;
struct Attr18 {
  std::string_view name;
  AK kind;
};
struct Own18 {
  std::string_view name;
  int min_in, max_in, min_out, max_out;
  std::string_view ins, outs;
  std::vector<Attr18> attrs;
};
const std::vector<Own18>& changed_in_18() {
  static const std::vector<Own18> ops = [] {
    std::vector<Own18> v;
    for (std::string_view r : {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
                               "ReduceLogSumExp", "ReduceSumSquare"})
      v.push_back({r, 1, 2, 1, 1, "data, axes?", "reduced", {{"keepdims", AK::i}, {"noop_with_empty_axes", AK::i}}});
    v.push_back({"Split", 1, 2, 1, std::numeric_limits<int>::max(), "input, split?", "outputs...",
                 {{"axis", AK::i}, {"num_outputs", AK::i}}});
    v.push_back({"Pad", 2, 4, 1, 1, "data, pads, constant_value?, axes?", "output", {{"mode", AK::s}}});
    v.push_back({"Resize", 1, 4, 1, 1, "X, roi?, scales?, sizes?", "Y",
                 {{"antialias", AK::i}, {"axes", AK::is}, {"coordinate_transformation_mode", AK::s},
                  {"cubic_coeff_a", AK::f}, {"exclude_outside", AK::i}, {"extrapolation_value", AK::f},
                  {"keep_aspect_ratio_policy", AK::s}, {"mode", AK::s}, {"nearest_mode", AK::s}}});
    v.push_back({"ScatterElements", 3, 3, 1, 1, "data, indices, updates", "output", {{"axis", AK::i}, {"reduction", AK::s}}});
    v.push_back({"ScatterND", 3, 3, 1, 1, "data, indices, updates", "output", {{"reduction", AK::s}}});
    // New in opset 18 (no schema in the library at all).
    v.push_back({"Mish", 1, 1, 1, 1, "X", "Y", {}});
    v.push_back({"GroupNormalization", 3, 3, 1, 1, "X, scale, bias", "Y", {{"epsilon", AK::f}, {"num_groups", AK::i}}});
    v.push_back({"Col2Im", 3, 3, 1, 1, "input, image_shape, block_shape", "output",
                 {{"dilations", AK::is}, {"pads", AK::is}, {"strides", AK::is}}});
    v.push_back({"CenterCropPad", 2, 2, 1, 1, "input_data, shape", "output_data", {{"axes", AK::is}}});
    for (std::string_view b : {"BitwiseAnd", "BitwiseOr", "BitwiseXor"}) v.push_back({b, 2, 2, 1, 1, "A, B", "C", {}});
    v.push_back({"BitwiseNot", 1, 1, 1, 1, "X", "Y", {}});
    return v;
  }();
  return ops;
}

const char* kind_name(AK k) {
  switch (k) {
    case AK::f: return "FLOAT";
    case AK::i: return "INT";
    case AK::s: return "STRING";
    case AK::t: return "TENSOR";
    case AK::fs: return "FLOATS";
    case AK::is: return "INTS";
    case AK::ss: return "STRINGS";
    case AK::g: return "GRAPH";
  }
  return "?";
}

std::string formal_names(const std::vector<::onnx::OpSchema::FormalParameter>& params) {
  std::string out;
  for (const auto& p : params) {
    out += (out.empty() ? "" : ", ") + p.GetName();
    if (p.GetOption() == ::onnx::OpSchema::Optional) out += "?";
    if (p.GetOption() == ::onnx::OpSchema::Variadic) out += "...";
  }
  return out;
}

std::string range_str(int lo, int hi) {
  if (lo == hi) return fmt::format("{}", lo);
  if (hi == std::numeric_limits<int>::max()) return fmt::format("at least {}", lo);
  return fmt::format("{} to {}", lo, hi);
}

// Present inputs/outputs count; trailing omitted ones ("") do not.
void check_arity(const Node& node, int opset, int min_in, int max_in, int min_out, int max_out, const std::string& names_in,
                 const std::string& names_out) {
  const auto n_in = static_cast<int>(node.explicit_inputs()), n_out = static_cast<int>(node.outputs.size());
  if (n_in < min_in || n_in > max_in)
    node_fail(node, opset, "has {} input(s), expected {}{}", n_in, range_str(min_in, max_in),
              names_in.empty() ? "" : " (" + names_in + ")");
  if (n_out < min_out || n_out > max_out)
    node_fail(node, opset, "has {} output(s), expected {}{}", n_out, range_str(min_out, max_out),
              names_out.empty() ? "" : " (" + names_out + ")");
}

// Node -> NodeProto with the same input/output presence and attribute kinds, for Verify().
::onnx::NodeProto to_proto(const Node& node) {
  ::onnx::NodeProto p;
  p.set_name(node.name);
  p.set_op_type(node.op_type);
  p.set_domain(node.domain);
  for (size_t i = 0; i < node.explicit_inputs(); ++i) p.add_input(node.inputs[i] == kNoValue ? "" : fmt::format("in{}", i));
  for (size_t i = 0; i < node.outputs.size(); ++i) p.add_output(node.outputs[i] == kNoValue ? "" : fmt::format("out{}", i));
  using A = ::onnx::AttributeProto;
  for (const auto& [key, a] : node.attrs) {
    A* pa = p.add_attribute();
    pa->set_name(key);
    switch (a.kind) {
      case Attribute::Kind::f: pa->set_type(A::FLOAT); pa->set_f(static_cast<float>(a.f)); break;
      case Attribute::Kind::i: pa->set_type(A::INT); pa->set_i(a.i); break;
      case Attribute::Kind::s: pa->set_type(A::STRING); pa->set_s(a.s); break;
      case Attribute::Kind::t: pa->set_type(A::TENSOR); pa->mutable_t(); break;
      case Attribute::Kind::fs: pa->set_type(A::FLOATS); for (double v : a.fs) pa->add_floats(static_cast<float>(v)); break;
      case Attribute::Kind::is: pa->set_type(A::INTS); for (int64_t v : a.is) pa->add_ints(v); break;
      case Attribute::Kind::ss: pa->set_type(A::STRINGS); for (const auto& v : a.ss) pa->add_strings(v); break;
      case Attribute::Kind::g: pa->set_type(A::GRAPH); pa->mutable_g(); break;
    }
  }
  return p;
}

// True when the node is one of the ops changed in opset 18 and was checked here.
bool check_own_18(const Node& node, int opset) {
  if (opset < 18 || !node.domain.empty()) return false;
  for (const Own18& own : changed_in_18()) {
    if (own.name != node.op_type) continue;
    check_arity(node, opset, own.min_in, own.max_in, own.min_out, own.max_out, std::string(own.ins), std::string(own.outs));
    for (size_t i = 0; i < static_cast<size_t>(own.min_in); ++i)
      if (node.inputs[i] == kNoValue) node_fail(node, opset, "required input {} is missing", i);
    for (const auto& [key, a] : node.attrs) {
      const Attr18* spec = nullptr;
      for (const Attr18& s : own.attrs)
        if (s.name == key) spec = &s;
      if (!spec)
        node_fail(node, opset, "attribute '{}' is not part of {}-18{}", key, node.op_type,
                  key == "axes" || key == "split" ? fmt::format(" (from opset 18 '{}' is an input)", key) : "");
      if (a.kind != spec->kind)
        node_fail(node, opset, "attribute '{}' has type {}, expected {} ({}-18)", key, kind_name(a.kind), kind_name(spec->kind),
                  node.op_type);
    }
    if (node.op_type == "Split" && node.attrs.count("num_outputs") && node.inputs.size() > 1 && node.inputs[1] != kNoValue)
      node_fail(node, opset, "both the 'split' input and the 'num_outputs' attribute are given (Split-18 takes one)");
    return true;
  }
  return false;
}

// Opsets 19-21 (the library stops at 17): the ops whose 19-21 forms lowbit reads. Quantize- /
// DequantizeLinear gain `saturate` (19, float8 only: no effect on integer codes), `block_size`
// and (Q) `output_dtype` (21: blocked scales, int4); their values are checked by the ops. Other
// ops keep their newest library schema, which refuses the attributes 19-21 added (AveragePool's
// dilations, Cast's saturate); a changed meaning lowbit does not run is refused by name.
bool check_own_19_21(const Node& node, int opset) {
  if (opset < 19 || !node.domain.empty()) return false;
  if (node.op_type == "GroupNormalization" && opset >= 21)
    node_fail(node, opset, "GroupNormalization-21 (scale and bias per channel) is not supported; opset 18-20 files only");
  const bool q = node.op_type == "QuantizeLinear", dq = node.op_type == "DequantizeLinear";
  if (!q && !dq) return false;
  check_arity(node, opset, 2, 3, 1, 1, "x, scale, zero_point?", "y");
  for (size_t i = 0; i < 2; ++i)
    if (node.inputs[i] == kNoValue) node_fail(node, opset, "required input {} is missing", i);
  for (const auto& [key, a] : node.attrs) {
    const bool known = key == "axis" || (q && key == "saturate") || (opset >= 21 && key == "block_size") ||
                       (q && opset >= 21 && key == "output_dtype");
    if (!known) node_fail(node, opset, "attribute '{}' is not part of {}-{}", key, node.op_type, opset >= 21 ? 21 : 19);
    if (a.kind != AK::i) node_fail(node, opset, "attribute '{}' has type {}, expected INT", key, kind_name(a.kind));
  }
  return true;
}

void check_schema(const Node& node, int opset) {
  if (check_own_18(node, opset) || check_own_19_21(node, opset)) return;
  const std::string domain = node.domain == "com.microsoft" ? "" : node.domain;
  // Opset 18 (the schema library stops at 17): the newest schema, for ops unchanged in 18.
  const ::onnx::OpSchema* schema = ::onnx::OpSchemaRegistry::Schema(node.op_type, std::min(opset, 17), domain);
  if (!schema) {
    for (const OwnArity& own : kOwnArity)
      if (own.name == node.op_type)
        return check_arity(node, opset, own.min_in, own.max_in, own.min_out, own.max_out, "", "");
    node_fail(node, opset, "the ONNX schema library has no definition of this op at this opset");
  }
  if (schema->deprecated()) node_fail(node, opset, "{} is deprecated at opset {}", node.op_type, opset);
  check_arity(node, opset, schema->min_input(), schema->max_input(), schema->min_output(), schema->max_output(),
              formal_names(schema->inputs()), formal_names(schema->outputs()));
  try {
    schema->Verify(to_proto(node));  // required inputs present, attribute names/types, required attributes
  } catch (const std::exception& e) {
    node_fail(node, opset, "does not match the ONNX schema of {}-{}: {}", node.op_type, schema->since_version(), e.what());
  }
}

// Value ranges the schema does not state. ONNX uses these attribute names consistently, so the
// rules are keyed by name; each op's infer still checks what depends on input shapes (axes).
void check_ranges(const Node& node, int opset) {
  for (const auto& kv : node.attrs) {
    const std::string& key = kv.first;  // not a structured binding: lambdas capture it (clang 14)
    const Attribute& a = kv.second;
    const auto ints_at_least = [&](int64_t lo) {
      for (int64_t v : a.is)
        if (v < lo || v > (int64_t{1} << 24))
          node_fail(node, opset, "attribute '{}' has entry {}, expected {} to {}", key, v, lo, int64_t{1} << 24);
    };
    if (a.kind == Attribute::Kind::is && (key == "kernel_shape" || key == "strides" || key == "dilations")) ints_at_least(1);
    if (a.kind == Attribute::Kind::is && (key == "pads" || key == "output_padding" || key == "output_shape")) ints_at_least(0);
    if (a.kind == Attribute::Kind::i && key == "group" && (a.i < 1 || a.i > (int64_t{1} << 24)))
      node_fail(node, opset, "attribute 'group' is {}, expected at least 1", a.i);
    if (a.kind == Attribute::Kind::i && key == "num_outputs" && a.i < 1)
      node_fail(node, opset, "attribute 'num_outputs' is {}, expected at least 1", a.i);
    if (a.kind == Attribute::Kind::i && (key == "keepdims" || key == "transA" || key == "transB" || key == "allowzero" ||
                                         key == "noop_with_empty_axes" || key == "select_last_index" ||
                                         key == "training_mode" || key == "ceil_mode" || key == "count_include_pad" ||
                                         key == "storage_order" || key == "antialias") &&
        a.i != 0 && a.i != 1)
      node_fail(node, opset, "attribute '{}' is {}, expected 0 or 1", key, a.i);
    if (a.kind == Attribute::Kind::f && !std::isfinite(a.f) && key != "min" && key != "max")
      node_fail(node, opset, "attribute '{}' is {}, expected a finite number", key, a.f);
    if (a.kind == Attribute::Kind::f && key == "epsilon" && !(a.f >= 0))
      node_fail(node, opset, "attribute 'epsilon' is {}, expected >= 0", a.f);
    if (a.kind == Attribute::Kind::fs)
      for (double v : a.fs)
        if (std::isnan(v)) node_fail(node, opset, "attribute '{}' holds NaN", key);
    if (a.kind == Attribute::Kind::s && key == "auto_pad" && a.s != "NOTSET" && a.s != "SAME_UPPER" &&
        a.s != "SAME_LOWER" && a.s != "VALID")
      node_fail(node, opset, "attribute 'auto_pad' is '{}', expected NOTSET, SAME_UPPER, SAME_LOWER or VALID", a.s);
  }
}

// Subgraphs are validated like a model's graph; a failure names the outer node and attribute:
// "node 'loop_1' (Loop, opset 13): body: node 'add' (Add, opset 13): ...".
void check_subgraphs(const Node& node, int opset) {
  for (const auto& [key, a] : node.attrs) {
    if (a.kind != Attribute::Kind::g) continue;
    if (!a.g) node_fail(node, opset, "attribute '{}' holds no graph", key);
    if (a.g->captures.size() != static_cast<size_t>(node.implicit_inputs))
      node_fail(node, opset, "attribute '{}' binds {} outer value(s) but the node has {} implicit input(s)", key,
                a.g->captures.size(), node.implicit_inputs);
    try {
      a.g->validate();
    } catch (const Error& e) {
      std::string msg = e.what();
      if (msg.rfind("[onnx] ", 0) == 0) msg = msg.substr(7);
      node_fail(node, opset, "{}: {}", key, msg);
    }
  }
}

}  // namespace

const OpDef& check_node(const Node& node, int opset) {
  if (node.implicit_inputs < 0 || static_cast<size_t>(node.implicit_inputs) > node.inputs.size() ||
      (node.implicit_inputs > 0 && !node.has_subgraphs()))
    node_fail(node, opset, "has {} implicit input(s) but no subgraph to read them", node.implicit_inputs);
  const OpDef& op = resolve_op(node, opset);
  check_schema(node, opset);
  check_ranges(node, opset);
  check_subgraphs(node, opset);
  return op;
}

}  // namespace lowbit::onnx
