// Bad ONNX models, built here with the protobuf classes (plus the fuzzers' regression files in
// tests/onnx/bad_inputs): each must fail in the loader, the schema check, shape inference or
// the one execution with the exact error; and `lowbit inspect` must exit 1 naming it.
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <tuple>

#include "bad_input.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/onnx/shape_inference.h"

namespace lowbit::testing {
namespace {

using A = ::onnx::AttributeProto;

A attr_i(const std::string& n, int64_t v) { A a; a.set_name(n); a.set_type(A::INT); a.set_i(v); return a; }
A attr_f(const std::string& n, float v) { A a; a.set_name(n); a.set_type(A::FLOAT); a.set_f(v); return a; }
A attr_s(const std::string& n, const std::string& v) { A a; a.set_name(n); a.set_type(A::STRING); a.set_s(v); return a; }
A attr_is(const std::string& n, std::vector<int64_t> v) {
  A a; a.set_name(n); a.set_type(A::INTS);
  for (int64_t x : v) a.add_ints(x);
  return a;
}

struct NodeSpec {
  std::string op;
  std::vector<std::string> in, out;
  std::vector<A> attrs = {};
};

struct ModelSpec {
  int opset = 13;
  std::vector<NodeSpec> nodes;
  std::vector<std::pair<std::string, std::vector<int64_t>>> inputs = {{"x", {2, 3}}};  // float inputs
  std::vector<std::string> outputs = {"y"};
  std::vector<std::pair<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>> floats = {};  // initializers
  std::vector<std::pair<std::string, std::vector<int64_t>>> int64s = {};  // 1-d int64 initializers
  std::vector<std::pair<std::string, std::vector<double>>> f64s = {};      // 1-d float64 initializers
};

std::string bytes_of(const ModelSpec& s) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  if (s.opset > 0) m.add_opset_import()->set_version(s.opset);
  auto* g = m.mutable_graph();
  g->set_name("bad");
  for (const auto& [name, dims] : s.inputs) {
    auto* vi = g->add_input();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(::onnx::TensorProto::FLOAT);
    for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
  }
  for (const auto& [name, dv] : s.floats) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(::onnx::TensorProto::FLOAT);
    for (int64_t d : dv.first) t->add_dims(d);
    for (float v : dv.second) t->add_float_data(v);
  }
  for (const auto& [name, v] : s.int64s) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(::onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(v.size()));
    for (int64_t x : v) t->add_int64_data(x);
  }
  for (const auto& [name, v] : s.f64s) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(::onnx::TensorProto::DOUBLE);
    t->add_dims(static_cast<int64_t>(v.size()));
    for (double x : v) t->add_double_data(x);
  }
  int k = 0;
  for (const NodeSpec& n : s.nodes) {
    auto* np = g->add_node();
    np->set_op_type(n.op);
    np->set_name(fmt::format("n{}", k++));
    for (const auto& i : n.in) np->add_input(i);
    for (const auto& o : n.out) np->add_output(o);
    for (const auto& a : n.attrs) *np->add_attribute() = a;
  }
  for (const auto& o : s.outputs) g->add_output()->set_name(o);
  return m.SerializeAsString();
}

