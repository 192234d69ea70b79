// The one admission check of a node, run by Graph::validate() before any shape inference or
// kernel sees it: op supported (registry), arity and attribute types from the ONNX schema
// library (libonnx's OpSchemaRegistry, at the model's opset), then attribute value ranges.
#include <onnx/defs/schema.h>

#include <cmath>
#include <limits>
#include <string>

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
  const auto n_in = static_cast<int>(node.inputs.size()), n_out = static_cast<int>(node.outputs.size());
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
  for (size_t i = 0; i < node.inputs.size(); ++i) p.add_input(node.inputs[i] == kNoValue ? "" : fmt::format("in{}", i));
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
    }
  }
  return p;
}

void check_schema(const Node& node, int opset) {
  const std::string domain = node.domain == "com.microsoft" ? "" : node.domain;
  const ::onnx::OpSchema* schema = ::onnx::OpSchemaRegistry::Schema(node.op_type, opset, domain);
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
                                         key == "storage_order") &&
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

}  // namespace

const OpDef& check_node(const Node& node, int opset) {
  const OpDef& op = resolve_op(node, opset);
  check_schema(node, opset);
  check_ranges(node, opset);
  return op;
}

}  // namespace lowbit::onnx
