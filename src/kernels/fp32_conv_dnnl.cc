// oneDNN convolution primitives behind conv2d_*, cached by shape. The caller's tensors are
// plain NCHW / (K, C/g, R, S); in blocked mode oneDNN picks its own layouts and the arguments
// are reordered into per-thread scratch buffers before and after the primitive runs.
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "fp32_conv_impl.h"
#include "fp32_runtime.h"

namespace lowbit::kernels::detail {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;

// One primitive argument: the caller's layout, the primitive's, and the reorder between them
// (absent when they agree, so the caller's buffer is passed straight through).
struct Arg {
  int id = 0;
  bool output = false;
  memory::desc user, prim;
  std::optional<dnnl::reorder> reorder;
};

struct Entry {
  dnnl::primitive prim;
  std::vector<Arg> args;
};

// Key: every shape field, the pass, whether bias is present, blocked mode and the thread
// count (oneDNN's OpenMP kernels are generated for the thread count at creation time).
using Key = std::array<int64_t, 20>;

Key make_key(const ConvGeom& s, int pass, bool bias, bool blocked, int threads) {
  return {s.N, s.C, s.H(), s.W(), s.K, s.R(), s.S(), s.stride_h(), s.stride_w(), s.pad_t(), s.pad_l(), s.pad_b(), s.pad_r(),
          s.dil_h(), s.dil_w(), s.groups, pass, bias, blocked, threads};
}

struct Descs {
  memory::desc src, wei, bias, dst;
  memory::dims strides, dilates, pad_l, pad_r;
};

Descs descs(const ConvGeom& s, bool blocked) {
  const memory::dim G = s.groups;
  memory::dims wdims = G > 1 ? memory::dims{G, s.K / G, s.C / G, s.R(), s.S()} : memory::dims{s.K, s.C, s.R(), s.S()};
  const Tag act = blocked ? Tag::any : Tag::nchw;
  const Tag wtag = blocked ? Tag::any : (G > 1 ? Tag::goihw : Tag::oihw);
  Descs d;
  d.src = memory::desc({s.N, s.C, s.H(), s.W()}, kF32, act);
  d.wei = memory::desc(wdims, kF32, wtag);
  d.bias = memory::desc({s.K}, kF32, Tag::x);
  d.dst = memory::desc({s.N, s.K, s.OH(), s.OW()}, kF32, act);
  d.strides = {s.stride_h(), s.stride_w()};
  d.dilates = {s.dil_h() - 1, s.dil_w() - 1};  // oneDNN counts dilation from 0
  d.pad_l = {s.pad_t(), s.pad_l()};
  d.pad_r = {s.pad_b(), s.pad_r()};  // same floor formula as ConvGeom::conv_out
  return d;
}

memory::desc plain(const memory::desc& md, const ConvGeom& s, bool weights) {
  if (!weights) return memory::desc(md.dims(), kF32, Tag::nchw);
  return memory::desc(md.dims(), kF32, s.groups > 1 ? Tag::goihw : Tag::oihw);
}

Arg make_arg(int id, bool output, const memory::desc& user, const memory::desc& prim) {
  Arg a{id, output, user, prim, std::nullopt};
  if (user != prim) {
    auto& eng = cpu_engine();
    a.reorder = output ? dnnl::reorder(dnnl::reorder::primitive_desc(eng, prim, eng, user))
                       : dnnl::reorder(dnnl::reorder::primitive_desc(eng, user, eng, prim));
  }
  return a;
}

enum Pass { kForward = 0, kBackwardData = 1, kBackwardWeight = 2 };

std::shared_ptr<Entry> create(const ConvGeom& s, Pass pass, bool bias, bool blocked) {
  const Descs d = descs(s, blocked);
  auto& eng = cpu_engine();
  const auto algo = dnnl::algorithm::convolution_direct;
  const dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training, algo, d.src, d.wei,
                                           bias ? d.bias : memory::desc(), d.dst, d.strides, d.dilates,
                                           d.pad_l, d.pad_r);
  const dnnl::convolution_forward::primitive_desc fpd(fd, eng);
  auto e = std::make_shared<Entry>();
  if (pass == kForward) {
    e->prim = dnnl::convolution_forward(fpd);
    e->args.push_back(make_arg(DNNL_ARG_SRC, false, plain(d.src, s, false), fpd.src_desc()));
    e->args.push_back(make_arg(DNNL_ARG_WEIGHTS, false, plain(d.wei, s, true), fpd.weights_desc()));
    if (bias) e->args.push_back(make_arg(DNNL_ARG_BIAS, false, d.bias, fpd.bias_desc()));
    e->args.push_back(make_arg(DNNL_ARG_DST, true, plain(d.dst, s, false), fpd.dst_desc()));
  } else if (pass == kBackwardData) {
    const dnnl::convolution_backward_data::desc bd(algo, d.src, d.wei, d.dst, d.strides, d.dilates, d.pad_l,
                                                   d.pad_r);
    const dnnl::convolution_backward_data::primitive_desc bpd(bd, eng, fpd);
    e->prim = dnnl::convolution_backward_data(bpd);
    e->args.push_back(make_arg(DNNL_ARG_DIFF_DST, false, plain(d.dst, s, false), bpd.diff_dst_desc()));
    e->args.push_back(make_arg(DNNL_ARG_WEIGHTS, false, plain(d.wei, s, true), bpd.weights_desc()));
    e->args.push_back(make_arg(DNNL_ARG_DIFF_SRC, true, plain(d.src, s, false), bpd.diff_src_desc()));
  } else {
    const dnnl::convolution_backward_weights::desc wd(algo, d.src, d.wei, bias ? d.bias : memory::desc(), d.dst,
                                                      d.strides, d.dilates, d.pad_l, d.pad_r);
    const dnnl::convolution_backward_weights::primitive_desc wpd(wd, eng, fpd);
    e->prim = dnnl::convolution_backward_weights(wpd);
    e->args.push_back(make_arg(DNNL_ARG_SRC, false, plain(d.src, s, false), wpd.src_desc()));
    e->args.push_back(make_arg(DNNL_ARG_DIFF_DST, false, plain(d.dst, s, false), wpd.diff_dst_desc()));
    e->args.push_back(make_arg(DNNL_ARG_DIFF_WEIGHTS, true, plain(d.wei, s, true), wpd.diff_weights_desc()));
    if (bias) e->args.push_back(make_arg(DNNL_ARG_DIFF_BIAS, true, d.bias, wpd.diff_bias_desc()));
  }
  return e;
}