// What `lowbit run` does with a model: load (schema check), infer, run once on zeros.
void load_and_run(const std::string& bytes) {
  onnx::Graph g = onnx::load_model_from_bytes(bytes, "bad.onnx", "");
  const auto types = onnx::declared_input_types(g, 1);
  (void)onnx::infer_shapes(g, types, false);  // what `lowbit inspect` does
  std::vector<onnx::Array> inputs;
  for (const auto& t : types) inputs.push_back(onnx::Array::zeros(t.elem, t.shape));
  onnx::Session(std::move(g), onnx::SessionOptions{1, 1, true}).run(inputs);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

BadInput row(std::string name, ModelSpec spec, Want want, std::vector<std::string> frags) {
  const std::string bytes = bytes_of(spec);
  return {std::move(name), [bytes] { load_and_run(bytes); }, want, std::move(frags)};
}

BadInput raw_row(std::string name, std::string bytes, Want want, std::vector<std::string> frags) {
  return {std::move(name), [bytes] { load_and_run(bytes); }, want, std::move(frags)};
}

const NodeSpec kRelu{"Relu", {"x"}, {"y"}};
const std::string kBad = std::string(LOWBIT_SOURCE_DIR) + "/tests/onnx/bad_inputs/";
const std::string kRepro = kBad + "onnx-gather-missing-input.onnx";

std::vector<BadInput> onnx_rows() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::string truncated = bytes_of({13, {kRelu}});
  truncated.resize(truncated.size() / 2);
  return {
      // Arity, from the ONNX schema.
      raw_row("FuzzReproGatherWithoutInputs", read_file(kRepro), Want::value,
              {"node 'Gather_0' (Gather, opset 13)", "has 0 input(s), expected 2 (data, indices)"}),
      raw_row("FuzzReproArgMaxEmptyAxis", read_file(kBad + "onnx-argmax-empty-axis.onnx"), Want::value,
              {"(ArgMax, opset 13)", "input shape [0] is empty along axis 0 (expected at least one element to pick)"}),
      raw_row("FuzzReproQLinearMatMulU32ZeroPoint", read_file(kBad + "onnx-qlinearmatmul-u32-zero-point.onnx"), Want::value,
              {"(QLinearMatMul, opset 10)", "input 7 of element type uint32 is not supported (supported: uint8, int8)"}),
      row("GatherOneInput", {13, {{"Gather", {"x"}, {"y"}}}}, Want::value,
          {"node 'n0' (Gather, opset 13)", "has 1 input(s), expected 2 (data, indices)"}),
      row("ConvFourInputs", {13, {{"Conv", {"x", "x", "x", "x"}, {"y"}}}}, Want::value,
          {"(Conv, opset 13)", "has 4 input(s), expected 2 to 3 (X, W, B?)"}),
      row("ReluTwoOutputs", {13, {{"Relu", {"x"}, {"y", "z"}}}}, Want::value, {"(Relu, opset 13)", "has 2 output(s), expected 1 (Y)"}),
      row("AddNoOutputs", {13, {{"Add", {"x", "x"}, {}}}, {{"x", {2}}}, {"x"}}, Want::value, {"(Add, opset 13)", "has 0 output(s)"}),
      row("WhereEmptyRequiredInput", {13, {{"Where", {"x", "", "x"}, {"y"}}}}, Want::value,
          {"(Where, opset 13)", "does not match the ONNX schema of Where-9", "marked single but has an empty string"}),
      row("ClipThreeInputsAtOpset6", {7, {{"Clip", {"x", "x", "x"}, {"y"}}}}, Want::value, {"(Clip, opset 7)", "has 3 input(s), expected 1 (input)"}),
      // Attributes: names, types, required, ranges.
      row("UnknownAttribute", {13, {{"Relu", {"x"}, {"y"}, {attr_i("foo", 1)}}}}, Want::value, {"(Relu, opset 13)", "unsupported attribute 'foo'"}),
      row("AxisAsFloat", {13, {{"Gather", {"x", "i"}, {"y"}, {attr_f("axis", 1.0f)}}}, {{"x", {2, 3}}, {"i", {1}}}}, Want::value,
          {"(Gather, opset 13)", "Mismatched attribute type"}),
      row("CastWithoutTo", {13, {{"Cast", {"x"}, {"y"}}}}, Want::value, {"(Cast, opset 13)", "Required attribute 'to' is missing"}),
      row("ConvStrideZero", {13, {{"Conv", {"x", "w"}, {"y"}, {attr_is("strides", {0, 1})}}}, {{"x", {1, 1, 4, 4}}}, {"y"},
                             {{"w", {{1, 1, 1, 1}, {1}}}}},
          Want::value, {"(Conv, opset 13)", "attribute 'strides' has entry 0, expected 1 to 16777216"}),
      row("ConvNegativePads", {13, {{"Conv", {"x", "w"}, {"y"}, {attr_is("pads", {-1, 0, 0, 0})}}}, {{"x", {1, 1, 4, 4}}}, {"y"},
                               {{"w", {{1, 1, 1, 1}, {1}}}}},
          Want::value, {"attribute 'pads' has entry -1, expected 0 to"}),
      row("ConvAbsurdKernelShape", {13, {{"Conv", {"x", "w"}, {"y"}, {attr_is("kernel_shape", {1 << 30, 1})}}}, {{"x", {1, 1, 4, 4}}},
                                    {"y"}, {{"w", {{1, 1, 1, 1}, {1}}}}},
          Want::value, {"attribute 'kernel_shape' has entry 1073741824"}),
      row("ConvGroupZero", {13, {{"Conv", {"x", "w"}, {"y"}, {attr_i("group", 0)}}}, {{"x", {1, 1, 4, 4}}}, {"y"}, {{"w", {{1, 1, 1, 1}, {1}}}}},
          Want::value, {"attribute 'group' is 0, expected at least 1"}),
      row("ConvBadAutoPad", {13, {{"Conv", {"x", "w"}, {"y"}, {attr_s("auto_pad", "BOGUS")}}}, {{"x", {1, 1, 4, 4}}}, {"y"},
                             {{"w", {{1, 1, 1, 1}, {1}}}}},
          Want::value, {"attribute 'auto_pad' is 'BOGUS', expected NOTSET, SAME_UPPER, SAME_LOWER or VALID"}),
      row("LeakyReluNanAlpha", {13, {{"LeakyRelu", {"x"}, {"y"}, {attr_f("alpha", nan)}}}}, Want::value,
          {"(LeakyRelu, opset 13)", "attribute 'alpha' is nan, expected a finite number"}),
      row("LayerNormNegativeEpsilon", {17, {{"LayerNormalization", {"x", "s"}, {"y"}, {attr_f("epsilon", -1.0f)}}}, {{"x", {2, 3}}},
                                       {"y"}, {{"s", {{3}, {1, 1, 1}}}}},
          Want::value, {"attribute 'epsilon' is -1, expected >= 0"}),
      row("ReduceKeepdimsTwo", {13, {{"ReduceMean", {"x"}, {"y"}, {attr_i("keepdims", 2)}}}}, Want::value,
          {"(ReduceMean, opset 13)", "attribute 'keepdims' is 2, expected 0 or 1"}),
      row("GatherAxisOutOfRange", {13, {{"Gather", {"x", "i"}, {"y"}, {attr_i("axis", 5)}}}, {{"x", {2, 3}}}, {"y"}, {}, {{"i", {0}}}},
          Want::value, {"(Gather, opset 13)", "axis 5 out of range for rank 2"}),
      row("SplitNumOutputsBeforeOpset18", {13, {{"Split", {"x"}, {"y"}, {attr_i("num_outputs", 1)}}}}, Want::value,
          {"(Split, opset 13)", "Unrecognized attribute: num_outputs for operator Split"}),
      row("BatchNormMixedTypes", {13, {{"BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"}}}, {{"x", {1, 2}}}, {"y"},
                                  {{"b", {{2}, {0, 0}}}, {"m", {{2}, {0, 0}}}, {"v", {{2}, {1, 1}}}}, {}, {{"s", {1, 1}}}},
          Want::value, {"(BatchNormalization, opset 13)", "input 1 is float64, expected X's type float32"}),
      // Graph structure.
      row("Cycle", {13, {{"Relu", {"b"}, {"a"}}, {"Relu", {"a"}, {"b"}}}, {{"x", {2}}}, {"b"}}, Want::value, {"graph has a cycle through node"}),
      row("ReadsUndefinedValue", {13, {{"Relu", {"nope"}, {"y"}}}}, Want::value, {"node 'n0' (Relu, opset 13)", "reads 'nope', which no node"}),
      row("ValueDefinedTwice", {13, {kRelu, {"Relu", {"x"}, {"y"}}}}, Want::io, {"value 'y' is defined twice"}),
      row("OutputNeverProduced", {13, {kRelu}, {{"x", {2}}}, {"z"}}, Want::io, {"graph output 'z' is never produced"}),
      row("UnsupportedOp", {13, {{"Frobnicate", {"x"}, {"y"}}}}, Want::value, {"node 'n0' (Frobnicate, opset 13): unsupported op"}),
      row("OpsetTooOld", {3, {kRelu}}, Want::value, {"opset 3 is not supported (supported: 7-21)"}),
      row("OpsetTooNew", {22, {kRelu}}, Want::value, {"opset 22 is not supported (supported: 7-21)"}),
      row("NoDefaultOpset", {0, {kRelu}}, Want::value, {"models without a default-domain opset_import"}),
      // Bytes, types and sizes.
      raw_row("Truncated", truncated, Want::io, {"bad.onnx", "protobuf parse failed"}),
      raw_row("Garbage", std::string("\xff\xff\xff\xff garbage \x01\x02", 15), Want::io, {"bad.onnx", "not a valid ONNX model"}),
      raw_row("Empty", "", Want::io, {"bad.onnx: model has no graph"}),
      row("NegativeInputDim", {13, {kRelu}, {{"x", {2, -3}}}}, Want::io, {"input 'x'", "negative dimension -3"}),
      row("AbsurdInputShape", {13, {kRelu}, {{"x", {int64_t{1} << 40, int64_t{1} << 40}}}}, Want::value,
          {"input 'x' shape [1099511627776, 1099511627776]", "more elements than fit in int64"}),
      row("InitializerSizeMismatch", {13, {{"Add", {"x", "c"}, {"y"}}}, {{"x", {3}}}, {"y"}, {{"c", {{1000}, {1, 2}}}}}, Want::io,
          {"'c'", "1000"}),
      row("GatherIndexOutOfRange", {13, {{"Gather", {"x", "i"}, {"y"}}}, {{"x", {3}}}, {"y"}, {}, {{"i", {5}}}}, Want::value,
          {"(Gather, opset 13)", "index 5 out of range for axis size 3"}),
      row("ReshapeWrongCount", {13, {{"Reshape", {"x", "s"}, {"y"}}}, {{"x", {2, 3}}}, {"y"}, {}, {{"s", {4, 2}}}}, Want::value,
          {"(Reshape, opset 13)"}),
      row("MatMulInnerMismatch", {13, {{"MatMul", {"x", "w"}, {"y"}}}, {{"x", {2, 3}}}, {"y"}, {{"w", {{2, 2}, {1, 2, 3, 4}}}}},
          Want::value, {"(MatMul, opset 13)"}),
      row("CastToUnknownType", {13, {{"Cast", {"x"}, {"y"}, {attr_i("to", 999)}}}}, Want::value, {"(Cast, opset 13)"}),
  };
}

