// TensorProto <-> Array. Typed repeated fields and raw_data are both accepted; the element
// count must match the dims exactly, so the allocation is bounded by the bytes present. INT4 /
// UINT4 (opset 21: two per byte, low nibble first, in raw_data or one byte per int32_data
// entry) are held widened, one code per int8 / uint8 element.
#include "proto_tensor.h"

#include <filesystem>
#include <fstream>

#include "lowbit/kernels/quant.h"

namespace lowbit::onnx {
namespace {

template <typename T, typename Src>
void copy_field(const Src& field, Array& a, const std::string& what) {
  if (static_cast<int64_t>(field.size()) != a.numel())
    throw IoError(fmt::format("[onnx] tensor '{}': {} values for shape {}", what, field.size(), shape_str(a.shape())));
  T* p = a.data<T>();
  for (int64_t i = 0; i < a.numel(); ++i) p[i] = static_cast<T>(field.Get(static_cast<int>(i)));
}

std::string read_external(const ::onnx::TensorProto& t, const std::string& what, const std::string& base_dir,
                          size_t nbytes) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : t.external_data()) {
    if (kv.key() == "location") location = kv.value();
    else if (kv.key() == "offset") offset = std::stoll(kv.value());
    else if (kv.key() == "length") length = std::stoll(kv.value());
  }
  if (base_dir.empty()) throw IoError(fmt::format("[onnx] tensor '{}': external data is not allowed here", what));
  const std::filesystem::path rel(location);
  if (location.empty() || rel.is_absolute() || location.find("..") != std::string::npos)
    throw IoError(fmt::format("[onnx] tensor '{}': external data location '{}' must be a relative path inside the model folder",
                              what, location));
  const std::filesystem::path path = std::filesystem::path(base_dir) / rel;
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError(fmt::format("[onnx] tensor '{}': cannot open external data '{}'", what, path.string()));
  f.seekg(0, std::ios::end);
  const auto size = static_cast<int64_t>(f.tellg());
  if (length < 0) length = static_cast<int64_t>(nbytes);
  if (offset < 0 || length != static_cast<int64_t>(nbytes) || offset + length > size)
    throw IoError(fmt::format("[onnx] tensor '{}': external data range [{}, +{}) does not fit '{}' ({} bytes) or the "
                              "tensor ({} bytes)", what, offset, length, path.string(), size, nbytes));
  std::string out(nbytes, '\0');
  f.seekg(offset);
  f.read(out.data(), static_cast<std::streamsize>(nbytes));
  if (!f) throw IoError(fmt::format("[onnx] tensor '{}': short read from '{}'", what, path.string()));
  return out;
}

// INT4 / UINT4: ⌈numel/2⌉ packed bytes, from raw_data, external data or int32_data (each entry
// one byte), unpacked into int8 (sign-extended) or uint8 codes. The unused high nibble of an
// odd-length tensor's last byte is ignored.
Array array_from_proto_4bit(const ::onnx::TensorProto& t, const std::string& what, const std::string& base_dir,
                            const Shape& shape, int64_t numel) {
  const bool is_signed = t.data_type() == kProtoInt4;
  const char* name = is_signed ? "int4" : "uint4";
  if (static_cast<uint64_t>(numel) > kMaxArrayBytes)
    throw IoError(fmt::format("[onnx] tensor '{}': shape {} is absurdly large", what, shape_str(shape)));
  const size_t nbytes = static_cast<size_t>((numel + 1) / 2);
  std::string packed;
  if (t.data_location() == ::onnx::TensorProto::EXTERNAL || t.has_raw_data()) {
    packed = t.data_location() == ::onnx::TensorProto::EXTERNAL ? read_external(t, what, base_dir, nbytes) : t.raw_data();
    if (packed.size() != nbytes)
      throw IoError(fmt::format("[onnx] tensor '{}': raw_data has {} bytes, shape {} of {} needs {} (two per byte)", what,
                                packed.size(), shape_str(shape), name, nbytes));
  } else {
    if (static_cast<size_t>(t.int32_data_size()) != nbytes)
      throw IoError(fmt::format("[onnx] tensor '{}': int32_data has {} values, shape {} of {} needs {} (two per value)",
                                what, t.int32_data_size(), shape_str(shape), name, nbytes));
    packed.resize(nbytes);
    for (size_t i = 0; i < nbytes; ++i) {
      const int32_t v = t.int32_data(static_cast<int>(i));
      if (v < 0 || v > 255)
        throw IoError(fmt::format("[onnx] tensor '{}': int32_data[{}] = {} is not a byte of two packed {} values", what, i,
                                  v, name));
      packed[i] = static_cast<char>(v);
    }
  }
  Array a = Array::empty(is_signed ? ElemType::i8 : ElemType::u8, shape);
  const auto* src = reinterpret_cast<const uint8_t*>(packed.data());
  if (is_signed) kernels::unpack_int4(numel, src, a.data<int8_t>());
  else kernels::unpack_uint4(numel, src, reinterpret_cast<int8_t*>(a.data<uint8_t>()));
  return a;
}

}  // namespace

