// Data-movement ops: Transpose, Concat, Split, Slice, Gather, Pad, Tile (Concat, Split and Slice
// also channels-last). All work on raw bytes (element size from the type), so every element type is
// supported.
#include <array>

#include "lowbit/core/threads.h"
#include "ops/broadcast.h"

namespace lowbit::onnx {
namespace {

std::vector<int64_t> perm_of(const InferCtx& ctx, size_t rank) {
  std::vector<int64_t> perm = ctx.node.attr_ints("perm");
  if (perm.empty())
    for (size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(rank - 1 - i));
  LOWBIT_NODE_REQUIRE(perm.size() == rank, ctx, "perm has {} entries for rank {}", perm.size(), rank);
  std::vector<bool> seen(rank, false);
  for (int64_t p : perm) {
    LOWBIT_NODE_REQUIRE(p >= 0 && p < static_cast<int64_t>(rank) && !seen[static_cast<size_t>(p)], ctx, "perm is not a permutation");
    seen[static_cast<size_t>(p)] = true;
  }
  return perm;
}

void transpose_infer(InferCtx& ctx) {
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Shape& in = ctx.shape(0);
  Shape out;
  for (int64_t p : perm_of(ctx, in.size())) out.push_back(in[static_cast<size_t>(p)]);
  ctx.set_out(0, ctx.in[0].elem, out);
}

// Generic strided copy: out[i] (row-major over out_shape) = in[sum idx_d * in_strides[d]].
void strided_copy(const std::byte* in, std::byte* out, const Shape& out_shape, const std::vector<int64_t>& in_strides,
                  size_t es) {
  const int64_t total = checked_numel(out_shape, "copy");
  if (total == 0) return;
  const size_t nd = out_shape.size();
  if (nd == 0) return (void)std::memcpy(out, in, es);
  const int64_t inner = nd ? out_shape[nd - 1] : 1, inner_st = nd ? in_strides[nd - 1] : 0;
  const int64_t rows = total / inner;
  parallel_for(rows, std::max<int64_t>(1, 4096 / inner), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t off = 0, rem = r;
      for (size_t d = nd - 1; d-- > 0;) {
        off += (rem % out_shape[d]) * in_strides[d];
        rem /= out_shape[d];
      }
      std::byte* dst = out + r * inner * static_cast<int64_t>(es);
      if (inner_st == 1) {
        std::memcpy(dst, in + off * static_cast<int64_t>(es), static_cast<size_t>(inner) * es);
      } else if (es == 4) {
        const auto* s = reinterpret_cast<const uint32_t*>(in) + off;
        auto* t = reinterpret_cast<uint32_t*>(dst);
        for (int64_t i = 0; i < inner; ++i) t[i] = s[i * inner_st];
      } else if (es == 1) {  // uint8/int8 codes of quantized models
        for (int64_t i = 0; i < inner; ++i) dst[i] = in[off + i * inner_st];
      } else {
        for (int64_t i = 0; i < inner; ++i) std::memcpy(dst + i * static_cast<int64_t>(es), in + (off + i * inner_st) * static_cast<int64_t>(es), es);
      }
    }
  });
}

void transpose_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  const std::vector<int64_t> perm = perm_of(infer_ctx_for(ctx), x.shape().size());
  const Shape st = contiguous_strides(x.shape());
  std::vector<int64_t> in_strides;
  for (int64_t p : perm) in_strides.push_back(st[static_cast<size_t>(p)]);
  strided_copy(x.raw(), ctx.out[0]->raw(), ctx.out[0]->shape(), in_strides, elem_size(x.type()));
}

