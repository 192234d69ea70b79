// Checkpoint round trip, atomic writes, and rejection of corrupt, truncated or mismatched files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lowbit/nn/checkpoint.h"
#include "lowbit/nn/models.h"

namespace lowbit::nn {
namespace {

std::string tmp_path(const std::string& name) {
  const char* base = std::getenv("LOWBIT_TEST_TMP");
  std::filesystem::path dir = base ? base : std::filesystem::temp_directory_path();
  std::filesystem::create_directories(dir);
  return (dir / ("ckpt_" + name)).string();
}

std::string read_all(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_all(const std::string& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

std::string expect_io_error(const std::string& path) {
  try {
    load_checkpoint(path);
  } catch (const IoError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for " << path;
  return "";
}

TEST(Checkpoint, RoundTripModelAndOptimizer) {
  auto m = build_model("cnn", {1, 8, 8}, 3);
  init_parameters(*m, 1);
  Sgd opt(m->named_parameters(), {.lr = 0.1f});
  opt.named_state()[0].second->fill_(0.25f);
  Checkpoint ck;
  ck.meta_json = R"({"epoch": 3})";
  add_module_state(ck, *m);
  add_optimizer_state(ck, opt);
  ck.tensors.emplace_back("int4", Tensor::zeros({5}, DType::i4));
  const std::string path = tmp_path("roundtrip.ckpt");
  save_checkpoint(path, ck);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  auto m2 = build_model("cnn", {1, 8, 8}, 3);
  Sgd opt2(m2->named_parameters(), {.lr = 0.1f});
  const Checkpoint back = load_checkpoint(path);
  EXPECT_EQ(back.meta_json, ck.meta_json);
  load_module_state(back, *m2, path);
  load_optimizer_state(back, opt2, path);
  EXPECT_EQ(m2->parameters()[0].value().to_vector(), m->parameters()[0].value().to_vector());
  EXPECT_EQ(opt2.named_state()[0].second->to_vector()[0], 0.25f);
  EXPECT_EQ(back.find("int4")->dtype(), DType::i4);
}

TEST(Checkpoint, RejectsCorruptTruncatedAndForeignFiles) {
  auto m = build_model("mlp", {4}, 2);
  Checkpoint ck;
  add_module_state(ck, *m);
  const std::string good = tmp_path("good.ckpt");
  save_checkpoint(good, ck);
  const std::string bytes = read_all(good);

  const std::string p = tmp_path("bad.ckpt");
  write_all(p, bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(expect_io_error(p).find("bad.ckpt"), std::string::npos);
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x40;
  write_all(p, flipped);
  EXPECT_NE(expect_io_error(p).find("CRC"), std::string::npos);
  write_all(p, "PK\x03\x04 not a checkpoint at all");
  EXPECT_NE(expect_io_error(p).find("magic"), std::string::npos);
  std::string future = bytes;
  future[8] = 9;
  write_all(p, future);
  EXPECT_NE(expect_io_error(p).find("version"), std::string::npos);
  write_all(p, "");
  expect_io_error(p);
  EXPECT_THROW(load_checkpoint(tmp_path("does-not-exist.ckpt")), IoError);
}

TEST(Checkpoint, MismatchedModelIsRejectedWithTheEntryName) {
  auto m = build_model("mlp", {4}, 2);
  Checkpoint ck;
  add_module_state(ck, *m);
  auto other = build_model("mlp", {4}, 3);
  try {
    load_module_state(ck, *other, "x.ckpt");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("fc.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lowbit::nn
