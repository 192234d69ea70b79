// Tensor construction, views and copies. Element loops here are generic (any strides) and not
// on hot paths: kernels take contiguous raw pointers.
#include "lowbit/core/tensor.h"

#include "lowbit/core/allocator.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <numeric>

namespace lowbit {
namespace {

// Refuse allocations that can only come from corrupt input (1 TiB).
constexpr size_t kMaxBytes = size_t{1} << 40;

// Calls fn(linear_index, storage_offset) over all elements in row-major logical order.
template <typename Fn>
void for_each_offset(const Shape& shape, const Shape& strides, int64_t base, Fn&& fn) {
  const int64_t n = shape_numel(shape);
  if (n == 0) return;
  const size_t nd = shape.size();
  std::vector<int64_t> idx(nd, 0);
  int64_t off = base;
  for (int64_t i = 0; i < n; ++i) {
    fn(i, off);
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < shape[d]) {
        off += strides[d];
        break;
      }
      off -= strides[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
}

int64_t norm_dim(int64_t d, int64_t nd, const char* op) {
  if (d < 0) d += nd;
  LOWBIT_REQUIRE(d >= 0 && d < nd, op, "dimension {} out of range for a {}-d tensor", d, nd);
  return d;
}

template <typename To, typename From>
To convert(From v) {
  if constexpr (std::is_floating_point_v<From> && !std::is_floating_point_v<To>) {
    return static_cast<To>(std::nearbyint(v));
  } else {
    return static_cast<To>(v);
  }
}

template <typename Fn>
void dispatch(DType t, Fn&& fn) {
  switch (t) {
    case DType::f32: fn(float{}); return;
    case DType::i32: fn(int32_t{}); return;
    case DType::i8: fn(int8_t{}); return;
    case DType::u8: fn(uint8_t{}); return;
    case DType::i4: break;
  }
  throw ValueError("[Tensor] operation not supported on packed int4 tensors; unpack first");
}

}  // namespace

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * std::max<int64_t>(s[i], 1);
  return st;
}

Storage::Storage(size_t nbytes) : nbytes_(nbytes) {
  LOWBIT_REQUIRE(nbytes <= kMaxBytes, "Storage", "refusing to allocate {} bytes", nbytes);
  data_ = static_cast<std::byte*>(storage_alloc(nbytes));
}

Storage::~Storage() { storage_free(data_, nbytes_); }

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  int64_t n = 1;
  for (int64_t d : shape) {
    LOWBIT_REQUIRE(d >= 0, "Tensor::empty", "negative dimension in shape {}", shape_str(shape));
    LOWBIT_REQUIRE(d == 0 || n <= (int64_t{1} << 40) / d, "Tensor::empty",
                   "shape {} is too large", shape_str(shape));
    n *= d;
  }
  Tensor t;
  t.storage_ = std::make_shared<Storage>(dtype_bytes(dtype, n));
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.storage_->data(), 0, t.storage_->nbytes());
  return t;
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape, DType::f32);
  std::fill_n(t.data<float>(), t.numel(), value);
  return t;
}

int64_t Tensor::size(int64_t d) const { return shape_[norm_dim(d, dim(), "Tensor::size")]; }

bool Tensor::is_contiguous() const {
  int64_t expect = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] == 1) continue;
    if (strides_[i] != expect) return false;
    expect *= shape_[i];
  }
  return true;
}

void Tensor::check_dtype(DType expected) const {
  LOWBIT_REQUIRE(defined(), "Tensor::data", "tensor is undefined");
  LOWBIT_REQUIRE(dtype_ == expected, "Tensor::data", "tensor has dtype {}, accessed as {}",
                 dtype_name(dtype_), dtype_name(expected));
}

uint8_t* Tensor::packed() {
  check_dtype(DType::i4);
  LOWBIT_REQUIRE(is_contiguous() && offset_ % 2 == 0, "Tensor::packed",
                 "int4 tensors must be contiguous and byte-aligned");
  return reinterpret_cast<uint8_t*>(storage_->data()) + offset_ / 2;
}

const uint8_t* Tensor::packed() const { return const_cast<Tensor*>(this)->packed(); }

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  LOWBIT_REQUIRE(defined(), "Tensor::clone", "tensor is undefined");
  Tensor out = empty(shape_, dtype_);
  if (dtype_ == DType::i4) {
    std::memcpy(out.packed(), packed(), nbytes());
    return out;
  }
  out.copy_(*this);
  return out;
}