void concat_infer(InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(ctx.n_in() >= 1, ctx, "needs at least one input");
  for (size_t i = 0; i < ctx.n_in(); ++i) {
    LOWBIT_NODE_REQUIRE(ctx.has(i) && ctx.in[i].elem == ctx.in[0].elem, ctx, "input {} missing or of another type", i);
    if (!ctx.shape_known(i)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  }
  Shape out = ctx.shape(0);
  const int64_t axis = normalize_axis(ctx.node.attr_i("axis", 0), static_cast<int64_t>(out.size()), ctx);
  for (size_t i = 1; i < ctx.n_in(); ++i) {
    const Shape& s = ctx.shape(i);
    LOWBIT_NODE_REQUIRE(s.size() == out.size(), ctx, "input {} has rank {}, expected {}", i, s.size(), out.size());
    for (size_t d = 0; d < s.size(); ++d)
      if (static_cast<int64_t>(d) != axis)
        LOWBIT_NODE_REQUIRE(s[d] == out[d], ctx, "input {} shape {} differs from {} off the concat axis", i, shape_str(s),
                            shape_str(ctx.shape(0)));
    out[static_cast<size_t>(axis)] += s[static_cast<size_t>(axis)];
  }
  ctx.set_out(0, ctx.in[0].elem, out);
}

// Channel concat of 4-d tensors may run channels-last: inputs and output all NHWC (tied), each
// pixel's output row is the inputs' channel rows one after another. Lets convs on both sides of
// an Inception/DenseNet concat keep their activations channels-last.
uint64_t concat_channels_last(const InferCtx& ctx) {
  if (ctx.n_in() < 1 || ctx.n_in() > 62 || !ctx.shape_known(0) || ctx.shape(0).size() != 4) return 0;
  const int64_t axis = ctx.node.attr_i("axis", 0);
  if (axis != 1 && axis != -3) return 0;
  for (size_t i = 0; i < ctx.n_in(); ++i)
    if (!ctx.has(i) || !ctx.shape_known(i) || ctx.shape(i).size() != 4) return 0;
  return ((uint64_t{1} << ctx.n_in()) - 1) | kTiedLayout;
}

void concat_run_nhwc(RunCtx& ctx) {
  Array& y = *ctx.out[0];
  const auto es = static_cast<int64_t>(elem_size(y.type()));
  const int64_t C = y.shape()[1], pixels = y.shape()[0] * y.shape()[2] * y.shape()[3];
  int64_t c0 = 0;
  for (const Array* a : ctx.in) {
    const int64_t row = a->shape()[1] * es;
    const std::byte* src = a->raw();
    std::byte* dst = y.raw() + c0 * es;
    parallel_for(pixels, std::max<int64_t>(1, 16384 / std::max<int64_t>(row, 1)), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) std::memcpy(dst + p * C * es, src + p * row, static_cast<size_t>(row));
    });
    c0 += a->shape()[1];
  }
}

void concat_run(RunCtx& ctx) {
  if (ctx.nhwc_outputs & 1) return concat_run_nhwc(ctx);
  Array& y = *ctx.out[0];
  const int64_t axis = ctx.node.attr_i("axis", 0) < 0 ? ctx.node.attr_i("axis", 0) + y.dim() : ctx.node.attr_i("axis", 0);
  const auto es = static_cast<int64_t>(elem_size(y.type()));
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= y.shape()[static_cast<size_t>(d)];
  const int64_t out_row = outer ? y.numel() / outer * es : 0;
  int64_t col = 0;
  for (const Array* a : ctx.in) {
    const int64_t row = outer ? a->numel() / outer * es : 0;
    for (int64_t o = 0; o < outer; ++o) std::memcpy(y.raw() + o * out_row + col, a->raw() + o * row, static_cast<size_t>(row));
    col += row;
  }
}

