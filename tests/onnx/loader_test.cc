// Loader robustness: truncated/corrupt files, cycles, dangling inputs, duplicate outputs,
// absurd dimensions and initializer sizes, unsupported ops/attributes/opsets. Every case must
// raise a lowbit::Error with a useful message, never crash or allocate without bound.
#include <onnx/onnx_pb.h>

#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/shape_inference.h"
#include "test_util.h"

// GCC 12 reports -Wrestrict inside libstdc++'s string assign when protobuf's setters get
// one-character literals here (a known false positive, GCC bug 105329); nothing overlaps.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

namespace lowbit::onnx {
namespace {

// A valid model y = Relu(x + b), x: float[2, 3].
::onnx::ModelProto tiny_model() {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(1);
  tt->mutable_shape()->add_dim()->set_dim_value(2);
  tt->mutable_shape()->add_dim()->set_dim_value(3);
  auto* b = g->add_initializer();
  b->set_name("b");
  b->set_data_type(1);
  b->add_dims(3);
  for (float v : {1.0f, -2.0f, 3.0f}) b->add_float_data(v);
  auto* add = g->add_node();
  add->set_op_type("Add");
  add->set_name("add");
  add->add_input("x");
  add->add_input("b");
  add->add_output("s");
  auto* relu = g->add_node();
  relu->set_op_type("Relu");
  relu->set_name("relu");
  relu->add_input("s");
  relu->add_output("y");
  g->add_output()->set_name("y");
  return m;
}

std::string bytes_of(const ::onnx::ModelProto& m) {
  std::string s;
  m.SerializeToString(&s);
  return s;
}

// Loads and, when that succeeds, runs on a [2,3] input: the whole path a user takes.
void load_and_run(const std::string& bytes) {
  Graph g = load_model_from_bytes(bytes, "test.onnx");
  Session s(std::move(g));
  s.run({Array::zeros(ElemType::f32, {2, 3})});
}

template <typename E = Error>
void expect_error(const std::string& bytes, const std::string& fragment) {
  try {
    load_and_run(bytes);
    ADD_FAILURE() << "no error; expected one mentioning '" << fragment << "'";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Loader, ValidTinyModelRuns) {
  Graph g = load_model_from_bytes(bytes_of(tiny_model()), "tiny");
  Session s(std::move(g));
  const std::vector<float> x = {1, 1, 1, -5, 5, -5};
  const Array y = s.run({Array::from<float>({2, 3}, x)})[0];
  EXPECT_EQ(y.to_f32_vector(), (std::vector<float>{2, 0, 4, 0, 3, 0}));
}

TEST(Loader, TruncatedAndCorruptFilesAreIoErrors) {
  const std::string good = bytes_of(tiny_model());
  for (size_t cut : {size_t{1}, good.size() / 3, good.size() / 2, good.size() - 1}) {
    try {
      load_and_run(good.substr(0, cut));
    } catch (const Error&) {
      continue;  // IoError from protobuf, or ValueError from a structurally broken graph
    }
  }
  expect_error<IoError>(std::string("\xff\xff\xff\xff garbage", 12), "not a valid ONNX model");
  EXPECT_THROW(load_model("/nonexistent/model.onnx"), IoError);
}

TEST(Loader, CycleIsRejectedNamingANode) {
  auto m = tiny_model();
  m.mutable_graph()->mutable_node(0)->set_input(0, "y");  // add reads relu's output
  expect_error<ValueError>(bytes_of(m), "cycle");
}

TEST(Loader, NodeWithoutItsOutputIsAnErrorNotACrash) {
  // Found by the loader fuzzer: a node declaring no outputs made shape inference index past
  // the end of its output list (std::out_of_range escaped the loader).
  auto m = tiny_model();
  auto* sm = m.mutable_graph()->add_node();
  sm->set_op_type("Softmax");
  sm->set_name("orphan_softmax");
  sm->add_input("y");
  try {
    Graph g = load_model_from_bytes(bytes_of(m), "test.onnx");
    (void)infer_shapes(g, declared_input_types(g, 1), false);
    ADD_FAILURE() << "no error for a node without outputs";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("orphan_softmax"), std::string::npos) << e.what();
  }
}

TEST(Loader, DanglingInputNamesNodeAndValue) {
  auto m = tiny_model();
  m.mutable_graph()->mutable_node(1)->set_input(0, "nowhere");
  expect_error<ValueError>(bytes_of(m), "'nowhere'");
}

TEST(Loader, DuplicateOutputName) {
  auto m = tiny_model();
  m.mutable_graph()->mutable_node(1)->set_output(0, "s");
  expect_error(bytes_of(m), "defined twice");
}

TEST(Loader, UnsupportedOpNamesNodeOpAndOpset) {
  auto m = tiny_model();
  m.mutable_graph()->mutable_node(1)->set_op_type("FancyOp");
  expect_error<ValueError>(bytes_of(m), "node 'relu' (FancyOp, opset 13): unsupported op");
}

TEST(Loader, AllUnsupportedOpsAreListedAtOnce) {
  auto m = tiny_model();
  m.mutable_graph()->mutable_node(0)->set_op_type("FancyOp");
  m.mutable_graph()->mutable_node(1)->set_op_type("OtherOp");
  try {
    load_model_from_bytes(bytes_of(m), "two.onnx");
    FAIL() << "expected a ValueError";
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("2 nodes fail the check (2 distinct problems)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(FancyOp, opset 13): unsupported op"), std::string::npos) << msg;
    EXPECT_NE(msg.find("node 'relu' (OtherOp, opset 13): unsupported op"), std::string::npos) << msg;
  }
  m.mutable_graph()->mutable_node(1)->set_op_type("FancyOp");  // same problem twice: one line
  try {
    load_model_from_bytes(bytes_of(m), "two.onnx");
    FAIL() << "expected a ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("(1 distinct problems)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(and 1 more node(s) like it)"), std::string::npos) << e.what();
  }
}

TEST(Loader, UnsupportedAttributeIsNamed) {
  auto m = tiny_model();
  auto* a = m.mutable_graph()->mutable_node(1)->add_attribute();
  a->set_name("mystery");
  a->set_type(::onnx::AttributeProto::INT);
  a->set_i(3);
  expect_error<ValueError>(bytes_of(m), "unsupported attribute 'mystery'");
}

TEST(Loader, OpsetOutOfRange) {
  auto m = tiny_model();
  m.mutable_opset_import(0)->set_version(99);
  expect_error<ValueError>(bytes_of(m), "opset 99 is not supported");
}

TEST(Loader, InitializerDataMustMatchDims) {
  auto m = tiny_model();
  m.mutable_graph()->mutable_initializer(0)->set_dims(0, 4);  // 4 elements declared, 3 given
  expect_error<IoError>(bytes_of(m), "needs 4 values");
  auto raw = tiny_model();
  auto* b = raw.mutable_graph()->mutable_initializer(0);
  b->clear_float_data();
  b->set_raw_data(std::string(8, '\0'));  // 2 floats for 3 elements
  expect_error<IoError>(bytes_of(raw), "raw_data has 8 bytes");
}

TEST(Loader, AbsurdDimensionsDoNotAllocate) {
  auto m = tiny_model();
  auto* b = m.mutable_graph()->mutable_initializer(0);
  b->set_dims(0, int64_t{1} << 40);
  b->add_dims(int64_t{1} << 40);  // 2^80 elements overflows int64
  expect_error<IoError>(bytes_of(m), "tensor 'b'");
  auto neg = tiny_model();
  neg.mutable_graph()->mutable_initializer(0)->set_dims(0, -3);
  expect_error<IoError>(bytes_of(neg), "tensor 'b'");
  auto big = tiny_model();
  big.mutable_graph()->mutable_initializer(0)->set_dims(0, int64_t{1} << 36);  // 256 GiB of floats, 3 given
  expect_error<IoError>(bytes_of(big), "tensor 'b'");
  auto input = tiny_model();
  input.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0)->set_dim_value(-1);
  expect_error<IoError>(bytes_of(input), "negative dimension");
}

