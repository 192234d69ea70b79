// The node admission check (ops/node_check.cc) against the ONNX schema library it reads: every
// registered op has a schema at the opsets lowbit accepts, or is one of the few in node_check's
// own table (which the library must not define); and for every op, one input too few or too
// many (per the schema) is rejected naming node, op and opset, before inference runs.
#include <gtest/gtest.h>
#include <onnx/defs/schema.h>

#include <climits>

#include "lowbit/onnx/model_loader.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

// node_check.cc kOwnArity (Gelu), and the ops new in opset 18 that its opset-18 table admits.
bool own_table_op(std::string_view name) {
  for (std::string_view own : {"Gelu", "Mish", "GroupNormalization", "Col2Im", "CenterCropPad", "BitwiseAnd", "BitwiseOr",
                               "BitwiseXor", "BitwiseNot"})
    if (name == own) return true;
  return false;
}
// Registered from opset 1 because the fusion passes create them in graphs of any opset
// (Graph::optimized: only registry support is checked there); files need ONNX's opset 17.
bool fused_form_op(std::string_view name) { return name == "LayerNormalization"; }

TEST(NodeCheck, EveryRegisteredOpHasASchemaOrIsInTheOwnTable) {
  for (const OpDef* op : all_ops()) {
    if (op->domain == "lowbit") continue;  // internal fused forms (QDQ lowering): never read from a file
    const int from = fused_form_op(op->name) ? 17 : std::max(op->since, kMinOpset);
    for (int opset = from; opset <= kMaxOpset; ++opset) {
      const auto* schema = ::onnx::OpSchemaRegistry::Schema(std::string(op->name), opset, "");
      if (own_table_op(op->name)) {
        EXPECT_EQ(schema, nullptr) << op->name << " has a schema at opset " << opset << ": drop it from kOwnArity";
      } else {
        EXPECT_NE(schema, nullptr) << op->name << " has no ONNX schema at opset " << opset;
      }
    }
  }
}

Node node_with(const OpDef& op, int n_in, int n_out) {
  Node n;
  n.name = "probe";
  n.op_type = std::string(op.name);
  for (int i = 0; i < n_in; ++i) n.inputs.push_back(i);
  for (int i = 0; i < n_out; ++i) n.outputs.push_back(100 + i);
  return n;
}

void expect_arity_error(const Node& n, int opset, const std::string& what) {
  try {
    check_node(n, opset);
    ADD_FAILURE() << n.op_type << " opset " << opset << ": accepted " << what;
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(fmt::format("node 'probe' ({}, opset {})", n.op_type, opset)), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

// At the schema library's newest opset (17); opset 18's changed forms: tests/onnx/opset18_test.cc.
TEST(NodeCheck, ArityOutsideTheSchemaIsRejectedForEveryOp) {
  constexpr int kSchemaOpset = 17;
  int checked = 0;
  for (const OpDef* op : all_ops()) {
    const auto* s = ::onnx::OpSchemaRegistry::Schema(std::string(op->name), kSchemaOpset, "");
    if (!s || s->deprecated()) continue;  // Upsample: refused as deprecated before arity is looked at
    const int outs = std::max(1, s->min_output());
    if (s->min_input() > 0) {
      expect_arity_error(node_with(*op, s->min_input() - 1, outs), kSchemaOpset, fmt::format("has {} input(s)", s->min_input() - 1));
      ++checked;
    }
    if (s->max_input() < INT_MAX) {
      expect_arity_error(node_with(*op, s->max_input() + 1, outs), kSchemaOpset, fmt::format("has {} input(s)", s->max_input() + 1));
      ++checked;
    }
    if (s->max_output() < INT_MAX)
      expect_arity_error(node_with(*op, s->min_input(), s->max_output() + 1), kSchemaOpset,
                         fmt::format("has {} output(s)", s->max_output() + 1));
  }
  EXPECT_GT(checked, 100);
}

TEST(NodeCheck, OptionalInputOmittedInTheMiddleIsAccepted) {
  // Clip(x, "", max): min omitted, max given; Conv(x, w) without B.
  Node clip = node_with(*find_op("", "Clip"), 3, 1);
  clip.inputs[1] = kNoValue;
  EXPECT_NO_THROW(check_node(clip, 13));
  EXPECT_NO_THROW(check_node(node_with(*find_op("", "Conv"), 2, 1), 13));
}

TEST(NodeCheck, RequiredInputOmittedIsRejected) {
  Node gemm = node_with(*find_op("", "Gemm"), 3, 1);
  gemm.inputs[1] = kNoValue;
  expect_arity_error(gemm, 13, "marked single but has an empty string");
}

}  // namespace
}  // namespace lowbit::onnx
