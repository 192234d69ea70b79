// Tensor: a typed, strided view over shared, 64-byte-aligned storage. Copying a Tensor copies
// the handle (like torch.Tensor); clone() copies the data. Shapes and strides are in elements.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lowbit/core/dtype.h"
#include "lowbit/core/error.h"

namespace lowbit {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);

// Raw aligned bytes shared by tensors and their views.
class Storage {
 public:
  explicit Storage(size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  std::byte* data() { return data_; }
  const std::byte* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }

 private:
  std::byte* data_ = nullptr;
  size_t nbytes_ = 0;
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor: defined() is false

  static Tensor empty(const Shape& shape, DType dtype = DType::f32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32);
  static Tensor full(const Shape& shape, float value);
  template <typename T>
  static Tensor from(const Shape& shape, std::span<const T> values);
  static Tensor from(const Shape& shape, std::initializer_list<float> values) {
    return from<float>(shape, std::span<const float>(values.begin(), values.size()));
  }

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return dtype_bytes(dtype_, numel()); }
  bool is_contiguous() const;
  // True when both tensors view the same storage.
  bool shares_storage(const Tensor& other) const { return storage_ == other.storage_; }

  // Typed pointer to the first element; checks the dtype. int4 tensors use packed().
  template <typename T>
  T* data() {
    check_dtype(DTypeOf<T>::value);
    return reinterpret_cast<T*>(storage_->data()) + offset_;
  }
  template <typename T>
  const T* data() const {
    check_dtype(DTypeOf<T>::value);
    return reinterpret_cast<const T*>(storage_->data()) + offset_;
  }
  uint8_t* packed();  // int4 only, contiguous, offset even
  const uint8_t* packed() const;

  Tensor contiguous() const;  // self if already contiguous
  Tensor clone() const;       // always a fresh contiguous copy
  Tensor view(const Shape& shape) const;     // contiguous only; one dim may be -1
  Tensor reshape(const Shape& shape) const;  // view when possible, else copy
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor permute(const Shape& order) const;
  Tensor narrow(int64_t d, int64_t start, int64_t length) const;
  Tensor select(int64_t d, int64_t index) const;  // drops dimension d
  Tensor to(DType dtype) const;                    // value conversion (float->int truncates to nearest)

  void fill_(float value);
  void copy_(const Tensor& src);  // same shape; any strides; same dtype
  float item() const;             // one-element tensors
  std::vector<float> to_vector() const;  // f32 copy of all elements in logical order

 private:
  void check_dtype(DType expected) const;
  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;
  Shape shape_;
  Shape strides_;
  DType dtype_ = DType::f32;
};

template <typename T>
Tensor Tensor::from(const Shape& shape, std::span<const T> values) {
  Tensor t = empty(shape, DTypeOf<T>::value);
  LOWBIT_REQUIRE(static_cast<int64_t>(values.size()) == t.numel(), "Tensor::from",
                 "{} values for shape {} (expected {})", values.size(), shape_str(shape), t.numel());
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}

}  // namespace lowbit
