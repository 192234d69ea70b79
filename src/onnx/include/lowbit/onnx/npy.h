// NumPy .npy files (format versions 1-3, C order, little-endian): what `lowbit run` and
// `lowbit bench model` read and write. Headers are parsed strictly; the data size must match
// the header's shape exactly, so corrupt files fail with IoError before any large allocation.
#pragma once

#include <string>
#include <string_view>

#include "lowbit/onnx/array.h"

namespace lowbit::onnx {

Array load_npy(const std::string& path);
Array parse_npy(std::string_view bytes, const std::string& what);
void save_npy(const std::string& path, const Array& a);
std::string encode_npy(const Array& a);

}  // namespace lowbit::onnx
