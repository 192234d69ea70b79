// .npy reader/writer. Header: magic "\x93NUMPY", version, header length, then a Python dict
// literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded to 64 bytes.
#include "lowbit/onnx/npy.h"

#include <cctype>
#include <fstream>
#include <sstream>

namespace lowbit::onnx {
namespace {

[[noreturn]] void bad(const std::string& what, const std::string& msg) {
  throw IoError(fmt::format("[npy] {}: {}", what, msg));
}

ElemType type_of(const std::string& descr, const std::string& what) {
  if (descr.size() < 2) bad(what, "bad dtype '" + descr + "'");
  const char order = descr[0];
  const std::string code = descr.substr(1);
  const bool single_byte = code == "b1" || code == "i1" || code == "u1";
  if (!(order == '<' || (order == '|' && single_byte) || (order == '=' && single_byte)))
    bad(what, "only little-endian data is supported (dtype '" + descr + "')");
  static const std::pair<const char*, ElemType> kTypes[] = {
      {"f4", ElemType::f32}, {"f8", ElemType::f64}, {"f2", ElemType::f16}, {"i1", ElemType::i8},  {"u1", ElemType::u8},
      {"i2", ElemType::i16}, {"u2", ElemType::u16}, {"i4", ElemType::i32}, {"u4", ElemType::u32}, {"i8", ElemType::i64},
      {"u8", ElemType::u64}, {"b1", ElemType::boolean}};
  for (const auto& [c, t] : kTypes)
    if (code == c) return t;
  bad(what, "unsupported dtype '" + descr + "'");
}

std::string descr_of(ElemType t) {
  switch (t) {
    case ElemType::f32: return "<f4";
    case ElemType::f64: return "<f8";
    case ElemType::f16: return "<f2";
    case ElemType::i8: return "|i1";
    case ElemType::u8: return "|u1";
    case ElemType::i16: return "<i2";
    case ElemType::u16: return "<u2";
    case ElemType::i32: return "<i4";
    case ElemType::u32: return "<u4";
    case ElemType::i64: return "<i8";
    case ElemType::u64: return "<u8";
    case ElemType::boolean: return "|b1";
    default: throw ValueError(fmt::format("[npy] cannot store element type {}", elem_name(t)));
  }
}

// Value of `key` in the header dict, as raw text up to the next top-level comma or '}'.
std::string dict_value(const std::string& h, const std::string& key, const std::string& what) {
  const std::string k = "'" + key + "'";
  const size_t at = h.find(k);
  if (at == std::string::npos) bad(what, "header lacks '" + key + "'");
  size_t i = h.find(':', at + k.size());
  if (i == std::string::npos) bad(what, "malformed header");
  ++i;
  while (i < h.size() && std::isspace(static_cast<unsigned char>(h[i]))) ++i;
  int depth = 0;
  size_t j = i;
  for (; j < h.size(); ++j) {
    const char c = h[j];
    if (c == '(') ++depth;
    else if (c == ')') --depth;
    else if ((c == ',' || c == '}') && depth == 0) break;
    if (depth < 0) bad(what, "malformed header");
  }
  if (j >= h.size()) bad(what, "malformed header");
  std::string v = h.substr(i, j - i);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
  return v;
}

Shape parse_shape(const std::string& v, const std::string& what) {
  if (v.size() < 2 || v.front() != '(' || v.back() != ')') bad(what, "malformed shape '" + v + "'");
  Shape s;
  std::string item;
  std::istringstream in(v.substr(1, v.size() - 2));
  while (std::getline(in, item, ',')) {
    size_t a = 0, b = item.size();
    while (a < b && std::isspace(static_cast<unsigned char>(item[a]))) ++a;
    while (b > a && std::isspace(static_cast<unsigned char>(item[b - 1]))) --b;
    if (a == b) continue;  // trailing comma of a 1-tuple
    int64_t d = 0;
    for (size_t k = a; k < b; ++k) {
      if (!std::isdigit(static_cast<unsigned char>(item[k])) || d > (int64_t{1} << 40)) bad(what, "bad dimension in shape '" + v + "'");
      d = d * 10 + (item[k] - '0');
    }
    s.push_back(d);
    if (s.size() > 64) bad(what, "absurd rank");
  }
  return s;
}

}  // namespace

Array parse_npy(std::string_view bytes, const std::string& what) {
  if (bytes.size() < 10 || bytes.substr(0, 6) != std::string_view("\x93NUMPY", 6)) bad(what, "not a .npy file (bad magic)");
  const auto major = static_cast<uint8_t>(bytes[6]);
  size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) bad(what, "truncated header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<uint8_t>(bytes[8 + i])) << (8 * i);
    start = 12;
  } else {
    bad(what, fmt::format("unsupported format version {}", major));
  }
  if (header_len > bytes.size() - start) bad(what, "truncated header");
  const std::string header(bytes.substr(start, header_len));
  const std::string descr = dict_value(header, "descr", what);
  if (descr.size() < 4 || descr.front() != '\'' || descr.back() != '\'') bad(what, "malformed dtype " + descr);
  const ElemType type = type_of(descr.substr(1, descr.size() - 2), what);
  if (dict_value(header, "fortran_order", what) != "False") bad(what, "Fortran-order arrays are not supported");
  const Shape shape = parse_shape(dict_value(header, "shape", what), what);
  int64_t n = 0;
  try {
    n = checked_numel(shape, "npy");
  } catch (const ValueError&) {
    bad(what, "shape " + shape_str(shape) + " is too large");
  }
  const size_t data_at = start + header_len, es = elem_size(type);
  const size_t available = bytes.size() - data_at;
  if (static_cast<uint64_t>(n) > available / es || static_cast<size_t>(n) * es != available)
    bad(what, fmt::format("data holds {} bytes, shape {} of {} needs {}", available, shape_str(shape), elem_name(type),
                          static_cast<double>(n) * static_cast<double>(es)));
  Array a = Array::empty(type, shape);
  if (a.nbytes()) std::memcpy(a.raw(), bytes.data() + data_at, a.nbytes());
  return a;
}

Array load_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError(fmt::format("[npy] cannot open '{}'", path));
  std::ostringstream ss;
  ss << f.rdbuf();
  return parse_npy(ss.str(), path);
}

std::string encode_npy(const Array& a) {
  std::string dict = "{'descr': '" + descr_of(a.type()) + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < a.shape().size(); ++i) dict += std::to_string(a.shape()[i]) + (a.shape().size() == 1 ? "," : (i + 1 < a.shape().size() ? ", " : ""));
  dict += "), }";
  // Pad with spaces so that magic + version + length + header + '\n' is a multiple of 64.
  const size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(dict.size() & 0xFF);
  out += static_cast<char>((dict.size() >> 8) & 0xFF);
  out += dict;
  out.append(reinterpret_cast<const char*>(a.raw()), a.nbytes());
  return out;
}

void save_npy(const std::string& path, const Array& a) {
  std::ofstream f(path, std::ios::binary);
  if (!f) throw IoError(fmt::format("[npy] cannot write '{}'", path));
  const std::string bytes = encode_npy(a);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw IoError(fmt::format("[npy] short write to '{}'", path));
}

}  // namespace lowbit::onnx
