// If, Loop and Scan: subgraphs reading outer values (through two levels), errors that name the
// outer node, the runaway-loop cap, export round trip, outer values kept alive through passes,
// memory planning and the inter-op scheduler, and a torch.jit.script model against ONNX Runtime.
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>

#include "lowbit/onnx/analysis.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/shape_inference.h"
#include "ort_util.h"
#include "require_peer.h"
#include "test_util.h"

namespace lowbit::onnx {
namespace {

using ::onnx::GraphProto;
using ::onnx::NodeProto;

void typed(::onnx::ValueInfoProto* vi, const std::string& name, int elem, std::vector<int64_t> dims) {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

NodeProto* node(GraphProto* g, const std::string& op, const std::string& name, std::vector<std::string> ins,
                std::vector<std::string> outs) {
  NodeProto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : ins) n->add_input(i);
  for (const auto& o : outs) n->add_output(o);
  return n;
}

void float_init(GraphProto* g, const std::string& name, std::vector<int64_t> dims, std::vector<float> v) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(1);
  for (int64_t d : dims) t->add_dims(d);
  for (float f : v) t->add_float_data(f);
}

GraphProto* graph_attr(NodeProto* n, const std::string& key) {
  auto* a = n->add_attribute();
  a->set_name(key);
  a->set_type(::onnx::AttributeProto::GRAPH);
  return a->mutable_g();
}

constexpr int kF32 = 1, kI64 = 7, kBool = 9;

// y, s = Loop(M, true, x): body h' = If(sum(h + w) > thr, (h + w) * half, h + w), scan output
// h + w. w, thr and half are outer initializers; half is read two levels down (then_branch).
::onnx::ModelProto loop_if_model() {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  GraphProto* g = m.mutable_graph();
  typed(g->add_input(), "x", kF32, {3});
  typed(g->add_input(), "M", kI64, {});
  float_init(g, "w", {3}, {1, 2, 3});
  float_init(g, "thr", {}, {10});
  float_init(g, "half", {}, {0.5f});
  auto* c = g->add_initializer();
  c->set_name("go");
  c->set_data_type(kBool);
  c->add_int32_data(1);
  NodeProto* loop = node(g, "Loop", "loop_1", {"M", "go", "x"}, {"y", "s"});
  GraphProto* body = graph_attr(loop, "body");
  typed(body->add_input(), "i", kI64, {});
  typed(body->add_input(), "c", kBool, {});
  typed(body->add_input(), "h", kF32, {3});
  node(body, "Add", "add", {"h", "w"}, {"a"});
  node(body, "ReduceSum", "sum", {"a"}, {"total"})->add_attribute()->set_name("keepdims");
  body->mutable_node(1)->mutable_attribute(0)->set_type(::onnx::AttributeProto::INT);
  body->mutable_node(1)->mutable_attribute(0)->set_i(0);
  node(body, "Greater", "gt", {"total", "thr"}, {"big"});
  NodeProto* cond = node(body, "If", "if_1", {"big"}, {"h2"});
  GraphProto* then_g = graph_attr(cond, "then_branch");
  node(then_g, "Mul", "halve", {"a", "half"}, {"t_out"});
  typed(then_g->add_output(), "t_out", kF32, {3});
  GraphProto* else_g = graph_attr(cond, "else_branch");
  node(else_g, "Identity", "keep", {"a"}, {"e_out"});
  typed(else_g->add_output(), "e_out", kF32, {3});
  node(body, "Identity", "c_id", {"c"}, {"c_out"});
  typed(body->add_output(), "c_out", kBool, {});
  typed(body->add_output(), "h2", kF32, {3});
  typed(body->add_output(), "a", kF32, {3});
  g->add_output()->set_name("y");
  g->add_output()->set_name("s");
  return m;
}

std::string bytes_of(const ::onnx::ModelProto& m) {
  std::string s;
  m.SerializeToString(&s);
  return s;
}

// The same computation in plain C++.
void loop_if_reference(std::vector<float> h, int64_t n, std::vector<float>* y, std::vector<float>* s) {
  const float w[3] = {1, 2, 3};
  for (int64_t it = 0; it < n; ++it) {
    float total = 0;
    for (int k = 0; k < 3; ++k) {
      h[static_cast<size_t>(k)] += w[k];
      total += h[static_cast<size_t>(k)];
      s->push_back(h[static_cast<size_t>(k)]);
    }
    if (total > 10)
      for (float& v : h) v *= 0.5f;
  }
  *y = h;
}

std::vector<Array> run_loop_if(Graph g, int64_t n, SessionOptions o = {}) {
  Session session(std::move(g), o);
  return session.run(std::vector<Array>{Array::from<float>({3}, std::vector<float>{0.5f, -1, 2}), Array::scalar<int64_t>(n)});
}

using test::expect_error;

TEST(ControlFlow, LoopWithNestedIfReadsOuterValues) {
  Graph g = load_model_from_bytes(bytes_of(loop_if_model()), "loop_if");
  const Node& loop = g.nodes[0];
  EXPECT_EQ(loop.implicit_inputs, 3);  // w, thr, half (half only through the If inside)
  for (int64_t n : {0, 1, 4}) {
    std::vector<float> y, s;
    loop_if_reference({0.5f, -1, 2}, n, &y, &s);
    const std::vector<Array> out = run_loop_if(g, n);
    EXPECT_TRUE(test::arrays_close(out[0], Array::from<float>({3}, y), 0, 0)) << n;
    EXPECT_EQ(out[1].shape(), (Shape{n, 3}));
    if (n > 0) {
      EXPECT_TRUE(test::arrays_close(out[1], Array::from<float>({n, 3}, s), 0, 0)) << n;
    }
  }
}

// All inputs constant: constant folding leaves the Loop to the session, which runs it.
TEST(ControlFlow, LoopOnConstantsRunsInTheSession) {
  auto m = loop_if_model();
  GraphProto* g = m.mutable_graph();
  g->mutable_input()->Clear();
  float_init(g, "x", {3}, {0.5f, -1, 2});
  auto* n = g->add_initializer();
  n->set_name("M");
  n->set_data_type(kI64);
  n->add_int64_data(4);
  std::vector<float> y, s;
  loop_if_reference({0.5f, -1, 2}, 4, &y, &s);
  for (bool optimize : {true, false}) {
    SessionOptions o;
    o.optimize = optimize;
    Session session(load_model_from_bytes(bytes_of(m), "const_loop"), o);
    const std::vector<Array> out = session.run(std::vector<Array>{});
    EXPECT_TRUE(test::arrays_close(out[0], Array::from<float>({3}, y), 0, 0));
    EXPECT_TRUE(test::arrays_close(out[1], Array::from<float>({4, 3}, s), 0, 0));
  }
}

// Scan-9 over axis 1 in reverse, scan output stacked on axis 1, body reading an outer bias:
// s += x[:, t] + bias for t = T-1 .. 0, y[:, k] = s after step k. T = 0 returns the state.
TEST(ControlFlow, ScanAxesDirectionsAndEmptySequence) {
  for (int64_t T : {0, 1, 4}) {
    ::onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(16);
    GraphProto* g = m.mutable_graph();
    typed(g->add_input(), "s0", kF32, {2});
    typed(g->add_input(), "x", kF32, {2, T});
    float_init(g, "bias", {2}, {0.5f, -1});
    NodeProto* scan = node(g, "Scan", "scan_1", {"s0", "x"}, {"s", "y"});
    auto ints = [&](const char* key, int64_t v) {
      auto* a = scan->add_attribute();
      a->set_name(key);
      if (std::string(key) == "num_scan_inputs") {
        a->set_type(::onnx::AttributeProto::INT);
        a->set_i(v);
      } else {
        a->set_type(::onnx::AttributeProto::INTS);
        a->add_ints(v);
      }
    };
    ints("num_scan_inputs", 1);
    ints("scan_input_axes", 1);
    ints("scan_input_directions", 1);
    ints("scan_output_axes", -1);
    GraphProto* body = graph_attr(scan, "body");
    typed(body->add_input(), "st", kF32, {2});
    typed(body->add_input(), "xt", kF32, {2});
    node(body, "Add", "xb", {"xt", "bias"}, {"u"});
    node(body, "Add", "acc", {"st", "u"}, {"st2"});
    node(body, "Identity", "out", {"st2"}, {"yt"});
    typed(body->add_output(), "st2", kF32, {2});
    typed(body->add_output(), "yt", kF32, {2});
    g->add_output()->set_name("s");
    g->add_output()->set_name("y");
    std::vector<float> xs(static_cast<size_t>(2 * T));
    for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<float>(i) * 0.25f - 1;
    std::vector<float> st = {1, 2}, ys(static_cast<size_t>(2 * T));
    const float bias[2] = {0.5f, -1};
    for (int64_t k = 0; k < T; ++k) {
      const int64_t t = T - 1 - k;
      for (int64_t c = 0; c < 2; ++c) {
        st[static_cast<size_t>(c)] += xs[static_cast<size_t>(c * T + t)] + bias[c];
        ys[static_cast<size_t>(c * T + k)] = st[static_cast<size_t>(c)];
      }
    }
    Session session(load_model_from_bytes(bytes_of(m), "scan"));
    const std::vector<Array> out =
        session.run(std::vector<Array>{Array::from<float>({2}, std::vector<float>{1, 2}), Array::from<float>({2, T}, xs)});
    EXPECT_TRUE(test::arrays_close(out[0], Array::from<float>({2}, st), 0, 0)) << T;
    if (T > 0) {
      EXPECT_TRUE(test::arrays_close(out[1], Array::from<float>({2, T}, ys), 0, 0)) << T;
    }
  }
}

// If nested `depth` levels in then_branch; every level returns c (untyped: inferred) or not c.
::onnx::ModelProto nested_ifs(int depth) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  GraphProto* g = m.mutable_graph();
  typed(g->add_input(), "c", kBool, {});
  GraphProto* cur = g;
  for (int d = 0; d < depth; ++d) {
    NodeProto* n = node(cur, "If", fmt::format("if_{}", d), {"c"}, {fmt::format("o{}", d)});
    if (d == 0) g->add_output()->set_name("o0");
    GraphProto* e = graph_attr(n, "else_branch");
    node(e, "Not", "not", {"c"}, {fmt::format("e{}", d)});
    e->add_output()->set_name(fmt::format("e{}", d));
    cur = graph_attr(n, "then_branch");
    cur->add_output()->set_name(fmt::format("o{}", d + 1));
  }
  node(cur, "Identity", "id", {"c"}, {fmt::format("o{}", depth)});
  return m;
}

