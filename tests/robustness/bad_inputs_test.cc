// Bad inputs of every other format lowbit reads from outside, each built here from a valid
// one: .npy and TensorProto tensors, training checkpoints, the CLI's JSON (cil partial files,
// checkpoint metadata), IDX (+gzip), the data set cache, CIFAR records, DSADS text and JPEG.
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <onnx/onnx_pb.h>

#include "bad_input.h"
#include "data/fixtures.h"
#include "lowbit/cil/report.h"
#include "lowbit/data/cache.h"
#include "lowbit/data/cifar.h"
#include "lowbit/data/dsads.h"
#include "lowbit/data/idx.h"
#include "lowbit/nn/checkpoint.h"
#include "lowbit/nn/models.h"
#include "lowbit/nn/optim.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/train/classifier_meta.h"
#include "lowbit/train/trainer.h"

namespace lowbit::testing {
namespace {

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  if (at == std::string::npos) throw std::logic_error("test bug: '" + from + "' not in " + s);
  return s.replace(at, from.size(), to);
}

// ---- tensors ----
std::string good_npy() {
  const float v[] = {1, 2, 3, 4, 5, 6};
  return onnx::encode_npy(onnx::Array::from<float>({2, 3}, v));
}
BadInput npy(std::string name, std::string bytes, std::vector<std::string> frags) {
  return {std::move(name), [bytes] { onnx::parse_npy(bytes, "x.npy"); }, Want::io, std::move(frags)};
}
BadInput tensor_pb(std::string name, const ::onnx::TensorProto& t, std::vector<std::string> frags) {
  const std::string bytes = t.SerializeAsString();
  return {std::move(name), [bytes] { onnx::parse_tensor_pb(bytes, "x.pb"); }, Want::io, std::move(frags)};
}

// ---- checkpoints: a real one from save_training_checkpoint, then edited ----
std::string slurp_and_remove(const std::filesystem::path& path) {
  std::string bytes;
  {
    std::ifstream f(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  std::filesystem::remove(path);
  return bytes;
}
std::shared_ptr<nn::Classifier> tiny_model() { return nn::build_model("fcnet", {4}, 3); }

std::string good_checkpoint(const std::string& meta = R"({"format":"lowbit-classifier"})") {
  auto model = tiny_model();
  nn::Sgd opt(model->named_parameters(), nn::SgdOptions{});
  const auto path = scratch("good.ckpt");
  train::save_training_checkpoint(path, *model, opt, 2, meta);
  return slurp_and_remove(path);
}
// A checkpoint of the tiny model's parameters with this exact metadata text.
std::string ckpt_with_meta(const std::string& meta) {
  auto model = tiny_model();
  nn::Checkpoint ck;
  ck.meta_json = meta;
  nn::add_module_state(ck, *model);
  const auto path = scratch("meta.ckpt");
  nn::save_checkpoint(path, ck);
  return slurp_and_remove(path);
}
std::string with_crc(std::string b) {
  const auto crc = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(b.data()), static_cast<uInt>(b.size() - 4)));
  std::memcpy(b.data() + b.size() - 4, &crc, 4);
  return b;
}
BadInput ckpt(std::string name, std::string bytes, std::vector<std::string> frags) {
  return {std::move(name),
          [bytes] {
            const nn::Checkpoint ck = nn::parse_checkpoint(bytes, "run.ckpt");
            auto model = tiny_model();
            nn::Sgd opt(model->named_parameters(), nn::SgdOptions{});
            train::restore_training_state(ck, "run.ckpt", *model, opt);
          },
          Want::io, std::move(frags)};
}
// Offset of the first tensor payload (after magic, version, flags, meta, count, first record head).
size_t first_payload(const std::string& b) {
  uint64_t meta_len;
  std::memcpy(&meta_len, b.data() + 16, 8);
  size_t p = 24 + meta_len + 8;
  uint32_t name_len;
  std::memcpy(&name_len, b.data() + p, 4);
  p += 4 + name_len;
  const auto rank = static_cast<uint8_t>(b[p + 1]);
  return p + 2 + 8 * rank + 8;
}

// ---- JSON read by the CLI ----
const nlohmann::json kFp = {{"dataset", "fashion-mnist"}, {"tasks", 2}};
const std::string kGoodRun =
    R"({"preset":"fp32","seed":0,"head":{"seen_accuracy":[0.9,0.5],"accuracy_matrix":[[0.9],[0.4,0.6]]},"task_seconds":[1,2]})";
std::string partial(const std::string& run, const std::string& config = kFp.dump()) {
  return R"({"format":"lowbit-cil-partial","version":1,"config":)" + config + R"(,"runs":[)" + run + "]}";
}
BadInput partial_row(std::string name, std::string text, Want want, std::vector<std::string> frags) {
  return {std::move(name), [text] { cil::parse_partial(text, "out.json.partial", kFp, 2); }, want, std::move(frags)};
}
const std::string kGoodMeta = R"({"format":"lowbit-classifier","model":"fcnet","input_shape":[4],"num_classes":3,"dataset":"dsads"})";
BadInput meta_row(std::string name, std::string text, std::vector<std::string> frags, Want want = Want::io) {
  return {std::move(name),
          [text] {
            nn::Checkpoint ck;
            ck.meta_json = text;
            train::build_classifier(train::parse_classifier_meta(ck, "m.ckpt"));
          },
          want, std::move(frags)};
}

// ---- data sets ----
std::vector<uint8_t> good_idx() {
  const uint8_t px[18] = {};
  return data::testing::idx_bytes({2, 3, 3}, px);
}
BadInput idx(std::string name, std::vector<uint8_t> bytes, std::vector<std::string> frags) {
  return {std::move(name), [bytes] { data::parse_idx(bytes, 3, "train-images-idx3-ubyte"); }, Want::io, std::move(frags)};
}
BadInput gz(std::string name, std::vector<uint8_t> bytes, size_t cap, std::vector<std::string> frags) {
  return {std::move(name), [bytes, cap] { data::gunzip(bytes, "images.gz", cap); }, Want::io, std::move(frags)};
}
BadInput cache(std::string name, data::Bytes bytes, std::vector<std::string> frags) {
  return {std::move(name), [bytes] { data::decode_cache(bytes, 7, "cache.bin"); }, Want::io, std::move(frags)};
}
BadInput cifar(std::string name, std::vector<uint8_t> bytes, std::vector<std::string> frags) {
  return {std::move(name),
          [bytes] {
            std::vector<uint8_t> px;
            std::vector<int32_t> labels;
            data::parse_cifar_records(bytes, 1, 0, 10, "data_batch_1.bin", px, labels);
          },
          Want::io, std::move(frags)};
}
std::string dsads_text(const std::string& cell = "1.5", int rows = data::kDsadsRows, int cols = data::kDsadsChannels) {
  std::string t;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) t += (r == 7 && c == 3 ? cell : "0.25") + std::string(c + 1 < cols ? "," : "\n");
  return t;
}
BadInput dsads(std::string name, std::string text, std::vector<std::string> frags) {
  return {std::move(name),
          [text] {
            std::vector<float> out(data::kDsadsChannels * data::kDsadsRows);
            data::parse_dsads_segment(text, "s01.txt", out.data());
          },
          Want::io, std::move(frags)};
}
BadInput jpeg(std::string name, std::vector<uint8_t> bytes, std::vector<std::string> frags) {
  return {std::move(name),
          [bytes] {
            std::vector<uint8_t> out(data::kCifarPixels);
            data::decode_jpeg_rgb(bytes, "cat/0001.jpg", out.data(), data::kCifarSide, data::kCifarSide);
          },
          Want::io, std::move(frags)};
}

