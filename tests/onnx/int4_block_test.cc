// Opset 21 quantization forms: INT4 / UINT4 initializers (packed two per byte, low nibble first,
// in raw_data or one byte per int32_data entry, odd lengths), DequantizeLinear-21 / QuantizeLinear-21
// with block_size (one scale per block along an axis) and int4 output codes, checked against
// values computed here by the ONNX definition; malformed ones are refused naming file or node.
// Also upgrade_to_opset21, which restates an older graph at opset 21 for such weights.
#include <onnx/onnx_pb.h>

#include <cmath>

#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/passes.h"
#include "test_util.h"

namespace lowbit::onnx {
namespace {

::onnx::ValueInfoProto* typed(::onnx::ValueInfoProto* v, const std::string& name, int elem, std::vector<int64_t> dims) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem);
  for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
  return v;
}

// Packs codes two per byte, low nibble first.
std::vector<uint8_t> pack(const std::vector<int>& codes) {
  std::vector<uint8_t> b((codes.size() + 1) / 2, 0);
  for (size_t i = 0; i < codes.size(); ++i) b[i / 2] |= static_cast<uint8_t>((codes[i] & 0xF) << (4 * (i % 2)));
  return b;
}

void set_4bit(::onnx::TensorProto* t, const std::string& name, int type, std::vector<int64_t> dims, const std::vector<int>& codes,
              bool raw) {
  t->set_name(name);
  t->set_data_type(type);
  for (int64_t d : dims) t->add_dims(d);
  const auto bytes = pack(codes);
  if (raw) t->set_raw_data(std::string(bytes.begin(), bytes.end()));
  else for (uint8_t b : bytes) t->add_int32_data(b);
}

// y = DequantizeLinear(w, scale, [zp]) with w a 4-bit initializer [3, 5] (15 codes: odd),
// blocked along axis 1 with block_size 2 (scale [3, 3]).
::onnx::ModelProto dq_model(int type, const std::vector<int>& codes, const std::vector<int>& zp, bool raw, int64_t block = 2,
                            std::vector<int64_t> sdims = {3, 3}, int opset = 21) {
  ::onnx::ModelProto m;
  m.set_ir_version(10);
  m.add_opset_import()->set_version(opset);
  auto* g = m.mutable_graph();
  set_4bit(g->add_initializer(), "w", type, {3, 5}, codes, raw);
  auto* s = g->add_initializer();
  s->set_name("s");
  s->set_data_type(1);
  int64_t n = 1;
  for (int64_t d : sdims) s->add_dims(d), n *= d;
  for (int64_t i = 0; i < n; ++i) s->add_float_data(0.5f + 0.25f * static_cast<float>(i));
  auto* node = g->add_node();
  node->set_op_type("DequantizeLinear");
  node->set_name("dq");
  node->add_input("w");
  node->add_input("s");
  if (!zp.empty()) {
    set_4bit(g->add_initializer(), "z", type, sdims, zp, raw);
    node->add_input("z");
  }
  node->add_output("y");
  auto* a = node->add_attribute();
  a->set_name("axis"), a->set_type(::onnx::AttributeProto::INT), a->set_i(1);
  auto* b = node->add_attribute();
  b->set_name("block_size"), b->set_type(::onnx::AttributeProto::INT), b->set_i(block);
  g->add_output()->set_name("y");
  return m;
}

std::string bytes_of(const ::onnx::ModelProto& m) {
  std::string s;
  m.SerializeToString(&s);
  return s;
}

Array run1(const ::onnx::ModelProto& m, std::vector<Array> in = {}) {
  Session s(load_model_from_bytes(bytes_of(m), "m.onnx"), SessionOptions{1, 1, true});
  return s.run(in)[0];
}

TEST(Int4Tensors, BlockedDequantizeOfPackedCodes) {
  const std::vector<int> codes = {-8, -7, -1, 0, 1, 2, 3, 7, -3, 5, 6, -2, 4, -5, -6};
  for (bool raw : {true, false}) {
    const Array y = run1(dq_model(22, codes, {}, raw));
    ASSERT_EQ(y.shape(), (Shape{3, 5}));
    for (int64_t r = 0; r < 3; ++r)
      for (int64_t c = 0; c < 5; ++c) {
        const float s = 0.5f + 0.25f * static_cast<float>(r * 3 + c / 2);
        EXPECT_EQ(y.data<float>()[r * 5 + c], static_cast<float>(codes[static_cast<size_t>(r * 5 + c)]) * s) << r << "," << c << " raw " << raw;
      }
  }
  // UINT4 with zero points (one per block).
  const std::vector<int> u = {0, 15, 8, 3, 9, 1, 2, 14, 7, 7, 6, 5, 4, 12, 11};
  const std::vector<int> z = {8, 0, 15, 1, 2, 3, 4, 5, 6};
  const Array y = run1(dq_model(21, u, z, true));
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t c = 0; c < 5; ++c) {
      const auto p = static_cast<size_t>(r * 3 + c / 2);
      const float s = 0.5f + 0.25f * static_cast<float>(p);
      EXPECT_EQ(y.data<float>()[r * 5 + c], static_cast<float>(u[static_cast<size_t>(r * 5 + c)] - z[p]) * s);
    }
  // A block covering the axis: one scale per row.
  const Array one = run1(dq_model(22, codes, {}, true, 8, {3, 1}));
  EXPECT_EQ(one.data<float>()[14], -6.0f * 1.0f);
}

