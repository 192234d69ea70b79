// Activation layout per value for one plan: which values the producing and every consuming op
// exchange channels-last (NHWC), so that chains of convolutions skip the NCHW round trip.
#pragma once

#include <vector>

#include "lowbit/onnx/shape_inference.h"

namespace lowbit::onnx {

// true at index v: value v is stored NHWC. Only values produced and consumed exclusively by
// runtime nodes whose OpDef::channels_last accepts them (at the very input positions), and
// never graph outputs, inputs or constants. Readers folded at planning (Shape, Size) do not count:
// they never read the data.
std::vector<bool> plan_channels_last(const Graph& g, const InferenceResult& inf);

}  // namespace lowbit::onnx
