// Conversion between onnx.TensorProto and Array (internal to the loader and exporter).
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

#include "lowbit/onnx/array.h"

namespace lowbit::onnx {

// TensorProto.data_type of ONNX's 4-bit types (IR 10, opset 21), which Debian's libonnx predates.
inline constexpr int32_t kProtoUint4 = 21, kProtoInt4 = 22;

// `what` names the tensor in errors; base_dir resolves external data ("" rejects it).
Array array_from_proto(const ::onnx::TensorProto& t, const std::string& what, const std::string& base_dir);
void array_to_proto(const Array& a, const std::string& name, ::onnx::TensorProto* t);
// int8 codes in [-8, 7] as INT4 (uint8 codes in [0, 15] as UINT4), packed two per byte.
void array_to_proto_4bit(const Array& a, const std::string& name, ::onnx::TensorProto* t);

}  // namespace lowbit::onnx