TEST(Loader, InconsistentShapesFailAtPlanningNamingTheNode) {
  auto m = tiny_model();
  m.mutable_graph()->mutable_initializer(0)->set_dims(0, 3);
  auto* b = m.mutable_graph()->mutable_initializer(0);
  b->add_float_data(0);
  b->set_dims(0, 4);  // [4] does not broadcast with [2, 3]
  expect_error<ValueError>(bytes_of(m), "node 'add' (Add, opset 13)");
}

TEST(Loader, InputShapeMismatchAtRun) {
  Graph g = load_model_from_bytes(bytes_of(tiny_model()), "tiny");
  Session s(std::move(g));
  EXPECT_THROW(s.run({Array::zeros(ElemType::f32, {2, 4})}), ValueError);
  EXPECT_THROW(s.run({Array::zeros(ElemType::i64, {2, 3})}), ValueError);
}

TEST(Loader, ReshapeToAbsurdShapeIsAnError) {
  // ConstantOfShape with a huge requested shape must fail cleanly, not allocate.
  GraphBuilder b(13);
  const int64_t dims[] = {int64_t{1} << 30, int64_t{1} << 30};
  const int shape = b.constant("shape", Array::from<int64_t>({2}, dims));
  b.output(b.op("ConstantOfShape", {shape}));
  EXPECT_THROW(Session(b.finish()).run(std::vector<Array>{}), ValueError);
}

}  // namespace
}  // namespace lowbit::onnx
