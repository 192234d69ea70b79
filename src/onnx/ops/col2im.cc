// Col2Im (opset 18: sums sliding blocks [N, C*prod(block), L] back into an N-d image, the
// inverse layout of im2col, with strides, dilations and pads) and CenterCropPad (opset 18: crops
// or zero-pads chosen axes symmetrically to a target size, extra element at the end). Plain
// N-d loops: these are the spec.
#include <cstring>

#include "ops/op.h"

namespace lowbit::onnx {
namespace {

struct Col2ImGeom {
  Shape image, block, blocks;  // spatial image size, block size, blocks per dimension
  std::vector<int64_t> strides, dilations, pads;  // pads: begins then ends
  int64_t channels = 0, block_size = 1, n_blocks = 1;
};

Col2ImGeom col2im_geom(const InferCtx& ctx, const Shape& in, const Array& image, const Array& block) {
  Col2ImGeom g;
  g.image = image.to_i64_vector();
  g.block = block.to_i64_vector();
  const size_t nd = g.image.size();
  LOWBIT_NODE_REQUIRE(image.dim() == 1 && block.dim() == 1 && nd >= 1 && nd == g.block.size() && nd <= 16, ctx,
                      "image_shape and block_shape must be 1-d with one entry per spatial dimension, got {} and {}",
                      shape_str(image.shape()), shape_str(block.shape()));
  g.strides = ctx.node.attr_ints("strides", std::vector<int64_t>(nd, 1));
  g.dilations = ctx.node.attr_ints("dilations", std::vector<int64_t>(nd, 1));
  g.pads = ctx.node.attr_ints("pads", std::vector<int64_t>(2 * nd, 0));
  LOWBIT_NODE_REQUIRE(g.strides.size() == nd && g.dilations.size() == nd && g.pads.size() == 2 * nd, ctx,
                      "strides, dilations and pads need {}, {} and {} entries, got {}, {} and {}", nd, nd, 2 * nd,
                      g.strides.size(), g.dilations.size(), g.pads.size());
  LOWBIT_NODE_REQUIRE(in.size() == 3, ctx, "input must be [N, C*prod(block_shape), L], got {}", shape_str(in));
  for (size_t d = 0; d < nd; ++d) {
    LOWBIT_NODE_REQUIRE(g.image[d] >= 1 && g.image[d] <= (int64_t{1} << 24) && g.block[d] >= 1 && g.block[d] <= (int64_t{1} << 24),
                        ctx, "image_shape {} and block_shape {} need entries from 1 to 2^24", shape_str(g.image),
                        shape_str(g.block));
    const int64_t span = g.dilations[d] * (g.block[d] - 1) + 1;
    const int64_t padded = g.image[d] + g.pads[d] + g.pads[nd + d];
    LOWBIT_NODE_REQUIRE(padded >= span, ctx, "dimension {}: block span {} exceeds the padded image {}", d, span, padded);
    g.blocks.push_back((padded - span) / g.strides[d] + 1);
    g.block_size *= g.block[d];
    g.n_blocks *= g.blocks.back();
  }
  LOWBIT_NODE_REQUIRE(in[1] % g.block_size == 0 && in[2] == g.n_blocks, ctx,
                      "input {} does not match block_shape {} (C*{} rows) and {} block positions {}", shape_str(in),
                      shape_str(g.block), g.block_size, g.n_blocks, shape_str(g.blocks));
  g.channels = in[1] / g.block_size;
  return g;
}

void col2im_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32, ElemType::f64});
  require_type(ctx, 1, {ElemType::i64});
  require_type(ctx, 2, {ElemType::i64});
  if (!ctx.shape_known(0) || !ctx.value(1) || !ctx.value(2)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Col2ImGeom g = col2im_geom(ctx, ctx.shape(0), *ctx.value(1), *ctx.value(2));
  Shape out = {ctx.shape(0)[0], g.channels};
  out.insert(out.end(), g.image.begin(), g.image.end());
  ctx.set_out(0, ctx.in[0].elem, out);
}

// y[n, c, pos] += x[n, c*B + b, l] where pos[d] = l[d]*stride - pad_begin + b[d]*dilation.
template <typename T>
void col2im_loop(const Col2ImGeom& g, int64_t batch, const T* x, T* y) {
  const size_t nd = g.image.size();
  int64_t image_size = 1;
  for (int64_t s : g.image) image_size *= s;
  std::memset(y, 0, static_cast<size_t>(batch * g.channels * image_size) * sizeof(T));
  std::vector<int64_t> b(nd), l(nd);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < g.channels; ++c) {
      T* img = y + (n * g.channels + c) * image_size;
      for (int64_t bi = 0; bi < g.block_size; ++bi) {
        for (int64_t r = bi, d = static_cast<int64_t>(nd) - 1; d >= 0; --d) {
          b[static_cast<size_t>(d)] = r % g.block[static_cast<size_t>(d)];
          r /= g.block[static_cast<size_t>(d)];
        }
        const T* row = x + ((n * g.channels + c) * g.block_size + bi) * g.n_blocks;
        for (int64_t li = 0; li < g.n_blocks; ++li) {
          int64_t at = 0;
          bool inside = true;
          for (int64_t r = li, d = static_cast<int64_t>(nd) - 1; d >= 0; --d) {
            const auto u = static_cast<size_t>(d);
            l[u] = r % g.blocks[u];
            r /= g.blocks[u];
          }
          for (size_t d = 0; d < nd && inside; ++d) {
            const int64_t p = l[d] * g.strides[d] - g.pads[d] + b[d] * g.dilations[d];
            inside = p >= 0 && p < g.image[d];
            at = at * g.image[d] + p;
          }
          if (inside) img[at] += row[li];
        }
      }
    }
}

