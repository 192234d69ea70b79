// contract.h: a two-operand float contraction whose labels are each batch (both operands and
// the output), row (A and output), column (B and output) or summed (A and B) runs as packed
// batched GEMMs on gemm_f32; every other contraction runs the reference loop.
#include "lowbit/kernels/contract.h"

#include <type_traits>
#include <vector>

#include "lowbit/kernels/fp32.h"

namespace lowbit::kernels {
namespace {

// Copies the elements of x addressed by `labels` (odometer over their extents, last fastest)
// into a dense buffer: dst[i] = x[sum of index_k * stride[label_k]].
void pack(const float* x, const std::vector<size_t>& labels, const Contraction& c, size_t operand, float* dst) {
  std::vector<int64_t> ext, st;
  int64_t n = 1;
  for (size_t l : labels) {
    ext.push_back(c.extent[l]);
    st.push_back(c.stride[operand][l]);
    n *= c.extent[l];
  }
  std::vector<int64_t> idx(labels.size(), 0);
  int64_t off = 0;
  for (int64_t i = 0; i < n; ++i) {
    dst[i] = x[off];
    for (size_t d = labels.size(); d-- > 0;) {
      off += st[d];
      if (++idx[d] < ext[d]) break;
      off -= st[d] * ext[d];
      idx[d] = 0;
    }
  }
}

// Whether the elements addressed by `labels` (in that order, last fastest) are the whole of a
// dense row-major array: then the operand is used in place instead of packed.
bool dense(const std::vector<size_t>& labels, const std::vector<int64_t>& stride, const std::vector<int64_t>& extent) {
  int64_t s = 1;
  for (size_t d = labels.size(); d-- > 0;) {
    if (stride[labels[d]] != s) return false;
    s *= extent[labels[d]];
  }
  return true;
}

bool gemm_contract(const Contraction& c, std::span<const float* const> in, float* y) {
  if (in.size() != 2) return false;
  std::vector<size_t> batch, rows, cols, sum;
  for (size_t k = 0; k < c.extent.size(); ++k) {
    const bool a = c.stride[0][k] != 0, b = c.stride[1][k] != 0, out = k < c.n_out;
    if (c.extent[k] == 1) continue;  // any role; contributes nothing
    if (out && a && b) batch.push_back(k);
    else if (out && a) rows.push_back(k);
    else if (out && b) cols.push_back(k);
    else if (!out && a && b) sum.push_back(k);
    else return false;  // a label only one operand sums over, or one no operand has
  }
  int64_t B = 1, M = 1, N = 1, K = 1;
  for (size_t k : batch) B *= c.extent[k];
  for (size_t k : rows) M *= c.extent[k];
  for (size_t k : cols) N *= c.extent[k];
  for (size_t k : sum) K *= c.extent[k];
  if (B * M * N * K < 4096) return false;  // the loop is as quick as packing here
  auto cat = [](std::vector<size_t> l0, const std::vector<size_t>& l1, const std::vector<size_t>& l2) {
    l0.insert(l0.end(), l1.begin(), l1.end());
    l0.insert(l0.end(), l2.begin(), l2.end());
    return l0;
  };
  // A as (batch, rows, sum) or, transposed, (batch, sum, rows); B as (batch, sum, cols) or
  // (batch, cols, sum); each used in place when dense in one of those orders, else packed.
  const std::vector<size_t> a_labels = cat(batch, rows, sum), b_labels = cat(batch, sum, cols),
                            y_labels = cat(batch, rows, cols);
  const bool a_direct = dense(a_labels, c.stride[0], c.extent);
  const bool a_trans = !a_direct && dense(cat(batch, sum, rows), c.stride[0], c.extent);
  const bool b_direct = dense(b_labels, c.stride[1], c.extent);
  const bool b_trans = !b_direct && dense(cat(batch, cols, sum), c.stride[1], c.extent);
  std::vector<int64_t> y_stride(c.extent.size(), 0);
  for (size_t k = c.n_out, s = 1; k-- > 0;) {
    y_stride[k] = static_cast<int64_t>(s);
    s *= static_cast<size_t>(c.extent[k]);
  }
  const bool y_direct = dense(y_labels, y_stride, c.extent);
  std::vector<float> a, b, z;
  const float* pa = in[0];
  const float* pb = in[1];
  if (!a_direct && !a_trans) {
    a.resize(static_cast<size_t>(B * M * K));
    pack(in[0], a_labels, c, 0, a.data());
    pa = a.data();
  }
  if (!b_direct && !b_trans) {
    b.resize(static_cast<size_t>(B * K * N));
    pack(in[1], b_labels, c, 1, b.data());
    pb = b.data();
  }
  float* pz = y;
  if (!y_direct) {
    z.resize(static_cast<size_t>(B * M * N));
    pz = z.data();
  }
  for (int64_t i = 0; i < B; ++i)
    gemm_f32(a_trans, b_trans, M, N, K, 1.0f, pa + i * M * K, a_trans ? M : K, pb + i * K * N, b_trans ? K : N, 0.0f,
             pz + i * M * N, N);
  if (y_direct) return true;
  // Scatter (batch, rows, cols) into the output's label order.
  std::vector<int64_t> ext, st;
  for (size_t l : y_labels) ext.push_back(c.extent[l]), st.push_back(y_stride[l]);
  std::vector<int64_t> idx(y_labels.size(), 0);
  int64_t off = 0;
  for (size_t i = 0; i < z.size(); ++i) {
    y[off] = z[i];
    for (size_t d = y_labels.size(); d-- > 0;) {
      off += st[d];
      if (++idx[d] < ext[d]) break;
      off -= st[d] * ext[d];
      idx[d] = 0;
    }
  }
  return true;
}

}  // namespace

template <typename T>
void contract(const Contraction& c, std::span<const T* const> in, T* y) {
  if constexpr (std::is_same_v<T, float>)
    if (gemm_contract(c, in, y)) return;
  ref::contract<T>(c, in, y);
}

template void contract<float>(const Contraction&, std::span<const float* const>, float*);
template void contract<double>(const Contraction&, std::span<const double* const>, double*);
template void contract<int32_t>(const Contraction&, std::span<const int32_t* const>, int32_t*);
template void contract<int64_t>(const Contraction&, std::span<const int64_t* const>, int64_t*);

}  // namespace lowbit::kernels