// Split sizes: from the 'split' attribute (< 13), the optional input (>= 13), or equal parts.
std::optional<std::vector<int64_t>> split_sizes(const InferCtx& ctx, int64_t dim) {
  std::vector<int64_t> sizes = ctx.node.attr_ints("split");
  if (sizes.empty() && ctx.has(1)) {
    if (!ctx.value(1)) return std::nullopt;
    sizes = int_list(*ctx.value(1));
  }
  const auto n = static_cast<int64_t>(ctx.out.size());
  if (const Attribute* no = ctx.node.find("num_outputs")) {  // Split-18
    LOWBIT_NODE_REQUIRE(sizes.empty(), ctx, "num_outputs and split sizes are both given (use one)");
    LOWBIT_NODE_REQUIRE(no->i == n, ctx, "num_outputs is {} but the node has {} outputs", no->i, n);
    LOWBIT_NODE_REQUIRE(no->i <= dim, ctx, "num_outputs {} is larger than the axis size {}", no->i, dim);
    // Chunks of ceil(dim / num_outputs), the last one smaller: it must not be empty (5 into 4 is refused).
    const int64_t chunk = (dim + no->i - 1) / no->i;
    LOWBIT_NODE_REQUIRE(chunk * (no->i - 1) < dim, ctx,
                        "axis size {} does not split into {} chunks of {} with a smaller, non-empty last one", dim, no->i, chunk);
  }
  if (sizes.empty()) {
    const int64_t parts = ctx.node.attr_i("num_outputs", n);
    const int64_t chunk = (dim + parts - 1) / std::max<int64_t>(parts, 1);
    LOWBIT_NODE_REQUIRE(ctx.node.find("num_outputs") || dim % n == 0, ctx, "axis size {} does not split into {} equal parts", dim, n);
    for (int64_t i = 0; i < n; ++i) sizes.push_back(std::clamp<int64_t>(dim - i * chunk, 0, chunk));
  }
  int64_t sum = 0;
  for (int64_t s : sizes) {
    LOWBIT_NODE_REQUIRE(s >= 0, ctx, "negative split size");
    sum += s;
  }
  LOWBIT_NODE_REQUIRE(static_cast<int64_t>(sizes.size()) == n && sum == dim, ctx,
                      "split sizes (sum {}) do not cover axis size {} with {} outputs", sum, dim, n);
  return sizes;
}

void split_infer(InferCtx& ctx) {
  if (!ctx.shape_known(0)) {
    for (size_t i = 0; i < ctx.out.size(); ++i) ctx.set_out_unknown(i, ctx.in[0].elem);
    return;
  }
  const Shape& in = ctx.shape(0);
  const int64_t axis = normalize_axis(ctx.node.attr_i("axis", 0), static_cast<int64_t>(in.size()), ctx);
  const auto sizes = split_sizes(ctx, in[static_cast<size_t>(axis)]);
  for (size_t i = 0; i < ctx.out.size(); ++i) {
    if (!sizes) {
      ctx.set_out_unknown(i, ctx.in[0].elem);
      continue;
    }
    Shape s = in;
    s[static_cast<size_t>(axis)] = (*sizes)[i];
    ctx.set_out(i, ctx.in[0].elem, s);
  }
}

// A 4-d Split may run channels-last: input and every output NHWC (a ShuffleNet `chunk` exported
// as Split between channels-last convs).
uint64_t split_channels_last(const InferCtx& ctx) {
  if (!ctx.shape_known(0) || ctx.shape(0).size() != 4 || (ctx.has(1) && !ctx.value(1))) return 0;  // sizes unknown
  return 1 | kTiedLayout | kEveryOutput;
}

void split_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  int64_t axis = ctx.node.attr_i("axis", 0);
  if (axis < 0) axis += x.dim();
  Shape in = x.shape();
  if (ctx.nhwc_inputs & 1) {  // split the [N, H, W, C] storage along the same axis
    in = {in[0], in[2], in[3], in[1]};
    axis = std::array<int64_t, 4>{0, 3, 1, 2}[static_cast<size_t>(axis)];
  }
  const auto es = static_cast<int64_t>(elem_size(x.type()));
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= in[static_cast<size_t>(d)];
  const int64_t in_row = outer ? x.numel() / outer * es : 0;
  int64_t col = 0;
  for (Array* y : ctx.out) {
    LOWBIT_CHECK(y != nullptr);
    const int64_t row = outer ? y->numel() / outer * es : 0;
    for (int64_t o = 0; o < outer; ++o) std::memcpy(y->raw() + o * row, x.raw() + o * in_row + col, static_cast<size_t>(row));
    col += row;
  }
}