class BadOnnx : public ::testing::TestWithParam<BadInput> {};
TEST_P(BadOnnx, FailsWithTheExactError) { check_row(GetParam()); }
INSTANTIATE_TEST_SUITE_P(Table, BadOnnx, ::testing::ValuesIn(onnx_rows()), row_name);

// The CLI on the fuzzer's reproducer: exit status 1 and the node named, never a signal.
TEST(BadOnnxCli, InspectAndRunExitOneNamingTheNode) {
  const auto tmp = scratch("cli");
  std::filesystem::create_directories(tmp);
  const std::string out = (tmp / "out.txt").string(), npy = (tmp / "x.npy").string();
  onnx::save_npy(npy, onnx::Array::zeros(onnx::ElemType::f32, {2}));
  for (const std::string& cmd : std::vector<std::string>{"inspect", "run --output-dir '" + tmp.string() + "' --input '" + npy + "'"}) {
    const std::string line = fmt::format("'{}' {} '{}' > '{}' 2>&1", LOWBIT_CLI, cmd, kRepro, out);
    const int status = std::system(line.c_str());
    ASSERT_TRUE(WIFEXITED(status)) << cmd << ": killed by a signal";
    EXPECT_EQ(WEXITSTATUS(status), 1) << cmd;
    EXPECT_NE(read_file(out).find("node 'Gather_0' (Gather, opset 13): has 0 input(s), expected 2"), std::string::npos)
        << cmd << ": " << read_file(out);
  }
  std::filesystem::remove_all(tmp);
}