TEST(ControlFlow, NestingIsBounded) {
  Session s(load_model_from_bytes(bytes_of(nested_ifs(6)), "nested"));
  for (bool c : {true, false})
    EXPECT_TRUE(s.run(std::vector<Array>{Array::scalar<bool>(c)})[0].data<bool>()[0]) << c;  // c, or not c at the top
  EXPECT_NO_THROW(load_model_from_bytes(bytes_of(nested_ifs(16)), "16 levels"));
  expect_error([&] { load_model_from_bytes(bytes_of(nested_ifs(17)), "deep"); },
               {"node 'if_0' (If, opset 13): then_branch: node 'if_1'", "nested deeper than 16"});
}

TEST(ControlFlow, ExportWritesSubgraphsBack) {
  Graph g = load_model_from_bytes(bytes_of(loop_if_model()), "loop_if");
  const std::vector<Array> want = run_loop_if(g, 4);
  Graph back = load_model_from_bytes(export_model_bytes(g), "exported");
  EXPECT_EQ(back.nodes[0].implicit_inputs, 3);
  const std::vector<Array> got = run_loop_if(std::move(back), 4);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_TRUE(test::arrays_close(got[i], want[i], 0, 0));
}

TEST(ControlFlow, SubgraphErrorsNameTheOuterNode) {
  {  // a body node reading a name nobody defines
    auto m = loop_if_model();
    m.mutable_graph()->mutable_node(0)->mutable_attribute(0)->mutable_g()->mutable_node(0)->set_input(1, "nope");
    expect_error([&] { load_model_from_bytes(bytes_of(m), "m"); },
                 {"node 'loop_1' (Loop, opset 13): body:", "node 'add' (Add, opset 13)", "'nope'"});
  }
  {  // a body node failing its schema, two levels down
    auto m = loop_if_model();
    auto* then_g = m.mutable_graph()->mutable_node(0)->mutable_attribute(0)->mutable_g()->mutable_node(3)->mutable_attribute(0)->mutable_g();
    auto* bad = then_g->mutable_node(0)->add_attribute();
    bad->set_name("alpha");
    bad->set_type(::onnx::AttributeProto::FLOAT);
    expect_error([&] { load_model_from_bytes(bytes_of(m), "m"); },
                 {"node 'loop_1' (Loop, opset 13): body: node 'if_1' (If, opset 13): then_branch: node 'halve' (Mul",
                  "alpha"});
  }
  {  // body arity: 2 + N inputs
    auto m = loop_if_model();
    typed(m.mutable_graph()->mutable_node(0)->mutable_attribute(0)->mutable_g()->add_input(), "extra", kF32, {3});
    expect_error([&] { run_loop_if(load_model_from_bytes(bytes_of(m), "m"), 2); },
                 {"node 'loop_1' (Loop, opset 13)", "body: has 4 input(s), expected 2 + 1"});
  }
  {  // sequence-typed loop-carried values are refused, naming the node
    auto m = loop_if_model();
    auto* in = m.mutable_graph()->mutable_node(0)->mutable_attribute(0)->mutable_g()->mutable_input(2);
    in->mutable_type()->mutable_sequence_type();
    expect_error([&] { load_model_from_bytes(bytes_of(m), "m"); },
                 {"node 'loop_1' (Loop, opset 13): body:", "sequence, map and optional types are not supported"});
  }
  {  // If branches that disagree on their output count
    auto m = loop_if_model();
    auto* if_node = m.mutable_graph()->mutable_node(0)->mutable_attribute(0)->mutable_g()->mutable_node(3);
    typed(if_node->mutable_attribute(1)->mutable_g()->add_output(), "a", kF32, {3});
    expect_error([&] { run_loop_if(load_model_from_bytes(bytes_of(m), "m"), 2); },
                 {"node 'loop_1' (Loop, opset 13): body: node 'if_1' (If, opset 13)",
                  "then_branch has 1 output(s), else_branch 2"});
  }
}

