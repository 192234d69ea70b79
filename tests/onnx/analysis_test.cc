// Static model statistics (lowbit inspect, the tuner): parameters held in Constant nodes,
// If/Loop subgraphs counted apart, and the shape-free summary of a model whose symbolic sizes
// cannot be guessed.
#include <gtest/gtest.h>

#include <memory>

#include "lowbit/onnx/analysis.h"
#include "lowbit/onnx/shape_inference.h"
#include "test_util.h"

namespace lowbit::onnx {
namespace {

// x[N, 2, H, W] -> Conv 3x3 (weights from a Constant node, as paddle2onnx writes them) ->
// AveragePool 2x2: valid at H, W >= 4, not at the symbolic dims set to 1.
Graph ocr_like() {
  GraphBuilder b(13);
  const int x = b.input("x", ElemType::f32, {-1, 2, -1, -1});
  const int w = b.op("Constant", {}, {{"value", Attribute::from_tensor(Array::zeros(ElemType::f32, {4, 2, 3, 3}))}});
  const int y = b.op("Conv", {x, w});
  b.output(b.op("AveragePool", {y}, {{"kernel_shape", Attribute::from_ints({2, 2})}}));
  return b.finish();
}

TEST(Analysis, ConstantNodesCountAsParameters) {
  const Graph g = ocr_like();
  std::vector<ValueType> types = declared_input_types(g, 1);
  types[0].shape = {1, 2, 8, 8};
  const ModelSummary s = summarize(g, types);
  EXPECT_EQ(s.parameters, 4 * 2 * 3 * 3);
  EXPECT_EQ(s.parameter_bytes, 4 * 2 * 3 * 3 * 4);
  // Conv 4x2x3x3 on 6x6 outputs: 2 FLOPs per multiply-add.
  EXPECT_GE(s.flops, 2.0 * 4 * 2 * 9 * 36);
}

TEST(Analysis, StructureSummaryNeedsNoShapes) {
  const Graph g = ocr_like();
  EXPECT_THROW((void)summarize(g, declared_input_types(g, 1)), Error);  // 1x1 image, 2x2 pool
  const ModelSummary s = summarize_structure(g);
  EXPECT_EQ(s.op_counts.at("Conv"), 1);
  EXPECT_EQ(s.op_counts.at("AveragePool"), 1);
  EXPECT_EQ(s.op_counts.at("Constant"), 1);
  EXPECT_EQ(s.nodes, 3);
  EXPECT_EQ(s.depth, 3);
  EXPECT_EQ(s.heavy_nodes, 1);
  EXPECT_EQ(s.parameters, 72);
  EXPECT_EQ(s.flops, 0);
  ASSERT_EQ(s.inputs.size(), 1u);
  EXPECT_EQ(s.inputs[0].second.shape, (Shape{-1, 2, -1, -1}));  // declared, symbolic kept
}

TEST(Analysis, SubgraphsAreCountedApart) {
  // If(cond) then Relu(Constant[3]) else Neg(Constant[3]): the branches' nodes and parameters
  // are listed under subgraphs, not in the top-level histogram.
  const auto branch = [](const std::string& op) {
    GraphBuilder b(13);
    const int k = b.op("Constant", {}, {{"value", Attribute::from_tensor(Array::zeros(ElemType::f32, {3}))}});
    b.output(b.op(op, {k}));
    return std::make_shared<const Graph>(b.finish());
  };
  GraphBuilder b(13);
  const int c = b.input("c", ElemType::boolean, {});
  b.output(b.op("If", {c}, {{"then_branch", Attribute::from_graph(branch("Relu"))},
                            {"else_branch", Attribute::from_graph(branch("Neg"))}}));
  const Graph g = b.finish();
  const ModelSummary s = summarize_structure(g);
  EXPECT_EQ(s.op_counts.at("If"), 1);
  EXPECT_EQ(s.op_counts.count("Relu"), 0u);
  EXPECT_EQ(s.subgraphs.graphs, 2);
  EXPECT_EQ(s.subgraphs.nodes, 4);  // Constant, Relu | Constant, Neg
  EXPECT_EQ(s.subgraphs.op_counts.at("Relu"), 1);
  EXPECT_EQ(s.subgraphs.op_counts.at("Neg"), 1);
  EXPECT_EQ(s.subgraphs.parameters, 6);
  EXPECT_EQ(s.parameters, 0);
}

}  // namespace
}  // namespace lowbit::onnx

namespace lowbit::onnx {
namespace {

TEST(Analysis, InputShapesFromTheCommandLine) {
  EXPECT_EQ(parse_input_shape("x=1,3,48,320"), (std::pair<std::string, Shape>{"x", {1, 3, 48, 320}}));
  EXPECT_EQ(parse_input_shape("a=b=2"), (std::pair<std::string, Shape>{"a=b", {2}}));  // names may hold '='
  for (const char* bad : {"x", "=1", "x=", "x=1,,2", "x=1,a", "x=-1", "x=1.5", "x=99999999999999999999"})
    EXPECT_THROW((void)parse_input_shape(bad), ValueError) << bad;
  const Graph g = ocr_like();
  bool guessed = false;
  EXPECT_EQ(summary_input_types(g, 4, {}, &guessed)[0].shape, (Shape{4, 2, 1, 1}));
  EXPECT_TRUE(guessed);
  EXPECT_EQ(summary_input_types(g, 4, {{"x", {1, 2, 9, 7}}}, &guessed)[0].shape, (Shape{1, 2, 9, 7}));
  EXPECT_FALSE(guessed);
  test::expect_error([&] { (void)summary_input_types(g, 1, {{"y", {1}}}, nullptr); }, {"no input 'y'"});
  test::expect_error([&] { (void)summary_input_types(g, 1, {{"x", {1, 2, 3}}}, nullptr); }, {"rank 4"});
  test::expect_error([&] { (void)summary_input_types(g, 1, {{"x", {1, 3, 8, 8}}}, nullptr); }, {"fixed at 2"});
  // Guessed sizes that do not fit: the structure, with the reason; the user's own: an error.
  EXPECT_NE(summarize_guessing(g, summary_input_types(g, 1, {}, nullptr), true).shape_error.find("kernel span 3 exceeds"),
            std::string::npos);
  EXPECT_THROW((void)summarize_guessing(g, summary_input_types(g, 1, {{"x", {1, 2, 1, 1}}}, nullptr), false), Error);
}

}  // namespace
}  // namespace lowbit::onnx
