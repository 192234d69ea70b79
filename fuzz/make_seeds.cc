// Writes the seed corpora checked in under fuzz/corpus/ (run by scripts/fuzz-seeds; the output
// is deterministic). Each file is a valid input of its target, prefixed with the selector byte
// the target reads first: real checkpoints, .npy/.pb tensors, partial and metadata JSON, IDX,
// dataset cache, CIFAR record and DSADS text, and ONNX models of lowbit's own lowerings (bf16
// layers, MaxPool on QDQ codes). The other ONNX seeds and the JPEG are copied by the script.
//   make_seeds OUT_DIR
#include <onnx/onnx_pb.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "cil_task_fixture.h"
#include "lowbit/data/cache.h"
#include "lowbit/data/dsads.h"
#include "lowbit/nn/checkpoint.h"
#include "lowbit/nn/models.h"
#include "lowbit/nn/optim.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/ir.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/train/trainer.h"

namespace fs = std::filesystem;
using namespace lowbit;

namespace {

void put(const fs::path& dir, const std::string& name, char selector, const std::string& body) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << selector << body;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

std::string bytes_str(const data::Bytes& b) { return {b.begin(), b.end()}; }

void checkpoints(const fs::path& out) {
  auto model = nn::build_model("fcnet", {4}, 3);  // what checkpoint_fuzz restores into
  nn::Sgd opt(model->named_parameters(), nn::SgdOptions{});
  const fs::path tmp = fs::temp_directory_path() / "lowbit-seed.ckpt";
  train::save_training_checkpoint(tmp, *model, opt, 3, R"({"format":"lowbit-classifier","model":"fcnet"})");
  const std::string ck = slurp(tmp);
  fs::remove(tmp);
  put(out / "checkpoint", "train-fcnet-crcfix.bin", 1, ck);
  put(out / "checkpoint", "train-fcnet.bin", 0, ck);
  // A task checkpoint of `lowbit cil` (selector bit 1: checkpoint_fuzz restores it into the same run).
  const std::string task = fuzz::cil_task_checkpoint_bytes(fuzz::cil_task_fixture(), (fs::temp_directory_path() / "lowbit-seed-task.ckpt").string());
  put(out / "checkpoint", "cil-task-bic-hdqt.bin", 2, task);
  put(out / "checkpoint", "cil-task-bic-hdqt-crcfix.bin", 3, task);
}

void json(const fs::path& out) {
  put(out / "json", "partial-2tasks.json", 0,
      R"({"format":"lowbit-cil-partial","version":1,"config":{"dataset":"fashion-mnist","tasks":2},"runs":[)"
      R"({"preset":"fp32","seed":0,"head":{"seen_accuracy":[0.9,0.5],"accuracy_matrix":[[0.9],[0.4,0.6]]},)"
      R"("nme":{"seen_accuracy":[0.8,0.6],"accuracy_matrix":[[0.8],[0.5,0.7]]},"task_seconds":[1.5,2.0]}]})");
  put(out / "json", "meta-fcnet.json", 1,
      R"({"format":"lowbit-classifier","model":"fcnet","input_shape":[4],"num_classes":3,"dataset":"dsads",)"
      R"("seed":7,"quant":{"preset":"hdqt","bits":4,"acc_bits":16},"norm_mean":[0.1],"norm_std":[1.0]})");
  put(out / "json", "meta-cnn.json", 1,
      R"({"format":"lowbit-classifier","model":"cnn","input_shape":[1,8,8],"num_classes":10,"dataset":"fashion-mnist"})");
  // An exported model's metadata_props values (lowbit.preprocess / lowbit.class_names).
  put(out / "json", "model-preprocess.json", 3, R"({"scale":1.0,"mean":[0.2860407],"std":[0.3530242]})");
  put(out / "json", "model-class-names.json", 3, R"(["T-shirt/top","Trouser","Pullover"])");
}

void tensors(const fs::path& out) {
  const float f[] = {1.5f, -2.0f, 0.0f, 3.25f, 1e-3f, -7.0f};
  put(out / "npy", "f32-2x3.npy", 0, lowbit::onnx::encode_npy(lowbit::onnx::Array::from<float>({2, 3}, f)));
  const int64_t i[] = {4, -1};
  put(out / "npy", "i64-2.npy", 0, lowbit::onnx::encode_npy(lowbit::onnx::Array::from<int64_t>({2}, i)));
  const int64_t ids[] = {0, 1, 4, 2, 5, -5};  // token ids for the input checks: in range, one past, lowest negative
  put(out / "npy", "i64-ids-2x3.npy", 0, lowbit::onnx::encode_npy(lowbit::onnx::Array::from<int64_t>({2, 3}, ids)));
  put(out / "npy", "u8-empty.npy", 0, lowbit::onnx::encode_npy(lowbit::onnx::Array::zeros(lowbit::onnx::ElemType::u8, {0, 3})));
  ::onnx::TensorProto t;
  t.set_name("x");
  t.set_data_type(::onnx::TensorProto::FLOAT);
  t.add_dims(2);
  t.add_dims(2);
  for (int k = 0; k < 4; ++k) t.add_float_data(static_cast<float>(k) - 1.5f);
  put(out / "npy", "f32-2x2.pb", 1, t.SerializeAsString());
  t.clear_float_data();
  t.set_raw_data(std::string(16, '\x01'));
  put(out / "npy", "f32-2x2-raw.pb", 1, t.SerializeAsString());
}

void data_files(const fs::path& out) {
  // IDX: 2 images of 3x3 (ubyte, ndim 3).
  std::string idx = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3};
  for (int k = 0; k < 18; ++k) idx += static_cast<char>(k);
  put(out / "idx", "idx-2x3x3.bin", 0, idx);
  data::CacheEntry entry;
  entry.strings = {"a", "b"};
  entry.tensors.push_back(Tensor::zeros({2, 2}, DType::f32));
  put(out / "idx", "cache.bin", 1, bytes_str(data::encode_cache(0, entry)));
  std::string rec = {1, 7};  // coarse label, fine label 7
  rec += std::string(3072, '\x40');
  put(out / "idx", "cifar100-record.bin", 2, rec);
  std::string text;
  for (int r = 0; r < data::kDsadsRows; ++r)
    for (int c = 0; c < data::kDsadsChannels; ++c) text += (c % 5 ? "1" : "-0.5") + std::string(c + 1 < data::kDsadsChannels ? "," : "\n");
  put(out / "idx", "dsads-segment.txt", 3, text);
}

}  // namespace