// Small thread-safe cache. A training run uses a few dozen shapes; the bound only guards
// against a caller sweeping shapes forever.
std::shared_ptr<Entry> lookup(const ConvGeom& s, Pass pass, bool bias, bool blocked, int threads) {
  static std::mutex mu;
  static std::map<Key, std::shared_ptr<Entry>> cache;
  constexpr size_t kMaxEntries = 512;
  const Key key = make_key(s, pass, bias, blocked, threads);
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  if (cache.size() >= kMaxEntries) cache.clear();
  auto e = create(s, pass, bias, blocked);
  cache.emplace(key, e);
  return e;
}

// Per-thread scratch for reordered arguments; grows to the largest shape seen, never shrinks.
float* scratch(size_t slot, size_t bytes) {
  thread_local std::array<std::vector<float>, 4> bufs;
  auto& b = bufs[slot];
  if (b.size() * sizeof(float) < bytes) b.resize((bytes + sizeof(float) - 1) / sizeof(float));
  return b.data();
}

// Runs the cached primitive on the caller's buffers (ptrs in the order of entry.args).
void run(const Entry& e, std::initializer_list<void*> ptrs) {
  auto& eng = cpu_engine();
  auto& strm = thread_stream();
  std::unordered_map<int, memory> exec_args;
  std::vector<std::pair<const Arg*, std::pair<memory, memory>>> outputs;
  size_t slot = 0, i = 0;
  for (void* p : ptrs) {
    const Arg& a = e.args[i++];
    memory user(a.user, eng, p);
    if (!a.reorder) {
      exec_args.emplace(a.id, user);
      continue;
    }
    memory prim(a.prim, eng, scratch(slot++, a.prim.get_size()));
    if (!a.output) a.reorder->execute(strm, user, prim);
    else outputs.push_back({&a, {prim, user}});
    exec_args.emplace(a.id, prim);
  }
  e.prim.execute(strm, exec_args);
  for (auto& [a, mems] : outputs) a->reorder->execute(strm, mems.first, mems.second);
  strm.wait();
}

}  // namespace

void dnnl_conv_forward(const ConvGeom& s, bool blocked, const float* x, const float* w, const float* bias,
                       float* y) {
  const int threads = sync_omp_threads();
  auto e = lookup(s, kForward, bias != nullptr, blocked, threads);
  if (bias) run(*e, {const_cast<float*>(x), const_cast<float*>(w), const_cast<float*>(bias), y});
  else run(*e, {const_cast<float*>(x), const_cast<float*>(w), y});
}

void dnnl_conv_backward_data(const ConvGeom& s, bool blocked, const float* dy, const float* w, float* dx) {
  const int threads = sync_omp_threads();
  auto e = lookup(s, kBackwardData, false, blocked, threads);
  run(*e, {const_cast<float*>(dy), const_cast<float*>(w), dx});
}

void dnnl_conv_backward_weight(const ConvGeom& s, bool blocked, const float* x, const float* dy, float* dw,
                               float* dbias) {
  const int threads = sync_omp_threads();
  auto e = lookup(s, kBackwardWeight, dbias != nullptr, blocked, threads);
  if (dbias) run(*e, {const_cast<float*>(x), const_cast<float*>(dy), dw, dbias});
  else run(*e, {const_cast<float*>(x), const_cast<float*>(dy), dw});
}

}  // namespace lowbit::kernels::detail