void col2im_run(RunCtx& ctx) {
  const InferCtx ic = infer_ctx_for(ctx);
  const Col2ImGeom g = col2im_geom(ic, ctx.input(0).shape(), ctx.input(1), ctx.input(2));
  const int64_t batch = ctx.input(0).shape()[0];
  if (ctx.input(0).type() == ElemType::f64) col2im_loop(g, batch, ctx.input(0).data<double>(), ctx.out[0]->data<double>());
  else col2im_loop(g, batch, ctx.input(0).data<float>(), ctx.out[0]->data<float>());
}

// ---- CenterCropPad ----
// Target size per dimension (input size where the axis is not listed).
Shape crop_pad_target(const InferCtx& ctx, const Shape& in, const Array& shape) {
  LOWBIT_NODE_REQUIRE(shape.dim() == 1, ctx, "shape must be 1-d, got {}", shape_str(shape.shape()));
  const std::vector<int64_t> sizes = shape.to_i64_vector();
  const auto rank = static_cast<int64_t>(in.size());
  std::vector<int64_t> axes = ctx.node.attr_ints("axes", {});
  if (!ctx.node.find("axes"))
    for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
  LOWBIT_NODE_REQUIRE(axes.size() == sizes.size(), ctx, "shape has {} entries for {} axes", sizes.size(), axes.size());
  Shape out = in;
  std::vector<bool> seen(in.size(), false);
  for (size_t i = 0; i < axes.size(); ++i) {
    const auto a = static_cast<size_t>(normalize_axis(axes[i], rank, ctx));
    LOWBIT_NODE_REQUIRE(!seen[a], ctx, "axis {} is listed twice", axes[i]);
    seen[a] = true;
    LOWBIT_NODE_REQUIRE(sizes[i] >= 0 && sizes[i] <= (int64_t{1} << 32), ctx, "target size {} for axis {} is out of range",
                        sizes[i], axes[i]);
    out[a] = sizes[i];
  }
  checked_numel(out, "CenterCropPad");
  return out;
}

void crop_pad_infer(InferCtx& ctx) {
  require_type(ctx, 1, {ElemType::i32, ElemType::i64});
  if (!ctx.shape_known(0) || !ctx.value(1)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  ctx.set_out(0, ctx.in[0].elem, crop_pad_target(ctx, ctx.shape(0), *ctx.value(1)));
}

// out[o] = in[o + shift] per dimension, shift = (in - out) / 2 rounded toward -inf for a crop
// (in > out) and -(out - in) / 2 for a pad; positions outside the input stay zero.
void crop_pad_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  Array& y = *ctx.out[0];
  const size_t es = elem_size(x.type()), rank = x.shape().size();
  std::memset(y.raw(), 0, y.nbytes());
  if (y.numel() == 0 || x.numel() == 0) return;
  std::vector<int64_t> shift(rank), in_stride(rank, 1);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t s = x.shape()[d], t = y.shape()[d];
    shift[d] = s >= t ? (s - t) / 2 : -((t - s) / 2);
  }
  for (size_t d = rank; d-- > 1;) in_stride[d - 1] = in_stride[d] * x.shape()[d];
  std::vector<int64_t> o(rank, 0);
  for (int64_t i = 0, n = y.numel(); i < n; ++i) {
    int64_t at = 0;
    bool inside = true;
    for (size_t d = 0; d < rank && inside; ++d) {
      const int64_t p = o[d] + shift[d];
      inside = p >= 0 && p < x.shape()[d];
      at += p * in_stride[d];
    }
    if (inside) std::memcpy(y.raw() + static_cast<size_t>(i) * es, x.raw() + static_cast<size_t>(at) * es, es);
    for (size_t d = rank; d-- > 0;) {
      if (++o[d] < y.shape()[d]) break;
      o[d] = 0;
    }
  }
}

}  // namespace

void add_col2im_ops(OpList& ops) {
  ops.push_back(OpDef{"", "Col2Im", 18, {"dilations", "pads", "strides"}, col2im_infer, col2im_run});
  ops.push_back(OpDef{"", "CenterCropPad", 18, {"axes"}, crop_pad_infer, crop_pad_run});
}

}  // namespace lowbit::onnx