// A valid model whose symbolic sizes make it unshapeable at 1 (an OCR recognizer's width):
// `lowbit inspect` lists what it can and says how to give sizes (exit 0); --shape gives them;
// a --shape that contradicts the declared input is an error naming it (exit 1).
TEST(BadOnnxCli, InspectOfSymbolicSizesThatCannotBeGuessed) {
  const auto tmp = scratch("cli-inspect");
  std::filesystem::create_directories(tmp);
  const std::string model = (tmp / "m.onnx").string(), out = (tmp / "out.txt").string();
  {
    onnx::GraphBuilder b(13);
    const int x = b.input("x", onnx::ElemType::f32, {-1, 2, -1, -1});
    const int w = b.constant("w", onnx::Array::zeros(onnx::ElemType::f32, {4, 2, 3, 3}));
    b.output(b.op("AveragePool", {b.op("Conv", {x, w})}, {{"kernel_shape", onnx::Attribute::from_ints({2, 2})}}));
    onnx::save_model(b.finish(), model);
  }
  const auto inspect = [&](const std::string& args) {
    const int status = std::system(fmt::format("'{}' inspect '{}' {} > '{}' 2>&1", LOWBIT_CLI, model, args, out).c_str());
    EXPECT_TRUE(WIFEXITED(status)) << args;
    return std::make_pair(WEXITSTATUS(status), read_file(out));
  };
  auto [rc, text] = inspect("");
  EXPECT_EQ(rc, 0) << text;
  EXPECT_NE(text.find("FLOPs       unknown"), std::string::npos) << text;
  EXPECT_NE(text.find("--shape NAME=D0,D1"), std::string::npos) << text;
  EXPECT_NE(text.find("Conv:1"), std::string::npos) << text;
  EXPECT_NE(text.find("parameters  72"), std::string::npos) << text;
  std::tie(rc, text) = inspect("--shape x=1,2,8,8");
  EXPECT_EQ(rc, 0) << text;
  EXPECT_NE(text.find("inspected as float32[1, 2, 8, 8]"), std::string::npos) << text;
  EXPECT_NE(text.find("float32[1, 4, 5, 5]"), std::string::npos) << text;
  std::tie(rc, text) = inspect("--shape x=1,3,8,8");
  EXPECT_EQ(rc, 1) << text;
  EXPECT_NE(text.find("dimension 1 of input 'x' is fixed at 2"), std::string::npos) << text;
  std::tie(rc, text) = inspect("--shape x=1,2,1,1");  // the user's own sizes: a real error
  EXPECT_EQ(rc, 1) << text;
  EXPECT_NE(text.find("kernel span 3 exceeds padded input 1"), std::string::npos) << text;
  std::filesystem::remove_all(tmp);
}