TEST(ControlFlow, RunawayLoopStopsWithAnError) {
  Graph g = load_model_from_bytes(bytes_of(loop_if_model()), "loop_if");
  ::setenv("LOWBIT_ONNX_MAX_LOOP", "50", 1);
  expect_error([&] { run_loop_if(g, std::numeric_limits<int64_t>::max()); },
               {"node 'loop_1' (Loop, opset 13)", "runaway loop", "limit 50"});
  ::unsetenv("LOWBIT_ONNX_MAX_LOOP");
  EXPECT_EQ(run_loop_if(g, 50)[1].shape(), (Shape{50, 3}));  // at the limit: fine
}

// x -> Conv -> Relu = r; y = Loop(3, x', r captured) adding r each step; the same as x' + 3r.
// The captured r must survive optimization (Conv+Relu fusion renames nothing the body reads),
// buffer reuse and the concurrent scheduler.
TEST(ControlFlow, OuterValuesSurvivePassesAndPlanning) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  GraphProto* g = m.mutable_graph();
  typed(g->add_input(), "x", kF32, {1, 2, 5, 5});
  std::vector<float> w(2 * 2 * 3 * 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i)) * 0.3f;
  float_init(g, "w", {2, 2, 3, 3}, w);
  auto* conv = node(g, "Conv", "conv", {"x", "w"}, {"c"});
  auto* pads = conv->add_attribute();
  pads->set_name("pads");
  pads->set_type(::onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i) pads->add_ints(1);
  node(g, "Relu", "relu", {"c"}, {"r"});
  node(g, "Sigmoid", "sig", {"x"}, {"t"});
  auto* three = g->add_initializer();
  three->set_name("three");
  three->set_data_type(kI64);
  three->add_int64_data(3);
  NodeProto* loop = node(g, "Loop", "loop", {"three", "", "t"}, {"acc"});
  GraphProto* body = graph_attr(loop, "body");
  typed(body->add_input(), "i", kI64, {});
  typed(body->add_input(), "c_in", kBool, {});
  typed(body->add_input(), "h", kF32, {1, 2, 5, 5});
  node(body, "Add", "acc_add", {"h", "r"}, {"h2"});
  node(body, "Identity", "keep", {"c_in"}, {"c_out"});
  typed(body->add_output(), "c_out", kBool, {});
  typed(body->add_output(), "h2", kF32, {1, 2, 5, 5});
  node(g, "Tanh", "after", {"acc"}, {"y"});
  g->add_output()->set_name("y");
  std::vector<float> xs(50);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = std::cos(static_cast<float>(i) * 0.7f);
  const Array x = Array::from<float>({1, 2, 5, 5}, xs);
  // Reference: the same graph without the loop (t + r + r + r).
  ::onnx::ModelProto flat = m;
  GraphProto* fg = flat.mutable_graph();
  fg->mutable_node()->DeleteSubrange(3, 2);
  node(fg, "Add", "a1", {"t", "r"}, {"u1"});
  node(fg, "Add", "a2", {"u1", "r"}, {"u2"});
  node(fg, "Add", "a3", {"u2", "r"}, {"acc"});
  node(fg, "Tanh", "after", {"acc"}, {"y"});
  const Array want = Session(load_model_from_bytes(bytes_of(flat), "flat")).run(std::vector<Array>{x})[0];
  for (bool optimize : {false, true})
    for (int inter : {1, 2}) {
      SessionOptions o;
      o.optimize = optimize;
      o.inter_op = inter;
      Session s(load_model_from_bytes(bytes_of(m), "loop"), o);
      EXPECT_TRUE(test::arrays_close(s.run(std::vector<Array>{x})[0], want, 1e-6, 1e-6)) << optimize << inter;
      EXPECT_TRUE(test::arrays_close(s.run(std::vector<Array>{x})[0], want, 1e-6, 1e-6)) << "second run";
    }
}