// Slice parameters per input axis: start, step, and output length.
struct SliceSpec {
  Shape out;
  std::vector<int64_t> start, step;
};

// Slice-1 takes starts/ends/axes as attributes (no steps); Slice-10 and later as inputs.
std::optional<SliceSpec> slice_spec(const InferCtx& ctx, const Shape& in) {
  const bool legacy = ctx.opset < 10;
  std::vector<int64_t> starts, ends, axes, steps;
  if (legacy) {
    LOWBIT_NODE_REQUIRE(ctx.n_in() == 1, ctx, "Slice-1 takes starts/ends/axes as attributes, got {} inputs", ctx.n_in());
    starts = ctx.node.attr_ints("starts"), ends = ctx.node.attr_ints("ends"), axes = ctx.node.attr_ints("axes");
  } else {
    LOWBIT_NODE_REQUIRE(!ctx.node.find("starts") && !ctx.node.find("ends") && !ctx.node.find("axes"), ctx,
                        "starts/ends/axes attributes belong to Slice-1; from opset 10 they are inputs");
    for (size_t i = 1; i < 5; ++i)
      if (ctx.has(i) && !ctx.value(i)) return std::nullopt;
    LOWBIT_NODE_REQUIRE(ctx.has(1) && ctx.has(2), ctx, "starts and ends are required");
    starts = int_list(*ctx.value(1)), ends = int_list(*ctx.value(2));
    if (ctx.has(3)) axes = int_list(*ctx.value(3));
    if (ctx.has(4)) steps = int_list(*ctx.value(4));
  }
  const auto rank = static_cast<int64_t>(in.size());
  if (!legacy ? !ctx.has(3) : !ctx.node.find("axes"))
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (legacy || !ctx.has(4)) steps.assign(starts.size(), 1);
  LOWBIT_NODE_REQUIRE(ends.size() == starts.size() && axes.size() == starts.size() && steps.size() == starts.size(), ctx,
                      "starts/ends/axes/steps lengths differ");
  SliceSpec sp{in, std::vector<int64_t>(in.size(), 0), std::vector<int64_t>(in.size(), 1)};
  std::vector<bool> seen(in.size(), false);
  for (size_t i = 0; i < starts.size(); ++i) {
    const auto ax = static_cast<size_t>(normalize_axis(axes[i], rank, ctx));
    LOWBIT_NODE_REQUIRE(!seen[ax], ctx, "axis {} repeated", axes[i]);
    seen[ax] = true;
    const int64_t dim = in[ax], step = steps[i];
    LOWBIT_NODE_REQUIRE(step != 0, ctx, "step must not be zero");
    // ONNX: negative indices count from the end; starts clamp to [0, dim] (step > 0) or
    // [0, dim-1] (step < 0); ends clamp to [0, dim] or [-1, dim-1].
    int64_t s = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
    } else {
      s = std::clamp<int64_t>(s, 0, std::max<int64_t>(dim - 1, 0));
      e = std::clamp<int64_t>(e, -1, dim - 1);
    }
    const int64_t len = step > 0 ? std::max<int64_t>(0, (e - s + step - 1) / step)
                                 : std::max<int64_t>(0, (s - e + (-step) - 1) / (-step));
    sp.out[ax] = len;
    sp.start[ax] = s;
    sp.step[ax] = step;
  }
  return sp;
}

void slice_infer(InferCtx& ctx) {
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const auto sp = slice_spec(ctx, ctx.shape(0));
  if (!sp) return ctx.set_out_unknown(0, ctx.in[0].elem);
  ctx.set_out(0, ctx.in[0].elem, sp->out);
}

// Slices of 4-d tensors may run channels-last (input and output NHWC, tied): the same slice of
// the [N, H, W, C] storage. Keeps ShuffleNet's channel split (chunk) between channels-last convs.
uint64_t slice_channels_last(const InferCtx& ctx) {
  if (!ctx.shape_known(0) || ctx.shape(0).size() != 4 || !slice_spec(ctx, ctx.shape(0))) return 0;
  return 1 | kTiedLayout;
}

