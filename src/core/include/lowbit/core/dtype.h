// Element types of lowbit tensors. int4 is packed two per byte (low nibble first).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lowbit {

enum class DType : uint8_t { f32, i32, i8, u8, i4 };

// Bytes for n elements of dtype (int4 rounds up to whole bytes).
constexpr size_t dtype_bytes(DType t, int64_t n) {
  switch (t) {
    case DType::f32:
    case DType::i32: return static_cast<size_t>(n) * 4;
    case DType::i8:
    case DType::u8: return static_cast<size_t>(n);
    case DType::i4: return static_cast<size_t>((n + 1) / 2);
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::i32: return "i32";
    case DType::i8: return "i8";
    case DType::u8: return "u8";
    case DType::i4: return "i4";
  }
  return "?";
}

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::f32; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::i32; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::i8; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::u8; };

// int4 helpers: value range [-8, 7], two's complement nibble.
constexpr uint8_t int4_pack(int8_t lo, int8_t hi) {
  return static_cast<uint8_t>((static_cast<uint8_t>(lo) & 0x0F) | ((static_cast<uint8_t>(hi) & 0x0F) << 4));
}
constexpr int8_t int4_lo(uint8_t byte) { return static_cast<int8_t>(static_cast<int8_t>(byte << 4) >> 4); }
constexpr int8_t int4_hi(uint8_t byte) { return static_cast<int8_t>(static_cast<int8_t>(byte) >> 4); }

}  // namespace lowbit