// ONNX models for the graph passes the backend node tests do not reach (no selector byte: the
// onnx target reads a whole ModelProto).
void onnx_models(const fs::path& out) {
  using namespace lowbit::onnx;
  fs::create_directories(out / "onnx");
  {  // a bf16 layer: Cast(BFLOAT16) -> Cast(FLOAT) on the input, a bfloat16 weight behind a Cast
    GraphBuilder b(13);
    const int x = b.input("x", ElemType::f32, {1, 2, 4, 4});
    Array w = Array::empty(ElemType::bf16, {2, 2, 3, 3});
    for (int64_t i = 0; i < w.numel(); ++i) w.data<uint16_t>()[i] = float_to_bf16(static_cast<float>(i - 17) / 16.0f);
    auto cast = [&](int v, ElemType to) { return b.op("Cast", {v}, {{"to", Attribute::from_int(static_cast<int64_t>(to))}}); };
    const int xf = cast(cast(x, ElemType::bf16), ElemType::f32);
    b.output(b.op("Conv", {xf, cast(b.constant("w", std::move(w)), ElemType::f32)}, {{"pads", Attribute::from_ints({1, 1, 1, 1})}}), "y");
    std::ofstream(out / "onnx" / "lowbit_bf16_conv.onnx", std::ios::binary) << export_model_bytes(b.finish());
  }
  {  // DequantizeLinear -> MaxPool -> QuantizeLinear with equal parameters: pooled on the codes
    GraphBuilder b(13);
    const int x = b.input("x", ElemType::u8, {1, 2, 6, 6});
    const int s = b.constant("s", Array::scalar<float>(0.05f)), z = b.constant("z", Array::scalar<uint8_t>(7));
    const int p = b.op("MaxPool", {b.op("DequantizeLinear", {x, s, z})},
                       {{"kernel_shape", Attribute::from_ints({3, 3})}, {"strides", Attribute::from_ints({2, 2})},
                        {"pads", Attribute::from_ints({1, 1, 1, 1})}});
    b.output(b.op("QuantizeLinear", {p, s, z}), "y");
    std::ofstream(out / "onnx" / "lowbit_qdq_maxpool.onnx", std::ios::binary) << export_model_bytes(b.finish());
  }
  {  // attention's Q·Kᵀ in QDQ: DQ(uint8 a) · DQ(int8 b), broadcast batch, → Q: lowbit.QMatMul
    GraphBuilder b(13);
    const int a = b.input("a", ElemType::u8, {2, 3, 4, 5}), k = b.input("k", ElemType::i8, {3, 5, 4});
    const int sa = b.constant("sa", Array::scalar<float>(0.02f)), za = b.constant("za", Array::scalar<uint8_t>(128));
    const int sk = b.constant("sk", Array::scalar<float>(0.03f)), zk = b.constant("zk", Array::scalar<int8_t>(-3));
    const int mm = b.op("MatMul", {b.op("DequantizeLinear", {a, sa, za}), b.op("DequantizeLinear", {k, sk, zk})});
    const int sy = b.constant("sy", Array::scalar<float>(0.1f)), zy = b.constant("zy", Array::scalar<uint8_t>(120));
    b.output(b.op("QuantizeLinear", {b.op("Relu", {mm}), sy, zy}), "y");
    std::ofstream(out / "onnx" / "lowbit_qdq_act_matmul.onnx", std::ios::binary) << export_model_bytes(b.finish());
  }
  {  // MatMulInteger and QLinearMatMul of two inputs (uint8 × uint8): lowbit.QMatMul with int32 / codes out
    GraphBuilder b(13);
    const int a = b.input("a", ElemType::u8, {3, 6}), c = b.input("b", ElemType::u8, {6, 2});
    const int za = b.constant("za", Array::scalar<uint8_t>(10)), zb = b.constant("zb", Array::scalar<uint8_t>(200));
    b.output(b.op("MatMulInteger", {a, c, za, zb}), "acc");
    const int sa = b.constant("sa", Array::scalar<float>(0.02f)), sb = b.constant("sb", Array::scalar<float>(0.01f));
    const int sy = b.constant("sy", Array::scalar<float>(0.2f)), zy = b.constant("zy", Array::scalar<int8_t>(0));
    b.output(b.op("QLinearMatMul", {a, sa, za, c, sb, zb, sy, zy}), "y");
    std::ofstream(out / "onnx" / "lowbit_act_matmul_integer.onnx", std::ios::binary) << export_model_bytes(b.finish());
  }
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds OUT_DIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  checkpoints(out);
  json(out);
  tensors(out);
  data_files(out);
  onnx_models(out);
  return 0;
}