// torch.jit.script -> torch.onnx (scripts/export_control_flow.py): Loop over a run-time step
// count with an If inside, then a while loop whose trip count depends on the values.
TEST(ControlFlow, TorchScriptedModelMatchesOnnxRuntime) {
  const std::string path = test::source_dir() + "/tests/onnx/data/torch_loop_if.onnx";
  Graph g = load_model(path);
  int loops = 0;
  for (const Node& n : g.nodes) loops += n.op_type == "Loop";
  EXPECT_GE(loops, 2);
  // lowbit inspect's summary: the loops are counted; nothing after them needs a static shape.
  const ModelSummary sum = summarize(g, declared_input_types(g, 3));
  EXPECT_EQ(sum.op_counts.at("Loop"), loops);
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  Session s(std::move(g));
  for (int64_t batch : {2, 5})
    for (int64_t steps : {0, 1, 3, 6}) {
      std::vector<float> xs(static_cast<size_t>(batch * 8));
      for (size_t i = 0; i < xs.size(); ++i) xs[i] = std::sin(static_cast<float>(i) * 1.3f + static_cast<float>(steps)) * 2.0f;
      const std::vector<Array> in = {Array::from<float>({batch, 8}, xs), Array::scalar<int64_t>(steps)};
      const Array got = s.run(in)[0];
      const Array ref = test::run_ort(path, in, fmt::format("loop_if_{}_{}", batch, steps))[0];
      EXPECT_TRUE(test::arrays_close(got, ref, 1e-5, 1e-6)) << batch << " " << steps;
    }
}

}  // namespace
}  // namespace lowbit::onnx
