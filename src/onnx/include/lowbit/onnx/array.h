// Array: the engine's n-d value (any ONNX element type, contiguous row-major). Owns its bytes
// or views an executor arena; copying an Array copies the handle, clone() copies the data.
// Every allocation is size-checked, so a corrupt model cannot request unbounded memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/core/error.h"
#include "lowbit/core/tensor.h"

namespace lowbit::onnx {

// Values match onnx.TensorProto.DataType so conversion is a cast.
enum class ElemType : int32_t {
  undefined = 0, f32 = 1, u8 = 2, i8 = 3, u16 = 4, i16 = 5, i32 = 6, i64 = 7, string = 8,
  boolean = 9, f16 = 10, f64 = 11, u32 = 12, u64 = 13, bf16 = 16
};

size_t elem_size(ElemType t);        // 0 for unsupported (string, complex)
std::string_view elem_name(ElemType t);  // "float32", "int64", ... (NumPy spelling)
bool elem_supported(ElemType t);     // an element type the engine can hold

// Largest single array the engine will allocate; bigger requests come from corrupt input.
inline constexpr size_t kMaxArrayBytes = size_t{16} << 30;

// numel with overflow and negative-dimension checks; `what` names the caller in errors.
int64_t checked_numel(const Shape& shape, std::string_view what);

class Array {
 public:
  Array() = default;
  static Array empty(ElemType type, const Shape& shape);  // uninitialized
  static Array zeros(ElemType type, const Shape& shape);
  // Views caller-owned memory; `owner` keeps it alive (may be null if the caller guarantees it).
  static Array view(ElemType type, const Shape& shape, std::byte* data, std::shared_ptr<void> owner);
  template <typename T>
  static Array from(const Shape& shape, std::span<const T> values);
  template <typename T>
  static Array scalar(T v) { return from<T>({}, std::span<const T>(&v, 1)); }

  bool defined() const { return type_ != ElemType::undefined; }
  ElemType type() const { return type_; }
  const Shape& shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * elem_size(type_); }

  std::byte* raw() { return data_; }
  const std::byte* raw() const { return data_; }
  template <typename T> T* data() { check_type<T>(); return reinterpret_cast<T*>(data_); }
  template <typename T> const T* data() const { check_type<T>(); return reinterpret_cast<const T*>(data_); }

  Array clone() const;
  Array reshaped(const Shape& shape) const;  // same bytes, new shape (numel must match)
  // Element i converted to double / int64 (any numeric type); for attributes-like inputs.
  double get_f64(int64_t i) const;
  int64_t get_i64(int64_t i) const;
  std::vector<int64_t> to_i64_vector() const;
  std::vector<float> to_f32_vector() const;

 private:
  template <typename T> void check_type() const;
  ElemType type_ = ElemType::undefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<void> owner_;
  std::byte* data_ = nullptr;
};

template <typename T> struct ElemOf;
template <> struct ElemOf<float> { static constexpr ElemType value = ElemType::f32; };
template <> struct ElemOf<double> { static constexpr ElemType value = ElemType::f64; };
template <> struct ElemOf<int8_t> { static constexpr ElemType value = ElemType::i8; };
template <> struct ElemOf<uint8_t> { static constexpr ElemType value = ElemType::u8; };
template <> struct ElemOf<int16_t> { static constexpr ElemType value = ElemType::i16; };
template <> struct ElemOf<uint16_t> { static constexpr ElemType value = ElemType::u16; };
template <> struct ElemOf<int32_t> { static constexpr ElemType value = ElemType::i32; };
template <> struct ElemOf<uint32_t> { static constexpr ElemType value = ElemType::u32; };
template <> struct ElemOf<int64_t> { static constexpr ElemType value = ElemType::i64; };
template <> struct ElemOf<uint64_t> { static constexpr ElemType value = ElemType::u64; };
template <> struct ElemOf<bool> { static constexpr ElemType value = ElemType::boolean; };

template <typename T>
void Array::check_type() const {
  // f16/bf16 are stored as uint16_t bit patterns.
  if constexpr (std::is_same_v<T, uint16_t>) {
    if (type_ == ElemType::f16 || type_ == ElemType::bf16) return;
  }
  LOWBIT_CHECK(type_ == ElemOf<T>::value, "Array holds {}, accessed as {}", elem_name(type_),
               elem_name(ElemOf<T>::value));
}

template <typename T>
Array Array::from(const Shape& shape, std::span<const T> values) {
  Array a = empty(ElemOf<T>::value, shape);
  LOWBIT_REQUIRE(static_cast<int64_t>(values.size()) == a.numel(), "Array::from",
                 "{} values for shape {}", values.size(), shape_str(shape));
  std::copy(values.begin(), values.end(), a.data<T>());
  return a;
}

// Calls fn(T{}) with the C++ type of a numeric element type (f16/bf16 excluded).
template <typename Fn>
void dispatch_numeric(ElemType t, std::string_view op, Fn&& fn) {
  switch (t) {
    case ElemType::f32: fn(float{}); return;
    case ElemType::f64: fn(double{}); return;
    case ElemType::i8: fn(int8_t{}); return;
    case ElemType::u8: fn(uint8_t{}); return;
    case ElemType::i16: fn(int16_t{}); return;
    case ElemType::u16: fn(uint16_t{}); return;
    case ElemType::i32: fn(int32_t{}); return;
    case ElemType::u32: fn(uint32_t{}); return;
    case ElemType::i64: fn(int64_t{}); return;
    case ElemType::u64: fn(uint64_t{}); return;
    case ElemType::boolean: fn(bool{}); return;
    default: break;
  }
  fail(op, "element type {} is not supported here", elem_name(t));
}

// f16 / bf16 bit-pattern conversions (round to nearest even).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
inline float bf16_to_float(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t float_to_bf16(float f);

}  // namespace lowbit::onnx