// `lowbit run` takes each input in the model's declared type: uint8 codes for a quantized model
// with a uint8 input (the MaxPool-on-codes seed), and a file of another type is an error naming
// the input, with exit status 1.
TEST(BadOnnxCli, RunTakesTheDeclaredInputType) {
  const auto tmp = scratch("cli-types");
  std::filesystem::create_directories(tmp);
  const std::string model = std::string(LOWBIT_SOURCE_DIR) + "/fuzz/corpus/onnx/lowbit_qdq_maxpool.onnx";
  const std::string codes = (tmp / "codes.npy").string(), floats = (tmp / "floats.npy").string(), out = (tmp / "out.txt").string();
  onnx::Array x = onnx::Array::empty(onnx::ElemType::u8, {1, 2, 6, 6});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<uint8_t>()[i] = static_cast<uint8_t>(i);
  onnx::save_npy(codes, x);
  onnx::save_npy(floats, onnx::Array::zeros(onnx::ElemType::f32, {1, 2, 6, 6}));
  const std::string y = (tmp / "y.npy").string();
  int status = std::system(fmt::format("'{}' run '{}' --input '{}' --output '{}' > '{}' 2>&1", LOWBIT_CLI, model, codes, y, out).c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(out);
  const onnx::Array got = onnx::load_npy(y);
  ASSERT_EQ(got.type(), onnx::ElemType::u8);
  ASSERT_EQ(got.shape(), (Shape{1, 2, 3, 3}));
  EXPECT_EQ(got.data<uint8_t>()[0], 7);   // max of codes 0, 1, 6, 7 (the window's other cells are padding)
  EXPECT_EQ(got.data<uint8_t>()[17], 71);  // last window of channel 1
  status = std::system(fmt::format("'{}' run '{}' --input '{}' --output '{}' > '{}' 2>&1", LOWBIT_CLI, model, floats, y, out).c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(read_file(out).find("element type float32, but input 'x' is uint8"), std::string::npos) << read_file(out);
  std::filesystem::remove_all(tmp);
}

}  // namespace
}  // namespace lowbit::testing
