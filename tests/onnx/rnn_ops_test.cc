// ONNX RNN / GRU / LSTM against ONNX Runtime: every direction, sequence_lens
// shorter than T, initial states, LSTM peepholes and input_forget, GRU linear_before_reset,
// non-default activation lists with alpha/beta, and clip. Tolerance: each
// output is a chain of T recurrent steps whose dot products have I + H terms, so
// T * (I + H) * eps32 of the output scale (|y| <= 1 after tanh), times 4 for the gate math.
#include <fmt/ranges.h>

#include "lowbit/core/rng.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "ort_util.h"
#include "require_peer.h"

namespace lowbit::onnx {
namespace {

struct Case {
  std::string op;
  std::string direction;
  int64_t layout = 0;
  bool lens = false, init = false, peep = false, lbr = false;
  std::vector<std::string> acts = {};
  std::vector<double> alphas = {}, betas = {};
  bool input_forget = false;
  double clip = 0;
};

Array randn(const Shape& s, uint64_t stream, float scale = 0.5f) {
  Array a = Array::empty(ElemType::f32, s);
  normal_fill(11, stream, 0, a.numel(), a.data<float>());
  for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] *= scale;
  return a;
}

void check(const Case& c) {
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  const int64_t T = 5, B = 3, I = 4, H = 6, D = c.direction == "bidirectional" ? 2 : 1;
  const int64_t G = c.op == "RNN" ? 1 : c.op == "GRU" ? 3 : 4;
  GraphBuilder b(14);
  const int x = b.input("x", ElemType::f32, c.layout ? Shape{B, T, I} : Shape{T, B, I});
  std::vector<int> in = {x, b.constant("W", randn({D, G * H, I}, 1)), b.constant("R", randn({D, G * H, H}, 2)),
                         b.constant("B", randn({D, 2 * G * H}, 3))};
  in.push_back(c.lens ? b.constant("lens", Array::from<int32_t>({B}, std::vector<int32_t>{5, 3, 1})) : kNoValue);
  in.push_back(c.init ? b.constant("h0", randn(c.layout ? Shape{B, D, H} : Shape{D, B, H}, 4)) : kNoValue);
  if (c.op == "LSTM") {
    in.push_back(c.init ? b.constant("c0", randn(c.layout ? Shape{B, D, H} : Shape{D, B, H}, 5)) : kNoValue);
    in.push_back(c.peep ? b.constant("P", randn({D, 3 * H}, 6)) : kNoValue);
  }
  while (!in.empty() && in.back() == kNoValue) in.pop_back();
  Attributes attrs = {{"hidden_size", Attribute::from_int(H)}, {"direction", Attribute::from_string(c.direction)},
                      {"layout", Attribute::from_int(c.layout)}};
  if (c.lbr) attrs["linear_before_reset"] = Attribute::from_int(1);
  if (c.input_forget) attrs["input_forget"] = Attribute::from_int(1);
  if (c.clip > 0) attrs["clip"] = Attribute::from_float(c.clip);
  if (!c.acts.empty()) {
    Attribute a;
    a.kind = Attribute::Kind::ss;
    a.ss = c.acts;
    attrs["activations"] = a;
  }
  if (!c.alphas.empty()) attrs["activation_alpha"] = Attribute::from_floats(c.alphas);
  if (!c.betas.empty()) attrs["activation_beta"] = Attribute::from_floats(c.betas);
  const int n_out = c.op == "LSTM" ? 3 : 2;
  const std::vector<int> outs = b.op_multi(c.op, in, attrs, n_out, "rnn");
  for (int o : outs) b.output(o);
  Graph g = b.finish();
  const std::string tag = fmt::format("{}_{}_{}{}{}{}{}{}_{}_{}", c.op, c.direction, c.layout, c.lens, c.init, c.peep, c.lbr,
                                      c.input_forget, c.clip, fmt::join(c.acts, "-"));
  const std::string path = test::temp_dir() + "/" + tag + ".onnx";
  save_model(g, path);
  const std::vector<Array> inputs = {randn(c.layout ? Shape{B, T, I} : Shape{T, B, I}, 7, 1.0f)};
  Session s(std::move(g));
  const std::vector<Array> ours = s.run(inputs);
  const std::vector<Array> ref = test::run_ort(path, inputs, tag);
  ASSERT_EQ(ours.size(), ref.size()) << tag;
  const double atol = 4.0 * T * (I + H) * 0x1p-24 * 4;
  for (size_t i = 0; i < ours.size(); ++i) EXPECT_TRUE(test::arrays_close(ours[i], ref[i], 0, atol)) << tag << " output " << i;
}

TEST(RnnOps, RnnAllDirections) {
  for (const char* dir : {"forward", "reverse", "bidirectional"}) check({"RNN", dir, 0, true, true});
}
TEST(RnnOps, GruBothResetOrders) {
  for (const char* dir : {"forward", "reverse", "bidirectional"}) check({"GRU", dir, 0, true, true, false, false});
  check({"GRU", "forward", 0, false, false, false, true});
  check({"GRU", "bidirectional", 0, true, true, false, true});
}
TEST(RnnOps, LstmPeepholesAndStates) {
  for (const char* dir : {"forward", "reverse", "bidirectional"}) check({"LSTM", dir, 0, true, true, true});
  check({"LSTM", "forward", 0});
}
// ONNX Runtime rejects layout = 1, so batch-first is checked against lowbit's own layout 0
// (itself checked against ONNX Runtime above) on the transposed data: exact equality.
TEST(RnnOps, BatchFirstLayoutIsTheTransposedTimeFirstOne) {
  const int64_t T = 4, B = 2, I = 3, H = 5;
  for (const char* op : {"RNN", "GRU", "LSTM"}) {
    const int64_t G = std::string(op) == "RNN" ? 1 : std::string(op) == "GRU" ? 3 : 4;
    auto build = [&](int64_t layout) {
      GraphBuilder b(14);
      const int x = b.input("x", ElemType::f32, layout ? Shape{B, T, I} : Shape{T, B, I});
      const std::vector<int> outs =
          b.op_multi(op, {x, b.constant("W", randn({2, G * H, I}, 1)), b.constant("R", randn({2, G * H, H}, 2)),
                          b.constant("B", randn({2, 2 * G * H}, 3)), b.constant("lens", Array::from<int32_t>({B}, std::vector<int32_t>{4, 2}))},
                     {{"hidden_size", Attribute::from_int(H)}, {"direction", Attribute::from_string("bidirectional")},
                      {"layout", Attribute::from_int(layout)}},
                     2, "rnn");
      for (int o : outs) b.output(o);
      return b.finish();
    };
    const Array x0 = randn({T, B, I}, 7, 1.0f);
    Array x1 = Array::empty(ElemType::f32, {B, T, I});
    for (int64_t t = 0; t < T; ++t)
      for (int64_t bb = 0; bb < B; ++bb)
        for (int64_t i = 0; i < I; ++i) x1.data<float>()[(bb * T + t) * I + i] = x0.data<float>()[(t * B + bb) * I + i];
    Session s0(build(0)), s1(build(1));
    const auto y0 = s0.run(std::vector<Array>{x0}), y1 = s1.run(std::vector<Array>{x1});
    for (int64_t t = 0; t < T; ++t)
      for (int64_t d = 0; d < 2; ++d)
        for (int64_t bb = 0; bb < B; ++bb)
          for (int64_t h = 0; h < H; ++h)
            ASSERT_EQ(y1[0].data<float>()[((bb * T + t) * 2 + d) * H + h], y0[0].data<float>()[((t * 2 + d) * B + bb) * H + h]) << op;
    for (int64_t d = 0; d < 2; ++d)
      for (int64_t bb = 0; bb < B; ++bb)
        for (int64_t h = 0; h < H; ++h)
          ASSERT_EQ(y1[1].data<float>()[(bb * 2 + d) * H + h], y0[1].data<float>()[(d * B + bb) * H + h]) << op;
  }
}
// The ONNX activation list (per direction, alpha/beta consumed in order by the functions that
// take them), input_forget and clip, against ONNX Runtime.
TEST(RnnOps, ActivationListsInputForgetAndClip) {
  check({"RNN", "forward", 0, true, true, false, false, {"Relu"}});
  check({"RNN", "bidirectional", 0, false, true, false, false, {"LeakyRelu", "ScaledTanh"}, {0.3, 0.8}, {0.9}});
  check({"GRU", "forward", 0, true, true, false, false, {"HardSigmoid", "Softsign"}, {0.3}, {0.45}});
  check({"GRU", "reverse", 0, false, true, false, true, {"Sigmoid", "Elu"}, {0.6}});
  check({"LSTM", "forward", 0, true, true, true, false, {"HardSigmoid", "Affine", "Softplus"}, {0.25, 0.5}, {0.4, 0.1}});
  check({"LSTM", "bidirectional", 0, true, true, true, false, {}, {}, {}, true});
  check({"LSTM", "forward", 0, false, true, false, false, {}, {}, {}, false, 0.5});
  check({"GRU", "bidirectional", 0, true, true, false, false, {}, {}, {}, false, 0.7});
}
TEST(RnnOps, UnknownActivationsAreNodeErrors) {
  for (const std::vector<std::string>& acts : {std::vector<std::string>{"Gelu"}, std::vector<std::string>{"Tanh", "Tanh"}}) {
    GraphBuilder b(14);
    const int x = b.input("x", ElemType::f32, {2, 1, 3});
    Attribute a;
    a.kind = Attribute::Kind::ss;
    a.ss = acts;
    const int y = b.op("RNN", {x, b.constant("W", randn({1, 4, 3}, 1)), b.constant("R", randn({1, 4, 4}, 2))},
                       {{"hidden_size", Attribute::from_int(4)}, {"activations", a}});
    b.output(y);
    Graph g = b.finish();
    try {
      Session s(std::move(g));
      s.run(std::vector<Array>{randn({2, 1, 3}, 3)});
      FAIL() << "expected a node error";
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("activation"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace lowbit::onnx
