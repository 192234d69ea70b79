// `lowbit export`: a classifier checkpoint of `lowbit train` as an ONNX model.
//
// fp32: the eval-mode network (module_onnx.h) with the data set's preprocessing, name and class
// names in metadata_props (ptq::ModelDataInfo), so `lowbit eval model.onnx` needs no flags.
//
// QDQ (integer-trained checkpoints, --quant hdqt|naive-int|int8): every Gemm/Conv reads its
// weight through DequantizeLinear of int8 codes and its input through QuantizeLinear ->
// DequantizeLinear, at the training forward quantizer's bits (QuantConfig.forward):
//   exact    weight codes and scales: per tensor, symmetric, m = clip·max|W|, s = m / q_max(b),
//            round half to even, codes in [-q_max, q_max] (what the training forward computes);
//            bias added in fp32 after the GEMM, as in training.
//   not exact  activation scales: training takes m = clip·max|x| of each batch; a file needs
//            one static scale, here clip × the mean over calibration batches (of the training
//            batch size, from the train split) of max|x|. An input with no negative value in
//            calibration gets the unsigned grid [0, 2^b - 1] when b <= 7 (as training does when
//            the batch is non-negative). Below 8 bits a Clip to the code range precedes
//            QuantizeLinear (ONNX has no 4-bit types at opset 17). The 8-bit tile-clamped
//            accumulators of hdqt/naive-int are not expressible in ONNX: the file accumulates
//            exactly (int8: exact in training too).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lowbit/onnx/ir.h"

namespace lowbit::interop {

struct ExportOptions {
  bool qdq = false;           // QDQ at the training precision (integer-trained checkpoints only)
  std::string data_dir;       // where the checkpoint's data set lives (QDQ calibration; "" = default)
  int64_t calib_samples = 1024;
  int64_t calib_batch = 128;  // batch size of the per-batch maxima (lowbit train's default)
  int opset = 17;
};

struct ExportLayer {
  std::string node, op;
  int bits = 0;
  float weight_scale = 0, input_scale = 0;
  bool input_unsigned = false;
};

struct ExportReport {
  std::string model, dataset, quant;  // quant: "fp32" or "hdqt 4-bit/8-bit acc", ...
  int64_t num_classes = 0;
  std::vector<ExportLayer> layers;    // QDQ only
};

// Reads the checkpoint (nn::load_checkpoint, train::parse_classifier_meta) and builds the
// graph. IoError naming the file for an unreadable or corrupt checkpoint; ValueError naming it
// for an unknown model, --qdq of an fp32 checkpoint, or a data set that does not match.
onnx::Graph export_checkpoint(const std::string& checkpoint, const ExportOptions& opt, ExportReport* report = nullptr);

}  // namespace lowbit::interop