Tensor Tensor::view(const Shape& shape) const {
  LOWBIT_REQUIRE(is_contiguous(), "Tensor::view", "needs a contiguous tensor, got strides {}",
                 shape_str(strides_));
  Shape s = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      LOWBIT_REQUIRE(infer < 0, "Tensor::view", "more than one -1 in {}", shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      LOWBIT_REQUIRE(s[i] >= 0, "Tensor::view", "negative dimension in {}", shape_str(shape));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    LOWBIT_REQUIRE(known > 0 && numel() % known == 0, "Tensor::view",
                   "cannot infer -1 in {} for {} elements", shape_str(shape), numel());
    s[infer] = numel() / known;
  }
  LOWBIT_REQUIRE(shape_numel(s) == numel(), "Tensor::view", "shape {} has {} elements, tensor {} has {}",
                 shape_str(s), shape_numel(s), shape_str(shape_), numel());
  Tensor t = *this;
  t.shape_ = s;
  t.strides_ = contiguous_strides(s);
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const { return contiguous().view(shape); }

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  a = norm_dim(a, dim(), "Tensor::transpose");
  b = norm_dim(b, dim(), "Tensor::transpose");
  LOWBIT_REQUIRE(dtype_ != DType::i4, "Tensor::transpose", "not supported on packed int4");
  Tensor t = *this;
  std::swap(t.shape_[a], t.shape_[b]);
  std::swap(t.strides_[a], t.strides_[b]);
  return t;
}

Tensor Tensor::permute(const Shape& order) const {
  LOWBIT_REQUIRE(static_cast<int64_t>(order.size()) == dim(), "Tensor::permute",
                 "order {} for a {}-d tensor", shape_str(order), dim());
  LOWBIT_REQUIRE(dtype_ != DType::i4, "Tensor::permute", "not supported on packed int4");
  std::vector<bool> seen(order.size(), false);
  Tensor t = *this;
  for (size_t i = 0; i < order.size(); ++i) {
    const int64_t d = norm_dim(order[i], dim(), "Tensor::permute");
    LOWBIT_REQUIRE(!seen[d], "Tensor::permute", "repeated dimension in {}", shape_str(order));
    seen[d] = true;
    t.shape_[i] = shape_[d];
    t.strides_[i] = strides_[d];
  }
  return t;
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  d = norm_dim(d, dim(), "Tensor::narrow");
  LOWBIT_REQUIRE(start >= 0 && length >= 0 && start + length <= shape_[d], "Tensor::narrow",
                 "range [{}, {}) out of bounds for dimension {} of size {}", start, start + length, d,
                 shape_[d]);
  LOWBIT_REQUIRE(dtype_ != DType::i4, "Tensor::narrow", "not supported on packed int4");
  Tensor t = *this;
  t.offset_ += start * strides_[d];
  t.shape_[d] = length;
  return t;
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = norm_dim(d, dim(), "Tensor::select");
  Tensor t = narrow(d, index, 1);
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  return t;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor out = empty(shape_, dtype);
  dispatch(dtype_, [&](auto src_tag) {
    using S = decltype(src_tag);
    const S* src = reinterpret_cast<const S*>(storage_->data());
    dispatch(dtype, [&](auto dst_tag) {
      using D = decltype(dst_tag);
      D* dst = out.data<D>();
      for_each_offset(shape_, strides_, offset_, [&](int64_t i, int64_t off) { dst[i] = convert<D>(src[off]); });
    });
  });
  return out;
}

void Tensor::fill_(float value) {
  dispatch(dtype_, [&](auto tag) {
    using T = decltype(tag);
    T* p = reinterpret_cast<T*>(storage_->data());
    for_each_offset(shape_, strides_, offset_, [&](int64_t, int64_t off) { p[off] = convert<T>(value); });
  });
}

void Tensor::copy_(const Tensor& src) {
  LOWBIT_REQUIRE(src.shape_ == shape_, "Tensor::copy_", "source shape {} differs from destination {}",
                 shape_str(src.shape_), shape_str(shape_));
  LOWBIT_REQUIRE(src.dtype_ == dtype_, "Tensor::copy_", "source dtype {} differs from destination {}",
                 dtype_name(src.dtype_), dtype_name(dtype_));
  if (is_contiguous() && src.is_contiguous()) {
    std::memmove(storage_->data() + dtype_bytes(dtype_, offset_),
                 src.storage_->data() + dtype_bytes(dtype_, src.offset_), nbytes());
    return;
  }
  dispatch(dtype_, [&](auto tag) {
    using T = decltype(tag);
    // Gather into a buffer first: src and *this may overlap.
    std::vector<T> buf(static_cast<size_t>(numel()));
    const T* sp = reinterpret_cast<const T*>(src.storage_->data());
    for_each_offset(src.shape_, src.strides_, src.offset_, [&](int64_t i, int64_t off) { buf[i] = sp[off]; });
    T* p = reinterpret_cast<T*>(storage_->data());
    for_each_offset(shape_, strides_, offset_, [&](int64_t i, int64_t off) { p[off] = buf[i]; });
  });
}

float Tensor::item() const {
  LOWBIT_REQUIRE(numel() == 1, "Tensor::item", "needs one element, tensor has shape {}", shape_str(shape_));
  return to(DType::f32).contiguous().data<float>()[0];
}

std::vector<float> Tensor::to_vector() const {
  const Tensor t = to(DType::f32).contiguous();
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

}  // namespace lowbit
