// Inputs for a graph from outside: arrays loaded from .npy checked against the declared input
// (element type, non-batch dimensions, token ids inside the embedding table), and deterministic
// random inputs for the declared shapes. Shared by `lowbit run`, `bench model`, `quantize`, `ptq`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lowbit/onnx/ir.h"

namespace lowbit::onnx {

// Rows of the constant table that graph input `input` (an index into g.inputs) indexes: the
// Gather whose indices it is, directly or through Cast/Reshape/Unsqueeze/Squeeze/Flatten/
// Identity. 0 when it feeds no such Gather (a mask, a float feature).
int64_t index_range(const Graph& g, size_t input);

// `a` as graph input `input`: float64 narrowed to float32 and int32 widened to int64 when the
// input is declared so; then the element type must be the declared one, the rank and every
// declared non-batch dimension must match, and integer indices must lie in [-rows, rows) of the
// table they index (index_range). `what` names the source in errors ("file 'x.npy'"), `op` the
// command ("run", "quantize", ...). ValueError otherwise.
Array fit_input(const Graph& g, size_t input, Array a, const std::string& what, const std::string& op);

// One array per graph input at batch `batch` (a symbolic dimension 0 takes it; other symbolic
// dimensions are an error). Floats ~ N(0, 1); integer inputs that index a table (index_range)
// uniform in [0, rows), other integer inputs (attention masks) ones; uint8/int8 uniform bytes,
// bool 0/1. Deterministic in (seed, input position).
std::vector<Array> random_inputs(const Graph& g, int64_t batch, uint64_t seed, const std::string& op = "run");

}  // namespace lowbit::onnx