Array array_from_proto(const ::onnx::TensorProto& t, const std::string& what, const std::string& base_dir) {
  if (t.data_type() == kProtoInt4 || t.data_type() == kProtoUint4) {
    if (t.dims_size() > 64) throw IoError(fmt::format("[onnx] tensor '{}': rank {} is absurd", what, t.dims_size()));
    Shape shape(t.dims().begin(), t.dims().end());
    int64_t numel = 0;
    try {
      numel = checked_numel(shape, "onnx");
    } catch (const ValueError&) {
      throw IoError(fmt::format("[onnx] tensor '{}': invalid shape {}", what, shape_str(shape)));
    }
    return array_from_proto_4bit(t, what, base_dir, shape, numel);
  }
  const auto type = static_cast<ElemType>(t.data_type());
  if (!elem_supported(type))
    throw IoError(fmt::format("[onnx] tensor '{}': element type {} is not supported", what, t.data_type()));
  if (t.dims_size() > 64) throw IoError(fmt::format("[onnx] tensor '{}': rank {} is absurd", what, t.dims_size()));
  Shape shape(t.dims().begin(), t.dims().end());
  int64_t numel = 0;
  try {
    numel = checked_numel(shape, "onnx");
  } catch (const ValueError&) {
    throw IoError(fmt::format("[onnx] tensor '{}': invalid shape {}", what, shape_str(shape)));
  }
  const size_t es = elem_size(type);
  const bool external = t.data_location() == ::onnx::TensorProto::EXTERNAL;
  // Bound every allocation by the bytes that back it, before allocating anything.
  if (static_cast<uint64_t>(numel) > kMaxArrayBytes / es)
    throw IoError(fmt::format("[onnx] tensor '{}': shape {} is absurdly large", what, shape_str(shape)));
  const size_t nbytes = static_cast<size_t>(numel) * es;
  if (external || t.has_raw_data()) {
    const std::string ext = external ? read_external(t, what, base_dir, nbytes) : std::string();
    const std::string& raw = external ? ext : t.raw_data();
    if (raw.size() != nbytes)
      throw IoError(fmt::format("[onnx] tensor '{}': raw_data has {} bytes, shape {} of {} needs {}", what, raw.size(),
                                shape_str(shape), elem_name(type), nbytes));
    Array a = Array::empty(type, shape);
    if (nbytes) std::memcpy(a.raw(), raw.data(), nbytes);
    return a;
  }
  const int64_t provided = t.float_data_size() + t.int32_data_size() + t.int64_data_size() + t.double_data_size() +
                           t.uint64_data_size();
  if (numel > provided)
    throw IoError(fmt::format("[onnx] tensor '{}': shape {} needs {} values, the file holds {}", what, shape_str(shape),
                              numel, provided));
  Array a = Array::empty(type, shape);
  switch (type) {
    case ElemType::f32: copy_field<float>(t.float_data(), a, what); break;
    case ElemType::f64: copy_field<double>(t.double_data(), a, what); break;
    case ElemType::i64: copy_field<int64_t>(t.int64_data(), a, what); break;
    case ElemType::u32: copy_field<uint32_t>(t.uint64_data(), a, what); break;
    case ElemType::u64: copy_field<uint64_t>(t.uint64_data(), a, what); break;
    case ElemType::i32: copy_field<int32_t>(t.int32_data(), a, what); break;
    case ElemType::i16: copy_field<int16_t>(t.int32_data(), a, what); break;
    case ElemType::u16: case ElemType::f16: case ElemType::bf16: copy_field<uint16_t>(t.int32_data(), a, what); break;
    case ElemType::i8: copy_field<int8_t>(t.int32_data(), a, what); break;
    case ElemType::u8: copy_field<uint8_t>(t.int32_data(), a, what); break;
    case ElemType::boolean: copy_field<bool>(t.int32_data(), a, what); break;
    default: throw IoError(fmt::format("[onnx] tensor '{}': unsupported element type", what));
  }
  return a;
}

void array_to_proto(const Array& a, const std::string& name, ::onnx::TensorProto* t) {
  t->set_name(name);
  t->set_data_type(static_cast<int32_t>(a.type()));
  for (int64_t d : a.shape()) t->add_dims(d);
  t->set_raw_data(std::string(reinterpret_cast<const char*>(a.raw()), a.nbytes()));
}

void array_to_proto_4bit(const Array& a, const std::string& name, ::onnx::TensorProto* t) {
  const bool is_signed = a.type() == ElemType::i8;
  LOWBIT_CHECK(is_signed || a.type() == ElemType::u8);
  const int8_t* c = reinterpret_cast<const int8_t*>(a.raw());
  for (int64_t i = 0; i < a.numel(); ++i) {
    const int v = is_signed ? c[i] : static_cast<uint8_t>(c[i]);
    LOWBIT_REQUIRE(is_signed ? v >= -8 && v <= 7 : v <= 15, "onnx export",
                   "tensor '{}' element {} is {}, outside the {} range", name, i, v, is_signed ? "int4" : "uint4");
  }
  t->set_name(name);
  t->set_data_type(is_signed ? kProtoInt4 : kProtoUint4);
  for (int64_t d : a.shape()) t->add_dims(d);
  std::string packed(static_cast<size_t>((a.numel() + 1) / 2), '\0');
  kernels::pack_int4(a.numel(), c, reinterpret_cast<uint8_t*>(packed.data()));
  t->set_raw_data(std::move(packed));
}

}  // namespace lowbit::onnx