TEST(Int4Tensors, QuantizeToInt4CodesClampsToTheirRange) {
  ::onnx::ModelProto m;
  m.set_ir_version(10);
  m.add_opset_import()->set_version(21);
  auto* g = m.mutable_graph();
  typed(g->add_input(), "x", 1, {6});
  auto* s = g->add_initializer();
  s->set_name("s"), s->set_data_type(1), s->add_float_data(0.5f);
  set_4bit(g->add_initializer(), "z", 22, {}, {1}, false);
  auto* q = g->add_node();
  q->set_op_type("QuantizeLinear"), q->set_name("q");
  q->add_input("x"), q->add_input("s"), q->add_input("z"), q->add_output("y");
  g->add_output()->set_name("y");
  const Array x = Array::from<float>({6}, std::vector<float>{-100.0f, -4.25f, 0.0f, 1.25f, 2.9f, 100.0f});
  const Array y = run1(m, {x});
  ASSERT_EQ(y.type(), ElemType::i8);
  const std::vector<int> want = {-8, -7, 1, 3, 7, 7};  // round_half_even(x / 0.5) + 1, clamped to [-8, 7]
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(y.data<int8_t>()[i], want[i]) << i;
}

TEST(Int4Tensors, MalformedFormsAreNamed) {
  const std::vector<int> codes(15, 1);
  auto expect = [](const ::onnx::ModelProto& m, std::initializer_list<std::string> parts) {
    try {
      run1(m);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {  // IoError for the file's bytes, ValueError for the node
      for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << " lacks " << p;
    }
  };
  ::onnx::ModelProto m = dq_model(22, codes, {}, true);
  m.mutable_graph()->mutable_initializer(0)->mutable_raw_data()->push_back('\0');  // 9 bytes for 15 codes
  expect(m, {"tensor 'w'", "raw_data has 9 bytes", "int4", "needs 8"});
  m = dq_model(22, codes, {}, false);
  m.mutable_graph()->mutable_initializer(0)->set_int32_data(0, 300);
  expect(m, {"tensor 'w'", "int32_data[0] = 300"});
  expect(dq_model(22, codes, {}, true, 2, {3, 2}), {"node 'dq'", "DequantizeLinear", "block_size 2", "[3, 3]"});
  expect(dq_model(22, codes, {}, true, -1), {"node 'dq'", "block_size is -1"});
  expect(dq_model(22, codes, {}, true, 2, {3, 3}, 19), {"node 'dq'", "'block_size' is not part of DequantizeLinear-19"});
}

}  // namespace
}  // namespace lowbit::onnx

namespace lowbit::onnx {
namespace {

// upgrade_to_opset21 (passes.h): Reduce* axes attributes become inputs with the same result;
// ops whose meaning changed by 21 and models older than 13 are refused naming them.
TEST(OpsetUpgrade, ReduceAxesMoveToInputsAndResultsStay) {
  GraphBuilder b(13);
  const int x = b.input("x", ElemType::f32, {2, 3, 4});
  b.output(b.op("ReduceMean", {x}, {{"axes", Attribute::from_ints({1, 2})}, {"keepdims", Attribute::from_int(0)}}, 1, "mean"), "y");
  Graph g = b.finish();
  const Array in = Array::from<float>({2, 3, 4}, std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                                                                   20, 21, 22, 23, 24});
  const Array before = Session(g, SessionOptions{1, 1, false}).run(std::vector<Array>{in})[0];
  upgrade_to_opset21(g, "test");
  EXPECT_EQ(g.opset, 21);
  for (const Node& n : g.nodes) {
    if (n.op_type == "ReduceMean") {
      EXPECT_TRUE(n.inputs.size() == 2 && !n.attrs.count("axes"));
    }
  }
  const Array after = Session(g, SessionOptions{1, 1, false}).run(std::vector<Array>{in})[0];
  ASSERT_EQ(after.shape(), before.shape());
  for (int64_t i = 0; i < after.numel(); ++i) EXPECT_EQ(after.data<float>()[i], before.data<float>()[i]);
  GraphBuilder old(11);
  old.output(old.op("Relu", {old.input("x", ElemType::f32, {2})}), "y");
  Graph g11 = old.finish();
  test::expect_error([&] { upgrade_to_opset21(g11, "quantize --group-size"); }, {"quantize --group-size", "opset 11"});
}

}  // namespace
}  // namespace lowbit::onnx
