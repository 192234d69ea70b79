// Model command helpers: --inter-op/--intra-op/--threads (auto: the tuner), .npy inputs, random inputs.
#include "model_common.h"

#include <cstdio>

#include "lowbit/core/rng.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/paradnn/tune.h"

namespace lowbit::app {

using onnx::Array;
using onnx::ElemType;

void add_parallel_options(CLI::App& cmd, ParallelArgs* args) {
  cmd.add_option("--inter-op", args->inter_op, "workers running independent nodes concurrently")
      ->check(CLI::Range(1, 256));
  cmd.add_option("--intra-op", args->intra_op, "threads per kernel (default: hardware threads / inter-op)")
      ->check(CLI::Range(1, 4096));
  cmd.add_option("--threads", args->threads, "N: intra-op threads; auto: the tuner's static inter x intra choice")
      ->check([](const std::string& v) {
        if (v == "auto") return std::string();
        return CLI::Range(1, 4096)(v).empty() ? std::string() : "expected 'auto' or a thread count in [1, 4096], got '" + v + "'";
      });
}

ParallelArgs resolve_parallel(const ParallelArgs& args, const onnx::Graph& g, int64_t batch) {
  ParallelArgs out = args;
  if (args.threads.empty()) return out;
  if (args.threads != "auto") {
    out.intra_op = std::stoi(args.threads);
    return out;
  }
  const paradnn::GraphShape shape = paradnn::graph_shape(g, batch);
  const paradnn::Topology topo = paradnn::detect_topology();
  const paradnn::Recommendation r = paradnn::recommend(shape, topo, batch, 0);
  std::fprintf(stderr, "threads auto: inter-op %d x intra-op %d (heavy ops %d, depth %d, width %.2f; %d physical cores)\n",
               r.inter_op, r.intra_op, shape.heavy_ops, shape.depth, shape.width, topo.physical_cores);
  out.inter_op = r.inter_op;
  out.intra_op = r.intra_op;
  return out;
}

std::vector<Array> load_inputs(const onnx::Graph& g, const std::vector<std::string>& files) {
  LOWBIT_REQUIRE(files.size() == g.inputs.size(), "run", "model has {} inputs, {} --input files given", g.inputs.size(),
                 files.size());
  std::vector<Array> out;
  for (size_t i = 0; i < files.size(); ++i) {
    Array a = onnx::load_npy(files[i]);
    const ElemType want = g.values[static_cast<size_t>(g.inputs[i])].type.elem;
    if (a.type() == ElemType::f64 && want == ElemType::f32) {
      Array f = Array::empty(ElemType::f32, a.shape());
      for (int64_t k = 0; k < a.numel(); ++k) f.data<float>()[k] = static_cast<float>(a.data<double>()[k]);
      a = f;
    }
    if (a.type() == ElemType::i32 && want == ElemType::i64) {
      Array l = Array::empty(ElemType::i64, a.shape());
      for (int64_t k = 0; k < a.numel(); ++k) l.data<int64_t>()[k] = a.data<int32_t>()[k];
      a = l;
    }
    // The declared input type decides (uint8 images of quantized models, int64 token ids, ...).
    if (want != ElemType::undefined)
      LOWBIT_REQUIRE(a.type() == want, "run", "{}: element type {}, but input '{}' is {}", files[i], onnx::elem_name(a.type()),
                     g.values[static_cast<size_t>(g.inputs[i])].name, onnx::elem_name(want));
    else
      LOWBIT_REQUIRE(onnx::elem_supported(a.type()) && a.type() != ElemType::string, "run", "{}: element type {} is not supported",
                     files[i], onnx::elem_name(a.type()));
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<Array> random_inputs(const onnx::Graph& g, int64_t batch, uint64_t seed) {
  std::vector<Array> out;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const onnx::Value& v = g.values[static_cast<size_t>(g.inputs[i])];
    LOWBIT_REQUIRE(v.type.has_shape, "run", "input '{}' has no declared shape; pass --input", v.name);
    Shape shape = v.type.shape;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] >= 0) continue;
      LOWBIT_REQUIRE(d == 0, "run", "input '{}' has a symbolic dimension {} besides the batch; pass --input", v.name, d);
      shape[d] = batch;
    }
    if (!shape.empty() && v.type.shape[0] >= 0 && batch != shape[0] && batch != 1)
      throw ValueError(fmt::format("[run] input '{}' has a fixed batch of {}; --batch {} cannot apply", v.name, shape[0], batch));
    Array a = Array::empty(v.type.elem, shape);
    if (v.type.elem == ElemType::f32) {
      normal_fill(seed, i, 0, a.numel(), a.data<float>());
    } else if (v.type.elem == ElemType::i64 || v.type.elem == ElemType::i32) {
      Rng rng(seed, i);
      for (int64_t k = 0; k < a.numel(); ++k) {
        if (v.type.elem == ElemType::i64) a.data<int64_t>()[k] = static_cast<int64_t>(rng.below(2));
        else a.data<int32_t>()[k] = static_cast<int32_t>(rng.below(2));
      }
    } else if (v.type.elem == ElemType::u8 || v.type.elem == ElemType::i8 || v.type.elem == ElemType::boolean) {
      Rng rng(seed, i);  // uniform bytes (codes of a quantized model's input), 0/1 for bool
      auto* p = reinterpret_cast<uint8_t*>(a.raw());
      for (int64_t k = 0; k < a.numel(); ++k) p[k] = static_cast<uint8_t>(rng.below(v.type.elem == ElemType::boolean ? 2 : 256));
    } else {
      throw ValueError(fmt::format("[run] input '{}' of type {}: pass --input", v.name, onnx::elem_name(v.type.elem)));
    }
    out.push_back(std::move(a));
  }
  return out;
}

std::string describe_type(const onnx::ValueType& t) {
  std::string s = std::string(onnx::elem_name(t.elem));
  if (!t.has_shape) return s + "[?]";
  s += "[";
  for (size_t i = 0; i < t.shape.size(); ++i) s += (i ? ", " : "") + (t.shape[i] < 0 ? std::string("?") : std::to_string(t.shape[i]));
  return s + "]";
}

}  // namespace lowbit::app
