// Einsum (opset 12): explicit ("ij,jk->ik") and implicit ("ij,jk") equations, ellipsis
// broadcasting, repeated labels within an operand (diagonals, traces), any number of operands:
// the equation is parsed and checked here, the arithmetic is kernels/contract.h's (batched
// matrix products on the fp32 GEMM, the plain loop otherwise).
#include <algorithm>
#include <map>

#include "lowbit/kernels/contract.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

// Labels are letters; the ellipsis's dims become labels 256 + k (k = 0 for its leftmost dim
// over all operands, which align their ellipsis dims to the right).
constexpr int kEllipsisBase = 256;

struct EinsumPlan {
  std::vector<std::vector<int>> operand_labels;  // per operand, per dim
  std::vector<int> out_labels;
  std::vector<int> sum_labels;                   // labels absent from the output
  std::map<int, int64_t> size;                   // label -> extent
};

std::vector<int> parse_term(const std::string& term, int64_t rank, int ellipsis_rank, const InferCtx& ctx,
                            int* own_ellipsis) {
  std::vector<int> labels;
  *own_ellipsis = -1;
  for (size_t i = 0; i < term.size(); ++i) {
    const char c = term[i];
    if (c == '.') {
      LOWBIT_NODE_REQUIRE(term.compare(i, 3, "...") == 0 && *own_ellipsis < 0, ctx,
                          "equation term '{}' has a malformed or repeated ellipsis", term);
      const int64_t letters = static_cast<int64_t>(term.size()) - 3;
      const int64_t dims = rank < 0 ? ellipsis_rank : rank - letters;
      LOWBIT_NODE_REQUIRE(dims >= 0, ctx, "term '{}' names more dims than its input's rank {}", term, rank);
      *own_ellipsis = static_cast<int>(dims);
      for (int64_t k = 0; k < dims; ++k) labels.push_back(kEllipsisBase + ellipsis_rank - static_cast<int>(dims) + static_cast<int>(k));
      i += 2;
    } else {
      LOWBIT_NODE_REQUIRE((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'), ctx,
                          "equation term '{}' has character '{}' (letters and one '...' only)", term, c);
      labels.push_back(static_cast<unsigned char>(c));
    }
  }
  return labels;
}

std::string strip_spaces(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  return s;
}

EinsumPlan plan_einsum(const InferCtx& ctx, const std::vector<Shape>& shapes) {
  const std::string eq = strip_spaces(ctx.node.attr_s("equation", ""));
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms;
  for (size_t start = 0;;) {
    const size_t comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  LOWBIT_NODE_REQUIRE(terms.size() == shapes.size(), ctx, "equation '{}' has {} input terms for {} inputs", eq,
                      terms.size(), shapes.size());
  // The ellipsis covers the most dims any operand gives it.
  int ellipsis_rank = 0;
  for (size_t i = 0; i < terms.size(); ++i)
    if (terms[i].find("...") != std::string::npos) {
      const int64_t letters = static_cast<int64_t>(terms[i].size()) - 3;
      ellipsis_rank = std::max(ellipsis_rank, static_cast<int>(static_cast<int64_t>(shapes[i].size()) - letters));
    }
  EinsumPlan p;
  std::map<int, int> count;
  for (size_t i = 0; i < terms.size(); ++i) {
    int own = -1;
    p.operand_labels.push_back(parse_term(terms[i], static_cast<int64_t>(shapes[i].size()), ellipsis_rank, ctx, &own));
    const auto& labels = p.operand_labels.back();
    LOWBIT_NODE_REQUIRE(labels.size() == shapes[i].size(), ctx, "term '{}' has {} labels for input {} of rank {}",
                        terms[i], labels.size(), i, shapes[i].size());
    for (size_t d = 0; d < labels.size(); ++d) {
      const int l = labels[d];
      const int64_t n = shapes[i][d];
      auto [it, fresh] = p.size.emplace(l, n);
      if (!fresh && it->second != n) {
        // Ellipsis dims broadcast (1 against n); letter labels must agree exactly.
        LOWBIT_NODE_REQUIRE(l >= kEllipsisBase && (it->second == 1 || n == 1), ctx,
                            "label '{}' has extent {} in one input and {} in another",
                            l >= kEllipsisBase ? std::string("...") : std::string(1, static_cast<char>(l)), it->second, n);
        it->second = std::max(it->second, n);
      }
      if (l < kEllipsisBase) ++count[l];
    }
  }
  if (arrow != std::string::npos) {
    int own = -1;
    p.out_labels = parse_term(eq.substr(arrow + 2), -1, ellipsis_rank, ctx, &own);
    for (int l : p.out_labels)
      LOWBIT_NODE_REQUIRE(p.size.count(l), ctx, "output label '{}' appears in no input", static_cast<char>(l));
    for (size_t i = 0; i < p.out_labels.size(); ++i)
      for (size_t j = i + 1; j < p.out_labels.size(); ++j)
        LOWBIT_NODE_REQUIRE(p.out_labels[i] != p.out_labels[j], ctx, "output label '{}' is repeated",
                            static_cast<char>(p.out_labels[i]));
  } else {
    // Implicit form: the ellipsis dims, then the letters that appear once, in alphabetical order.
    for (int k = 0; k < ellipsis_rank; ++k) p.out_labels.push_back(kEllipsisBase + k);
    for (const auto& [l, c] : count)
      if (c == 1) p.out_labels.push_back(l);
  }
  for (const auto& [l, n] : p.size)
    if (std::find(p.out_labels.begin(), p.out_labels.end(), l) == p.out_labels.end()) p.sum_labels.push_back(l);
  return p;
}

void einsum_infer(InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(ctx.n_in() >= 1, ctx, "needs at least one input");
  require_type(ctx, 0, {ElemType::f32, ElemType::f64, ElemType::i32, ElemType::i64});
  for (size_t i = 1; i < ctx.n_in(); ++i)
    LOWBIT_NODE_REQUIRE(ctx.in[i].elem == ctx.in[0].elem, ctx, "input {} has type {}, input 0 {}", i,
                        elem_name(ctx.in[i].elem), elem_name(ctx.in[0].elem));
  LOWBIT_NODE_REQUIRE(ctx.node.find("equation") != nullptr, ctx, "attribute 'equation' is required");
  std::vector<Shape> shapes;
  for (size_t i = 0; i < ctx.n_in(); ++i) {
    if (!ctx.shape_known(i)) return ctx.set_out_unknown(0, ctx.in[0].elem);
    shapes.push_back(ctx.shape(i));
  }
  const EinsumPlan p = plan_einsum(ctx, shapes);
  Shape out;
  for (int l : p.out_labels) out.push_back(p.size.at(l));
  ctx.set_out(0, ctx.in[0].elem, out);
}

// The kernel's description: output labels, then summed ones; per operand, the stride each
// label index moves it by (0 where the operand broadcasts that label or lacks it; summed over
// repeats, which walks a diagonal).
kernels::Contraction contraction(const EinsumPlan& p, const std::vector<const Array*>& in) {
  std::vector<int> order = p.out_labels;
  order.insert(order.end(), p.sum_labels.begin(), p.sum_labels.end());
  kernels::Contraction c;
  c.n_out = p.out_labels.size();
  for (int l : order) c.extent.push_back(p.size.at(l));
  c.stride.assign(in.size(), std::vector<int64_t>(order.size(), 0));
  for (size_t o = 0; o < in.size(); ++o) {
    const auto& labels = p.operand_labels[o];
    int64_t s = 1;
    for (size_t d = labels.size(); d-- > 0;) {
      const int64_t n = in[o]->shape()[d];
      const auto pos = static_cast<size_t>(std::find(order.begin(), order.end(), labels[d]) - order.begin());
      if (n != 1) c.stride[o][pos] += s;
      s *= n;
    }
  }
  return c;
}

template <typename T>
void einsum_typed(const EinsumPlan& p, const std::vector<const Array*>& in, Array& out) {
  std::vector<const T*> ptrs;
  for (const Array* a : in) ptrs.push_back(a->data<T>());
  kernels::contract<T>(contraction(p, in), ptrs, out.data<T>());
}

void einsum_run(RunCtx& ctx) {
  std::vector<Shape> shapes;
  std::vector<const Array*> in;
  for (size_t i = 0; i < ctx.in.size(); ++i) {
    in.push_back(&ctx.input(i));
    shapes.push_back(ctx.input(i).shape());
  }
  const EinsumPlan p = plan_einsum(infer_ctx_for(ctx), shapes);
  Array& out = *ctx.out[0];
  switch (out.type()) {
    case ElemType::f32: return einsum_typed<float>(p, in, out);
    case ElemType::f64: return einsum_typed<double>(p, in, out);
    case ElemType::i32: return einsum_typed<int32_t>(p, in, out);
    default: return einsum_typed<int64_t>(p, in, out);
  }
}

}  // namespace

void add_einsum_ops(OpList& ops) { ops.push_back(OpDef{"", "Einsum", 12, {"equation"}, einsum_infer, einsum_run}); }

}  // namespace lowbit::onnx