std::vector<BadInput> rows() {
  std::vector<BadInput> r;
  // .npy
  const std::string n = good_npy();
  r.push_back(npy("NpyWrongMagic", "\x92" + n.substr(1), {"[npy] x.npy: not a .npy file (bad magic)"}));
  r.push_back(npy("NpyTruncatedHeader", n.substr(0, 11), {"[npy] x.npy: truncated header"}));
  r.push_back(npy("NpyTruncatedData", n.substr(0, n.size() - 4), {"[npy] x.npy: data holds 20 bytes, shape ", "of float32 needs 24", "[2, 3]"}));
  r.push_back(npy("NpyAbsurdShape", replaced(n, "(2, 3)", "(99999999999, 99999999)"), {"[npy] x.npy", "too large"}));
  r.push_back(npy("NpyFortranOrder", replaced(n, "False", "True "), {"[npy] x.npy: Fortran-order arrays are not supported"}));
  r.push_back(npy("NpyComplexDtype", replaced(n, "<f4", "<c8"), {"[npy] x.npy: unsupported dtype '<c8'"}));
  r.push_back(npy("NpyBigEndian", replaced(n, "<f4", ">f4"), {"[npy] x.npy: only little-endian data is supported"}));
  r.push_back(npy("NpyVersion9", replaced(n, std::string("\x01\x00", 2), std::string("\x09\x00", 2)), {"unsupported format version 9"}));
  // TensorProto
  ::onnx::TensorProto t;
  t.set_data_type(::onnx::TensorProto::FLOAT);
  t.add_dims(1000);
  t.add_float_data(1);
  r.push_back(tensor_pb("PbDataShorterThanDims", t, {"x.pb"}));
  t.set_data_type(9999);
  r.push_back(tensor_pb("PbUnknownDtype", t, {"x.pb"}));
  r.push_back({"PbGarbage", [] { onnx::parse_tensor_pb(std::string("\xff\xff\xff\xff", 4), "x.pb"); }, Want::io,
               {"[onnx] x.pb: not a valid TensorProto"}});
  // Checkpoints
  const std::string ck = good_checkpoint();
  r.push_back(ckpt("CkptWrongMagic", "LOWBITXX" + ck.substr(8), {"[checkpoint] run.ckpt: not a lowbit checkpoint (magic 'LOWBITCK' missing)"}));
  r.push_back(ckpt("CkptTruncated", ck.substr(0, ck.size() / 2), {"[checkpoint] run.ckpt: CRC mismatch"}));
  r.push_back(ckpt("CkptTruncatedCrcFixed", with_crc(ck.substr(0, ck.size() / 2)), {"[checkpoint] run.ckpt: truncated while reading"}));
  std::string flipped = ck;
  flipped[ck.size() / 2] ^= 0x20;
  r.push_back(ckpt("CkptBitFlip", flipped, {"[checkpoint] run.ckpt: CRC mismatch", "corrupt or truncated"}));
  std::string v2 = ck;
  v2[8] = 2;
  r.push_back(ckpt("CkptVersion2", with_crc(v2), {"unsupported format version 2 (this build reads version 1)"}));
  std::string dtype = ck;
  const size_t pay = first_payload(ck);
  uint32_t name_len;
  uint64_t meta_len;
  std::memcpy(&meta_len, ck.data() + 16, 8);
  std::memcpy(&name_len, ck.data() + 24 + meta_len + 8, 4);
  const size_t dtype_at = 24 + meta_len + 8 + 4 + name_len;
  dtype[dtype_at] = 9;
  r.push_back(ckpt("CkptUnknownDtype", with_crc(dtype), {"unknown dtype code 9"}));
  std::string dim = ck;
  const int64_t huge = int64_t{1} << 50;
  std::memcpy(dim.data() + dtype_at + 2, &huge, 8);
  r.push_back(ckpt("CkptAbsurdDim", with_crc(dim), {"dimension 1125899906842624 is impossible for a"}));
  std::string nan = ck;
  const float qnan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(nan.data() + pay, &qnan, 4);
  r.push_back(ckpt("CkptNanWeight", with_crc(nan), {"[checkpoint] run.ckpt: entry 'model.", "holds nan at element 0"}));
  std::string inf = ck;
  const float pinf = std::numeric_limits<float>::infinity();
  std::memcpy(inf.data() + pay + 4, &pinf, 4);
  r.push_back(ckpt("CkptInfWeight", with_crc(inf), {"holds inf at element 1"}));
  r.push_back(ckpt("CkptWrongModel", [] {
    auto other = nn::build_model("fcnet", {5}, 3);
    nn::Sgd opt(other->named_parameters(), nn::SgdOptions{});
    const auto path = scratch("other.ckpt");
    train::save_training_checkpoint(path, *other, opt, 1, "{}");
    return slurp_and_remove(path);
  }(), {"[checkpoint] run.ckpt: entry 'model.", "the model expects"}));
  r.push_back(ckpt("CkptMetaNotJson", ckpt_with_meta("{!"), {"[checkpoint] run.ckpt: metadata is not a JSON object"}));
  r.push_back(ckpt("CkptEpochsNegative", ckpt_with_meta(R"({"epochs_done":-2,"optimizer":"sgd"})"),
                   {"'epochs_done' in its metadata is not a count"}));
  r.push_back(ckpt("CkptNoEpochs", ckpt_with_meta(R"({"optimizer":"sgd"})"), {"not a training checkpoint ('epochs_done'"}));
  r.push_back(ckpt("CkptOptimizerNotString", ckpt_with_meta(R"({"epochs_done":1,"optimizer":12345})"),
                   {"written with optimizer '?', this run uses 'sgd'"}));
  r.push_back(ckpt("CkptStepsAsString", ckpt_with_meta(R"({"epochs_done":1,"optimizer":"sgd","optimizer_steps":"7"})"),
                   {"'optimizer_steps' in its metadata is not a count"}));
  // JSON: cil partial results
  r.push_back(partial_row("PartialNotJson", "{\"format\": ", Want::io, {"[cil] out.json.partial: not a partial results file"}));
  r.push_back(partial_row("PartialFormatNotString", R"({"format":7,"config":{},"runs":[]})", Want::io, {"not a partial results file"}));
  r.push_back(partial_row("PartialRunsNotArray", R"({"format":"lowbit-cil-partial","config":{},"runs":{}})", Want::io, {"not a partial results file"}));
  r.push_back(partial_row("PartialOtherSettings", partial(kGoodRun, R"({"dataset":"cifar10"})"), Want::value, {"written with other settings"}));
  r.push_back(partial_row("PartialMissingSeed", partial(replaced(kGoodRun, R"("seed":0,)", "")), Want::io, {"malformed run record", "seed"}));
  r.push_back(partial_row("PartialThreeTasks", partial(replaced(kGoodRun, "[0.9,0.5]", "[0.9,0.5,0.4]")), Want::io,
                          {"run 'fp32' seed 0 head: 3 tasks recorded, this run has 2"}));
  r.push_back(partial_row("PartialRaggedMatrix", partial(replaced(kGoodRun, "[0.4,0.6]", "[0.4]")), Want::io,
                          {"accuracy_matrix row 1 has 1 entries, expected 2"}));
  r.push_back(partial_row("PartialAccuracyAboveOne", partial(replaced(kGoodRun, "[0.9,0.5]", "[0.9,1.5]")), Want::io,
                          {"run 'fp32' seed 0 head: accuracy 1.5 is not in [0, 1]"}));
  r.push_back(partial_row("PartialOverflowingNumber", partial(replaced(kGoodRun, "[0.9,0.5]", "[0.9,1e999]")), Want::io,
                          {"not a partial results file"}));
  r.push_back(partial_row("PartialNegativeTime", partial(replaced(kGoodRun, "[1,2]", "[1,-2]")), Want::io,
                          {"task time -2 is not a duration"}));
  // JSON: classifier checkpoint metadata
  r.push_back(meta_row("MetaNotObject", "[1,2]", {"[checkpoint] m.ckpt: metadata is not a JSON object"}));
  r.push_back(meta_row("MetaNoFormat", R"({"model":"fcnet"})", {"not a classifier checkpoint (metadata 'format' missing)"}));
  r.push_back(meta_row("MetaModelNotString", replaced(kGoodMeta, R"("fcnet")", "1"), {"metadata 'model' must be a string"}));
  r.push_back(meta_row("MetaShapeNegative", replaced(kGoodMeta, "[4]", "[-4]"), {"metadata 'input_shape' must be a list of positive dimensions"}));
  r.push_back(meta_row("MetaShapeOverflow", replaced(kGoodMeta, "[4]", "[1073741824,1073741824,4]"), {"'input_shape'", "at most 2^30"}));
  r.push_back(meta_row("MetaClassesZero", replaced(kGoodMeta, R"("num_classes":3)", R"("num_classes":0)"), {"'num_classes' must be an integer in [1, 65536]"}));
  r.push_back(meta_row("MetaFcnetTooWide", replaced(kGoodMeta, "[4]", "[100000]"), {"[build_model] fcnet input of 100000 elements is above the 16384 limit"}, Want::value));
  r.push_back(meta_row("MetaMlpTooWide", replaced(replaced(kGoodMeta, "[4]", "[1000,1000]"), "fcnet", "mlp"), {"[build_model] input shape [1000, 1000] has more than 262144 elements"}, Want::value));
  r.push_back(meta_row("MetaQuantBitsNotInt", replaced(kGoodMeta, "}", R"(,"quant":{"preset":"hdqt","bits":"4","acc_bits":16}})"),
                       {"metadata 'bits' must be an integer in [0, 32]"}));
  // IDX and gzip
  const std::vector<uint8_t> id = good_idx();
  std::vector<uint8_t> magic = id;
  magic[2] = 0x0d;
  r.push_back(idx("IdxWrongMagic", magic, {"[idx] train-images-idx3-ubyte: wrong magic"}));
  r.push_back(idx("IdxShortHeader", {0, 0, 8}, {"file too short (3 bytes) for an IDX header"}));
  r.push_back(idx("IdxTruncatedPayload", std::vector<uint8_t>(id.begin(), id.end() - 5), {"need 18 payload bytes, file has 13"}));
  std::vector<uint8_t> zero = id;
  zero[11] = 0;
  r.push_back(idx("IdxZeroDim", zero, {"dimension 1 is zero"}));
  std::vector<uint8_t> absurd = id;
  absurd[4] = absurd[8] = absurd[12] = 0x7f;
  r.push_back(idx("IdxAbsurdDims", absurd, {"[idx] train-images-idx3-ubyte: header dims"}));
  const std::vector<uint8_t> zeros(1 << 16, 0);
  r.push_back(gz("GzipBomb", data::testing::gzip(zeros), 1024, {"[data] images.gz: gzip data inflates to more than 1024 bytes"}));
  std::vector<uint8_t> cut = data::testing::gzip(id);
  cut.resize(cut.size() - 10);
  r.push_back(gz("GzipTruncated", cut, 1 << 20, {"[data] images.gz", "truncated gzip stream"}));
  // Data set cache
  data::CacheEntry e;
  e.tensors.push_back(Tensor::zeros({2, 2}));
  const data::Bytes c = data::encode_cache(7, e);
  data::Bytes cm = c;
  cm[0] ^= 1;
  r.push_back(cache("CacheWrongMagic", cm, {"[cache] cache.bin: not a lowbit data cache (expected magic LBDCACHE)"}));
  r.push_back(cache("CacheTruncated", data::Bytes(c.begin(), c.end() - 3), {"[cache] cache.bin"}));
  data::Bytes cf = c;
  cf[cf.size() - 1] ^= 0x40;
  r.push_back(cache("CacheCorrupt", cf, {"[cache] cache.bin: checksum mismatch"}));
  // CIFAR records
  std::vector<uint8_t> rec(3073, 10);
  r.push_back(cifar("CifarLabelOutOfRange", rec, {"[cifar] data_batch_1.bin: record 0 has label 10 (expected 0..9)"}));
  rec[0] = 1;
  rec.pop_back();
  r.push_back(cifar("CifarTruncatedRecord", rec, {"3072 bytes is not a whole number of 3073-byte records"}));
  // DSADS segment text
  r.push_back(dsads("DsadsNan", dsads_text("nan"), {"[dsads] s01.txt line 8: field 4 ('nan') is not a number"}));
  r.push_back(dsads("DsadsInf", dsads_text("inf"), {"line 8: field 4 ('inf') is not a number"}));
  r.push_back(dsads("DsadsWord", dsads_text("walking"), {"line 8: field 4 ('walking') is not a number"}));
  r.push_back(dsads("DsadsTooFewRows", dsads_text("1", 124), {"[dsads] s01.txt: 124 rows (expected 125 rows of 45 floats)"}));
  r.push_back(dsads("DsadsTooManyFields", dsads_text("1", 125, 46), {"line 1: more than 45 fields"}));
  r.push_back(dsads("DsadsEmpty", "", {"[dsads] s01.txt: 0 rows"}));
  // JPEG
  std::vector<uint8_t> px(64 * 64 * 3, 100);
  const std::vector<uint8_t> big = data::testing::encode_jpeg(px.data(), 64, 64, 3);
  r.push_back(jpeg("JpegWrongSize", big, {"[jpeg] cat/0001.jpg: image is 64x64 (expected 32x32"}));
  const std::vector<uint8_t> gray = data::testing::encode_jpeg(px.data(), 32, 32, 1);
  r.push_back(jpeg("JpegGrayscale", gray, {"[jpeg] cat/0001.jpg: 1 colour component(s) (expected 3-channel RGB colour)"}));
  const std::vector<uint8_t> small = data::testing::encode_jpeg(px.data(), 32, 32, 3);
  r.push_back(jpeg("JpegTruncated", std::vector<uint8_t>(small.begin(), small.begin() + 40), {"[jpeg] cat/0001.jpg: not a valid JPEG"}));
  r.push_back(jpeg("JpegGarbage", std::vector<uint8_t>(100, 0x42), {"[jpeg] cat/0001.jpg: not a valid JPEG"}));
  return r;
}

class BadInputs : public ::testing::TestWithParam<BadInput> {};
TEST_P(BadInputs, FailWithTheExactError) { check_row(GetParam()); }
INSTANTIATE_TEST_SUITE_P(Table, BadInputs, ::testing::ValuesIn(rows()), row_name);

// The table must keep covering the formats: at least 50 rows here and in bad_onnx_test.cc.
TEST(BadInputs, TableHasRowsForEveryFormat) { EXPECT_GE(rows().size(), 50u); }

}  // namespace
}  // namespace lowbit::testing
