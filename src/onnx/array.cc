// Array allocation, conversions and the f16/bf16 bit-pattern helpers.
#include "lowbit/onnx/array.h"

#include <cmath>
#include <cstdlib>
#include <limits>

namespace lowbit::onnx {
namespace {

constexpr size_t kAlign = 64;

std::shared_ptr<void> allocate(size_t nbytes) {
  const size_t rounded = (std::max<size_t>(nbytes, 1) + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, rounded);
  if (!p) throw std::bad_alloc();
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

}  // namespace

size_t elem_size(ElemType t) {
  switch (t) {
    case ElemType::f32: case ElemType::i32: case ElemType::u32: return 4;
    case ElemType::u8: case ElemType::i8: case ElemType::boolean: return 1;
    case ElemType::u16: case ElemType::i16: case ElemType::f16: case ElemType::bf16: return 2;
    case ElemType::i64: case ElemType::u64: case ElemType::f64: return 8;
    default: return 0;
  }
}

bool elem_supported(ElemType t) { return elem_size(t) != 0; }

std::string_view elem_name(ElemType t) {
  switch (t) {
    case ElemType::f32: return "float32";
    case ElemType::u8: return "uint8";
    case ElemType::i8: return "int8";
    case ElemType::u16: return "uint16";
    case ElemType::i16: return "int16";
    case ElemType::i32: return "int32";
    case ElemType::i64: return "int64";
    case ElemType::string: return "string";
    case ElemType::boolean: return "bool";
    case ElemType::f16: return "float16";
    case ElemType::f64: return "float64";
    case ElemType::u32: return "uint32";
    case ElemType::u64: return "uint64";
    case ElemType::bf16: return "bfloat16";
    default: return "undefined";
  }
}

int64_t checked_numel(const Shape& shape, std::string_view what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    LOWBIT_REQUIRE(d >= 0, what, "negative dimension in shape {}", shape_str(shape));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      fail(what, "shape {} has more elements than fit in int64", shape_str(shape));
    n *= d;
  }
  return n;
}

Array Array::empty(ElemType type, const Shape& shape) {
  LOWBIT_REQUIRE(elem_supported(type), "Array", "element type {} is not supported", elem_name(type));
  const int64_t n = checked_numel(shape, "Array");
  LOWBIT_REQUIRE(static_cast<uint64_t>(n) <= kMaxArrayBytes / elem_size(type), "Array",
                 "shape {} of {} needs more than the {} GiB limit for one array", shape_str(shape),
                 elem_name(type), kMaxArrayBytes >> 30);
  Array a;
  a.type_ = type;
  a.shape_ = shape;
  a.numel_ = n;
  a.owner_ = allocate(a.nbytes());
  a.data_ = static_cast<std::byte*>(a.owner_.get());
  return a;
}

Array Array::zeros(ElemType type, const Shape& shape) {
  Array a = empty(type, shape);
  std::memset(a.data_, 0, a.nbytes());
  return a;
}

Array Array::view(ElemType type, const Shape& shape, std::byte* data, std::shared_ptr<void> owner) {
  Array a;
  a.type_ = type;
  a.shape_ = shape;
  a.numel_ = checked_numel(shape, "Array::view");
  a.owner_ = std::move(owner);
  a.data_ = data;
  return a;
}

Array Array::clone() const {
  Array a = empty(type_, shape_);
  if (nbytes()) std::memcpy(a.data_, data_, nbytes());
  return a;
}

Array Array::reshaped(const Shape& shape) const {
  Array a = *this;
  a.shape_ = shape;
  a.numel_ = checked_numel(shape, "Array::reshaped");
  LOWBIT_CHECK(a.numel_ == numel_, "reshape {} -> {}", shape_str(shape_), shape_str(shape));
  return a;
}

double Array::get_f64(int64_t i) const {
  LOWBIT_CHECK(i >= 0 && i < numel_);
  if (type_ == ElemType::f16) return half_to_float(reinterpret_cast<const uint16_t*>(data_)[i]);
  if (type_ == ElemType::bf16) return bf16_to_float(reinterpret_cast<const uint16_t*>(data_)[i]);
  double v = 0;
  dispatch_numeric(type_, "Array", [&](auto t) {
    using T = decltype(t);
    v = static_cast<double>(reinterpret_cast<const T*>(data_)[i]);
  });
  return v;
}

int64_t Array::get_i64(int64_t i) const {
  LOWBIT_CHECK(i >= 0 && i < numel_);
  if (type_ == ElemType::i64) return reinterpret_cast<const int64_t*>(data_)[i];
  if (type_ == ElemType::i32) return reinterpret_cast<const int32_t*>(data_)[i];
  const double v = get_f64(i);
  if (!(v >= -9.2e18 && v <= 9.2e18)) return v < 0 ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(v);
}

std::vector<int64_t> Array::to_i64_vector() const {
  std::vector<int64_t> v(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) v[static_cast<size_t>(i)] = get_i64(i);
  return v;
}

std::vector<float> Array::to_f32_vector() const {
  std::vector<float> v(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) v[static_cast<size_t>(i)] = static_cast<float>(get_f64(i));
  return v;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  float f;
  if (exp == 0) {
    f = std::ldexp(static_cast<float>(mant), -24);
  } else if (exp == 31) {
    f = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    f = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  }
  return sign ? -f : f;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const float a = std::fabs(f);
  if (std::isnan(f)) return sign | 0x7E00;
  if (a >= 65520.0f) return sign | 0x7C00;  // rounds to infinity
  if (a < 0x1.0p-14f) {
    // Subnormal: units of 2^-24, round half to even via nearbyint.
    return sign | static_cast<uint16_t>(std::nearbyint(a * 0x1.0p24f));
  }
  int e;
  const float m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  // Mantissa with 10 fraction bits, rounded half to even; carries propagate into the exponent.
  const uint32_t q = static_cast<uint32_t>(std::nearbyint(m * 2048.0f));  // in [1024, 2048]
  uint32_t bits = (static_cast<uint32_t>(e + 14) << 10) + (q - 1024);
  return sign | static_cast<uint16_t>(bits);
}

uint16_t float_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if (std::isnan(f)) return static_cast<uint16_t>((x >> 16) | 0x40);
  x += 0x7FFF + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

}  // namespace lowbit::onnx
