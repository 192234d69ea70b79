// Conversion between onnx.TensorProto and Array (internal to the loader and exporter).
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

#include "lowbit/onnx/array.h"

namespace lowbit::onnx {

// `what` names the tensor in errors; base_dir resolves external data ("" rejects it).
Array array_from_proto(const ::onnx::TensorProto& t, const std::string& what, const std::string& base_dir);
void array_to_proto(const Array& a, const std::string& name, ::onnx::TensorProto* t);

}  // namespace lowbit::onnx