void slice_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  SliceSpec sp = *slice_spec(infer_ctx_for(ctx), x.shape());
  Shape in = x.shape();
  if (ctx.nhwc_outputs & 1) {  // slice the [N, H, W, C] storage: axes in the order 0, 2, 3, 1
    for (auto* v : {&in, &sp.out, &sp.start, &sp.step}) *v = {(*v)[0], (*v)[2], (*v)[3], (*v)[1]};
  }
  const Shape st = contiguous_strides(in);
  int64_t base = 0;
  std::vector<int64_t> strides;
  for (size_t d = 0; d < st.size(); ++d) {
    base += sp.start[d] * st[d];
    strides.push_back(sp.step[d] * st[d]);
  }
  if (ctx.out[0]->numel() == 0) return;
  const size_t es = elem_size(x.type());
  strided_copy(x.raw() + base * static_cast<int64_t>(es), ctx.out[0]->raw(), sp.out, strides, es);
}

void gather_infer(InferCtx& ctx) {
  require_type(ctx, 1, {ElemType::i32, ElemType::i64});
  if (!ctx.shape_known(0) || !ctx.shape_known(1)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Shape &data = ctx.shape(0), &idx = ctx.shape(1);
  const auto axis = static_cast<size_t>(normalize_axis(ctx.node.attr_i("axis", 0), static_cast<int64_t>(data.size()), ctx));
  Shape out(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(axis));
  out.insert(out.end(), idx.begin(), idx.end());
  out.insert(out.end(), data.begin() + static_cast<std::ptrdiff_t>(axis) + 1, data.end());
  ctx.set_out(0, ctx.in[0].elem, out);
}

void gather_run(RunCtx& ctx) {
  const Array &x = ctx.input(0), &idx = ctx.input(1);
  int64_t axis = ctx.node.attr_i("axis", 0);
  if (axis < 0) axis += x.dim();
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d < axis) outer *= x.shape()[static_cast<size_t>(d)];
    else if (d > axis) inner *= x.shape()[static_cast<size_t>(d)];
  const int64_t dim = x.shape()[static_cast<size_t>(axis)], n = idx.numel();
  const auto es = static_cast<int64_t>(elem_size(x.type()));
  const int64_t chunk = inner * es;
  for (int64_t j = 0; j < n; ++j) {
    int64_t k = idx.get_i64(j);
    if (k < 0) k += dim;
    LOWBIT_NODE_REQUIRE(k >= 0 && k < dim, infer_ctx_for(ctx), "index {} out of range for axis size {}", idx.get_i64(j), dim);
  }
  parallel_for(outer * n, std::max<int64_t>(1, 4096 / std::max<int64_t>(chunk, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r / n, j = r % n;
      int64_t k = idx.get_i64(j);
      if (k < 0) k += dim;
      std::memcpy(ctx.out[0]->raw() + r * chunk, x.raw() + (o * dim + k) * chunk, static_cast<size_t>(chunk));
    }
  });
}

}  // namespace

void strided_copy_bytes(const std::byte* in, std::byte* out, const Shape& out_shape,
                        const std::vector<int64_t>& in_strides, size_t es) {
  strided_copy(in, out, out_shape, in_strides, es);
}

void add_tensor_ops(OpList& ops) {
  ops.push_back(OpDef{"", "Transpose", 1, {"perm"}, transpose_infer, transpose_run});
  ops.push_back(OpDef{"", "Concat", 4, {"axis"}, concat_infer, concat_run});
  ops.back().channels_last = concat_channels_last;
  ops.push_back(OpDef{"", "Split", 2, {"axis", "split", "num_outputs"}, split_infer, split_run});
  ops.back().channels_last = split_channels_last;
  ops.push_back(OpDef{"", "Slice", 1, {"starts", "ends", "axes"}, slice_infer, slice_run});
  ops.back().channels_last = slice_channels_last;
  ops.push_back(OpDef{"", "Gather", 1, {"axis"}, gather_infer, gather_run});
  add_pad_ops(ops);
}

}  // namespace lowbit::onnx
